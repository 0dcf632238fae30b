//! The adapter training step at the bench shape, timed, built from the trainer's own pieces
//! (`batch::build`, `AudioLlm::project` / `forward`, `masked_loss`, the gradient accumulator,
//! `clip_global_norm`, AdamW with the trainer's parameter groups): a frozen LLM (whatever it is;
//! its dtype as placed), batch 8, 100 encoder frames of width 768 (EAT-base) stacked by 5 → 20
//! audio embeddings through the adapter (3840 → 2048 → ReLU → hidden, f32), 32 prompt tokens (16
//! before the audio, 16 after) and 48 target tokens, AdamW lr 1e-4, clip 1.0. Only the adapter
//! trains. `tools/bench_train_torch.py` is the same computation in PyTorch.
//!
//! Used by `benches/train_step.rs` (CPU, beside PyTorch, `tools/bench_train.sh`) and by
//! `acdc lm bench-train` (any device and dtype; `tools/gpu_check_cuda.sh` on a GPU).

use std::time::Instant;

use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};

use super::batch;
use super::trainer::{adamw, clip_global_norm, mark_trainable, masked_loss, step_lrs};
use crate::model::encoder::EatConfig;
use crate::model::llm::Llama;
use crate::rng::Rng;
use crate::spec::schema::TrainConfig;
use crate::text::prompt::AudioPrompt;

pub const BATCH: usize = 8;
pub const FRAMES: usize = 100;
pub const ENC_DIM: usize = 768;
pub const STACK: usize = 5;
pub const ADAPTER_HIDDEN: usize = 2048;
pub const PREFIX: usize = 16;
pub const SUFFIX: usize = 16;
pub const TARGET: usize = 48;

/// What the timed steps gave.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepBenchResult {
    pub batch: usize,
    pub seq_len: usize,
    /// Median over the timed steps (device work finished: the loss is read back each step).
    pub ms_per_step: f64,
    pub tokens_per_s: f64,
    pub first_loss: f32,
    pub last_loss: f32,
    pub steps: usize,
}

/// `warmup` untimed steps then `steps` timed ones of the adapter on `llm` (frozen, on `device`,
/// which must be an autodiff device).
pub fn run(llm: Llama, device: &Device, steps: usize, warmup: usize) -> StepBenchResult {
    let vocab = llm.vocab_size();
    // The encoder is not run (the bench feeds encoder outputs); it only fixes the adapter's input width.
    let eat = EatConfig::new(ENC_DIM, 1, 12);
    let enc = crate::model::init_seeded(device, 1, || eat.init(device));
    let model = crate::model::assemble(llm, enc, &eat, STACK, ADAPTER_HIDDEN, None, 7, device);
    let mut model = mark_trainable(model, false);
    let tc = TrainConfig::default();
    let mut optim = adamw(tc.weight_decay, &tc.no_decay).expect("the default groups are valid");

    let mut rng = Rng::new(0);
    let mut ids = |n: usize| -> Vec<u32> { (0..n).map(|_| rng.below(vocab) as u32).collect() };
    let prompt = AudioPrompt {
        prefix: ids(PREFIX),
        suffix: ids(SUFFIX),
    };
    let responses: Vec<Vec<u32>> = (0..BATCH).map(|_| ids(TARGET)).collect();
    let mut frng = Rng::new(1);
    let frames: Vec<f32> = (0..BATCH * FRAMES * ENC_DIM)
        .map(|_| frng.normal() as f32)
        .collect();
    let audio_len = model.adapter.num_outputs(FRAMES);
    let b = batch::build(&prompt, audio_len, &responses, 0);

    let steps = steps.max(1);
    let mut times = Vec::new();
    let mut losses = Vec::new();
    for i in 0..warmup + steps {
        let t0 = Instant::now();
        let encoded = Tensor::<3>::from_data(
            TensorData::new(frames.clone(), [BATCH, FRAMES, ENC_DIM]),
            device,
        );
        let mut acc = GradientsAccumulator::new();
        let logits = model.forward(&b.spliced, model.project(encoded));
        let loss = masked_loss(logits, &b, device);
        let lv: f32 = loss.clone().into_scalar();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        acc.accumulate(&model, grads);
        let mut grads = acc.grads();
        clip_global_norm(&model, &mut grads, tc.clip_norm);
        model = optim.step(
            step_lrs(1e-4, 1e-4, None).expect("valid rates"),
            model,
            grads,
        );
        // The step's device work is done before the clock stops.
        let _ = device.sync();
        if i >= warmup {
            times.push(t0.elapsed().as_secs_f64());
            losses.push(lv);
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let seq_len = PREFIX + audio_len + SUFFIX + TARGET;
    StepBenchResult {
        batch: BATCH,
        seq_len,
        ms_per_step: median * 1e3,
        tokens_per_s: (BATCH * seq_len) as f64 / median,
        first_loss: losses[0],
        last_loss: *losses.last().expect("at least one timed step"),
        steps,
    }
}
