//! A dataset mix: several sources sampled by weight, each without replacement within an epoch.
//! The sequence of drawn examples is a pure function of the seed and the cursor, so a checkpoint
//! that stores the cursor resumes the exact data order.

use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// Where the mix is: how many examples were drawn overall and from each source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MixCursor {
    pub draws: u64,
    pub per_source: Vec<u64>,
}

/// Sampling over sources with `sizes[i]` examples and relative `weights[i]`.
#[derive(Debug, Clone)]
pub struct Mix {
    pub sizes: Vec<usize>,
    /// Cumulative normalised weights.
    cumulative: Vec<f64>,
    pub seed: u64,
    /// The current epoch's permutation of each source (rebuilt when a source starts an epoch), so
    /// a draw costs O(1) instead of shuffling the whole source.
    perms: std::cell::RefCell<Vec<Option<EpochOrder>>>,
}

/// (epoch, permutation of the source's examples in that epoch).
type EpochOrder = (u64, Vec<usize>);

impl Mix {
    pub fn new(sizes: Vec<usize>, weights: &[f64], seed: u64) -> Self {
        let usable: Vec<f64> = weights
            .iter()
            .zip(&sizes)
            .map(|(w, &n)| if n == 0 { 0.0 } else { *w })
            .collect();
        let total: f64 = usable.iter().sum();
        let mut acc = 0.0;
        let cumulative = usable
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        let perms = std::cell::RefCell::new(vec![None; sizes.len()]);
        Self {
            sizes,
            cumulative,
            seed,
            perms,
        }
    }

    /// Sampling proportions actually used (0 for empty sources).
    pub fn proportions(&self) -> Vec<f64> {
        let mut prev = 0.0;
        self.cumulative
            .iter()
            .map(|c| {
                let p = c - prev;
                prev = *c;
                p
            })
            .collect()
    }

    /// The index (within its source) of the `k`-th draw from `source`: epoch `k / n` uses a
    /// permutation derived from the seed, source and epoch.
    fn item_at(&self, source: usize, k: u64) -> usize {
        let n = self.sizes[source];
        let epoch = k / n as u64;
        let mut perms = self.perms.borrow_mut();
        let slot = &mut perms[source];
        if slot.as_ref().map(|(e, _)| *e) != Some(epoch) {
            let mut perm: Vec<usize> = (0..n).collect();
            Rng::derive(self.seed, &format!("mix-{source}-{epoch}")).shuffle(&mut perm);
            *slot = Some((epoch, perm));
        }
        slot.as_ref().expect("just filled").1[(k % n as u64) as usize]
    }

    /// Draw the next example: (source, item index).
    pub fn next(&self, cursor: &mut MixCursor) -> (usize, usize) {
        if cursor.per_source.len() != self.sizes.len() {
            cursor.per_source = vec![0; self.sizes.len()];
        }
        let u = Rng::derive(self.seed, &format!("mix-pick-{}", cursor.draws)).next_f64();
        let source = self
            .cumulative
            .iter()
            .position(|&c| u < c)
            .unwrap_or_else(|| {
                self.cumulative
                    .iter()
                    .rposition(|_| true)
                    .expect("at least one source")
            });
        // Guard against rounding leaving u above the last cumulative weight: take the last non-empty.
        let source = if self.sizes[source] == 0 {
            self.sizes
                .iter()
                .rposition(|&n| n > 0)
                .expect("a non-empty source")
        } else {
            source
        };
        let k = cursor.per_source[source];
        cursor.per_source[source] += 1;
        cursor.draws += 1;
        (source, self.item_at(source, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_weights_and_resumes_exactly() {
        let mix = Mix::new(vec![10, 30], &[3.0, 1.0], 5);
        let mut c = MixCursor::default();
        let first: Vec<_> = (0..400).map(|_| mix.next(&mut c)).collect();
        let from_a = first.iter().filter(|(s, _)| *s == 0).count();
        assert!((250..350).contains(&from_a), "{from_a}");
        // One epoch of source 0 visits each item once.
        let mut seen: Vec<usize> = first
            .iter()
            .filter(|(s, _)| *s == 0)
            .take(10)
            .map(|(_, i)| *i)
            .collect();
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        // Resume from a saved cursor.
        let mut c2 = MixCursor::default();
        for _ in 0..200 {
            mix.next(&mut c2);
        }
        let saved: MixCursor = serde_json::from_str(&serde_json::to_string(&c2).unwrap()).unwrap();
        let mut c3 = saved;
        let rest: Vec<_> = (0..200).map(|_| mix.next(&mut c3)).collect();
        assert_eq!(rest, first[200..]);
    }
}
