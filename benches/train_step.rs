//! The adapter training step on the CPU (burn flex, f32) at issue 5's shape
//! (`acdc::train::step_bench`: a frozen Llama of hidden 512, 8 layers, 8 heads, 2 KV heads,
//! vocab 32000, intermediate 1376; batch 8; 100 EAT-base frames stacked by 5 through the
//! adapter; 32 prompt and 48 target tokens; AdamW lr 1e-4, clip 1.0).
//!
//! `tools/bench_train.sh` runs this beside `tools/bench_train_torch.py` (the same computation in
//! PyTorch with transformers' Llama) on the same weights, machine and thread count.
//!
//! Run: `cargo bench --bench train_step`. Env: `TRAIN_BENCH_MODEL` (a Hugging Face model
//! directory; default: seeded random weights of the shape above), `TRAIN_BENCH_STEPS` (10, timed),
//! `TRAIN_BENCH_WARMUP` (2); `RAYON_NUM_THREADS` sets the threads. Prints one `RESULT {json}` line.

use burn::tensor::Device;
use support::num;

mod support;

fn main() {
    let device = Device::flex().autodiff();
    let llm = support::llm("TRAIN_BENCH_MODEL", &device);
    let r = acdc::train::step_bench::run(
        llm,
        &device,
        num("TRAIN_BENCH_STEPS", 10),
        num("TRAIN_BENCH_WARMUP", 2),
    );
    let mut v = serde_json::to_value(&r).expect("a result serialises");
    v["impl"] = "acdc".into();
    v["threads"] = support::threads().into();
    println!("RESULT {v}");
}
