//! Dataset items as every reader returns them, and the training example the targets stage makes
//! of them (read by the trainer).

use std::path::PathBuf;

/// A clip with its reference captions (AudioCaps, Clotho, WavCaps, synth).
#[derive(Debug, Clone, PartialEq)]
pub struct CaptionItem {
    /// Unique within the dataset split (the audio file's stem for file-based sets).
    pub id: String,
    pub audio: PathBuf,
    pub captions: Vec<String>,
}

/// An audio question with its reference answer (AudioBench-style sets, synth QA).
#[derive(Debug, Clone, PartialEq)]
pub struct QaItem {
    pub id: String,
    pub audio: PathBuf,
    pub question: String,
    pub answer: String,
}

/// Errors reading datasets; each names the file and, where there is one, the line.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// An item of a JSON array file (1-based `index`).
    #[error("{}: item {index}: {message}", path.display())]
    Item {
        path: PathBuf,
        index: usize,
        message: String,
    },
    /// An item at a place already written out (`FILE:LINE`, `FILE: item N`).
    #[error("{at}: {message}")]
    At { at: String, message: String },
    #[error("dataset `{dataset}`: {message}")]
    Dataset { dataset: String, message: String },
    #[error("{count} audio file(s) missing or unreadable in {dataset}/{split}, first: {first}")]
    BadAudio {
        dataset: String,
        split: String,
        count: usize,
        first: String,
    },
}

impl From<crate::once::LockError> for DataError {
    fn from(e: crate::once::LockError) -> Self {
        DataError::Io {
            path: e.path.clone(),
            message: format!("lock file for {}: {}", e.what, e.message),
        }
    }
}

/// `root/rel`, refusing a relative path that climbs out of `root` (or an absolute one).
pub fn inside_root(root: &std::path::Path, rel: &str) -> Result<PathBuf, String> {
    use std::path::Component;
    let p = std::path::Path::new(rel);
    let mut depth: i64 = 0;
    for c in p.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("audio path `{rel}` points outside the dataset root {}", root.display()));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("audio path `{rel}` is absolute; manifests must use paths inside the dataset root {}", root.display()))
            }
        }
    }
    Ok(root.join(p))
}

/// One training example: audio and the text the model should produce for it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetExample {
    /// `<clip id>#<caption index>`.
    pub item_id: String,
    pub clip_id: String,
    pub audio: PathBuf,
    /// Key of this clip's audio in feature tables (the audio path as text).
    pub audio_key: String,
    /// The caption this target came from.
    pub source: String,
    pub sample: u32,
    pub text: String,
    /// The instruction after the audio for this example (an instruction-tuning example's
    /// question); `None`: the run's own (none for dialogue targets, the captioning instruction
    /// for caption targets).
    pub instruction: Option<String>,
    /// Whether the reply ended (trained with the end-of-turn token after it); `false` for a reply
    /// cut off at `targets.max_new_tokens` under `targets.truncated = "open"`.
    pub ends: bool,
}
