#!/usr/bin/env python3
"""Writes tests/fixtures/audio/, the torchaudio parity fixture for acdc's audio front end
(src/audio/{decode,resample,fbank}.rs), checked by tests/audio_parity.rs.

Requirements (this script installs nothing itself), e.g. in a venv outside the repository:

    python3 -m venv /work/venv-ref
    /work/venv-ref/bin/pip install torch torchaudio numpy soundfile
    # torchaudio >= 2.9 routes torchaudio.load through torchcodec (see PROVENANCE.md); if
    # torchcodec/FFmpeg is unavailable the script falls back to soundfile and says so.

Usage (from the repository root):

    /work/venv-ref/bin/python tools/audio_fixtures.py [out_dir]   # default tests/fixtures/audio

What it does:
  * synthesises short, deterministic (seeded numpy) test signals -- speech-like (formant-filtered
    glottal pulse train with a pitch glide), tonal (sum of sines), white noise, near-silence
    (1e-5 amplitude) and a clip shorter than one 25 ms frame -- at 8, 16, 22.05, 44.1 and 48 kHz,
    mono and stereo, and writes them with soundfile/libsndfile as int16 WAV, float32 WAV,
    FLAC (16/24 bit), Ogg/Vorbis and MP3 into <out_dir>/inputs/;
  * for each file runs EAT's front end exactly as EAT's feature extraction does it:
        wav, sr = torchaudio.load(path); wav = wav.mean(0)  (mono)
        if sr != 16000: wav = torchaudio.functional.resample(wav, sr, 16000)
        wav = wav - wav.mean()
        fb = torchaudio.compliance.kaldi.fbank(wav.unsqueeze(0), htk_compat=True,
                 sample_frequency=16000, use_energy=False, window_type='hanning',
                 num_mel_bins=128, dither=0.0, frame_shift=10)
        fb = ZeroPad2d / truncate to target_frames  (optional)
        fb = (fb + 4.268) / (2 * 4.569)
    and stores (little-endian float32 .npy, <out_dir>/ref/):
        <stem>.decoded_sf.npy libsndfile's decode of a lossy file, where its length differs from
                            torchaudio's
        <stem>.decoded.npy  torchaudio's mono decode at the native rate (lossy files and short
                            files only; otherwise just count + first/last samples in the JSON)
        <stem>.wav16k.npy   the 16 kHz mono waveform before mean removal
        <stem>.logmel.npy   raw log-mel [min(frames, 32), 128] (first frames only, to save space)
        <stem>.feats.npy    normalised features [frames, 128] (natural length)
        <stem>.feats_t64.npy  normalised features padded/truncated to 64 frames (selected files)
  * writes <out_dir>/manifest.json describing every file and array.
"""
import datetime
import importlib.metadata
import json
import os
import platform
import sys

import numpy as np
import soundfile as sf
import torch
import torchaudio

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "fixtures", "audio")
INPUTS = os.path.join(OUT, "inputs")
REF = os.path.join(OUT, "ref")
NORM_MEAN = -4.268
NORM_STD = 4.569
N_EDGE = 8  # first/last samples recorded in the manifest

torch.manual_seed(0)


# ---------------------------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------------------------
def speech_like(rng, sr, n):
    """Glottal pulse train (pitch glide 110->180 Hz, jitter) through three formant resonators,
    with a slow amplitude envelope (syllable-like), peak ~0.5."""
    t = np.arange(n) / sr
    f0 = 110.0 + 70.0 * t / max(t[-1], 1e-9)
    phase = np.cumsum(f0 / sr)
    pulses = np.zeros(n)
    idx = np.nonzero(np.diff(np.floor(phase)) > 0)[0] + 1
    pulses[idx] = 1.0 + rng.normal(0, 0.05, len(idx))
    x = pulses + rng.normal(0, 0.01, n)  # aspiration noise
    for fc, bw in ((700.0, 110.0), (1220.0, 120.0), (2600.0, 160.0)):
        if fc >= sr / 2:
            continue
        r = np.exp(-np.pi * bw / sr)
        a1, a2 = -2 * r * np.cos(2 * np.pi * fc / sr), r * r
        y = np.zeros(n)
        y1 = y2 = 0.0
        for i in range(n):  # direct-form all-pole resonator
            v = x[i] - a1 * y1 - a2 * y2
            y[i] = v
            y2, y1 = y1, v
        x = y
    env = 0.55 + 0.45 * np.sin(2 * np.pi * 3.0 * t) ** 2
    x = x * env
    return 0.5 * x / np.max(np.abs(x))


def tonal(rng, sr, n):
    t = np.arange(n) / sr
    x = np.zeros(n)
    for f, a in ((220.0, 0.3), (440.0, 0.2), (1375.0, 0.1), (3100.0, 0.05)):
        if f < sr / 2:
            x += a * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    return x


def noise(rng, sr, n):
    return np.clip(rng.normal(0, 0.2, n), -0.95, 0.95)


