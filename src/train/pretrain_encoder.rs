//! `builtin:tiny-eat-events`: the EAT architecture at toy width
//! ([`crate::model::builtin_tiny_eat_events`]), pretrained on a held-out synthetic world with
//! frame-level supervision — the analogue of EAT's fine-tuning on AudioSet's labels — so that its
//! tokens carry which sounds occur, when, and how loud. Per 160 ms column of tokens (one patch
//! of 16 fbank frames, the 8 frequency tokens averaged), a linear head predicts for each of the
//! 12 event types whether its own signal is active there (within 20 dB of its loudest window:
//! separate barks, strikes, knocks are separate runs of active columns) and, where active, its
//! level. Only the encoder is kept.
//!
//! Its quality is measured as the issue of a pretrained encoder should be: a fresh linear
//! read-out of frame-level activity, trained on frozen tokens of the world's training clips and
//! scored (micro F1 over columns × types) on its test clips, beside the same read-out of the
//! seeded random `builtin:tiny-eat`. Written to `quality.json` next to the weights.
//!
//! Built once per `$ACDC_HOME` (deterministic for the constants below), under a lock.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::{Device, Tensor, TensorData};

use super::pretrain::PretrainError;
use super::schedule::lr_at;
use super::trainer::clip_global_norm;
use crate::audio::fbank::{eat_features, FbankConfig};
use crate::data::synth::{labelled_clip, EventType};
use crate::model::encoder::Eat;
use crate::rng::Rng;
use crate::spec::schema::Schedule;

/// The held-out world: its seed (the quickstart's data never uses it), clips for training and
/// for measuring the read-out.
pub const SEED: u64 = 7927;
pub const TRAIN_CLIPS: usize = 400;
pub const TEST_CLIPS: usize = 100;
pub const STEPS: usize = 350;
pub const BATCH: usize = 16;
pub const LR: f64 = 2e-3;
/// Input frames (5 s clips at 10 ms; the quickstart's `encoder.target_frames`).
pub const FRAMES: usize = 512;
/// Seconds per column of tokens: one 16-frame patch.
pub const COLUMN_S: f32 = 0.16;
/// A type is active in a column within this many dB of its loudest column (and above -60 dBFS).
pub const ACTIVE_WITHIN_DB: f32 = 20.0;
const TYPES: usize = EventType::ALL.len();

use crate::model::backbone::tiny_eat_events_weights;

/// Make sure `builtin:tiny-eat-events` exists under `home`; returns its weights' path.
/// `progress(step, steps, loss)` follows the build.
pub fn ensure_tiny_eat_events(
    home: &Path,
    progress: &mut dyn FnMut(usize, usize, f64),
) -> Result<PathBuf, PretrainError> {
    let weights = tiny_eat_events_weights(home);
    if weights.exists() {
        return Ok(weights);
    }
    let dir = weights
        .parent()
        .expect("weights live in a folder")
        .to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|e| PretrainError::Io {
        path: dir.clone(),
        message: e.to_string(),
    })?;
    crate::once::build_once(
        "builtin:tiny-eat-events's weights",
        &weights,
        &dir.join(".lock"),
        || build(&dir, &weights, progress),
    )?;
    Ok(weights)
}

/// One clip's encoder input and targets: features `[FRAMES, 128]`, per column and type the
/// activity (0/1) and the level target (dB / 10, meaningful where active).
struct Example {
    feats: Vec<f32>,
    active: Vec<f32>,
    level: Vec<f32>,
}

fn columns() -> usize {
    FRAMES / 16
}

fn example(idx: usize) -> Example {
    let clip = labelled_clip(SEED, idx, 5.0, COLUMN_S);
    let (feats, _) = eat_features(&clip.samples, &FbankConfig::default(), FRAMES);
    let cols = columns();
    let mut active = vec![0.0; cols * TYPES];
    let mut level = vec![0.0; cols * TYPES];
    for k in 0..TYPES {
        let peak = clip
            .levels
            .iter()
            .map(|r| r[k])
            .fold(f32::NEG_INFINITY, f32::max);
        for t in 0..cols {
            let l = clip.levels.get(t).map_or(-120.0, |r| r[k]);
            if l > -60.0 && l >= peak - ACTIVE_WITHIN_DB {
                active[t * TYPES + k] = 1.0;
                level[t * TYPES + k] = (l + 30.0) / 10.0;
            }
        }
    }
    Example {
        feats,
        active,
        level,
    }
}

