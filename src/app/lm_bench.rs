//! `acdc lm bench`: prefill and decode throughput of a backbone on one device and dtype (greedy and
//! beam search, at several batch sizes), and optionally how far its logits are from a CPU float32
//! run of the same weights. `tools/bench_llm.sh` runs it beside transformers on the same model;
//! `tools/gpu_check_llm.sh` runs it on a GPU.
//!
//! Throughput counts the tokens of the batch: prefill = batch·prompt_len / time of one forward over
//! the prompts (last-position logits read back); decode = batch·new_tokens / (time of a full
//! generation − prefill time); total_ms is the whole generation. Every case runs once to warm up (GPU kernels compile on first use),
//! then `repeats` times; the median is reported.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::tensor::{Device, FloatDType};
use serde::Serialize;

use crate::decode::beam::BeamConfig;
use crate::decode::{embed_padded, generate, Sampling};
use crate::model::llm::{AttnInputs, KvCache, Llama};
use crate::rng::Rng;

/// Parse a dtype name as the command line gives it.
pub fn parse_dtype(s: &str) -> Result<FloatDType> {
    Ok(match s {
        "f32" | "float32" => FloatDType::F32,
        "bf16" | "bfloat16" => FloatDType::BF16,
        "f16" | "float16" => FloatDType::F16,
        other => bail!("--dtype `{other}`: expected f32, bf16 or f16"),
    })
}

/// What one bench invocation measures.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    pub batches: Vec<usize>,
    pub beams: Vec<usize>,
    pub prompt_len: usize,
    pub new_tokens: usize,
    pub repeats: usize,
    pub seed: u64,
}

/// One measured case.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    pub batch: usize,
    pub beams: usize,
    pub prefill_ms: f64,
    pub decode_ms: f64,
    /// The whole generation (prefill included).
    pub total_ms: f64,
    pub prefill_tok_s: f64,
    pub decode_tok_s: f64,
}

/// How a device run's logits compare with the CPU float32 reference on the same prompt.
#[derive(Debug, Clone, Serialize)]
pub struct LogitCheck {
    pub positions: usize,
    pub max_abs_diff: f64,
    pub max_abs_ref: f64,
    /// max_abs_diff / max_abs_ref.
    pub rel_diff: f64,
    pub mean_abs_diff: f64,
    /// Share of positions whose argmax agrees with the reference.
    pub argmax_agree: f64,
}

fn prompts(vocab: usize, batch: usize, len: usize, seed: u64) -> Vec<Vec<u32>> {
    (0..batch)
        .map(|b| {
            let mut rng = Rng::derive(seed, &format!("bench-prompt-{b}"));
            (0..len).map(|_| rng.below(vocab) as u32).collect()
        })
        .collect()
}

/// One prefill: forward over the prompts with a fresh KV cache, last-position logits to the host.
fn prefill(m: &Llama, rows: &[Vec<u32>], device: &Device) -> Vec<f32> {
    let (x, valid) = embed_padded(m, rows, 0, device);
    let t = x.dims()[1];
    let positions: Vec<Vec<usize>> = valid.iter().map(|v| (0..v.len()).collect()).collect();
    let a = AttnInputs::new(&positions, &valid, 0, &m.inv_freq(), device);
    let mut cache = KvCache::default();
    let h = m.forward_hidden(x, &a, Some(&mut cache));
    crate::model::host_f32(m.logits(h.narrow(1, t - 1, 1)))
}

