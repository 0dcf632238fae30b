//! SpecAugment time/frequency masking on normalised fbank features, in the spirit of
//! `torchaudio.transforms.TimeMasking` / `FrequencyMasking` (`torchaudio.functional.mask_along_axis`
//! with `mask_value=0`): each mask has a width drawn uniformly from `0..=max` (capped at the axis
//! length) and a start drawn uniformly among the positions where it fits. Draws come from the
//! crate's deterministic [`Rng`], so a seed reproduces the masks exactly.
//!
//! Masked cells are set to `0.0`, which after EAT normalisation is close to the dataset mean.

use crate::rng::Rng;

/// Mask counts and maximum widths. `Default`: 2 time masks of up to 64 frames, 2 frequency masks
/// of up to 8 bins.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpecAugment {
    /// Number of time masks.
    pub time_masks: usize,
    /// Maximum time-mask width in frames.
    pub max_time: usize,
    /// Number of frequency masks.
    pub freq_masks: usize,
    /// Maximum frequency-mask width in mel bins.
    pub max_freq: usize,
}

impl Default for SpecAugment {
    fn default() -> Self {
        Self {
            time_masks: 2,
            max_time: 64,
            freq_masks: 2,
            max_freq: 8,
        }
    }
}

impl SpecAugment {
    /// Draw `(start, width)` for one mask on an axis of length `len`.
    fn draw(max: usize, len: usize, rng: &mut Rng) -> (usize, usize) {
        let width = rng.below(max.min(len) + 1);
        let start = rng.below(len - width + 1);
        (start, width)
    }

    /// Mask `feats` (row-major `[frames, bins]`) in place: first the time masks (whole rows), then
    /// the frequency masks (whole columns), all set to `0.0`. Does nothing for empty input; panics
    /// only if `feats.len() != frames * bins`.
    pub fn apply(&self, feats: &mut [f32], frames: usize, bins: usize, rng: &mut Rng) {
        assert_eq!(
            feats.len(),
            frames * bins,
            "SpecAugment: feats length != frames * bins"
        );
        if frames == 0 || bins == 0 {
            return;
        }
        for _ in 0..self.time_masks {
            let (start, width) = Self::draw(self.max_time, frames, rng);
            feats[start * bins..(start + width) * bins].fill(0.0);
        }
        for _ in 0..self.freq_masks {
            let (start, width) = Self::draw(self.max_freq, bins, rng);
            for row in feats.chunks_exact_mut(bins) {
                row[start..start + width].fill(0.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_deterministic_and_bounded() {
        let (frames, bins) = (1024, 128);
        let sa = SpecAugment::default();
        let base = vec![1.0f32; frames * bins];
        let mut a = base.clone();
        let mut b = base.clone();
        sa.apply(&mut a, frames, bins, &mut Rng::new(42));
        sa.apply(&mut b, frames, bins, &mut Rng::new(42));
        assert_eq!(a, b);
        let mut c = base.clone();
        sa.apply(&mut c, frames, bins, &mut Rng::new(43));
        assert_ne!(a, c);

        // Only 0.0 or untouched values.
        assert!(a.iter().all(|&v| v == 0.0 || v == 1.0));
        // Fully masked rows: at most 2 * 64; fully masked columns: at most 2 * 8.
        let zero_rows = (0..frames)
            .filter(|&t| a[t * bins..(t + 1) * bins].iter().all(|&v| v == 0.0))
            .count();
        let zero_cols = (0..bins)
            .filter(|&f| (0..frames).all(|t| a[t * bins + f] == 0.0))
            .count();
        assert!(zero_rows <= 128, "{zero_rows}");
        assert!(zero_cols <= 16, "{zero_cols}");
        // Any zero cell lies in a masked row or a masked column.
        for t in 0..frames {
            let row_masked = a[t * bins..(t + 1) * bins].iter().all(|&v| v == 0.0);
            for f in 0..bins {
                if a[t * bins + f] == 0.0 {
                    assert!(row_masked || (0..frames).all(|u| a[u * bins + f] == 0.0));
                }
            }
        }
    }

    #[test]
    fn masks_appear_over_many_draws() {
        let (frames, bins) = (200, 64);
        let sa = SpecAugment::default();
        let mut rng = Rng::new(1);
        let mut masked_any = 0;
        for _ in 0..50 {
            let mut x = vec![1.0f32; frames * bins];
            sa.apply(&mut x, frames, bins, &mut rng);
            if x.contains(&0.0) {
                masked_any += 1;
            }
        }
        assert!(masked_any >= 45, "{masked_any}");
    }

    #[test]
    fn small_and_empty_inputs() {
        let sa = SpecAugment {
            time_masks: 3,
            max_time: 100,
            freq_masks: 3,
            max_freq: 100,
        };
        let mut rng = Rng::new(5);
        let mut empty: Vec<f32> = Vec::new();
        sa.apply(&mut empty, 0, 128, &mut rng);
        let mut tiny = vec![2.0f32; 3 * 2];
        for _ in 0..100 {
            sa.apply(&mut tiny, 3, 2, &mut rng);
        }
        assert!(tiny.iter().all(|&v| v == 0.0 || v == 2.0));
        let none = SpecAugment {
            time_masks: 0,
            max_time: 64,
            freq_masks: 0,
            max_freq: 8,
        };
        let mut x = vec![3.0f32; 10 * 4];
        none.apply(&mut x, 10, 4, &mut rng);
        assert!(x.iter().all(|&v| v == 3.0));
    }
}
