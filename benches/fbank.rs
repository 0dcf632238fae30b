//! Throughput of acdc's Kaldi fbank (EAT settings) in audio-seconds per wall-clock second, on 10 s
//! 16 kHz clips, with 1 and 2 worker threads (`std::thread`, clips split across workers).
//!
//! Run: `cargo bench --bench fbank` (needs `[[bench]] name = "fbank" harness = false` in
//! Cargo.toml). `tools/bench_fbank.sh` runs this and `tools/bench_fbank_torchaudio.py` on the same
//! clips and prints the ratio. Optional env: `FBANK_BENCH_SECS` (min measuring time per setting,
//! default 3), `FBANK_BENCH_CLIPS` (default 8).
//!
//! The clips are the same deterministic signal the Python bench builds (see `make_clip`): a sum of
//! three sines plus LCG noise, so both sides process identical input.

use std::hint::black_box;
use std::time::{Duration, Instant};

use acdc::audio::fbank::{fbank, FbankConfig};

const SR: usize = 16_000;
const CLIP_SECONDS: usize = 10;

/// Clip `k`: 0.3 sin(2pi 220(k+1) t) + 0.2 sin(2pi 1375 t) + 0.1 sin(2pi 3100 t) + 0.05 noise,
/// noise from a 32-bit LCG (seed k) mapped to [-1, 1). Mirrored in bench_fbank_torchaudio.py.
fn make_clip(k: usize) -> Vec<f32> {
    let n = SR * CLIP_SECONDS;
    let mut state: u32 = k as u32;
    (0..n)
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (state >> 8) as f64 / (1u32 << 24) as f64 * 2.0 - 1.0;
            let t = i as f64 / SR as f64;
            let tau = 2.0 * std::f64::consts::PI;
            (0.3 * (tau * 220.0 * (k + 1) as f64 * t).sin()
                + 0.2 * (tau * 1375.0 * t).sin()
                + 0.1 * (tau * 3100.0 * t).sin()
                + 0.05 * noise) as f32
        })
        .collect()
}

/// Repeats passes over `clips` split across `threads` workers until `min_time` has elapsed;
/// returns audio-seconds per second.
fn measure(clips: &[Vec<f32>], threads: usize, min_time: Duration) -> (f64, usize) {
    let cfg = FbankConfig::default();
    // Warm-up pass.
    for c in clips {
        black_box(fbank(c, &cfg));
    }
    let start = Instant::now();
    let mut passes = 0usize;
    while start.elapsed() < min_time {
        std::thread::scope(|s| {
            for w in 0..threads {
                let cfg = &cfg;
                s.spawn(move || {
                    for c in clips.iter().skip(w).step_by(threads) {
                        black_box(fbank(black_box(c), cfg));
                    }
                });
            }
        });
        passes += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let audio = (passes * clips.len() * CLIP_SECONDS) as f64;
    (audio / secs, passes)
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let min_secs: f64 = std::env::var("FBANK_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3.0);
    let n_clips: usize = std::env::var("FBANK_BENCH_CLIPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let clips: Vec<Vec<f32>> = (0..n_clips).map(make_clip).collect();
    let (_, frames) = fbank(&clips[0], &FbankConfig::default());
    eprintln!(
        "acdc fbank bench: {n_clips} clips x {CLIP_SECONDS} s at {SR} Hz ({frames} frames x 128 bins each)"
    );
    for threads in [1usize, 2] {
        let (rate, passes) = measure(&clips, threads, Duration::from_secs_f64(min_secs));
        // Machine-readable line parsed by tools/bench_fbank.sh.
        println!(
            "RESULT impl=acdc threads={threads} audio_s_per_s={rate:.1} passes={passes} rtf={:.3e}",
            1.0 / rate
        );
    }
}
