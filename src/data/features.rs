//! Per-clip matrices (EAT input features or encoder outputs), extracted in parallel across cores.

use std::collections::HashMap;
use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};

use crate::audio::decode::load_mono_16k;
use crate::audio::fbank::{eat_features, FbankConfig};

/// One `[rows, dim]` matrix per clip id, all the same shape.
#[derive(Debug, Clone, Default)]
pub struct ClipMatrices {
    pub rows: usize,
    pub dim: usize,
    pub by_clip: HashMap<String, Vec<f32>>,
}

impl ClipMatrices {
    /// Stack the matrices of `ids` into `[B, rows, dim]`.
    pub fn batch(&self, ids: &[&str], device: &Device) -> Tensor<3> {
        let mut flat = Vec::with_capacity(ids.len() * self.rows * self.dim);
        for id in ids {
            flat.extend_from_slice(&self.by_clip[*id]);
        }
        Tensor::from_data(
            TensorData::new(flat, [ids.len(), self.rows, self.dim]),
            device,
        )
    }
}

/// Version of the feature pipeline; part of every cache key, so a change to the front end never
/// reuses stale features.
pub const FEATURES_VERSION: &str = "eat-fbank-v1";

/// Cache key of one clip's features: sha256 over the audio file's bytes and the settings.
fn cache_key(bytes: &[u8], cfg: &FbankConfig, limits: &AudioLimits) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(bytes);
    h.update(
        format!(
            "{FEATURES_VERSION}|{cfg:?}|{}|{}",
            limits.target_frames, limits.max_seconds
        )
        .as_bytes(),
    );
    hex::encode(h.finalize())[..32].to_string()
}

/// Features of one file, through the on-disk cache when one is given (entries are written to a
/// temporary name and renamed, so concurrent workers never read half a file).
fn features_of(
    path: &std::path::Path,
    cfg: &FbankConfig,
    limits: &AudioLimits,
    cache: Option<&std::path::Path>,
) -> Result<(Vec<f32>, usize), String> {
    let target_frames = limits.target_frames;
    let Some(dir) = cache else {
        return checked_waveform(path, limits).map(|w| eat_features(&w, cfg, target_frames));
    };
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let entry = dir.join(format!("{}.npy", cache_key(&bytes, cfg, limits)));
    if let Ok((v, shape)) = crate::audio::npy::read_f32(&entry) {
        if shape.len() == 2 && shape[1] == cfg.num_mel_bins {
            return Ok((v, shape[0]));
        }
    }
    // Decode the bytes already read for the cache key: the file is read once.
    let ext = path.extension().and_then(|e| e.to_str());
    let w = crate::audio::decode::decode_bytes(bytes, ext, &path.display().to_string())
        .map(crate::audio::decode::at_16k)
        .map_err(|e| e.to_string())?;
    let w = check_waveform(path, w, limits)?;
    let (v, frames) = eat_features(&w, cfg, target_frames);
    if std::fs::create_dir_all(dir).is_ok() {
        let _ = crate::audio::npy::write_f32(&entry, &v, &[frames, cfg.num_mel_bins]);
    }
    Ok((v, frames))
}

/// What a clip must satisfy and how it is shaped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioLimits {
    /// Pad or truncate to this many frames (0 = natural length, padded to the longest clip).
    pub target_frames: usize,
    /// Longest accepted clip in seconds (0 = no limit).
    pub max_seconds: f64,
}

/// The 16 kHz waveform of a file, refusing non-finite samples and over-long clips.
pub fn checked_waveform(path: &std::path::Path, limits: &AudioLimits) -> Result<Vec<f32>, String> {
    let w = load_mono_16k(path).map_err(|e| e.to_string())?;
    check_waveform(path, w, limits)
}

/// Refuse a decoded 16 kHz waveform of `path` with non-finite samples or over `limits`.
fn check_waveform(
    path: &std::path::Path,
    w: Vec<f32>,
    limits: &AudioLimits,
) -> Result<Vec<f32>, String> {
    if let Some(i) = w.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "{}: non-finite sample (NaN or infinity) at 16 kHz sample {i}",
            path.display()
        ));
    }
    let secs = w.len() as f64 / 16000.0;
    if limits.max_seconds > 0.0 && secs > limits.max_seconds {
        return Err(format!(
            "{}: {secs:.1} s long, more than data.max_audio_seconds = {}",
            path.display(),
            limits.max_seconds
        ));
    }
    Ok(w)
}

/// EAT input features `[frames, 128]` for each (clip id, audio path), in parallel across cores,
/// through the feature cache in `cache` when given. Unreadable files are returned as
/// (path, reason) instead. `target_frames = 0` pads every clip to the longest.
pub fn extract(
    clips: &[(String, PathBuf)],
    limits: AudioLimits,
    cache: Option<&std::path::Path>,
    progress: &(dyn Fn(usize) + Sync),
) -> (ClipMatrices, Vec<(PathBuf, String)>) {
    let cfg = FbankConfig::default();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    // (audio key, (features, frames) or (file, error)) per clip.
    type ClipResult = (String, Result<(Vec<f32>, usize), (PathBuf, String)>);
    let results: Vec<ClipResult> = std::thread::scope(|s| {
        let chunk = clips.len().div_ceil(threads.max(1)).max(1);
        let handles: Vec<_> = clips
            .chunks(chunk)
            .map(|part| {
                let cfg = &cfg;
                s.spawn(move || {
                    part.iter()
                        .map(|(id, path)| {
                            let r = features_of(path, cfg, &limits, cache)
                                .map_err(|e| (path.clone(), e));
                            progress(1);
                            (id.clone(), r)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("feature worker panicked"))
            .collect()
    });
    let mut failures = Vec::new();
    let mut ok = Vec::new();
    for (id, r) in results {
        match r {
            Ok(v) => ok.push((id, v)),
            Err(f) => failures.push(f),
        }
    }
    let bins = cfg.num_mel_bins;
    let rows = if limits.target_frames > 0 {
        limits.target_frames
    } else {
        ok.iter().map(|(_, (_, f))| *f).max().unwrap_or(0)
    };
    let mut by_clip = HashMap::with_capacity(ok.len());
    for (id, (mut v, frames)) in ok {
        if frames < rows {
            // Natural-length mode: pad with the normalised value of a zero log-mel, as EAT pads before normalising.
            let fill = 4.268f32 / (2.0 * 4.569);
            v.resize(rows * bins, fill);
        }
        by_clip.insert(id, v);
    }
    (
        ClipMatrices {
            rows,
            dim: bins,
            by_clip,
        },
        failures,
    )
}

impl ClipMatrices {
    /// The matrices of `ids` concatenated on the host (for augmentation before upload).
    pub fn clone_batch_host(&self, ids: &[&str]) -> Vec<f32> {
        let mut flat = Vec::with_capacity(ids.len() * self.rows * self.dim);
        for id in ids {
            flat.extend_from_slice(&self.by_clip[*id]);
        }
        flat
    }
}

/// What the adapter sees of each clip.
#[derive(Debug, Clone, Copy)]
pub enum AudioInput<'a> {
    /// Precomputed outputs of the frozen encoder `[tokens, d_enc]`.
    Encoded(&'a ClipMatrices),
    /// EAT input features `[frames, 128]`; the encoder runs inside the step.
    Features(&'a ClipMatrices),
}
