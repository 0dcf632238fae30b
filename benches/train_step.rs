//! The adapter training step on the CPU (burn flex, f32), built from the trainer's own pieces
//! (`batch::build`, `AudioLlm::project` / `forward`, `masked_loss`, the gradient accumulator,
//! `clip_global_norm`, AdamW with the trainer's parameter groups), at issue 5's shape: a frozen
//! Llama (hidden 512, 8 layers, 8 heads, 2 KV heads, vocab 32000, intermediate 1376), batch 8,
//! 100 encoder frames of width 768 (EAT-base) stacked by 5 → 20 audio embeddings through the
//! adapter (3840 → 2048 → ReLU → 512), 32 prompt tokens (16 before the audio, 16 after) and 48
//! target tokens, AdamW lr 1e-4, clip 1.0. Only the adapter trains.
//!
//! `tools/bench_train.sh` runs this beside `tools/bench_train_torch.py` (the same computation in
//! PyTorch with transformers' Llama) on the same weights, machine and thread count.
//!
//! Run: `cargo bench --bench train_step`. Env: `TRAIN_BENCH_MODEL` (a Hugging Face model
//! directory; default: seeded random weights of the shape above), `TRAIN_BENCH_STEPS` (10, timed),
//! `TRAIN_BENCH_WARMUP` (2); `RAYON_NUM_THREADS` sets the threads. Prints one `RESULT {json}` line.

use std::time::Instant;

use acdc::model::encoder::EatConfig;
use acdc::rng::Rng;
use acdc::spec::schema::TrainConfig;
use acdc::text::prompt::AudioPrompt;
use acdc::train::batch;
use acdc::train::trainer::{adamw, clip_global_norm, mark_trainable, masked_loss, step_lrs};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use support::num;

mod support;

const BATCH: usize = 8;
const FRAMES: usize = 100;
const ENC_DIM: usize = 768;
const STACK: usize = 5;
const ADAPTER_HIDDEN: usize = 2048;
const PREFIX: usize = 16;
const SUFFIX: usize = 16;
const TARGET: usize = 48;

fn main() {
    let device = Device::flex().autodiff();
    let llm = support::llm("TRAIN_BENCH_MODEL", &device);
    let vocab = llm.vocab_size();
    // The encoder is not run (the bench feeds encoder outputs); it only fixes the adapter's input width.
    let eat = EatConfig::new(ENC_DIM, 1, 12);
    let enc = acdc::model::init_seeded(&device, 1, || eat.init(&device));
    let model = acdc::model::assemble(llm, enc, &eat, STACK, ADAPTER_HIDDEN, None, 7, &device);
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

    let steps = num("TRAIN_BENCH_STEPS", 10);
    let warmup = num("TRAIN_BENCH_WARMUP", 2);
    let mut times = Vec::new();
    let mut losses = Vec::new();
    for i in 0..warmup + steps {
        let t0 = Instant::now();
        let encoded = Tensor::<3>::from_data(
            TensorData::new(frames.clone(), [BATCH, FRAMES, ENC_DIM]),
            &device,
        );
        let mut acc = GradientsAccumulator::new();
        let logits = model.forward(&b.spliced, model.project(encoded));
        let loss = masked_loss(logits, &b, &device);
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
        if i >= warmup {
            times.push(t0.elapsed().as_secs_f64());
            losses.push(lv);
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let threads = support::threads();
    let tokens = BATCH * (PREFIX + audio_len + SUFFIX + TARGET);
    println!(
        "RESULT {}",
        serde_json::json!({
            "impl": "acdc", "threads": threads, "batch": BATCH, "seq_len": tokens / BATCH,
            "ms_per_step": median * 1e3, "tokens_per_s": tokens as f64 / median,
            "first_loss": losses.first(), "last_loss": losses.last(), "steps": steps,
        })
    );
}
