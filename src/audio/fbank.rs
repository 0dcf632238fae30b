//! Kaldi-compatible log-mel filterbank features, mirroring `torchaudio.compliance.kaldi.fbank`
//! with the settings EAT uses:
//!
//! ```python
//! torchaudio.compliance.kaldi.fbank(wav, htk_compat=True, sample_frequency=16000, use_energy=False,
//!     window_type='hanning', num_mel_bins=128, dither=0.0, frame_shift=10)
//! ```
//!
//! and EAT's input normalisation (`eat_features`): waveform mean removal, zero padding /
//! truncation to `target_length` frames, then `(x - norm_mean) / (2 * norm_std)`.
//!
//! Fixed (torchaudio default) choices: `snip_edges=True`, `remove_dc_offset=True`,
//! `round_to_power_of_two=True`, `use_power=True`, `use_log_fbank=True`, `subtract_mean=False`,
//! no VTLN. `use_energy=False` makes `raw_energy`, `energy_floor` and `htk_compat` irrelevant.
//! Everything is computed in `f32`, as torchaudio does for a float32 waveform (its `get_mel_banks`
//! also runs in float32: `torch.arange` tensors of the default dtype combined with Python-float
//! scalars).

use realfft::RealFftPlanner;

/// Kaldi fbank options (the subset EAT varies). `Default` is EAT's configuration.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct FbankConfig {
    /// Waveform sample rate in Hz (`sample_frequency`), default 16000.
    pub sample_rate: u32,
    /// Number of triangular mel bins, default 128.
    pub num_mel_bins: usize,
    /// Frame length in milliseconds, default 25.
    pub frame_length_ms: f32,
    /// Frame shift in milliseconds, default 10.
    pub frame_shift_ms: f32,
    /// Pre-emphasis coefficient, default 0.97.
    pub preemphasis: f32,
    /// Low cutoff of the mel bins in Hz, default 20.
    pub low_freq: f32,
    /// High cutoff in Hz; `<= 0` means an offset from Nyquist (default 0 = Nyquist).
    pub high_freq: f32,
}

impl Default for FbankConfig {
    fn default() -> Self {
        Self {
            sample_rate: 16_000,
            num_mel_bins: 128,
            frame_length_ms: 25.0,
            frame_shift_ms: 10.0,
            preemphasis: 0.97,
            low_freq: 20.0,
            high_freq: 0.0,
        }
    }
}

/// `numeric_limits<float>::epsilon()`, the floor applied before the log.
pub const EPSILON: f32 = f32::EPSILON;

impl FbankConfig {
    /// `(window_shift, window_size, padded_window_size)` in samples, as
    /// `_get_waveform_and_window_properties` (`int(sample_frequency * ms * 0.001)`, Python floats).
    pub fn window_properties(&self) -> (usize, usize, usize) {
        let sr = self.sample_rate as f64;
        let shift = (sr * self.frame_shift_ms as f64 * 0.001) as usize;
        let size = (sr * self.frame_length_ms as f64 * 0.001) as usize;
        let padded = if size <= 1 {
            1
        } else {
            size.next_power_of_two()
        };
        (shift, size, padded)
    }

    /// Number of frames for `num_samples` samples with `snip_edges=True`:
    /// `1 + (n - window_size) / window_shift`, or 0 when shorter than one window.
    pub fn num_frames(&self, num_samples: usize) -> usize {
        let (shift, size, _) = self.window_properties();
        if shift == 0 || size == 0 || num_samples < size {
            0
        } else {
            1 + (num_samples - size) / shift
        }
    }
}

/// Kaldi mel scale `1127 ln(1 + f / 700)` (float32, like torchaudio's tensor `mel_scale`).
fn mel_scale_f32(f: f32) -> f32 {
    1127.0f32 * (1.0f32 + f / 700.0f32).ln()
}

/// Kaldi mel scale on a Python float (`mel_scale_scalar`).
fn mel_scale_f64(f: f64) -> f64 {
    1127.0 * (1.0 + f / 700.0).ln()
}

/// Inverse Kaldi mel scale `700 (exp(m / 1127) - 1)`.
pub fn inverse_mel_scale(m: f32) -> f32 {
    700.0f32 * ((m / 1127.0f32).exp() - 1.0f32)
}