/// Tokens `[B, 1 + cols·8, D]` → per-column means over the frequency tokens `[B, cols, D]`.
fn column_means(tokens: Tensor<3>, cols: usize) -> Tensor<3> {
    let [b, n, d] = tokens.dims();
    let per = (n - 1) / cols;
    tokens
        .slice([0..b, 1..n, 0..d])
        .reshape([b, cols, per, d])
        .mean_dim(2)
        .reshape([b, cols, d])
}

/// Mean binary cross-entropy of `logits` against 0/1 `targets` (numerically stable form).
fn bce(logits: Tensor<3>, targets: Tensor<3>) -> Tensor<1> {
    let pos = logits.clone().clamp_min(0.0);
    let soft = (logits.clone().abs().neg().exp() + 1.0).log();
    (pos - logits * targets + soft).mean()
}

fn batch_tensors(examples: &[&Example], device: &Device) -> (Tensor<3>, Tensor<3>, Tensor<3>) {
    let b = examples.len();
    let cols = columns();
    let cat = |f: &dyn Fn(&Example) -> &Vec<f32>| -> Vec<f32> {
        examples.iter().flat_map(|e| f(e).iter().copied()).collect()
    };
    let x = Tensor::from_data(
        TensorData::new(cat(&|e| &e.feats), [b, FRAMES, 128]),
        device,
    );
    let a = Tensor::from_data(
        TensorData::new(cat(&|e| &e.active), [b, cols, TYPES]),
        device,
    );
    let l = Tensor::from_data(
        TensorData::new(cat(&|e| &e.level), [b, cols, TYPES]),
        device,
    );
    (x, a, l)
}

fn build(
    dir: &Path,
    weights: &Path,
    progress: &mut dyn FnMut(usize, usize, f64),
) -> Result<(), PretrainError> {
    let _beside_the_chat_build = super::pretrain::OtherBuild::start();
    let t0 = std::time::Instant::now();
    let examples: Vec<Example> = (0..TRAIN_CLIPS + TEST_CLIPS).map(example).collect();
    let world_s = t0.elapsed().as_secs_f64();
    let (train, test) = examples.split_at(TRAIN_CLIPS);
    let device = Device::flex().autodiff();
    let cfg = crate::model::builtin_tiny_eat_events();
    let mut enc = crate::model::init_seeded(
        &device,
        crate::model::backbone::BUILTIN_TINY_EAT_SEED,
        || cfg.init(&device),
    );
    let mut head: Linear = crate::model::init_seeded(&device, SEED, || {
        LinearConfig::new(cfg.embed_dim, 2 * TYPES).init(&device)
    });
    let mut opt_enc = AdamWConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(0.01)
        .init();
    let mut opt_head = AdamWConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(0.0)
        .init();
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut rng = Rng::derive(SEED, "tiny-eat-events-order");
    let mut cursor = order.len();
    let cols = columns();
    for step in 0..STEPS {
        let mut picked = Vec::with_capacity(BATCH);
        for _ in 0..BATCH {
            if cursor == order.len() {
                rng.shuffle(&mut order);
                cursor = 0;
            }
            picked.push(&train[order[cursor]]);
            cursor += 1;
        }
        let (x, active, level) = batch_tensors(&picked, &device);
        let out = head.forward(column_means(enc.forward(x), cols)); // [B, cols, 2·TYPES]
        let [b, _, _] = out.dims();
        let logits = out.clone().slice([0..b, 0..cols, 0..TYPES]);
        let pred = out.slice([0..b, 0..cols, TYPES..2 * TYPES]);
        let n_active = active.clone().sum().into_scalar::<f32>().max(1.0);
        let mse = ((pred - level).powf_scalar(2.0) * active.clone()).sum() / n_active;
        let loss = bce(logits, active) + mse * 0.5;
        let lv: f32 = loss.clone().into_scalar();
        let mut grads = loss.backward();
        let mut g_enc = GradientsParams::from_module(&mut grads, &enc);
        let g_head = GradientsParams::from_module(&mut grads, &head);
        let (_, finite) = clip_global_norm(&enc, &mut g_enc, 1.0);
        if !lv.is_finite() || !finite {
            return Err(PretrainError::Build(format!(
                "builtin:tiny-eat-events: non-finite loss at step {}",
                step + 1
            )));
        }
        let lr = lr_at(LR, Schedule::Cosine, 50, STEPS, step);
        enc = opt_enc.step(lr, enc, g_enc);
        head = opt_head.step(lr, head, g_head);
        progress(step + 1, STEPS, lv as f64);
    }
    let train_s = t0.elapsed().as_secs_f64() - world_s;
    let enc = enc.valid();
    let random = {
        let cpu = Device::flex();
        let c = crate::model::builtin_tiny_eat();
        crate::model::init_seeded(&cpu, crate::model::backbone::BUILTIN_TINY_EAT_SEED, || {
            c.init(&cpu)
        })
    };
    let quality = serde_json::json!({
        "what": "frame-level event activity: a fresh linear read-out on frozen tokens (per 160 ms column, the 8 frequency tokens averaged), trained on the held-out world's training clips, micro F1 over columns x types on its test clips",
        "world_seed": SEED,
        "train_clips": TRAIN_CLIPS,
        "test_clips": TEST_CLIPS,
        "steps": STEPS,
        "frame_f1": readout_f1(&enc, train, test),
        "frame_f1_random_builtin_tiny_eat": readout_f1(&random, train, test),
        "seconds": {"world": world_s, "train": train_s, "total": t0.elapsed().as_secs_f64()},
        "active_share_test": test.iter().map(|e| e.active.iter().sum::<f32>()).sum::<f32>() as f64
            / (test.len() * cols * TYPES) as f64,
    });
    super::pretrain::publish(&dir.join("quality.json"), |p| {
        std::fs::write(
            p,
            serde_json::to_string_pretty(&quality).unwrap_or_default(),
        )
        .map_err(|e| e.to_string())
    })?;
    super::pretrain::publish(weights, |p| {
        let mut store = BurnpackStore::from_file(p)
            .overwrite(true)
            .auto_extension(false);
        enc.save_into(&mut store).map_err(|e| e.to_string())
    })
}

