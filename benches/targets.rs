//! Target-generation throughput on the CPU (burn flex, f32): what `targets::build` runs for the
//! dialogue-continuation replies — batched sampling (temperature 0.7, top-p 1, one seeded stream
//! per reply) with the KV cache — on issue 4's bench Llama (hidden 512, 8 layers, 8 heads, 2 KV
//! heads, vocab 32000), 32 prompts of 40 tokens (a chat-templated caption's length) per batch,
//! 48 new tokens each without stopping at an end-of-turn (so both sides do the same work).
//! `tools/bench_targets.sh` runs this beside transformers `generate(do_sample=True)` on the same
//! weights and prints replies per second for both.
//!
//! Run: `cargo bench --bench targets`. Env: `TARGETS_BENCH_MODEL` (a Hugging Face model
//! directory; default: seeded random weights of the shape above), `TARGETS_BENCH_BATCH` (32),
//! `TARGETS_BENCH_PROMPT` (40), `TARGETS_BENCH_NEW` (48), `TARGETS_BENCH_REPEATS` (3);
//! `RAYON_NUM_THREADS` sets the threads. Prints one `RESULT {json}` line.

use std::time::Instant;

use acdc::decode::{embed_padded, generate, Sampling};
use acdc::rng::Rng;
use burn::tensor::Device;
use support::num;

mod support;

fn main() {
    let device = Device::flex();
    let model = support::llm("TARGETS_BENCH_MODEL", &device);
    let (batch, prompt, new) = (
        num("TARGETS_BENCH_BATCH", 32),
        num("TARGETS_BENCH_PROMPT", 40),
        num("TARGETS_BENCH_NEW", 48),
    );
    let repeats = num("TARGETS_BENCH_REPEATS", 3);
    let mut rng = Rng::new(0);
    let vocab = model.vocab_size();
    let rows: Vec<Vec<u32>> = (0..batch)
        .map(|_| (0..prompt).map(|_| rng.below(vocab) as u32).collect())
        .collect();
    let sampling = Sampling::from_temperature(0.7, 1.0);
    let run = |seed: u64| {
        let (x, valid) = embed_padded(&model, &rows, 0, &device);
        let mut rngs: Vec<Rng> = (0..batch)
            .map(|i| Rng::derive(seed, &format!("dialogue-{i}-0")))
            .collect();
        let out = generate(&model, x, &valid, &[], new, &sampling, &mut rngs);
        out.iter().map(Vec::len).sum::<usize>()
    };
    run(99);
    let mut times = Vec::new();
    let mut tokens = 0;
    for r in 0..repeats.max(1) {
        let t = Instant::now();
        tokens = run(r as u64);
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let s = times[times.len() / 2];
    let threads = support::threads();
    println!(
        "RESULT {}",
        serde_json::json!({
            "impl": "acdc", "threads": threads, "batch": batch, "prompt_len": prompt,
            "new_tokens": new, "seconds": s, "replies_per_s": batch as f64 / s,
            "tokens_per_s": tokens as f64 / s,
        })
    );
}
