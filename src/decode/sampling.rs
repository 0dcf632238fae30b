//! Choosing the next token from logits: greedy, or sampling with temperature, top-k and top-p
//! applied in transformers' order (temperature → top-k → top-p), drawn from acdc's seeded RNG.

use crate::rng::Rng;

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
            let scaled: Vec<f64> = logits.iter().map(|&l| l as f64 / temperature).collect();
            let mut order: Vec<usize> = (0..scaled.len()).collect();
            order.sort_by(|&a, &b| {
                scaled[b]
                    .partial_cmp(&scaled[a])
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(a.cmp(&b))
            });
            if top_k > 0 && top_k < order.len() {
                order.truncate(top_k);
            }
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
}