/// Triangular mel filterbank as `get_mel_banks` (no VTLN), followed by fbank's zero column for
/// the Nyquist bin: returns `(bins, center_freqs)` with `bins` row-major
/// `[num_bins, padded_window_size / 2 + 1]`.
pub fn mel_banks(
    num_bins: usize,
    padded_window_size: usize,
    sample_rate: f32,
    low_freq: f32,
    high_freq: f32,
) -> (Vec<f32>, Vec<f32>) {
    let num_fft_bins = padded_window_size / 2;
    let ncols = num_fft_bins + 1;
    let sample_freq = sample_rate as f64;
    let nyquist = 0.5 * sample_freq;
    let mut high = high_freq as f64;
    if high <= 0.0 {
        high += nyquist;
    }
    let fft_bin_width = sample_freq / padded_window_size as f64;
    let mel_low = mel_scale_f64(low_freq as f64);
    let mel_high = mel_scale_f64(high);
    let mel_delta = (mel_high - mel_low) / (num_bins as f64 + 1.0);
    // Python scalars meet float32 tensors: rounded to f32.
    let mel_low_f = mel_low as f32;
    let mel_delta_f = mel_delta as f32;
    let fft_bin_width_f = fft_bin_width as f32;

    // mel of each fft bin centre: mel_scale(fft_bin_width * arange(num_fft_bins))
    let mel: Vec<f32> = (0..num_fft_bins)
        .map(|i| mel_scale_f32(fft_bin_width_f * i as f32))
        .collect();
    let mut bins = vec![0f32; num_bins * ncols];
    let mut centers = Vec::with_capacity(num_bins);
    for b in 0..num_bins {
        let bf = b as f32;
        let left = mel_low_f + bf * mel_delta_f;
        let center = mel_low_f + (bf + 1.0) * mel_delta_f;
        let right = mel_low_f + (bf + 2.0) * mel_delta_f;
        centers.push(inverse_mel_scale(center));
        for (i, &m) in mel.iter().enumerate() {
            let up = (m - left) / (center - left);
            let down = (right - m) / (right - center);
            bins[b * ncols + i] = 0f32.max(up.min(down));
        }
    }
    (bins, centers)
}

/// `torch.hann_window(n, periodic=False)` in float32: `0.5 - 0.5 cos(2 pi i / (n - 1))`.
fn hann_window(n: usize) -> Vec<f32> {
    if n == 1 {
        return vec![1.0];
    }
    let step = (std::f64::consts::PI * 2.0 / (n - 1) as f64) as f32;
    (0..n)
        .map(|i| (i as f32 * step).cos() * -0.5f32 + 0.5f32)
        .collect()
}