def near_silence(rng, sr, n):
    return 1e-5 * np.clip(rng.normal(0, 1.0, n), -1, 1)


KINDS = {"speech": speech_like, "tonal": tonal, "noise": noise, "silence": near_silence}

# (stem, kind, rate, channels, seconds, container/format, subtype, target64)
# target64: truthy -> also store features padded/truncated to 64 frames (the manifest says which).
CASES = [
    ("s16_mono_speech_i16", "speech", 16000, 1, 1.0, "WAV", "PCM_16", True),
    ("s16_stereo_tonal_f32", "tonal", 16000, 2, 0.5, "WAV", "FLOAT", True),
    ("s16_mono_noise_flac16", "noise", 16000, 1, 0.7, "FLAC", "PCM_16", None),
    ("s16_mono_silence_f32", "silence", 16000, 1, 0.5, "WAV", "FLOAT", None),
    ("s16_mono_short_i16", "speech", 16000, 1, 0.0175, "WAV", "PCM_16", True),
    ("r22050_mono_speech_i16", "speech", 22050, 1, 0.8, "WAV", "PCM_16", None),
    ("r44100_stereo_tonal_flac24", "tonal", 44100, 2, 0.6, "FLAC", "PCM_24", None),
    ("r48000_mono_noise_f32", "noise", 48000, 1, 0.5, "WAV", "FLOAT", None),
    ("r8000_mono_speech_i16", "speech", 8000, 1, 1.5, "WAV", "PCM_16", True),
    ("r48000_stereo_silence_flac24", "silence", 48000, 2, 0.5, "FLAC", "PCM_24", None),
    ("r44100_mono_short_i16", "noise", 44100, 1, 0.02, "WAV", "PCM_16", None),
    ("s16_mono_speech_ogg", "speech", 16000, 1, 0.8, "OGG", "VORBIS", None),
    ("r44100_stereo_speech_ogg", "speech", 44100, 2, 0.7, "OGG", "VORBIS", None),
    ("s16_mono_speech_mp3", "speech", 16000, 1, 0.8, "MP3", "MPEG_LAYER_III", None),
    ("r44100_stereo_tonal_mp3", "tonal", 44100, 2, 0.7, "MP3", "MPEG_LAYER_III", None),
    ("r22050_mono_noise_mp3", "noise", 22050, 1, 0.6, "MP3", "MPEG_LAYER_III", None),
]
EXT = {"WAV": "wav", "FLAC": "flac", "OGG": "ogg", "MP3": "mp3"}
LOSSY = {"OGG", "MP3"}


# ---------------------------------------------------------------------------------------------
# Loading: torchaudio.load as EAT does it
# ---------------------------------------------------------------------------------------------
LOADER = None
FBANK_ERRORS = []  # kaldi.fbank exceptions of the current file
LOGMEL_FRAMES = 32  # raw log-mel stored for the first frames only (feats hold all of them)


def ta_load(path):
    """torchaudio.load(path) -> (float32 [channels, n], sr). Records which backend served it."""
    global LOADER
    try:
        wav, sr = torchaudio.load(path)
        LOADER = LOADER or f"torchaudio.load (torchaudio {torchaudio.__version__})"
        return wav.to(torch.float32), sr
    except Exception as e:  # torchcodec/FFmpeg missing on torchaudio >= 2.9
        data, sr = sf.read(path, dtype="float32", always_2d=True)
        LOADER = f"soundfile.read fallback ({type(e).__name__}: {e})"
        return torch.from_numpy(data.T.copy()), sr


def eat_pipeline(wav_mono, sr):
    """Returns (wav16k [n], logmel [frames,128]) exactly as EAT computes them."""
    if sr != 16000:
        wav_mono = torchaudio.functional.resample(wav_mono, sr, 16000)
    wav16 = wav_mono
    centred = wav16 - wav16.mean()
    if centred.numel() < 400:
        # kaldi.fbank raises on input shorter than one window (snip_edges=True); acdc returns
        # zero frames. Record the empty matrix.
        try:
            fb = torchaudio.compliance.kaldi.fbank(
                centred.unsqueeze(0), htk_compat=True, sample_frequency=16000,
                use_energy=False, window_type="hanning", num_mel_bins=128, dither=0.0,
                frame_shift=10)
        except Exception as e:
            msg = f"{type(e).__name__}: {e}"
            print(f"  kaldi.fbank on {centred.numel()} samples raised {msg}")
            FBANK_ERRORS.append(msg)
            fb = torch.zeros((0, 128), dtype=torch.float32)
    else:
        fb = torchaudio.compliance.kaldi.fbank(
            centred.unsqueeze(0), htk_compat=True, sample_frequency=16000, use_energy=False,
            window_type="hanning", num_mel_bins=128, dither=0.0, frame_shift=10)
    return wav16, fb