/// Frozen column tokens of `examples` under `enc` (CPU, inference): rows `[clips·cols, D]` and
/// their 0/1 activity `[clips·cols, TYPES]`.
fn frozen_columns(enc: &Eat, examples: &[Example]) -> (Vec<f32>, Vec<f32>, usize) {
    let device = Device::flex();
    let cols = columns();
    let mut feats = Vec::new();
    let mut labels = Vec::new();
    let mut d = 0;
    for chunk in examples.chunks(16) {
        let refs: Vec<&Example> = chunk.iter().collect();
        let (x, _, _) = batch_tensors(&refs, &device);
        let m = column_means(enc.forward(x), cols);
        d = m.dims()[2];
        feats.extend(crate::model::host_f32(m));
        for e in chunk {
            labels.extend(e.active.iter().copied());
        }
    }
    (feats, labels, d)
}

/// Micro F1 over columns × types of a linear read-out (logistic regression, full-batch AdamW)
/// fitted on `train`'s frozen column tokens and applied to `test`'s.
fn readout_f1(enc: &Eat, train: &[Example], test: &[Example]) -> f64 {
    let (xtr, ytr, d) = frozen_columns(enc, train);
    let (xte, yte, _) = frozen_columns(enc, test);
    let device = Device::flex().autodiff();
    let n = ytr.len() / TYPES;
    let x = Tensor::<2>::from_data(TensorData::new(xtr, [n, d]), &device).unsqueeze::<3>();
    let y = Tensor::<2>::from_data(TensorData::new(ytr, [n, TYPES]), &device).unsqueeze::<3>();
    let mut probe: Linear = crate::model::init_seeded(&device, SEED + 1, || {
        LinearConfig::new(d, TYPES).init(&device)
    });
    let mut opt = AdamWConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(0.0)
        .init();
    for _ in 0..300 {
        let loss = bce(probe.forward(x.clone()), y.clone());
        let g = GradientsParams::from_grads(loss.backward(), &probe);
        probe = opt.step(1e-2, probe, g);
    }
    let probe = probe.valid();
    let cpu = Device::flex();
    let m = yte.len() / TYPES;
    let xt = Tensor::<2>::from_data(TensorData::new(xte, [m, d]), &cpu);
    let scores = crate::model::host_f32(probe.forward(xt));
    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    for (s, y) in scores.iter().zip(&yte) {
        match (*s > 0.0, *y > 0.5) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fneg += 1,
            _ => {}
        }
    }
    if tp == 0 {
        return 0.0;
    }
    2.0 * tp as f64 / (2 * tp + fp + fneg) as f64
}
