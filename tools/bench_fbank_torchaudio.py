#!/usr/bin/env python3
"""torchaudio side of the fbank speed bench (see benches/fbank.rs and tools/bench_fbank.sh).

Measures torchaudio.compliance.kaldi.fbank with EAT's settings on the same deterministic 10 s,
16 kHz clips as benches/fbank.rs, with torch.set_num_threads(1) and (2), one clip per call (as
EAT's data pipeline calls it), and prints audio-seconds per second.

    /work/venv-ref/bin/python tools/bench_fbank_torchaudio.py [--secs 3] [--clips 8]
"""
import argparse
import time

import numpy as np
import torch
import torchaudio

SR = 16000
CLIP_SECONDS = 10


def make_clip(k):
    """Same signal as make_clip in benches/fbank.rs (sum of sines + 32-bit LCG noise)."""
    n = SR * CLIP_SECONDS
    state = np.empty(n, dtype=np.uint64)
    s = k & 0xFFFFFFFF
    for i in range(n):  # the LCG is sequential; 160k steps per clip
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        state[i] = s
    noise = (state >> np.uint64(8)).astype(np.float64) / float(1 << 24) * 2.0 - 1.0
    t = np.arange(n, dtype=np.float64) / SR
    tau = 2.0 * np.pi
    x = (0.3 * np.sin(tau * 220.0 * (k + 1) * t) + 0.2 * np.sin(tau * 1375.0 * t)
         + 0.1 * np.sin(tau * 3100.0 * t) + 0.05 * noise)
    return torch.from_numpy(x.astype(np.float32))


def fb(wav):
    return torchaudio.compliance.kaldi.fbank(
        wav.unsqueeze(0), htk_compat=True, sample_frequency=16000, use_energy=False,
        window_type="hanning", num_mel_bins=128, dither=0.0, frame_shift=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secs", type=float, default=3.0)
    ap.add_argument("--clips", type=int, default=8)
    a = ap.parse_args()
    clips = [make_clip(k) for k in range(a.clips)]
    print(f"# torch {torch.__version__} torchaudio {torchaudio.__version__}; "
          f"{a.clips} clips x {CLIP_SECONDS} s; frames/clip {fb(clips[0]).shape[0]}", flush=True)
    with torch.inference_mode():
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for c in clips:  # warm-up
                fb(c)
            passes = 0
            start = time.perf_counter()
            while time.perf_counter() - start < a.secs:
                for c in clips:
                    fb(c)
                passes += 1
            el = time.perf_counter() - start
            rate = passes * len(clips) * CLIP_SECONDS / el
            print(f"RESULT impl=torchaudio threads={threads} audio_s_per_s={rate:.1f} "
                  f"passes={passes} rtf={1.0 / rate:.3e}", flush=True)


if __name__ == "__main__":
    main()