/// Log-mel filterbank of a mono waveform (values as given, e.g. in [-1, 1]).
///
/// Returns row-major `[frames, num_mel_bins]` and `frames` (`cfg.num_frames(len)`; 0 for input
/// shorter than one window). Mirrors `torchaudio.compliance.kaldi.fbank` with EAT's options; see
/// the module docs.
pub fn fbank(samples: &[f32], cfg: &FbankConfig) -> (Vec<f32>, usize) {
    let (shift, size, padded) = cfg.window_properties();
    let frames = cfg.num_frames(samples.len());
    let nb = cfg.num_mel_bins;
    if frames == 0 || nb == 0 {
        return (Vec::new(), 0);
    }
    let (banks, _) = mel_banks(
        nb,
        padded,
        cfg.sample_rate as f32,
        cfg.low_freq,
        cfg.high_freq,
    );
    let ncols = padded / 2 + 1;
    // Non-zero column range per filter (the matrix product only needs those).
    let ranges: Vec<(usize, usize)> = (0..nb)
        .map(|b| {
            let row = &banks[b * ncols..(b + 1) * ncols];
            match row.iter().position(|&v| v != 0.0) {
                Some(first) => {
                    let last = row.iter().rposition(|&v| v != 0.0).unwrap();
                    (first, last + 1)
                }
                None => (0, 0),
            }
        })
        .collect();
    let window = hann_window(size);
    let pre = cfg.preemphasis;

    let mut planner = RealFftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(padded);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let mut power = vec![0f32; ncols];
    let mut frame = vec![0f32; size];
    let mut out = vec![0f32; frames * nb];

    for f in 0..frames {
        let src = &samples[f * shift..f * shift + size];
        // remove_dc_offset: subtract the frame mean.
        let mean = (src.iter().map(|&v| v as f64).sum::<f64>() / size as f64) as f32;
        for (d, &s) in frame.iter_mut().zip(src) {
            *d = s - mean;
        }
        // Pre-emphasis with replicate padding: y[0] = x[0] - p x[0], y[j] = x[j] - p x[j-1].
        input.iter_mut().for_each(|v| *v = 0.0);
        if pre != 0.0 {
            input[0] = frame[0] - pre * frame[0];
            for j in 1..size {
                input[j] = frame[j] - pre * frame[j - 1];
            }
        } else {
            input[..size].copy_from_slice(&frame);
        }
        for (v, w) in input[..size].iter_mut().zip(&window) {
            *v *= *w;
        }
        // The planner's buffers have the right lengths, so this cannot fail.
        fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch)
            .expect("realfft buffer sizes");
        // |X|² as re² + im² (torch squares `abs()`, i.e. hypot; the two differ by rounding only,
        // far inside the parity tolerance, and hypot costs half of the whole frame).
        for (p, c) in power.iter_mut().zip(&spectrum) {
            *p = c.re * c.re + c.im * c.im;
        }
        let row = &mut out[f * nb..(f + 1) * nb];
        for (b, o) in row.iter_mut().enumerate() {
            let (lo, hi) = ranges[b];
            let filt = &banks[b * ncols..(b + 1) * ncols];
            let mut acc = 0f32;
            for i in lo..hi {
                acc += power[i] * filt[i];
            }
            *o = acc.max(EPSILON).ln();
        }
    }
    (out, frames)
}

/// EAT's fbank normalisation constants (AudioSet statistics).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EatNorm {
    /// `norm_mean`, -4.268.
    pub mean: f32,
    /// `norm_std`, 4.569 (EAT divides by twice this).
    pub std: f32,
}

impl Default for EatNorm {
    fn default() -> Self {
        Self {
            mean: -4.268,
            std: 4.569,
        }
    }
}

impl EatNorm {
    /// `(x - mean) / (2 * std)`.
    pub fn apply(&self, x: f32) -> f32 {
        (x - self.mean) / (self.std * 2.0)
    }
}

/// EAT's model input for a 16 kHz mono waveform: subtract the waveform mean, Kaldi fbank, zero-pad
/// at the end or truncate to `target_frames` (`0` keeps the natural length) *before* normalising,
/// then `(x + 4.268) / 9.138`. Returns row-major `[frames, num_mel_bins]` and `frames`.
pub fn eat_features(
    samples_16k: &[f32],
    cfg: &FbankConfig,
    target_frames: usize,
) -> (Vec<f32>, usize) {
    eat_input(samples_16k, cfg, target_frames, true)
}

