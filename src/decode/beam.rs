//! Beam search with the semantics of transformers 5.24 `generate(num_beams=K, …)` (batch of one
//! prompt; the K beams run as one batch over a shared KV cache):
//! - each step scores every (beam, token) by the beam's summed log-prob plus the token's, and
//!   keeps the top 2K candidates;
//! - a candidate stops when its token is an eos id or the generated length reaches `max_new`; a
//!   stopped candidate ranked below K becomes a finished hypothesis scored
//!   `sum_logprob / L^length_penalty` (L = generated tokens, eos included); the best K finished are
//!   kept; the best K candidates that did not stop continue;
//! - the search ends when, with K finished, the best running raw score / L_now^length_penalty
//!   cannot beat the worst finished (or at once with `early_stopping`), or at `max_new`.
//!
//! Returns the best `num_return` hypotheses, best first, with `sequences_scores`.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};

use crate::model::llm::{AttnInputs, KvCache, Llama};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeamConfig {
    pub beams: usize,
    pub num_return: usize,
    pub length_penalty: f64,
    pub early_stopping: bool,
    pub max_new: usize,
}

/// One returned sequence: the new tokens (eos included when it ended with one) and its score.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    pub tokens: Vec<u32>,
    pub score: f64,
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 logits")
}

/// Beam search from prompt embeddings `[1, T, D]` (all positions real).
pub fn beam_search(
    llm: &Llama,
    prompt: Tensor<3>,
    eos: &[u32],
    cfg: &BeamConfig,
) -> Vec<Hypothesis> {
    let device = prompt.device();
    let k = cfg.beams.max(1);
    let t = prompt.dims()[1];
    let inv = llm.inv_freq();
    let mut cache = KvCache::default();
    let a = AttnInputs::new(&[(0..t).collect()], &[vec![true; t]], 0, &inv, &device);
    let h = llm.forward_hidden(prompt, &a, Some(&mut cache));
    let first = log_softmax(llm.logits(h.narrow(1, t - 1, 1)).squeeze_dim::<2>(1), 1);
    // Expand the cache to K identical beams.
    let idx0 = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64; k], [k]), &device);
    for slot in cache.layers.iter_mut() {
        if let Some((kk, vv)) = slot.take() {
            *slot = Some((kk.select(0, idx0.clone()), vv.select(0, idx0.clone())));
        }
    }
    let mut logprobs = host(first.select(0, idx0));
    let v = logprobs.len() / k;
    let mut running: Vec<Vec<u32>> = vec![Vec::new(); k];
    let mut scores: Vec<f32> = (0..k).map(|i| if i == 0 { 0.0 } else { -1e9 }).collect();
    let mut finished: Vec<Hypothesis> = Vec::new();
    let lp = cfg.length_penalty;
    for step in 0..cfg.max_new {
        let len = step + 1;
        // All K·V candidates by raw summed log-prob; keep the top 2K (ties: lower index first).
        let mut cand: Vec<(f32, usize, u32)> = Vec::with_capacity(k * v);
        for b in 0..k {
            for tok in 0..v {
                cand.push((scores[b] + logprobs[b * v + tok], b, tok as u32));
            }
        }
        let n_top = (2 * k).min(cand.len());
        cand.select_nth_unstable_by(n_top - 1, |x, y| {
            y.0.partial_cmp(&x.0)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then((x.1 * v + x.2 as usize).cmp(&(y.1 * v + y.2 as usize)))
        });
        cand.truncate(n_top);
        cand.sort_by(|x, y| {
            y.0.partial_cmp(&x.0)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then((x.1 * v + x.2 as usize).cmp(&(y.1 * v + y.2 as usize)))
        });
        let mut next: Vec<(f32, usize, u32)> = Vec::with_capacity(k);
        let mut new_finished = Vec::new();
        for (rank, &(s, b, tok)) in cand.iter().enumerate() {
            let stops = eos.contains(&tok) || len == cfg.max_new;
            if stops {
                if rank < k {
                    let mut toks = running[b].clone();
                    toks.push(tok);
                    new_finished.push(Hypothesis {
                        tokens: toks,
                        score: s as f64 / (len as f64).powf(lp),
                    });
                }
            } else if next.len() < k {
                next.push((s, b, tok));
            }
        }
        let full = finished.len() >= k;
        if !(cfg.early_stopping && full) {
            finished.extend(new_finished);
            finished.sort_by(|a, b| {
                b.score
                    .partial_cmp(&a.score)
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            finished.truncate(k);
        }
        if len == cfg.max_new || next.is_empty() {
            break;
        }
        // Stopping checks with the beams that go on.
        if finished.len() >= k {
            if cfg.early_stopping {
                break;
            }
            let best_running = next[0].0 as f64 / (len as f64).powf(lp);
            let worst = finished
                .last()
                .map(|h| h.score)
                .unwrap_or(f64::NEG_INFINITY);
            if best_running <= worst {
                break;
            }
        }
        // Advance the K running beams by one token.
        while next.len() < k {
            next.push((-1e9, next[0].1, next[0].2));
        }
        let parents: Vec<i64> = next.iter().map(|n| n.1 as i64).collect();
        running = next
            .iter()
            .map(|&(_, b, tok)| {
                let mut r = running[b].clone();
                r.push(tok);
                r
            })
            .collect();
        scores = next.iter().map(|n| n.0).collect();
        let pidx = Tensor::<1, Int>::from_data(TensorData::new(parents, [k]), &device);
        for slot in cache.layers.iter_mut() {
            if let Some((kk, vv)) = slot.take() {
                *slot = Some((kk.select(0, pidx.clone()), vv.select(0, pidx.clone())));
            }
        }
        let toks = Tensor::<2, Int>::from_data(
            TensorData::new(next.iter().map(|n| n.2 as i64).collect::<Vec<_>>(), [k, 1]),
            &device,
        );
        let pos: Vec<Vec<usize>> = vec![vec![t + step]; k];
        let key_valid: Vec<Vec<bool>> = vec![vec![true; t + step + 1]; k];
        let a = AttnInputs::new(&pos, &key_valid, cache.len, &inv, &device);
        let h = llm.forward_hidden(llm.embed(toks), &a, Some(&mut cache));
        logprobs = host(log_softmax(llm.logits(h).squeeze_dim::<2>(1), 1));
    }
    finished.truncate(cfg.num_return.max(1));
    finished
}
