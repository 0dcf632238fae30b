//! LLM prefill and decode tokens/s on the CPU (burn flex, f32) through the same code `acdc lm bench`
//! runs (src/app/lm_bench.rs). `tools/bench_llm.sh` runs this and transformers
//! (`tools/bench_llm_transformers.py`) on the same random model, same machine and thread count,
//! and prints the ratios.
//!
//! Run: `cargo bench --bench llm`. Env: `LLM_BENCH_MODEL` (a Hugging Face model directory; default:
//! issue 4's bench shape — Llama, hidden 512, 8 layers, 8 heads, 2 KV heads, vocab 32000,
//! intermediate 1376 — with seeded random weights), `LLM_BENCH_BATCH` (default `1,8`),
//! `LLM_BENCH_BEAMS` (`1,4`), `LLM_BENCH_PROMPT` (128), `LLM_BENCH_NEW` (32), `LLM_BENCH_REPEATS`
//! (3); `RAYON_NUM_THREADS` sets the threads. Prints one `RESULT {json}` line per case.

use acdc::app::lm_bench::{run, BenchPlan};
use burn::tensor::Device;
use support::{list, num};

mod support;

fn main() {
    let device = Device::flex();
    let model = support::llm("LLM_BENCH_MODEL", &device);
    let plan = BenchPlan {
        batches: list("LLM_BENCH_BATCH", "1,8"),
        beams: list("LLM_BENCH_BEAMS", "1,4"),
        prompt_len: num("LLM_BENCH_PROMPT", 128),
        new_tokens: num("LLM_BENCH_NEW", 32),
        repeats: num("LLM_BENCH_REPEATS", 3),
        seed: 0,
    };
    let threads = support::threads();
    run(&model, &device, &plan, &mut |r| {
        let mut v = serde_json::to_value(r).expect("a row serialises");
        v["impl"] = "acdc".into();
        v["threads"] = threads.into();
        println!("RESULT {v}");
    });
}
