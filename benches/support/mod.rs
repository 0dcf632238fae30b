//! What the benches share: reading their settings from the environment, the thread count they
//! report, and the LLM they run (a Hugging Face directory, or issue 4's bench shape seeded).
#![allow(dead_code)]

use acdc::model::llm::{Llama, LlamaConfig};
use burn::tensor::Device;

/// A number from the environment variable `key`, else `default`.
pub fn num(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .map(|s| s.parse().expect("a number"))
        .unwrap_or(default)
}

/// A comma-separated list of numbers from `key`, else `default`.
pub fn list(key: &str, default: &str) -> Vec<usize> {
    std::env::var(key)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().parse().expect("a comma-separated list of numbers"))
        .collect()
}

/// The threads the CPU backend uses: `RAYON_NUM_THREADS`, else every core.
pub fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
}

/// The model directory `key` names, else seeded random weights of issue 4's bench shape (Llama,
/// hidden 512, 8 layers, 8 heads, 2 KV heads, vocab 32000, intermediate 1376).
pub fn llm(key: &str, device: &Device) -> Llama {
    match std::env::var(key) {
        Ok(dir) => {
            acdc::model::hf::load_llama(std::path::Path::new(&dir), device)
                .unwrap_or_else(|e| panic!("{key}={dir} does not load: {e}"))
                .1
        }
        Err(_) => {
            let cfg = LlamaConfig::new(32000, 512, 1376, 8, 8, 2);
            acdc::model::init_seeded(device, 0, || cfg.init(device))
        }
    }
}