/// One full generation of `new` tokens per row (no stop ids): greedy, or batched beam search.
fn generation(m: &Llama, rows: &[Vec<u32>], beams: usize, new: usize, device: &Device) -> usize {
    if beams <= 1 {
        let (x, valid) = embed_padded(m, rows, 0, device);
        let mut rngs: Vec<Rng> = (0..rows.len()).map(|i| Rng::new(i as u64)).collect();
        let out = generate(m, x, &valid, &[], new, &Sampling::Greedy, &mut rngs);
        return out.iter().map(Vec::len).sum();
    }
    let cfg = BeamConfig {
        beams,
        num_return: 1,
        length_penalty: 1.0,
        early_stopping: false,
        max_new: new,
    };
    let (x, valid) = embed_padded(m, rows, 0, device);
    crate::decode::beam::beam_search_batch(m, x, &valid, &[], &cfg)
        .iter()
        .map(|h| h.first().map(|h| h.tokens.len()).unwrap_or(0))
        .sum()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn timed(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

/// Measure every (batch, beams) case of `plan` on `m`.
pub fn run(
    m: &Llama,
    device: &Device,
    plan: &BenchPlan,
    progress: &mut dyn FnMut(&BenchRow),
) -> Vec<BenchRow> {
    let mut rows = Vec::new();
    for &batch in &plan.batches {
        let p = prompts(m.vocab_size(), batch, plan.prompt_len, plan.seed);
        // Warm up this batch shape (kernel compilation, allocator growth).
        prefill(m, &p, device);
        let prefill_s = median(
            (0..plan.repeats.max(1))
                .map(|_| timed(|| drop(prefill(m, &p, device))))
                .collect(),
        );
        for &beams in &plan.beams {
            generation(m, &p, beams, plan.new_tokens.min(2), device);
            let total = median(
                (0..plan.repeats.max(1))
                    .map(|_| {
                        timed(|| {
                            let n = generation(m, &p, beams, plan.new_tokens, device);
                            debug_assert_eq!(n, batch * plan.new_tokens);
                        })
                    })
                    .collect(),
            );
            let decode_s = (total - prefill_s).max(1e-9);
            let row = BenchRow {
                batch,
                beams,
                prefill_ms: prefill_s * 1e3,
                decode_ms: decode_s * 1e3,
                total_ms: total * 1e3,
                prefill_tok_s: (batch * plan.prompt_len) as f64 / prefill_s,
                decode_tok_s: (batch * plan.new_tokens) as f64 / decode_s,
            };
            progress(&row);
            rows.push(row);
        }
    }
    rows
}

/// All-position logits `[T, vocab]` of one prompt, as f32 on the host.
pub fn all_logits(m: &Llama, ids: &[u32], device: &Device) -> Vec<f32> {
    let (x, valid) = embed_padded(m, &[ids.to_vec()], 0, device);
    let t = ids.len();
    let a = AttnInputs::new(&[(0..t).collect()], &valid, 0, &m.inv_freq(), device);
    crate::model::host_f32(m.forward_embeds(x, &a, None))
}

/// Compare `got` with `reference` (both `[positions, vocab]`).
pub fn compare(reference: &[f32], got: &[f32], vocab: usize) -> LogitCheck {
    assert_eq!(reference.len(), got.len(), "same logits shape");
    let positions = reference.len() / vocab;
    let (mut max_diff, mut max_ref, mut sum) = (0f64, 0f64, 0f64);
    for (r, g) in reference.iter().zip(got) {
        let d = (*r as f64 - *g as f64).abs();
        max_diff = max_diff.max(d);
        max_ref = max_ref.max((*r as f64).abs());
        sum += d;
    }
    let argmax = |row: &[f32]| {
        row.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .unwrap_or(0)
    };
    let agree = (0..positions)
        .filter(|&p| {
            argmax(&reference[p * vocab..(p + 1) * vocab])
                == argmax(&got[p * vocab..(p + 1) * vocab])
        })
        .count();
    LogitCheck {
        positions,
        max_abs_diff: max_diff,
        max_abs_ref: max_ref,
        rel_diff: if max_ref > 0.0 {
            max_diff / max_ref
        } else {
            max_diff
        },
        mean_abs_diff: sum / reference.len().max(1) as f64,
        argmax_agree: agree as f64 / positions.max(1) as f64,
    }
}

/// A dtype the device cannot compute in is an error (WGSL has no bf16, and burn's SPIR-V path
/// registers bf16 for storage only) rather than a panic inside a kernel compiler.
pub fn check_dtype(device: &Device, dtype: FloatDType) -> Result<()> {
    if !device.supports_dtype(dtype) {
        bail!("this device cannot compute in {dtype:?} (burn's wgpu backends have no bf16 arithmetic; use f16 or f32 there, or the cuda feature)");
    }
    Ok(())
}

/// Move a CPU model to `device` in `dtype`.
pub fn place(m: Llama, device: &Device, dtype: FloatDType) -> Llama {
    use burn::module::Module;
    crate::model::cast_floats(m.to_device(device), dtype)
}

/// The check prompt: `n` seeded ids.
pub fn check_prompt(vocab: usize, n: usize, seed: u64) -> Result<Vec<u32>> {
    if n == 0 {
        bail!("--check-cpu needs at least one position");
    }
    prompts(vocab, 1, n, seed ^ 0x5eed)
        .pop()
        .context("one prompt")
}

/// Parameters of a model (for the report line).
pub fn param_count(m: &Llama) -> usize {
    use burn::module::Module;
    m.num_params()
}
