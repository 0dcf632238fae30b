//! Beam search with the semantics of transformers 5.24 `generate(num_beams=K, …)`. A batch of B
//! prompts (left-padded) runs as one batch of B·K rows over a shared KV cache; each prompt's beams
//! are searched independently, and a prompt whose search has ended keeps its rows in the batch
//! (fed dummy tokens, results untouched) until every prompt is done:
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
    crate::model::host_f32(t)
}

/// Beam search from prompt embeddings `[1, T, D]` (all positions real).
pub fn beam_search(
    llm: &Llama,
    prompt: Tensor<3>,
    eos: &[u32],
    cfg: &BeamConfig,
) -> Vec<Hypothesis> {
    let t = prompt.dims()[1];
    beam_search_batch(llm, prompt, &[vec![true; t]], eos, cfg)
        .pop()
        .unwrap_or_default()
}

/// One prompt's search state.
struct Search {
    running: Vec<Vec<u32>>,
    scores: Vec<f32>,
    finished: Vec<Hypothesis>,
    done: bool,
}

/// Candidates sorted best first: higher summed log-prob, then lower (beam · V + token) index.
fn by_score(v: usize) -> impl Fn(&(f32, usize, u32), &(f32, usize, u32)) -> std::cmp::Ordering {
    move |x, y| {
        y.0.partial_cmp(&x.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then((x.1 * v + x.2 as usize).cmp(&(y.1 * v + y.2 as usize)))
    }
}

/// The top 2K of all K·V (beam score + token log-prob, beam, token) candidates of one prompt,
/// best first, from its K rows' log-probs on the host (`[K·V]`).
fn top_candidates(scores: &[f32], logprobs: &[f32], v: usize) -> Vec<(f32, usize, u32)> {
    let k = scores.len();
    let mut cand: Vec<(f32, usize, u32)> = Vec::with_capacity(k * v);
    for (b, s) in scores.iter().enumerate() {
        for tok in 0..v {
            cand.push((s + logprobs[b * v + tok], b, tok as u32));
        }
    }
    let order = by_score(v);
    let n_top = (2 * k).min(cand.len());
    cand.select_nth_unstable_by(n_top - 1, &order);
    cand.truncate(n_top);
    cand.sort_by(order);
    cand
}

/// [`top_candidates`] of every prompt at once on the device: the K rows' scores are added to
/// their `[B·K, V]` log-probs there and each prompt's top 2K taken there, so only B · 2K values
/// and indices come back per step instead of B · K · V log-probs. Ties at the 2K-th place may
/// resolve otherwise than the host's lower-index rule.
fn top_candidates_on_device(
    logprobs: Tensor<2>,
    scores: &[f32],
    nb: usize,
    k: usize,
) -> Vec<Vec<(f32, usize, u32)>> {
    let device = logprobs.device();
    let v = logprobs.dims()[1];
    let s = Tensor::<2>::from_data(TensorData::new(scores.to_vec(), [nb * k, 1]), &device);
    let n_top = (2 * k).min(k * v);
    let (vals, idx) = (logprobs + s)
        .reshape([nb, k * v])
        .topk_with_indices(n_top, 1);
    let vals = host(vals);
    let idx: Vec<i64> = idx
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .expect("top-k indices read back as integers");
    (0..nb)
        .map(|b| {
            let mut c: Vec<(f32, usize, u32)> = (0..n_top)
                .map(|j| {
                    let i = idx[b * n_top + j] as usize;
                    (vals[b * n_top + j], i / v, (i % v) as u32)
                })
                .collect();
            c.sort_by(by_score(v));
            c
        })
        .collect()
}

impl Search {
    fn new(k: usize) -> Self {
        Self {
            running: vec![Vec::new(); k],
            // Only the first beam is live at the start (the K copies of the prompt are identical).
            scores: (0..k).map(|i| if i == 0 { 0.0 } else { -1e9 }).collect(),
            finished: Vec::new(),
            done: false,
        }
    }

    /// Advance by one token given the top 2K (summed log-prob, beam, token) candidates of the K
    /// rows ([`top_candidates`] or the device's top-k), best first; returns the K (parent beam,
    /// token) pairs to feed next, or None when this prompt's search has ended.
    fn step(
        &mut self,
        cand: &[(f32, usize, u32)],
        len: usize,
        eos: &[u32],
        cfg: &BeamConfig,
    ) -> Option<Vec<(usize, u32)>> {
        let k = self.running.len();
        let lp = cfg.length_penalty;
        let mut next: Vec<(f32, usize, u32)> = Vec::with_capacity(k);
        let mut new_finished = Vec::new();
        for (rank, &(s, b, tok)) in cand.iter().enumerate() {
            let stops = eos.contains(&tok) || len == cfg.max_new;
            if stops {
                if rank < k {
                    let mut toks = self.running[b].clone();
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
        let full = self.finished.len() >= k;
        if !(cfg.early_stopping && full) {
            self.finished.extend(new_finished);
            self.finished.sort_by(|a, b| {
                b.score
                    .partial_cmp(&a.score)
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            self.finished.truncate(k);
        }
        if len == cfg.max_new || next.is_empty() {
            return None;
        }
        // Stopping checks with the beams that go on.
        if self.finished.len() >= k {
            if cfg.early_stopping {
                return None;
            }
            let best_running = next[0].0 as f64 / (len as f64).powf(lp);
            let worst = self
                .finished
                .last()
                .map(|h| h.score)
                .unwrap_or(f64::NEG_INFINITY);
            if best_running <= worst {
                return None;
            }
        }
        while next.len() < k {
            next.push((-1e9, next[0].1, next[0].2));
        }
        self.running = next
            .iter()
            .map(|&(_, b, tok)| {
                let mut r = self.running[b].clone();
                r.push(tok);
                r
            })
            .collect();
        self.scores = next.iter().map(|n| n.0).collect();
        Some(next.iter().map(|&(_, b, tok)| (b, tok)).collect())
    }
}

/// Beam search for B left-padded prompts `[B, T, D]` (`valid[b][t]` marks real positions);
/// returns each prompt's best `num_return` hypotheses, best first.
pub fn beam_search_batch(
    llm: &Llama,
    prompt: Tensor<3>,
    valid: &[Vec<bool>],
    eos: &[u32],
    cfg: &BeamConfig,
) -> Vec<Vec<Hypothesis>> {
    let on_host = crate::model::device::is_host(&prompt.device());
    beam_search_placed(llm, prompt, valid, eos, cfg, on_host)
}

/// [`beam_search_batch`] with the candidates' top-2K taken on the host (`on_host`: the CPU
/// backend, where the log-probs are already in memory) or on the device.
fn beam_search_placed(
    llm: &Llama,
    prompt: Tensor<3>,
    valid: &[Vec<bool>],
    eos: &[u32],
    cfg: &BeamConfig,
    on_host: bool,
) -> Vec<Vec<Hypothesis>> {
    let device = prompt.device();
    let k = cfg.beams.max(1);
    let [nb, t, _] = prompt.dims();
    assert_eq!(valid.len(), nb, "one mask row per prompt");
    let inv = llm.inv_freq();
    let positions = crate::model::llm::positions_from_mask(valid);
    let lens: Vec<usize> = valid
        .iter()
        .map(|r| r.iter().filter(|&&x| x).count())
        .collect();
    // Grown by concatenation: the beams' reordering copies the cache every step anyway, and a
    // preallocated one would copy its whole capacity.
    let mut cache = KvCache::default();
    let a = AttnInputs::new(&positions, valid, 0, &inv, &device);
    let h = llm.forward_hidden(prompt, &a, Some(&mut cache));
    // Expand every prompt's cache row to its K beams: row b·K + j.
    let rows: Vec<i64> = (0..nb * k).map(|r| (r / k) as i64).collect();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(rows, [nb * k]), &device);
    for slot in cache.layers.iter_mut() {
        if let Some((kk, vv)) = slot.take() {
            *slot = Some((kk.select(0, idx.clone()), vv.select(0, idx.clone())));
        }
    }
    let last = llm.logits(h.narrow(1, t - 1, 1)).squeeze_dim::<2>(1);
    let to_f32 = |t: Tensor<2>| crate::model::to_dtype(t, burn::tensor::DType::F32);
    let mut logprobs = to_f32(log_softmax(last.select(0, idx), 1));
    let v = logprobs.dims()[1];
    let mut key_valid: Vec<Vec<bool>> = (0..nb * k).map(|r| valid[r / k].clone()).collect();
    let mut searches: Vec<Search> = (0..nb).map(|_| Search::new(k)).collect();
    for step in 0..cfg.max_new {
        let len = step + 1;
        let mut parents: Vec<i64> = Vec::with_capacity(nb * k);
        let mut tokens: Vec<i64> = Vec::with_capacity(nb * k);
        let scores: Vec<f32> = searches.iter().flat_map(|s| s.scores.clone()).collect();
        let candidates: Vec<Vec<(f32, usize, u32)>> = if on_host {
            let lp = host(logprobs);
            (0..nb)
                .map(|b| {
                    top_candidates(
                        &scores[b * k..(b + 1) * k],
                        &lp[b * k * v..(b + 1) * k * v],
                        v,
                    )
                })
                .collect()
        } else {
            top_candidates_on_device(logprobs, &scores, nb, k)
        };
        for (b, s) in searches.iter_mut().enumerate() {
            let next = if s.done {
                None
            } else {
                let out = s.step(&candidates[b], len, eos, cfg);
                s.done = out.is_none();
                out
            };
            match next {
                Some(n) => {
                    parents.extend(n.iter().map(|&(p, _)| (b * k + p) as i64));
                    tokens.extend(n.iter().map(|&(_, tok)| tok as i64));
                }
                // An ended prompt's rows stay in the batch with a dummy token.
                None => {
                    parents.extend((0..k).map(|j| (b * k + j) as i64));
                    tokens.extend(std::iter::repeat_n(0, k));
                }
            }
        }
        if searches.iter().all(|s| s.done) {
            break;
        }
        let pidx = Tensor::<1, Int>::from_data(TensorData::new(parents, [nb * k]), &device);
        for slot in cache.layers.iter_mut() {
            if let Some((kk, vv)) = slot.take() {
                *slot = Some((kk.select(0, pidx.clone()), vv.select(0, pidx.clone())));
            }
        }
        for kv in key_valid.iter_mut() {
            kv.push(true);
        }
        let toks = Tensor::<2, Int>::from_data(TensorData::new(tokens, [nb * k, 1]), &device);
        let pos: Vec<Vec<usize>> = (0..nb * k).map(|r| vec![lens[r / k] + step]).collect();
        let a = AttnInputs::new(&pos, &key_valid, cache.len, &inv, &device);
        let h = llm.forward_hidden(llm.embed(toks), &a, Some(&mut cache));
        logprobs = to_f32(log_softmax(llm.logits(h).squeeze_dim::<2>(1), 1));
    }
    searches
        .into_iter()
        .map(|mut s| {
            s.finished.truncate(cfg.num_return.max(1));
            s.finished
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::llm::LlamaConfig;
    use burn::tensor::Device;

    /// Prompts of different lengths searched as one left-padded batch give what each gives alone.
    #[test]
    fn batched_search_equals_one_prompt_at_a_time() {
        let device = Device::flex();
        let m = crate::model::init_seeded(&device, 11, || {
            LlamaConfig::new(40, 32, 64, 2, 4, 2)
                .with_rope_theta(10000.0)
                .init(&device)
        });
        let prompts: Vec<Vec<u32>> = vec![vec![3, 9, 12, 5], vec![7], vec![1, 2, 30, 4, 8, 22]];
        for (eos, early, lp) in [
            (vec![], false, 1.0),
            (vec![5u32, 17], false, 0.5),
            (vec![9], true, 2.0),
        ] {
            let cfg = BeamConfig {
                beams: 3,
                num_return: 2,
                length_penalty: lp,
                early_stopping: early,
                max_new: 7,
            };
            let embed = |rows: &[Vec<u32>]| {
                let (ids, valid) = crate::decode::left_pad(rows, 0);
                let (b, t) = (ids.len(), ids[0].len());
                let flat: Vec<i64> = ids.iter().flatten().map(|&x| x as i64).collect();
                (
                    m.embed(Tensor::<2, Int>::from_data(
                        TensorData::new(flat, [b, t]),
                        &device,
                    )),
                    valid,
                )
            };
            let (x, valid) = embed(&prompts);
            let batched = beam_search_batch(&m, x, &valid, &eos, &cfg);
            for (p, got) in prompts.iter().zip(&batched) {
                let (x, _) = embed(std::slice::from_ref(p));
                let want = beam_search(&m, x, &eos, &cfg);
                assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(g.tokens, w.tokens, "prompt {p:?}");
                    assert!(
                        (g.score - w.score).abs() < 1e-4,
                        "{} vs {}",
                        g.score,
                        w.score
                    );
                }
            }
        }
    }

    /// Taking each step's top 2K on the device finds the host's hypotheses and scores.
    #[test]
    fn device_top_candidates_search_as_the_host_does() {
        let device = Device::flex();
        let m = crate::model::init_seeded(&device, 23, || {
            LlamaConfig::new(60, 32, 64, 2, 4, 2)
                .with_rope_theta(10000.0)
                .init(&device)
        });
        let prompts: Vec<Vec<u32>> = vec![vec![3, 9, 12, 5], vec![7], vec![1, 2, 30, 4, 8, 22]];
        for (eos, early, beams) in [
            (vec![5u32, 17], false, 3),
            (vec![9], true, 4),
            (vec![], false, 2),
        ] {
            let cfg = BeamConfig {
                beams,
                num_return: 2,
                length_penalty: 1.0,
                early_stopping: early,
                max_new: 8,
            };
            let run = |on_host: bool| {
                let (x, valid) = crate::decode::embed_padded(&m, &prompts, 0, &device);
                beam_search_placed(&m, x, &valid, &eos, &cfg, on_host)
            };
            assert_eq!(run(false), run(true), "eos {eos:?}, {beams} beams");
        }
    }
}
