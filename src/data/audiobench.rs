//! AudioBench QA sets as the hub publishes them: parquet files (`<split>-*.parquet`, also under
//! `data/`) with an audio column (`context` or `audio`: a struct {bytes, path}), `instruction`
//! (or `question`) and `answer`. Audio bytes are written once into a content-addressed folder
//! (`<cache>/<sha256>.<ext>`) so the rest of acdc reads them like any audio file.

use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, Row};
use sha2::{Digest, Sha256};

use super::items::{DataError, QaItem};

/// The parquet files of a split, sorted.
pub fn split_files(root: &Path, split: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [root.to_path_buf(), root.join("data")] {
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.filter_map(|e| e.ok()) {
                let name = e.file_name().to_string_lossy().to_string();
                if name.ends_with(".parquet")
                    && (name == format!("{split}.parquet")
                        || name.starts_with(&format!("{split}-")))
                {
                    out.push(e.path());
                }
            }
        }
    }
    out.sort();
    out
}

fn field<'a>(row: &'a Row, names: &[&str]) -> Option<&'a Field> {
    row.get_column_iter()
        .find(|(n, _)| names.contains(&n.as_str()))
        .map(|(_, f)| f)
}

fn text(f: Option<&Field>) -> Option<String> {
    match f {
        Some(Field::Str(s)) => Some(s.clone()),
        Some(Field::Bytes(b)) => std::str::from_utf8(b.data()).ok().map(str::to_string),
        _ => None,
    }
}

/// Read every row of one parquet file; audio goes to `audio_cache`.
pub fn read_parquet(file: &Path, audio_cache: &Path) -> Result<Vec<QaItem>, DataError> {
    let err = |row: usize, message: String| DataError::Parse {
        path: file.to_path_buf(),
        line: row,
        message,
    };
    let f = std::fs::File::open(file).map_err(|e| DataError::Io {
        path: file.into(),
        message: e.to_string(),
    })?;
    let reader = SerializedFileReader::new(f)
        .map_err(|e| err(0, format!("not a readable parquet file: {e}")))?;
    let columns: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .root_schema()
        .get_fields()
        .iter()
        .map(|t| t.name().to_string())
        .collect();
    let has = |names: &[&str]| columns.iter().any(|c| names.contains(&c.as_str()));
    for (want, names) in [
        ("audio (`context` or `audio`)", &["context", "audio"][..]),
        (
            "`instruction` (or `question`)",
            &["instruction", "question"][..],
        ),
        ("`answer`", &["answer"][..]),
    ] {
        if !has(names) {
            return Err(err(
                0,
                format!("no {want} column; columns: {}", columns.join(", ")),
            ));
        }
    }
    std::fs::create_dir_all(audio_cache).map_err(|e| DataError::Io {
        path: audio_cache.into(),
        message: e.to_string(),
    })?;
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut out = Vec::new();
    let rows = reader
        .get_row_iter(None)
        .map_err(|e| err(0, e.to_string()))?;
    for (i, row) in rows.enumerate() {
        let row = row.map_err(|e| err(i + 1, e.to_string()))?;
        let (bytes, name) = match field(&row, &["context", "audio"]) {
            Some(Field::Group(g)) => {
                let b = match field(g, &["bytes"]) {
                    Some(Field::Bytes(b)) => b.data().to_vec(),
                    _ => return Err(err(i + 1, "audio struct has no bytes".into())),
                };
                (b, text(field(g, &["path"])))
            }
            _ => {
                return Err(err(
                    i + 1,
                    "audio column is not a {bytes, path} struct".into(),
                ))
            }
        };
        if bytes.is_empty() {
            return Err(err(i + 1, "empty audio bytes".into()));
        }
        let question = text(field(&row, &["instruction", "question"]))
            .ok_or_else(|| err(i + 1, "instruction is not text".into()))?;
        let answer = text(field(&row, &["answer"]))
            .ok_or_else(|| err(i + 1, "answer is not text".into()))?;
        let ext = name
            .as_deref()
            .and_then(|n| Path::new(n).extension())
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .filter(|e| e.len() <= 5 && e.chars().all(|c| c.is_ascii_alphanumeric()))
            .unwrap_or_else(|| "wav".into());
        let dest = audio_cache.join(format!(
            "{}.{ext}",
            &hex::encode(Sha256::digest(&bytes))[..32]
        ));
        if !dest.exists() {
            let tmp = dest.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, &bytes)
                .and_then(|_| std::fs::rename(&tmp, &dest))
                .map_err(|e| DataError::Io {
                    path: dest.clone(),
                    message: e.to_string(),
                })?;
        }
        out.push(QaItem {
            id: format!("{stem}-{i}"),
            audio: dest,
            question,
            answer,
        });
    }
    Ok(out)
}

/// Read a split: every parquet file of it under `root`.
pub fn read_split(
    root: &Path,
    split: &str,
    audio_cache: &Path,
    dataset: &str,
) -> Result<Vec<QaItem>, DataError> {
    let files = split_files(root, split);
    if files.is_empty() {
        return Err(DataError::Dataset {
            dataset: dataset.into(),
            message: format!(
                "no `{split}.jsonl`, `{split}-*.parquet` or `data/{split}-*.parquet` under {}",
                root.display()
            ),
        });
    }
    let mut out = Vec::new();
    for f in files {
        out.extend(read_parquet(&f, audio_cache)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/aqa")
    }

    #[test]
    fn reads_the_hub_layout_and_extracts_audio() {
        let cache = tempfile::tempdir().unwrap();
        let items = read_split(&fixtures(), "test", cache.path(), "clotho_aqa").unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].question, "What sound is it?");
        assert_eq!(items[1].answer, "High.");
        let w = crate::audio::decode::decode_file(&items[0].audio).unwrap();
        assert_eq!((w.sample_rate, w.samples.len()), (16000, 1600));
        assert!(items[2].audio.extension().unwrap() == "wav");
    }

    #[test]
    fn missing_columns_name_the_file() {
        let cache = tempfile::tempdir().unwrap();
        let e = read_split(&fixtures(), "broken", cache.path(), "clotho_aqa")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("broken-00000-of-00001.parquet") && e.contains("answer"),
            "{e}"
        );
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("test-0.parquet"), b"not parquet").unwrap();
        let e = read_split(d.path(), "test", cache.path(), "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("test-0.parquet"), "{e}");
    }
}
