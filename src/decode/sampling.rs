//! Choosing the next token from logits: greedy, or sampling with temperature, top-k and top-p
//! applied in transformers' order (temperature → top-k → top-p), drawn from acdc's seeded RNG.

use burn::tensor::activation::softmax;
use burn::tensor::{DType, Tensor, TensorData};

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

/// [`choose`]'s draw for every row of `[B, V]` logits, on the logits' device: only B ids come
/// back (a GPU would otherwise copy B × V logits to the host and wait for them every token).
/// Row b draws with `u[b]` (one uniform from its own stream, as [`choose`] takes one), by the same
/// rule: softmax(logits / T) — restricted to the top k, then to the smallest prefix by
/// probability whose mass reaches top_p — and the first token in that order whose cumulative
/// mass exceeds `u` times the total (a zero-probability tail is never picked). The arithmetic is
/// f32 where the host's is f64, so a draw can differ where `u` falls within rounding of a
/// boundary, as it can between two devices' logits; greedy never comes here.
pub fn choose_on_device(logits: Tensor<2>, s: &Sampling, u: &[f64]) -> Vec<u32> {
    let Sampling::Sample {
        temperature,
        top_p,
        top_k,
    } = *s
    else {
        panic!("choose_on_device samples; greedy takes the argmax");
    };
    let device = logits.device();
    let logits = crate::model::to_dtype(logits, DType::F32);
    let [b, v] = logits.dims();
    assert_eq!(u.len(), b, "one uniform per row");
    let scaled = logits.div_scalar(temperature);
    // The candidates in the order the draw walks: the whole vocabulary by index, or by
    // probability (top-k / top-p), with their ids.
    let (scores, ids) = if top_k == 0 && top_p >= 1.0 {
        (scaled, None)
    } else {
        let (vals, order) = scaled.sort_descending_with_indices(1);
        if top_k > 0 && top_k < v {
            (vals.narrow(1, 0, top_k), Some(order.narrow(1, 0, top_k)))
        } else {
            (vals, Some(order))
        }
    };
    let n = scores.dims()[1];
    let mut probs = softmax(scores, 1);
    if top_p < 1.0 {
        // Keep a candidate while the mass before it is below top_p (the first always).
        let before = probs.clone().cumsum(1) - probs.clone();
        probs = probs.mask_fill(before.lower_elem(top_p).bool_not(), 0.0);
    }
    let cdf = probs.cumsum(1);
    let total = cdf.clone().narrow(1, n - 1, 1);
    // The largest f32 below 1, so u · total < total.
    let us: Vec<f32> = u.iter().map(|&x| (x as f32).min(0.999_999_94)).collect();
    let target = Tensor::<2>::from_data(TensorData::new(us, [b, 1]), &device) * total.clone();
    let first_above = cdf
        .clone()
        .lower_equal(target.expand([b, n]))
        .int()
        .sum_dim(1);
    // Where rounding leaves nothing above the target: the last candidate with mass.
    let last_with_mass = cdf.lower(total.expand([b, n])).int().sum_dim(1);
    let pos = first_above.min_pair(last_with_mass);
    let chosen = match ids {
        None => pos,
        Some(order) => order.gather(1, pos),
    };
    chosen
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .expect("sampled ids read back as integers")
        .into_iter()
        .map(|i| i as u32)
        .collect()
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

    /// The device draw equals the host's on the same uniforms, for every filter: rows of random
    /// logits (some -inf), each from its own stream.
    #[test]
    fn the_device_draw_is_the_hosts() {
        let device = burn::tensor::Device::flex();
        let (b, v) = (64, 300);
        let mut r = Rng::new(17);
        let logits: Vec<f32> = (0..b * v)
            .map(|i| {
                if i % 37 == 5 {
                    f32::NEG_INFINITY
                } else {
                    (r.next_f64() * 8.0 - 4.0) as f32
                }
            })
            .collect();
        let t = Tensor::<2>::from_data(TensorData::new(logits.clone(), [b, v]), &device);
        for s in [
            Sampling::from_temperature(0.7, 1.0),
            Sampling::from_temperature(1.3, 0.9),
            Sampling::Sample {
                temperature: 1.0,
                top_p: 1.0,
                top_k: 20,
            },
            Sampling::Sample {
                temperature: 0.5,
                top_p: 0.5,
                top_k: 50,
            },
        ] {
            for round in 0..5u64 {
                let mut host_rngs: Vec<Rng> =
                    (0..b as u64).map(|i| Rng::new(round * 1000 + i)).collect();
                let mut dev_rngs = host_rngs.clone();
                let want: Vec<u32> = (0..b)
                    .map(|row| choose(&logits[row * v..(row + 1) * v], &s, &mut host_rngs[row]))
                    .collect();
                let u: Vec<f64> = dev_rngs.iter_mut().map(|r| r.next_f64()).collect();
                let got = choose_on_device(t.clone(), &s, &u);
                assert_eq!(got, want, "{s:?} round {round}");
            }
        }
    }
}