/// EAT's input pipeline with normalisation optional: waveform mean removed, fbank, zero-pad or
/// truncate to `target_frames` (0 = natural length), then — if `normalise` — EAT's normalisation.
/// `normalise = false` gives the raw log-mel that `acdc features --raw` writes.
pub fn eat_input(
    samples_16k: &[f32],
    cfg: &FbankConfig,
    target_frames: usize,
    normalise: bool,
) -> (Vec<f32>, usize) {
    let mean = if samples_16k.is_empty() {
        0.0
    } else {
        (samples_16k.iter().map(|&v| v as f64).sum::<f64>() / samples_16k.len() as f64) as f32
    };
    let centred: Vec<f32> = samples_16k.iter().map(|&v| v - mean).collect();
    let (mut feats, n) = fbank(&centred, cfg);
    let nb = cfg.num_mel_bins;
    let frames = if target_frames == 0 { n } else { target_frames };
    feats.resize(frames * nb, 0.0); // zero padding (ZeroPad2d) or truncation
    if normalise {
        let norm = EatNorm::default();
        for v in feats.iter_mut() {
            *v = norm.apply(*v);
        }
    }
    (feats, frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * freq as f64 * i as f64 / 16000.0).sin()) as f32
            })
            .collect()
    }

    #[test]
    fn window_properties_and_frame_count() {
        let cfg = FbankConfig::default();
        assert_eq!(cfg.window_properties(), (160, 400, 512));
        assert_eq!(cfg.num_frames(0), 0);
        assert_eq!(cfg.num_frames(399), 0);
        assert_eq!(cfg.num_frames(400), 1);
        assert_eq!(cfg.num_frames(559), 1);
        assert_eq!(cfg.num_frames(560), 2);
        assert_eq!(cfg.num_frames(16000), 98);
        assert_eq!(cfg.num_frames(160_000), 998);
        for n in [0usize, 100, 399, 400, 401, 560, 16000, 16001] {
            let (f, frames) = fbank(&vec![0.01; n], &cfg);
            assert_eq!(frames, cfg.num_frames(n));
            assert_eq!(f.len(), frames * 128);
        }
    }

    #[test]
    fn hann_window_symmetric() {
        let w = hann_window(400);
        assert_eq!(w[0], 0.0);
        assert!((w[399]).abs() < 1e-6);
        assert!((w[200] - 0.999_984_4).abs() < 1e-5);
        for i in 0..400 {
            assert!((w[i] - w[399 - i]).abs() < 1e-6);
        }
    }

    /// Index of the mel filter that never touches an FFT bin at 128 bins / 512-point FFT.
    fn zero_filters() -> Vec<usize> {
        let (banks, _) = mel_banks(128, 512, 16000.0, 20.0, 0.0);
        (0..128)
            .filter(|&b| banks[b * 257..(b + 1) * 257].iter().all(|&v| v == 0.0))
            .collect()
    }

    #[test]
    fn mel_banks_shape_and_zero_filter() {
        let (banks, centers) = mel_banks(128, 512, 16000.0, 20.0, 0.0);
        assert_eq!(banks.len(), 128 * 257);
        assert_eq!(centers.len(), 128);
        // Nyquist column is the zero pad.
        assert!((0..128).all(|b| banks[b * 257 + 256] == 0.0));
        assert!(banks.iter().all(|&v| (0.0..=1.0).contains(&v)));
        // Centres increase from just above low_freq to just below Nyquist.
        assert!(centers.windows(2).all(|w| w[1] > w[0]));
        assert!(centers[0] > 20.0 && centers[0] < 60.0, "{}", centers[0]);
        assert!(
            centers[127] < 8000.0 && centers[127] > 7800.0,
            "{}",
            centers[127]
        );
        // Exactly one filter gets no FFT bin at all: filter 3 spans mel (97.06, 140.60) while
        // FFT bins 2 and 3 (62.5 Hz, 93.75 Hz at 31.25 Hz spacing) sit at mel 96.38 and 141.65.
        assert_eq!(zero_filters(), vec![3]);
    }

    #[test]
    fn silence_is_log_epsilon() {
        let floor = f32::EPSILON.ln();
        assert!((floor - -15.942385).abs() < 1e-5);
        let (f, frames) = fbank(&vec![0.0; 16000], &FbankConfig::default());
        assert_eq!(frames, 98);
        assert!(f.iter().all(|&v| v == floor));
    }

    #[test]
    fn zero_filter_bin_is_floor_even_with_signal() {
        let cfg = FbankConfig::default();
        let noise: Vec<f32> = {
            let mut r = crate::rng::Rng::new(7);
            (0..8000)
                .map(|_| (r.next_f64() as f32 - 0.5) * 0.2)
                .collect()
        };
        let (f, frames) = fbank(&noise, &cfg);
        let floor = f32::EPSILON.ln();
        for b in zero_filters() {
            for t in 0..frames {
                assert_eq!(f[t * 128 + b], floor);
            }
        }
        // Every other bin carries energy.
        assert!((0..128).filter(|&b| b != 3).all(|b| f[b] > floor));
    }

    #[test]
    fn tone_peaks_at_nearest_mel_bin() {
        let cfg = FbankConfig::default();
        let (_, centers) = mel_banks(128, 512, 16000.0, 20.0, 0.0);
        for freq in [1000.0f32, 440.0, 3000.0] {
            let (f, frames) = fbank(&tone(freq, 16000), &cfg);
            let nearest = (0..128)
                .min_by(|&a, &b| {
                    (centers[a] - freq)
                        .abs()
                        .partial_cmp(&(centers[b] - freq).abs())
                        .unwrap()
                })
                .unwrap();
            for t in [0, frames / 2, frames - 1] {
                let row = &f[t * 128..(t + 1) * 128];
                let argmax = (0..128)
                    .max_by(|&a, &b| row[a].partial_cmp(&row[b]).unwrap())
                    .unwrap();
                assert!(
                    (argmax as isize - nearest as isize).abs() <= 1,
                    "{freq} Hz frame {t}: argmax {argmax} ({} Hz) vs nearest {nearest} ({} Hz)",
                    centers[argmax],
                    centers[nearest]
                );
            }
        }
        // 1 kHz specifically lands on the nearest centre.
        let (f, _) = fbank(&tone(1000.0, 16000), &cfg);
        let row = &f[50 * 128..51 * 128];
        let argmax = (0..128)
            .max_by(|&a, &b| row[a].partial_cmp(&row[b]).unwrap())
            .unwrap();
        let nearest = (0..128)
            .min_by(|&a, &b| {
                (centers[a] - 1000.0)
                    .abs()
                    .partial_cmp(&(centers[b] - 1000.0).abs())
                    .unwrap()
            })
            .unwrap();
        assert_eq!(argmax, nearest);
    }

    #[test]
    fn dc_offset_and_scale_behaviour() {
        let cfg = FbankConfig::default();
        let x = tone(1000.0, 4000);
        let shifted: Vec<f32> = x.iter().map(|v| v + 0.25).collect();
        let (a, _) = fbank(&x, &cfg);
        let (b, _) = fbank(&shifted, &cfg);
        // remove_dc_offset makes a constant offset (almost) irrelevant.
        for (p, q) in a.iter().zip(&b) {
            if *p > -10.0 {
                assert!((p - q).abs() < 1e-2, "{p} vs {q}");
            }
        }
        // Doubling the amplitude adds ln 4 to every (non-floored) power.
        let doubled: Vec<f32> = x.iter().map(|v| v * 2.0).collect();
        let (c, _) = fbank(&doubled, &cfg);
        for (p, q) in a.iter().zip(&c) {
            if *p > -5.0 {
                assert!((q - p - 4f32.ln()).abs() < 1e-3, "{p} vs {q}");
            }
        }
    }

    #[test]
    fn eat_features_pad_truncate_normalise() {
        let cfg = FbankConfig::default();
        let x = tone(1000.0, 16000); // 98 natural frames
        let (natural, n) = eat_features(&x, &cfg, 0);
        assert_eq!(n, 98);
        assert_eq!(natural.len(), 98 * 128);
        // Normalisation is (x + 4.268) / 9.138 of the fbank of the mean-removed waveform.
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() as f32 / x.len() as f32;
        let centred: Vec<f32> = x.iter().map(|v| v - mean).collect();
        let (raw, _) = fbank(&centred, &cfg);
        for (e, r) in natural.iter().zip(&raw) {
            assert!((e - (r + 4.268) / 9.138).abs() < 1e-6);
        }
        // Padding: natural rows unchanged, padded rows are zero before normalisation.
        let (padded, frames) = eat_features(&x, &cfg, 1024);
        assert_eq!(frames, 1024);
        assert_eq!(padded.len(), 1024 * 128);
        assert_eq!(&padded[..98 * 128], &natural[..]);
        let pad_value = 4.268f32 / 9.138;
        assert!(padded[98 * 128..]
            .iter()
            .all(|&v| (v - pad_value).abs() < 1e-6));
        // Truncation keeps the first rows.
        let (trunc, frames) = eat_features(&x, &cfg, 10);
        assert_eq!(frames, 10);
        assert_eq!(&trunc[..], &natural[..10 * 128]);
        // The all-zero filter bin sits at the normalised floor.
        let floor_norm = (f32::EPSILON.ln() + 4.268) / 9.138;
        assert!((natural[3] - floor_norm).abs() < 1e-6);
        // Too short for one frame: all padding.
        let (short, frames) = eat_features(&x[..100], &cfg, 4);
        assert_eq!(frames, 4);
        assert!(short.iter().all(|&v| (v - pad_value).abs() < 1e-6));
    }
}
