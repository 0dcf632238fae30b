//! Choosing the next token from logits: greedy, or sampling with temperature, top-k and top-p
//! applied in transformers' order (temperature → top-k → top-p), drawn from acdc's seeded RNG.

use crate::rng::Rng;

/// Version of how a seed becomes tokens (the RNG stream, the order of filtering and the draw).
/// Anything cached from sampled output (dialogue targets) records it, so a change that makes the
/// same seed give other replies regenerates them instead of mixing old and new. Bump it with any
/// such change. 1: the walking skeleton's sort-then-draw for every sampled token; 2 (a458af4):
/// without top-k/top-p, one pass over the unsorted softmax.
pub const SAMPLING_VERSION: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    Greedy,
    /// `top_k = 0` disables top-k; `top_p = 1.0` disables nucleus filtering.
    Sample {
        temperature: f64,
        top_p: f64,
        top_k: usize,
    },
}

impl Sampling {
    /// Temperature 0 means greedy (as transformers' `do_sample=False`).
    pub fn from_temperature(temperature: f64, top_p: f64) -> Self {
        if temperature <= 0.0 {
            Sampling::Greedy
        } else {
            Sampling::Sample {
                temperature,
                top_p,
                top_k: 0,
            }
        }
    }
}

/// Index of the largest logit (first on ties, as torch.argmax).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// The next token.
pub fn choose(logits: &[f32], s: &Sampling, rng: &mut Rng) -> u32 {
    match *s {
        Sampling::Greedy => argmax(logits),
        Sampling::Sample {
            temperature,
            top_p,
            top_k,
        } => {
            if top_k == 0 && top_p >= 1.0 {
                return sample_unfiltered(logits, temperature, rng);
            }
            let scaled: Vec<f64> = logits.iter().map(|&l| l as f64 / temperature).collect();
            let by_prob = |a: &usize, b: &usize| {
                scaled[*b]
                    .partial_cmp(&scaled[*a])
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(a.cmp(b))
            };
            let mut order: Vec<usize> = (0..scaled.len()).collect();
            if top_k > 0 && top_k < order.len() {
                // Only the k best need ordering.
                order.select_nth_unstable_by(top_k - 1, by_prob);
                order.truncate(top_k);
            }
            // The comparison is a total order (ties broken by index): unstable = stable here.
            order.sort_unstable_by(by_prob);
            let max = scaled[order[0]];
            let mut probs: Vec<f64> = order.iter().map(|&i| (scaled[i] - max).exp()).collect();
            let z: f64 = probs.iter().sum();
            probs.iter_mut().for_each(|p| *p /= z);
            if top_p < 1.0 {
                // Keep the smallest prefix whose mass reaches top_p (at least one token).
                let mut acc = 0.0;
                let mut keep = probs.len();
                for (i, p) in probs.iter().enumerate() {
                    acc += p;
                    if acc >= top_p {
                        keep = i + 1;
                        break;
                    }
                }
                probs.truncate(keep.max(1));
                order.truncate(keep.max(1));
                let z: f64 = probs.iter().sum();
                probs.iter_mut().for_each(|p| *p /= z);
            }
            let u = rng.next_f64();
            let mut acc = 0.0;
            for (i, p) in probs.iter().enumerate() {
                acc += p;
                if u < acc {
                    return order[i] as u32;
                }
            }
            *order.last().expect("non-empty vocabulary") as u32
        }
    }
}

/// Sampling from the whole softmax(logits / temperature) (no top-k, no top-p): one pass in
/// vocabulary order, no sorting — what target generation at temperature > 0 does per token.
fn sample_unfiltered(logits: &[f32], temperature: f64, rng: &mut Rng) -> u32 {
    let max = logits
        .iter()
        .fold(f64::NEG_INFINITY, |m, &l| m.max(l as f64 / temperature));
    let probs: Vec<f64> = logits
        .iter()
        .map(|&l| (l as f64 / temperature - max).exp())
        .collect();
    let z: f64 = probs.iter().sum();
    let u = rng.next_f64() * z;
    let mut acc = 0.0;
    let mut last = 0;
    for (i, p) in probs.iter().enumerate() {
        if *p > 0.0 {
            last = i;
        }
        acc += p;
        if u < acc {
            return i as u32;
        }
    }
    last as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_and_filters() {
        let logits = [0.0f32, 3.0, 1.0, 2.9];
        let mut r = Rng::new(0);
        assert_eq!(choose(&logits, &Sampling::Greedy, &mut r), 1);
        for _ in 0..50 {
            let t = choose(
                &logits,
                &Sampling::Sample {
                    temperature: 1.0,
                    top_p: 1.0,
                    top_k: 2,
                },
                &mut r,
            );
            assert!(t == 1 || t == 3);
            let t = choose(
                &logits,
                &Sampling::Sample {
                    temperature: 1.0,
                    top_p: 0.3,
                    top_k: 0,
                },
                &mut r,
            );
            assert_eq!(t, 1);
        }
    }

    /// Unfiltered sampling follows softmax(logits / T): frequencies over many draws.
    #[test]
    fn unfiltered_sampling_follows_the_softmax() {
        let logits = [0.0f32, 1.0, 2.0, -30.0];
        let t = 0.7;
        let z: f64 = logits.iter().map(|&l| (l as f64 / t).exp()).sum();
        let want: Vec<f64> = logits.iter().map(|&l| (l as f64 / t).exp() / z).collect();
        let mut r = Rng::new(3);
        let mut n = [0usize; 4];
        let draws = 40_000;
        for _ in 0..draws {
            n[choose(&logits, &Sampling::from_temperature(t, 1.0), &mut r) as usize] += 1;
        }
        for (c, w) in n.iter().zip(&want) {
            let f = *c as f64 / draws as f64;
            assert!((f - w).abs() < 0.01, "{n:?} vs {want:?}");
        }
    }
}
