//! Resumable checkpoints under `runs/<id>/checkpoints/step-<N>/`: the trainable parameters
//! (burnpack, parameter ids kept so optimizer state re-attaches), the optimizer state, and the
//! loop state (step, data cursor, RNG, counters). Written to a temporary folder and renamed, so a
//! kill at any moment leaves either the old or the new checkpoint, never half of one.

use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use burn::store::{BurnpackStore, ModuleSnapshot};
use serde::{Deserialize, Serialize};

use crate::data::mix::MixCursor;
use crate::model::audio_llm::AudioLlm;
use crate::rng::Rng;

/// Loop state saved with every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// Optimizer steps completed.
    pub step: usize,
    pub cursor: MixCursor,
    /// RNG of data augmentation.
    pub aug_rng: Rng,
    /// Updates skipped for a non-finite loss or gradient (nan_policy = skip).
    pub skipped: u64,
    /// Loss of the last update made (so a run resumed at its end still reports it).
    #[serde(default)]
    pub last_loss: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Weights { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |e| CheckpointError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Regex over module paths selecting the trainable parameters.
pub fn trainable_regex(encoder_trainable: bool) -> String {
    if encoder_trainable {
        r"^(adapter\.|encoder\.)|\.lora\.".into()
    } else {
        r"^adapter\.|\.lora\.".into()
    }
}

/// Save the trainable parameters of `model` to `file`.
pub fn save_trainable(model: &AudioLlm, file: &Path, regex: &str) -> Result<(), CheckpointError> {
    let mut store = BurnpackStore::from_file(file)
        .with_regex(regex)
        .overwrite(true)
        .auto_extension(false);
    model
        .save_into(&mut store)
        .map_err(|e| CheckpointError::Weights {
            path: file.into(),
            message: e.to_string(),
        })
}

/// Load trainable parameters saved by [`save_trainable`] into `model` (other parameters untouched).
/// Returns how many tensors were applied.
pub fn load_trainable(model: &mut AudioLlm, file: &Path) -> Result<usize, CheckpointError> {
    let mut store = BurnpackStore::from_file(file)
        .allow_partial(true)
        .auto_extension(false);
    let result = model
        .load_from(&mut store)
        .map_err(|e| {
            let mut message = e.to_string();
            if message.contains("ShapeMismatch") {
                // "expected" is this model's shape, "found" the file's.
                message.push_str(
                    " (the weights were trained for another architecture: e.g. an adapter for a backbone of another width via init_from)",
                );
            }
            CheckpointError::Weights {
                path: file.into(),
                message,
            }
        })?;
    if !result.errors.is_empty() {
        return Err(CheckpointError::Weights {
            path: file.into(),
            message: format!(
                "{} tensor(s) did not fit: {:?}",
                result.errors.len(),
                result.errors.iter().take(3).collect::<Vec<_>>()
            ),
        });
    }
    Ok(result.applied.len())
}

/// Write a checkpoint atomically (with the run's configuration, so a resume can check it); keeps
/// the newest `keep` checkpoints.
pub fn save(
    dir: &Path,
    model: &AudioLlm,
    optim: &ModuleOptimizer,
    state: &LoopState,
    cfg: &crate::spec::RunConfig,
    regex: &str,
    keep: usize,
) -> Result<PathBuf, CheckpointError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let final_dir = dir.join(format!("step-{:08}", state.step));
    let tmp = dir.join(format!(
        ".tmp-step-{:08}-{}",
        state.step,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    save_trainable(model, &tmp.join("trainable.bpk"), regex)?;
    let opt = tmp.join("optimizer.bpk");
    optim.save(&opt).map_err(|e| CheckpointError::Weights {
        path: opt.clone(),
        message: format!("{e:?}"),
    })?;
    let st = tmp.join("state.json");
    std::fs::write(
        &st,
        serde_json::to_vec_pretty(state).expect("state serialises"),
    )
    .map_err(io(&st))?;
    let c = tmp.join("config.json");
    std::fs::write(&c, crate::spec::run_id::canonical_json(cfg)).map_err(io(&c))?;
    let _ = std::fs::remove_dir_all(&final_dir);
    std::fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
    let mut all = list(dir);
    while all.len() > keep {
        let old = all.remove(0);
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(final_dir)
}

/// Complete checkpoints, oldest first.
pub fn list(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .map(|n| n.starts_with("step-"))
                        .unwrap_or(false)
                })
                .filter(|p| p.join("state.json").exists())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Refuse to resume from a checkpoint written under another configuration (copied between run
/// folders, say), naming the keys that differ.
pub fn check_config(ckpt: &Path, cfg: &crate::spec::RunConfig) -> Result<(), CheckpointError> {
    use crate::spec::run_id::{flatten, flatten_value, is_setting_key};
    let file = ckpt.join("config.json");
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(()); // checkpoints from before configurations were recorded
    };
    let theirs: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| CheckpointError::Io {
            path: file.clone(),
            message: e.to_string(),
        })?;
    let (theirs, ours) = (flatten_value(&theirs), flatten(cfg));
    let keys: std::collections::BTreeSet<&String> = theirs.keys().chain(ours.keys()).collect();
    // Where data and tools live, and how memory is spent, may change between the crash and
    // the resume.
    let differ: Vec<String> = keys
        .into_iter()
        .filter(|k| !is_setting_key(k))
        .filter(|k| theirs.get(*k) != ours.get(*k))
        .map(|k| {
            let show = |v: Option<&serde_json::Value>| {
                v.map(|v| v.to_string())
                    .unwrap_or_else(|| "(absent)".into())
            };
            format!(
                "{k}: {} in the checkpoint, {} in this run",
                show(theirs.get(k)),
                show(ours.get(k))
            )
        })
        .collect();
    if differ.is_empty() {
        return Ok(());
    }
    Err(CheckpointError::Io {
        path: ckpt.into(),
        message: format!(
            "written by a run of another configuration; refusing to resume from it ({} key(s) differ: {})",
            differ.len(),
            differ.join("; ")
        ),
    })
}

/// Restore model, optimizer and loop state from a checkpoint folder.
pub fn load(
    ckpt: &Path,
    model: &mut AudioLlm,
    optim: ModuleOptimizer,
) -> Result<(ModuleOptimizer, LoopState), CheckpointError> {
    load_trainable(model, &ckpt.join("trainable.bpk"))?;
    let opt = ckpt.join("optimizer.bpk");
    let optim = optim.load(&opt).map_err(|e| CheckpointError::Weights {
        path: opt.clone(),
        message: format!("{e:?}"),
    })?;
    let st = ckpt.join("state.json");
    let text = std::fs::read_to_string(&st).map_err(io(&st))?;
    let state: LoopState = serde_json::from_str(&text).map_err(|e| CheckpointError::Io {
        path: st.clone(),
        message: e.to_string(),
    })?;
    Ok((optim, state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{assemble, builtin_tiny_eat, builtin_tiny_llm};
    use burn::optim::{AdamWConfig, GradientsParams};
    use burn::tensor::{Device, Tensor};

    fn model(device: &Device) -> AudioLlm {
        let llm = crate::model::init_seeded(device, 1, || builtin_tiny_llm(40).init(device));
        let eat_cfg = builtin_tiny_eat();
        let enc = crate::model::init_seeded(device, 2, || eat_cfg.init(device));
        let m = assemble(llm, enc, &eat_cfg, 5, 16, None, 7, device);
        crate::train::trainer::mark_trainable(m, false)
    }

    fn step(m: AudioLlm, o: &mut ModuleOptimizer, device: &Device) -> AudioLlm {
        let x = Tensor::<3>::ones([1, 10, 32], device);
        let loss = m.project(x).sum();
        let g = GradientsParams::from_grads(loss.backward(), &m);
        o.step(1e-2, m, g)
    }

    fn weights(m: &AudioLlm) -> Vec<f32> {
        m.adapter
            .linear1
            .weight
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    }

    /// Saving, rebuilding the model from scratch and loading must continue the same trajectory.
    #[test]
    fn checkpoint_round_trip_continues_identically() {
        let device = Device::flex().autodiff();
        let dir = tempfile::tempdir().unwrap();
        let mut o = AdamWConfig::new().with_epsilon(1e-8).init();
        let mut m = model(&device);
        for _ in 0..3 {
            m = step(m, &mut o, &device);
        }
        let state = LoopState {
            step: 3,
            cursor: MixCursor::default(),
            aug_rng: Rng::new(0),
            skipped: 0,
            last_loss: Some(2.5),
        };
        let cfg = crate::spec::RunConfig::default();
        let ck = save(dir.path(), &m, &o, &state, &cfg, &trainable_regex(false), 2).unwrap();
        check_config(&ck, &cfg).expect("same configuration resumes");
        let expected = weights(&step(m, &mut o, &device));

        let mut fresh = model(&device);
        let (mut o2, st) = load(
            &ck,
            &mut fresh,
            AdamWConfig::new().with_epsilon(1e-8).init(),
        )
        .unwrap();
        assert_eq!(st, state);
        let fresh = crate::train::trainer::mark_trainable(fresh, false);
        let got = weights(&step(fresh, &mut o2, &device));
        for (a, b) in expected.iter().zip(&got) {
            assert!((a - b).abs() < 1e-7, "{a} vs {b}");
        }
    }

    /// Trained weights whose adapter was built for another backbone width (`init_from` across
    /// backbones) are refused, naming the tensor and both shapes.
    #[test]
    fn adapter_for_another_backbone_width_is_refused() {
        let device = Device::flex().autodiff();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("weights.bpk");
        save_trainable(&model(&device), &file, &trainable_regex(false)).unwrap();
        // The same encoder and adapter settings on a backbone of width 96 instead of 64.
        let mut cfg = builtin_tiny_llm(40);
        cfg.hidden_size = 96;
        let llm = crate::model::init_seeded(&device, 1, || cfg.init(&device));
        let eat_cfg = builtin_tiny_eat();
        let enc = crate::model::init_seeded(&device, 2, || eat_cfg.init(&device));
        let mut wide = assemble(llm, enc, &eat_cfg, 5, 16, None, 7, &device);
        let e = load_trainable(&mut wide, &file).unwrap_err().to_string();
        assert!(
            e.contains("weights.bpk")
                && e.contains("adapter.linear2")
                && e.contains("64")
                && e.contains("96")
                && e.contains("another width"),
            "{e}"
        );
    }

    /// A checkpoint from another configuration is refused with the differing keys; a corrupt
    /// checkpoint file is named.
    #[test]
    fn foreign_or_corrupt_checkpoints_are_refused() {
        let device = Device::flex().autodiff();
        let dir = tempfile::tempdir().unwrap();
        let o = AdamWConfig::new().init();
        let m = model(&device);
        let state = LoopState {
            step: 2,
            cursor: MixCursor::default(),
            aug_rng: Rng::new(0),
            skipped: 0,
            last_loss: None,
        };
        let cfg = crate::spec::RunConfig::default();
        let ck = save(dir.path(), &m, &o, &state, &cfg, &trainable_regex(false), 2).unwrap();
        let mut moved = cfg.clone();
        moved
            .data
            .roots
            .insert("clotho".into(), "/elsewhere".into());
        moved.eval.meteor_jar = "/opt/meteor-1.5.jar".into();
        check_config(&ck, &moved).expect("moved data or jars still resume");
        let mut other = moved;
        other.train.lr = 3e-4;
        other.seed = 9;
        let e = check_config(&ck, &other).unwrap_err().to_string();
        assert!(
            e.contains("train.lr") && e.contains("seed") && e.contains("2 key(s) differ"),
            "{e}"
        );
        let w = ck.join("trainable.bpk");
        let bytes = std::fs::read(&w).unwrap();
        std::fs::write(&w, &bytes[..bytes.len() / 3]).unwrap();
        let mut fresh = model(&device);
        let e = load(&ck, &mut fresh, AdamWConfig::new().init())
            .err()
            .expect("a truncated checkpoint must not load")
            .to_string();
        assert!(e.contains("trainable.bpk"), "{e}");
    }
}
