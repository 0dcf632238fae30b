//! Band-limited resampling, mirroring `torchaudio.functional.resample` with its defaults
//! (`lowpass_filter_width=6`, `rolloff=0.99`, `resampling_method="sinc_interp_hann"`).
//!
//! The kernel is built as in torchaudio's `_get_sinc_resample_kernel` and applied as in
//! `_apply_sinc_resample_kernel`. Note on precision: `resample` passes `waveform.dtype` as the
//! kernel dtype, so for a float32 waveform torchaudio builds the *whole kernel in float32* (the
//! float64 path is only taken when `dtype=None`, e.g. from `transforms.Resample` without a dtype).
//! We mirror the float32 path: every tensor op is done in `f32`, with Python-float scalars
//! (`base_freq`, `scale`, `pi`) rounded to `f32` as torch does when it combines a Python scalar with
//! a float32 tensor.

/// Resample `samples` from `orig_freq` Hz to `new_freq` Hz.
///
/// Output length is `ceil(new_freq * len / orig_freq)` (as torchaudio); identity when the rates are
/// equal. Rates are reduced by their gcd first, so e.g. 44100 -> 16000 uses a 441:160 polyphase
/// filter. Returns an empty vector for empty input or a zero rate.
pub fn resample(samples: &[f32], orig_freq: u32, new_freq: u32) -> Vec<f32> {
    if orig_freq == new_freq {
        return samples.to_vec();
    }
    if samples.is_empty() || orig_freq == 0 || new_freq == 0 {
        return Vec::new();
    }
    let g = gcd(orig_freq as u64, new_freq as u64);
    let orig = (orig_freq as u64 / g) as usize;
    let new = (new_freq as u64 / g) as usize;
    let (kernel, width) = sinc_resample_kernel(orig, new, LOWPASS_FILTER_WIDTH, ROLLOFF);
    apply_kernel(samples, orig, new, &kernel, width)
}

/// torchaudio default `lowpass_filter_width`.
const LOWPASS_FILTER_WIDTH: usize = 6;
/// torchaudio default `rolloff`.
const ROLLOFF: f64 = 0.99;

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// The polyphase kernel `[new][2*width + orig]` (row-major) and `width`, as
/// `_get_sinc_resample_kernel(orig, new, gcd=1, lowpass_filter_width, rolloff, "sinc_interp_hann",
/// dtype=float32)`; `orig`/`new` are already gcd-reduced.
pub(crate) fn sinc_resample_kernel(
    orig: usize,
    new: usize,
    lpw: usize,
    rolloff: f64,
) -> (Vec<f32>, usize) {
    // Python floats (f64).
    let base_freq = (orig.min(new) as f64) * rolloff;
    let width = (lpw as f64 * orig as f64 / base_freq).ceil() as usize;
    let scale = base_freq / orig as f64;
    // Scalars as torch casts them when meeting a float32 tensor.
    let base_f = base_freq as f32;
    let scale_f = scale as f32;
    let pi_f = std::f64::consts::PI as f32;
    let lpw_f = lpw as f32;
    let orig_f = orig as f32;
    let new_f = new as f32;

    let klen = 2 * width + orig;
    let mut kernel = vec![0f32; new * klen];
    for j in 0..new {
        // torch.arange(0, -new, -1, dtype=f32) / new
        let tj = -(j as f32) / new_f;
        for (n, k) in kernel[j * klen..(j + 1) * klen].iter_mut().enumerate() {
            // idx = torch.arange(-width, width + orig, dtype=f32) / orig
            let idx = (n as f32 - width as f32) / orig_f;
            let mut t = tj + idx;
            t *= base_f;
            t = t.clamp(-lpw_f, lpw_f);
            // window = cos(t * pi / lpw / 2) ** 2
            let c = (((t * pi_f) / lpw_f) / 2.0).cos();
            let window = c * c;
            t *= pi_f;
            let sinc = if t == 0.0 { 1.0 } else { t.sin() / t };
            *k = sinc * (window * scale_f);
        }
    }
    (kernel, width)
}

