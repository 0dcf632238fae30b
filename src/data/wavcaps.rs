//! WavCaps as published: one JSON file per source (`AudioSet_SL`, `BBC_Sound_Effects`,
//! `FreeSound`, `SoundBible`), each `{"data": [{"id", "caption", "audio" | "wav_path", "duration"}]}`,
//! usually under `json_files/<source>/`, plus the extracted audio folders. Split `train` reads
//! every source; a source name reads that source. A clip's file is `pattern` over `{source}` and
//! `{id}` relative to the dataset root (default [`DEFAULT_PATTERN`]; an id without an extension
//! gets `.flac`), unless its entry names a real relative path in `wav_path` / `audio`.

use std::path::{Path, PathBuf};

use super::items::{inside_root, CaptionItem, DataError};

pub const SOURCES: &[&str] = &[
    "AudioSet_SL",
    "BBC_Sound_Effects",
    "FreeSound",
    "SoundBible",
];
pub const DEFAULT_PATTERN: &str = "{source}/{id}";

#[derive(serde::Deserialize)]
struct File {
    data: Vec<Entry>,
}

#[derive(serde::Deserialize)]
struct Entry {
    id: serde_json::Value,
    caption: String,
    #[serde(default)]
    audio: Option<String>,
    #[serde(default)]
    wav_path: Option<String>,
}

fn json_files(root: &Path, source: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [root.join("json_files").join(source), root.join(source)] {
        if let Ok(rd) = std::fs::read_dir(&dir) {
            let mut v: Vec<PathBuf> = rd
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            v.sort();
            out.extend(v);
        }
    }
    out
}

fn looks_like_path(s: &str) -> bool {
    s != "wav_path"
        && s != "audio"
        && (s.contains('/') || s.rsplit_once('.').is_some_and(|(_, e)| e.len() <= 4))
}

/// Read a split (`train` = all sources, or one source's name).
pub fn read(root: &Path, split: &str, pattern: &str) -> Result<Vec<CaptionItem>, DataError> {
    let sources: Vec<&str> = if split == "train" {
        SOURCES.to_vec()
    } else if let Some(s) = SOURCES.iter().find(|s| s.eq_ignore_ascii_case(split)) {
        vec![*s]
    } else {
        return Err(DataError::Dataset {
            dataset: "wavcaps".into(),
            message: format!(
                "no split `{split}`; expected train or one of {}",
                SOURCES.join(", ")
            ),
        });
    };
    let mut items = Vec::new();
    let mut found = 0;
    for source in sources {
        for file in json_files(root, source) {
            found += 1;
            let text = std::fs::read_to_string(&file).map_err(|e| DataError::Io {
                path: file.clone(),
                message: e.to_string(),
            })?;
            let parsed: File = serde_json::from_str(&text).map_err(|e| DataError::Parse {
                path: file.clone(),
                line: e.line(),
                message: e.to_string(),
            })?;
            for (i, e) in parsed.data.into_iter().enumerate() {
                let id = match &e.id {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let explicit = e
                    .wav_path
                    .as_deref()
                    .or(e.audio.as_deref())
                    .filter(|p| looks_like_path(p));
                let rel = match explicit {
                    Some(p) => p.to_string(),
                    None => {
                        let id_file = if Path::new(&id).extension().is_some() {
                            id.clone()
                        } else {
                            format!("{id}.flac")
                        };
                        pattern
                            .replace("{source}", source)
                            .replace("{id}", &id_file)
                    }
                };
                let audio = inside_root(root, &rel).map_err(|m| DataError::Parse {
                    path: file.clone(),
                    line: 0,
                    message: format!("entry {i}: {m}"),
                })?;
                let stem = Path::new(&id)
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or(id.clone());
                items.push(CaptionItem {
                    id: format!("{source}/{stem}"),
                    audio,
                    captions: vec![e.caption.trim().to_string()],
                });
            }
        }
    }
    if found == 0 {
        return Err(DataError::Dataset {
            dataset: "wavcaps".into(),
            message: format!(
                "no JSON files under {}/json_files/<source>/ or {}/<source>/",
                root.display(),
                root.display()
            ),
        });
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sources_in_the_published_layout() {
        let d = tempfile::tempdir().unwrap();
        let j = d.path().join("json_files/SoundBible");
        std::fs::create_dir_all(&j).unwrap();
        std::fs::write(j.join("sb_final.json"), r#"{"num_captions_per_audio": 1, "data": [{"id": "123", "caption": "A bell rings.", "audio": "wav_path", "duration": 3.2}, {"id": "x.wav", "caption": "Wind.", "wav_path": "audio/x.wav", "duration": 1.0}]}"#).unwrap();
        let items = read(d.path(), "SoundBible", DEFAULT_PATTERN).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].audio, d.path().join("SoundBible/123.flac"));
        assert_eq!(items[0].id, "SoundBible/123");
        assert_eq!(items[1].audio, d.path().join("audio/x.wav"));
        assert_eq!(read(d.path(), "train", DEFAULT_PATTERN).unwrap().len(), 2);
        let e = read(d.path(), "FreeSound", DEFAULT_PATTERN)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no JSON files"), "{e}");
        std::fs::write(j.join("bad.json"), "{\"data\": [{\"id\": 1}]}").unwrap();
        let e = read(d.path(), "SoundBible", DEFAULT_PATTERN)
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.json") && e.contains("caption"), "{e}");
    }
}
