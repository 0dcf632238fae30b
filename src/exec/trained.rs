//! A done run's trained model, loaded again to question it or to score it on a new set
//! (`acdc ask`, `acdc eval`): built from the run's stored configuration as its eval stage builds
//! it (backbone, encoder, adapter / LoRA, the run's final trained weights), with audio read and
//! featurised as its data stage reads it.

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use crate::data::features::{extract, AudioInput, AudioLimits, ClipMatrices};
use crate::model::audio_llm::AudioLlm;
use crate::model::backbone::{build_for_run, Backbone};
use crate::spec::RunConfig;
use crate::store::runs::RunStatus;
use crate::store::stages::StageName;
use crate::store::{Store, StoreError};
use crate::train::checkpoint::load_trainable;

/// Why a run's trained model cannot be loaded or its audio read; each names the run or file.
#[derive(Debug, thiserror::Error)]
pub enum TrainedRunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("run `{run}` is {status}, not done: only a done run has trained weights to use (`acdc run SPEC` finishes it; `acdc show {run}` says where it stands)")]
    NotDone { run: String, status: String },
    #[error("run `{run}` is a reference row (reference = \"{reference}\"): its backbone answers alone, so it has no trained model to question or score on a new set")]
    Reference { run: String, reference: String },
    #[error("run `{run}`: its stored configuration cannot be read: {message}")]
    Config { run: String, message: String },
    #[error("run `{run}`: trained weights {} missing (the train stage writes them; `acdc run SPEC` trains the run again)", path.display())]
    MissingWeights { run: String, path: PathBuf },
    #[error("run `{run}`: {message}")]
    Model { run: String, message: String },
    #[error("{count} audio file(s) cannot be read: {}", first.join("; "))]
    Audio { count: usize, first: Vec<String> },
}

/// A done run and its store entry, resolved from an id or unique prefix (as `acdc show` does),
/// without loading any model: the stored configuration of a run that is done.
pub fn done_run(store: &Store, prefix: &str) -> Result<(String, RunConfig), TrainedRunError> {
    let id = store.resolve_run(prefix)?;
    let rec = store.run(&id)?;
    if rec.status != RunStatus::Done {
        return Err(TrainedRunError::NotDone {
            run: id,
            status: rec.status.as_str().to_string(),
        });
    }
    let cfg: RunConfig =
        serde_json::from_str(&rec.config).map_err(|e| TrainedRunError::Config {
            run: id.clone(),
            message: e.to_string(),
        })?;
    if !cfg.reference.is_none() {
        return Err(TrainedRunError::Reference {
            run: id,
            reference: serde_json::to_value(cfg.reference)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        });
    }
    Ok((id, cfg))
}

/// A done run's trained model on the run's device.
pub struct TrainedRun {
    pub id: String,
    pub cfg: RunConfig,
    pub backbone: Backbone,
    pub device: Device,
    pub model: AudioLlm,
    home: PathBuf,
}

/// Audio of some files as a run's model takes it: their features, and the frozen encoder's
/// outputs where the eval stage would use those.
pub struct RunAudio {
    features: ClipMatrices,
    encoded: Option<ClipMatrices>,
}

impl RunAudio {
    pub fn input(&self) -> AudioInput<'_> {
        match &self.encoded {
            Some(e) => AudioInput::Encoded(e),
            None => AudioInput::Features(&self.features),
        }
    }
}

impl TrainedRun {
    /// Load run `id` (done, with configuration `cfg`, from [`done_run`]) from `store`.
    pub fn load(store: &Store, id: &str, cfg: RunConfig) -> Result<TrainedRun, TrainedRunError> {
        let model_err = |message: String| TrainedRunError::Model {
            run: id.to_string(),
            message,
        };
        let weights = store.run_dir(id).final_weights();
        if !weights.is_file() {
            return Err(TrainedRunError::MissingWeights {
                run: id.to_string(),
                path: weights,
            });
        }
        let home = store.home();
        let backbone =
            Backbone::resolve(&cfg.backbone, &home).map_err(|e| model_err(e.to_string()))?;
        // The weights were trained under the backbone the eval stage recorded; say so when the
        // one resolved now differs (a rebuilt builtin, another snapshot in the HF cache).
        let recorded = store
            .stage(id, &StageName::Eval)?
            .and_then(|r| r.eval().and_then(|e| e.backbone.clone()));
        if recorded
            .as_deref()
            .is_some_and(|r| r != backbone.fingerprint)
        {
            eprintln!(
                "acdc: warning: run {id}: backbone `{}` is not the one its evaluation used (fingerprint {} now, {} then)",
                cfg.backbone,
                &backbone.fingerprint[..backbone.fingerprint.len().min(12)],
                recorded.as_deref().map_or("", |r| &r[..r.len().min(12)])
            );
        }
        let device =
            crate::model::device::device_for(cfg.device).map_err(|e| model_err(e.to_string()))?;
        let mut model =
            build_for_run(&cfg, &backbone, &home, &device).map_err(|e| model_err(e.to_string()))?;
        load_trainable(&mut model, &weights).map_err(|e| model_err(e.to_string()))?;
        Ok(TrainedRun {
            id: id.to_string(),
            cfg,
            backbone,
            device,
            model,
            home,
        })
    }

    /// Audio of `clips` (key, file) as the run's data stage reads it: mono 16 kHz, its
    /// `encoder.target_frames` and `data.max_audio_seconds`, through the same feature cache; then,
    /// for a frozen encoder without SpecAugment, encoded once as the eval stage does. A file that
    /// cannot be read is an error naming it (`place(key)` says where it was asked for).
    pub fn audio(
        &self,
        clips: &[(String, PathBuf)],
        place: &dyn Fn(&str) -> Option<String>,
    ) -> Result<RunAudio, TrainedRunError> {
        let pb = super::stages::bar(clips.len() as u64, "audio features");
        pb.set_prefix(self.id.clone());
        let limits = AudioLimits {
            target_frames: self.cfg.encoder.target_frames,
            max_seconds: self.cfg.data.max_audio_seconds,
        };
        let cache = crate::home::Home::new(&self.home).feature_cache();
        let (features, failures) = extract(clips, limits, Some(&cache), &|n| pb.inc(n as u64));
        pb.finish_and_clear();
        if !failures.is_empty() {
            let first = failures
                .iter()
                .take(5)
                .map(|(p, why)| {
                    let path = p.display().to_string();
                    let why = if why.contains(&path) {
                        why.clone()
                    } else {
                        format!("{path}: {why}")
                    };
                    match place(&path) {
                        Some(at) => format!("{at}: {why}"),
                        None => why,
                    }
                })
                .collect();
            return Err(TrainedRunError::Audio {
                count: failures.len(),
                first,
            });
        }
        let use_features = self.cfg.encoder.trainable || self.cfg.encoder.spec_augment;
        let encoded = if use_features {
            None
        } else {
            super::stages::encode_all(&self.cfg, &self.home, &features, &self.device).map_err(
                |e| TrainedRunError::Model {
                    run: self.id.clone(),
                    message: e.to_string(),
                },
            )?
        };
        Ok(RunAudio { features, encoded })
    }

    /// The home the run's store lives in.
    pub fn home(&self) -> &Path {
        &self.home
    }
}
