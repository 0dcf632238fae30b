//! Per-clip matrices (EAT input features or encoder outputs), extracted in parallel across cores.

use std::collections::HashMap;
use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};

use crate::audio::decode::load_mono_16k;
use crate::audio::fbank::{eat_features, FbankConfig};

/// One `[rows, dim]` matrix per clip id, all the same shape: held in memory, or (features from
/// the on-disk cache) read from the cache entry when a batch needs it, so a run over hundreds of
/// thousands of clips does not hold them all in RAM.
#[derive(Debug, Clone, Default)]
pub struct ClipMatrices {
    pub rows: usize,
    pub dim: usize,
    /// What shorter stored matrices are padded with up to `rows`.
    pub fill: f32,
    clips: HashMap<String, Stored>,
}

#[derive(Debug, Clone)]
enum Stored {
    Memory(Vec<f32>),
    /// A cache entry (`.npy`, `[frames, dim]`, `frames <= rows`).
    File(PathBuf),
}

impl ClipMatrices {
    pub fn new(rows: usize, dim: usize) -> Self {
        Self {
            rows,
            dim,
            ..Self::default()
        }
    }

    /// Add a clip's `[rows, dim]` matrix, held in memory.
    pub fn insert(&mut self, id: String, m: Vec<f32>) {
        debug_assert_eq!(m.len(), self.rows * self.dim);
        self.clips.insert(id, Stored::Memory(m));
    }

    pub fn contains(&self, id: &str) -> bool {
        self.clips.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.clips.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clips.is_empty()
    }

    /// Clip ids, sorted.
    pub fn ids(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.clips.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Append clip `id`'s matrix (padded with `fill` to `rows`) to `out`.
    fn append(&self, id: &str, out: &mut Vec<f32>) {
        let start = out.len();
        match &self.clips[id] {
            Stored::Memory(v) => out.extend_from_slice(v),
            Stored::File(path) => {
                // Written by this process or a finished atomic rename; a cache entry that went
                // missing or bad under a running job is a broken installation, not bad input.
                let (v, shape) = crate::audio::npy::read_f32(path).unwrap_or_else(|e| {
                    panic!("feature cache entry {} unreadable: {e}", path.display())
                });
                assert!(
                    shape.len() == 2 && shape[0] <= self.rows && shape[1] == self.dim,
                    "feature cache entry {} has shape {shape:?}, not [<= {}, {}]",
                    path.display(),
                    self.rows,
                    self.dim
                );
                out.extend_from_slice(&v);
            }
        }
        out.resize(start + self.rows * self.dim, self.fill);
    }

    /// The matrices of `ids` concatenated on the host (for augmentation before upload).
    pub fn clone_batch_host(&self, ids: &[&str]) -> Vec<f32> {
        let mut flat = Vec::with_capacity(ids.len() * self.rows * self.dim);
        for id in ids {
            self.append(id, &mut flat);
        }
        flat
    }

    /// Stack the matrices of `ids` into `[B, rows, dim]`.
    pub fn batch(&self, ids: &[&str], device: &Device) -> Tensor<3> {
        Tensor::from_data(
            TensorData::new(self.clone_batch_host(ids), [ids.len(), self.rows, self.dim]),
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
) -> Result<Clip, String> {
    let target_frames = limits.target_frames;
    let Some(dir) = cache else {
        return checked_waveform(path, limits).map(|w| {
            let (v, frames) = eat_features(&w, cfg, target_frames);
            Clip {
                frames,
                features: Some(v),
                entry: None,
            }
        });
    };
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let entry = dir.join(format!("{}.npy", cache_key(&bytes, cfg, limits)));
    if let Ok(shape) = crate::audio::npy::read_f32_shape(&entry) {
        if shape.len() == 2 && shape[1] == cfg.num_mel_bins {
            return Ok(Clip {
                frames: shape[0],
                features: None,
                entry: Some(entry),
            });
        }
    }
    // Decode the bytes already read for the cache key: the file is read once.
    let ext = path.extension().and_then(|e| e.to_str());
    let name = path.display().to_string();
    let w = crate::audio::decode::decode_bytes(bytes, ext, &name)
        .map(crate::audio::decode::at_16k)
        .and_then(|w| crate::audio::decode::long_enough(&name, w))
        .map_err(|e| e.to_string())?;
    let w = check_waveform(path, w, limits)?;
    let (v, frames) = eat_features(&w, cfg, target_frames);
    let written = std::fs::create_dir_all(dir).is_ok()
        && crate::audio::npy::write_f32(&entry, &v, &[frames, cfg.num_mel_bins]).is_ok();
    Ok(if written {
        Clip {
            frames,
            features: None,
            entry: Some(entry),
        }
    } else {
        // A cache that cannot be written: keep the features in memory.
        Clip {
            frames,
            features: Some(v),
            entry: None,
        }
    })
}

/// One clip's extracted features: in memory, or in the cache entry that holds them.
struct Clip {
    frames: usize,
    features: Option<Vec<f32>>,
    entry: Option<PathBuf>,
}

/// What a clip must satisfy and how it is shaped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioLimits {
    /// Pad or truncate to this many frames (0 = natural length, padded to the longest clip).
    pub target_frames: usize,
    /// Longest accepted clip in seconds (0 = no limit).
    pub max_seconds: f64,
}

/// The 16 kHz waveform of a file (decoding refuses files cut short, non-finite samples and clips
/// shorter than one frame), refusing over-long clips.
pub fn checked_waveform(path: &std::path::Path, limits: &AudioLimits) -> Result<Vec<f32>, String> {
    let w = load_mono_16k(path).map_err(|e| e.to_string())?;
    check_waveform(path, w, limits)
}

/// Refuse a decoded 16 kHz waveform of `path` over `limits`.
fn check_waveform(
    path: &std::path::Path,
    w: Vec<f32>,
    limits: &AudioLimits,
) -> Result<Vec<f32>, String> {
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
    // (audio key, features or (file, error)) per clip.
    type ClipResult = (String, Result<Clip, (PathBuf, String)>);
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
        ok.iter().map(|(_, c)| c.frames).max().unwrap_or(0)
    };
    let mut out = ClipMatrices::new(rows, bins);
    // Natural-length mode: pad with the normalised value of a zero log-mel, as EAT pads before
    // normalising.
    out.fill = 4.268f32 / (2.0 * 4.569);
    for (id, c) in ok {
        let stored = match (c.features, c.entry) {
            (Some(mut v), _) => {
                v.resize(rows * bins, out.fill);
                Stored::Memory(v)
            }
            (None, Some(entry)) => Stored::File(entry),
            (None, None) => unreachable!("a clip has features or a cache entry"),
        };
        out.clips.insert(id, stored);
    }
    (out, failures)
}

/// What the adapter sees of each clip.
#[derive(Debug, Clone, Copy)]
pub enum AudioInput<'a> {
    /// Precomputed outputs of the frozen encoder `[tokens, d_enc]`.
    Encoded(&'a ClipMatrices),
    /// EAT input features `[frames, 128]`; the encoder runs inside the step.
    Features(&'a ClipMatrices),
}

impl<'a> AudioInput<'a> {
    /// The clips' matrices, whichever they hold.
    pub fn clips(self) -> &'a ClipMatrices {
        match self {
            AudioInput::Encoded(m) | AudioInput::Features(m) => m,
        }
    }
}