def pad_trunc(fb, target):
    n = fb.shape[0]
    diff = target - n
    if diff > 0:
        fb = torch.nn.ZeroPad2d((0, 0, 0, diff))(fb)
    elif diff < 0:
        fb = fb[0:target, :]
    return fb


def norm(fb):
    return (fb - NORM_MEAN) / (NORM_STD * 2)


def save(name, arr):
    arr = np.ascontiguousarray(np.asarray(arr, dtype="<f4"))
    np.save(os.path.join(REF, name), arr)
    return name


def main():
    os.makedirs(INPUTS, exist_ok=True)
    os.makedirs(REF, exist_ok=True)
    manifest = {"files": []}
    for ci, (stem, kind, sr, ch, secs, fmt, subtype, t64) in enumerate(CASES):
        rng = np.random.default_rng(1000 + ci)
        n = max(1, int(round(secs * sr)))
        chans = [KINDS[kind](rng, sr, n) for _ in range(ch)]
        if ch == 2:  # make the channels differ (gain + small delay) but stay correlated
            chans[1] = 0.6 * np.roll(chans[0], 3) + 0.4 * chans[1]
        data = np.stack(chans, axis=1).astype(np.float32)
        if subtype == "PCM_16":
            data = np.round(data * 32767).astype(np.int16)
        path = os.path.join(INPUTS, f"{stem}.{EXT[fmt]}")
        sf.write(path, data, sr, format=fmt, subtype=subtype)
        info = sf.info(path)

        wav, lsr = ta_load(path)
        assert lsr == sr, (path, lsr, sr)
        mono = wav.mean(0)
        FBANK_ERRORS.clear()
        wav16, fb = eat_pipeline(mono, lsr)
        feats = norm(fb)
        m = mono.numpy()
        entry = {
            "file": f"inputs/{stem}.{EXT[fmt]}",
            "kind": kind,
            "format": fmt,
            "subtype": subtype,
            "channels": ch,
            "sample_rate": sr,
            "written_frames": int(n),
            "libsndfile_frames": int(info.frames),
            "decoded_len": int(m.shape[0]),
            "decoded_first": [float(v) for v in m[:N_EDGE]],
            "decoded_last": [float(v) for v in m[-N_EDGE:]],
            "lossy": fmt in LOSSY,
            "wav16k_len": int(wav16.numel()),
            "frames": int(fb.shape[0]),
            "wav16k": save(f"{stem}.wav16k.npy", wav16.numpy()),
            "logmel_frames": int(min(fb.shape[0], LOGMEL_FRAMES)),
            "logmel": save(f"{stem}.logmel.npy", fb.numpy().reshape(-1, 128)[:LOGMEL_FRAMES]),
            "feats": save(f"{stem}.feats.npy", feats.numpy().reshape(-1, 128)),
        }
        if fmt in LOSSY or n < 2000:
            entry["decoded"] = save(f"{stem}.decoded.npy", m)
            # libsndfile's own decode (mpg123 / libvorbis) as a second reference for lossy files
            sd, _ = sf.read(path, dtype="float32", always_2d=True)
        if fmt in LOSSY:
            # libsndfile's own decode (mpg123 / libvorbis) as a second reference: stored only
            # where its length differs from torchaudio's; otherwise just the max abs difference.
            sd, _ = sf.read(path, dtype="float32", always_2d=True)
            sd = sd.mean(1)
            entry["libsndfile_len"] = int(sd.shape[0])
            if sd.shape[0] == m.shape[0]:
                entry["libsndfile_vs_torchaudio_max_abs"] = float(np.max(np.abs(sd - m)))
            else:
                entry["decoded_libsndfile"] = save(f"{stem}.decoded_sf.npy", sd)
        if FBANK_ERRORS:
            # torchaudio cannot compute this one; the stored (empty / all-padding) arrays are
            # what EAT's recipe would give if fbank returned zero frames, NOT torchaudio output.
            entry["torchaudio_fbank_error"] = FBANK_ERRORS[0]
        if t64:
            nf = int(fb.shape[0])
            entry["target64"] = "pad" if nf < 64 else ("trunc" if nf > 64 else "exact")
            entry["feats_t64"] = save(f"{stem}.feats_t64.npy", norm(pad_trunc(fb, 64)).numpy())
        manifest["files"].append(entry)
        print(f"{stem}: sr={sr} ch={ch} decoded={m.shape[0]} (sf {info.frames}) "
              f"16k={wav16.numel()} frames={fb.shape[0]}")

    def ver(p):
        try:
            return importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            return None

    manifest["generator"] = {
        "script": "tools/audio_fixtures.py",
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchaudio": torchaudio.__version__,
        "torchcodec": ver("torchcodec"),
        "numpy": np.__version__,
        "soundfile": sf.__version__,
        "libsndfile": sf.__libsndfile_version__,
        "loader": LOADER,
        "norm_mean": NORM_MEAN,
        "norm_std": NORM_STD,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print("loader:", LOADER)


if __name__ == "__main__":
    main()