/// `_apply_sinc_resample_kernel`: zero-pad `width` left and `width + orig` right, strided conv
/// (stride `orig`) with each of the `new` kernel rows, interleave the phases, cut to
/// `ceil(new * len / orig)`.
fn apply_kernel(
    samples: &[f32],
    orig: usize,
    new: usize,
    kernel: &[f32],
    width: usize,
) -> Vec<f32> {
    let len = samples.len();
    let klen = 2 * width + orig;
    let mut padded = vec![0f32; width + len + width + orig];
    padded[width..width + len].copy_from_slice(samples);
    // conv1d output frames: floor((padded_len - klen) / orig) + 1 = len / orig + 1
    let n_frames = (padded.len() - klen) / orig + 1;
    // Python: ceil(new * length / orig) with a true (float64) division.
    let target = ((new as f64 * len as f64) / orig as f64).ceil() as usize;
    let out_len = target.min(n_frames * new);
    let mut out = Vec::with_capacity(out_len);
    'outer: for f in 0..n_frames {
        let x = &padded[f * orig..f * orig + klen];
        for j in 0..new {
            if out.len() == out_len {
                break 'outer;
            }
            let k = &kernel[j * klen..(j + 1) * klen];
            let mut acc = 0f32;
            for (a, b) in x.iter().zip(k.iter()) {
                acc += a * b;
            }
            out.push(acc);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, rate: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                (2.0 * std::f64::consts::PI * freq as f64 * i as f64 / rate as f64).sin() as f32
            })
            .collect()
    }

    #[test]
    fn identity_when_rates_equal() {
        let x = sine(440.0, 16000, 1234);
        assert_eq!(resample(&x, 16000, 16000), x);
        assert!(resample(&[], 44100, 16000).is_empty());
    }

    #[test]
    fn output_length_matches_torchaudio() {
        for &(o, n, len) in &[
            (44100u32, 16000u32, 44100usize),
            (44100, 16000, 1000),
            (44100, 16000, 1),
            (22050, 16000, 12345),
            (48000, 16000, 4801),
            (8000, 16000, 999),
            (16000, 8000, 3),
            (11025, 16000, 77),
        ] {
            let x = vec![0.1f32; len];
            let want = (n as u64 * len as u64).div_ceil(o as u64);
            assert_eq!(resample(&x, o, n).len() as u64, want, "{o}->{n} len {len}");
        }
    }

    #[test]
    fn kernel_shape_and_width() {
        // 44100 -> 16000 reduces to 441 -> 160; width = ceil(6 * 441 / (160 * 0.99)) = 17.
        let (k, w) = sinc_resample_kernel(441, 160, 6, 0.99);
        assert_eq!(w, 17);
        assert_eq!(k.len(), 160 * (2 * 17 + 441));
        // 8000 -> 16000 reduces to 1 -> 2; width = ceil(6 / 0.99) = 7.
        let (k, w) = sinc_resample_kernel(1, 2, 6, 0.99);
        assert_eq!(w, 7);
        assert_eq!(k.len(), 2 * 15);
        // Phase 0 of an upsampler passes the sample itself with gain rolloff (t == 0 -> sinc 1).
        assert!((k[7] - 0.99).abs() < 1e-6, "{}", k[7]);
        // DC gain of each phase is ~1 for a downsampler (sum of taps ~ 1).
        let (k, _) = sinc_resample_kernel(3, 1, 6, 0.99);
        let s: f32 = k.iter().sum();
        assert!((s - 1.0).abs() < 0.01, "{s}");
    }

    /// Frequency estimate by linear-interpolated zero crossings over the middle of the signal.
    fn zero_crossing_freq(x: &[f32], rate: u32) -> f64 {
        let lo = x.len() / 4;
        let hi = 3 * x.len() / 4;
        let mut crossings = Vec::new();
        for i in lo..hi - 1 {
            if x[i] <= 0.0 && x[i + 1] > 0.0 {
                let frac = -x[i] as f64 / (x[i + 1] - x[i]) as f64;
                crossings.push(i as f64 + frac);
            }
        }
        let periods = (crossings.len() - 1) as f64;
        rate as f64 * periods / (crossings.last().unwrap() - crossings[0])
    }

    #[test]
    fn sine_stays_a_sine() {
        for &rate in &[44100u32, 22050, 48000, 8000] {
            let x = sine(440.0, rate, rate as usize); // 1 s
            let y = resample(&x, rate, 16000);
            assert_eq!(y.len(), 16000);
            let f = zero_crossing_freq(&y, 16000);
            assert!((f - 440.0).abs() < 0.05, "{rate}: {f}");
            // Compare the middle with the ideal 16 kHz sine (same phase, t = i / 16000).
            let ideal = sine(440.0, 16000, 16000);
            let mut max_err = 0f32;
            let mut peak = 0f32;
            for i in 1000..15000 {
                max_err = max_err.max((y[i] - ideal[i]).abs());
                peak = peak.max(y[i].abs());
            }
            assert!(max_err < 2e-3, "{rate}: max err {max_err}");
            assert!((peak - 1.0).abs() < 2e-3, "{rate}: peak {peak}");
        }
    }

    #[test]
    fn downsampling_removes_content_above_new_nyquist() {
        // A 10 kHz tone at 44.1 kHz must (almost) vanish at 16 kHz (Nyquist 8 kHz).
        let x = sine(10_000.0, 44100, 44100);
        let y = resample(&x, 44100, 16000);
        let rms = (y[1000..15000].iter().map(|v| v * v).sum::<f32>() / 14000.0).sqrt();
        assert!(rms < 1e-2, "rms {rms}");
    }
}
