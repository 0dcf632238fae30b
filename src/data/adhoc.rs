//! Evaluation sets given on the command line (`acdc eval RUN --aqa FILE.jsonl --aac FILE.json`),
//! checked item by item before anything is decoded or recorded.
//!
//! - AQA: JSONL, one `{"id", "audio", "question", "answer"}` object a line (the dataset reader of
//!   [`super::aqa`]; `instruction` is accepted for `question`).
//! - AAC: one JSON array `[{"id", "audio", "captions": ["…", …]}, …]`, at least one non-empty
//!   caption an item.
//!
//! Audio paths are relative to the file's folder (and must stay inside it, as in dataset
//! manifests). A file without items, a missing field, a line or file that is not JSON, an id that
//! appears twice and an audio file that does not exist are errors naming the file and the line
//! (AQA) or item (AAC).

use std::path::{Path, PathBuf};

use super::items::{inside_root, CaptionItem, DataError, QaItem};

/// A set's items, each with where it was read (`FILE:LINE` or `FILE: item N`), for the errors of
/// later steps (audio that cannot be decoded, say).
#[derive(Debug, Clone)]
pub struct Located<T> {
    pub at: String,
    pub item: T,
}

/// Read and check an AQA JSONL file.
pub fn read_aqa(path: &Path) -> Result<Vec<Located<QaItem>>, DataError> {
    let lines = super::aqa::read_qa_jsonl_lines(path)?;
    let items: Vec<Located<QaItem>> = lines
        .into_iter()
        .map(|(line, item)| Located {
            at: format!("{}:{line}", path.display()),
            item,
        })
        .collect();
    check(path, &items, |i| (&i.id, &i.audio), "lines")?;
    Ok(items)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AacEntry {
    id: String,
    audio: String,
    captions: Vec<String>,
}

/// Read and check an AAC JSON file (`[{"id", "audio", "captions": [..]}]`).
pub fn read_aac(path: &Path) -> Result<Vec<Located<CaptionItem>>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::Io {
        path: path.into(),
        message: e.to_string(),
    })?;
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).map_err(|e| {
        let message = format!(
            "{e}; expected a JSON array of {{\"id\", \"audio\", \"captions\": [...]}} objects"
        );
        match e.line() {
            0 => DataError::Io {
                path: path.into(),
                message,
            },
            line => DataError::Parse {
                path: path.into(),
                line,
                message,
            },
        }
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::with_capacity(entries.len());
    for (i, v) in entries.into_iter().enumerate() {
        let index = i + 1;
        let err = |message: String| DataError::Item {
            path: path.into(),
            index,
            message,
        };
        let e: AacEntry = serde_json::from_value(v).map_err(|e| err(e.to_string()))?;
        if e.captions.is_empty() || e.captions.iter().any(|c| c.trim().is_empty()) {
            return Err(err(format!(
                "`{}`: `captions` must hold at least one caption, none of them empty",
                e.id
            )));
        }
        let audio = inside_root(base, &e.audio).map_err(err)?;
        out.push(Located {
            at: format!("{}: item {index}", path.display()),
            item: CaptionItem {
                id: e.id,
                audio,
                captions: e.captions,
            },
        });
    }
    check(path, &out, |i| (&i.id, &i.audio), "items")?;
    Ok(out)
}

/// No items, an empty or repeated id, and audio that is not a file are refused by place.
fn check<T>(
    path: &Path,
    items: &[Located<T>],
    key: impl Fn(&T) -> (&String, &PathBuf),
    what: &str,
) -> Result<(), DataError> {
    if items.is_empty() {
        return Err(DataError::Io {
            path: path.into(),
            message: format!("no {what}: the set has no items"),
        });
    }
    let mut seen = std::collections::HashMap::new();
    for it in items {
        let (id, audio) = key(&it.item);
        let bad = |message: String| DataError::At {
            at: it.at.clone(),
            message,
        };
        if id.trim().is_empty() {
            return Err(bad("empty `id`".into()));
        }
        if let Some(first) = seen.insert(id.as_str(), it.at.as_str()) {
            return Err(bad(format!(
                "id `{id}` appears again (first at {first}); ids key the stored predictions"
            )));
        }
        if !audio.is_file() {
            return Err(bad(format!(
                "audio file {} does not exist (paths are relative to {})",
                audio.display(),
                path.parent().unwrap_or(Path::new(".")).display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("a")).unwrap();
        std::fs::write(d.path().join("a/1.wav"), b"RIFF").unwrap();
        std::fs::write(d.path().join("a/2.wav"), b"RIFF").unwrap();
        d
    }

    #[test]
    fn aqa_lines_are_read_and_checked_by_line() {
        let d = setup();
        let p = d.path().join("q.jsonl");
        let line = |id: &str, audio: &str| {
            format!("{{\"id\": \"{id}\", \"audio\": \"{audio}\", \"question\": \"What?\", \"answer\": \"A dog.\"}}\n")
        };
        std::fs::write(&p, line("q1", "a/1.wav") + "\n" + &line("q2", "a/2.wav")).unwrap();
        let items = read_aqa(&p).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].at, format!("{}:3", p.display()));
        assert_eq!(items[1].item.audio, d.path().join("a/2.wav"));

        std::fs::write(&p, line("q1", "a/1.wav") + &line("q1", "a/2.wav")).unwrap();
        let e = read_aqa(&p).unwrap_err().to_string();
        assert!(
            e.contains("q.jsonl:2") && e.contains("`q1` appears again") && e.contains("q.jsonl:1"),
            "{e}"
        );

        std::fs::write(&p, line("q1", "a/1.wav") + &line("q2", "a/3.wav")).unwrap();
        let e = read_aqa(&p).unwrap_err().to_string();
        assert!(
            e.contains("q.jsonl:2") && e.contains("3.wav") && e.contains("does not exist"),
            "{e}"
        );

        std::fs::write(&p, line("q1", "a/1.wav") + "not json\n").unwrap();
        let e = read_aqa(&p).unwrap_err().to_string();
        assert!(e.contains("q.jsonl:2"), "{e}");

        std::fs::write(
            &p,
            "{\"id\": \"q1\", \"audio\": \"a/1.wav\", \"answer\": \"x\"}\n",
        )
        .unwrap();
        let e = read_aqa(&p).unwrap_err().to_string();
        assert!(e.contains("q.jsonl:1") && e.contains("question"), "{e}");

        std::fs::write(&p, "\n\n").unwrap();
        let e = read_aqa(&p).unwrap_err().to_string();
        assert!(e.contains("q.jsonl") && e.contains("no lines"), "{e}");
    }

    #[test]
    fn aac_items_are_read_and_checked_by_item() {
        let d = setup();
        let p = d.path().join("c.json");
        std::fs::write(
            &p,
            r#"[{"id": "c1", "audio": "a/1.wav", "captions": ["A dog barks.", "Barking."]},
                {"id": "c2", "audio": "a/2.wav", "captions": ["Rain."]}]"#,
        )
        .unwrap();
        let items = read_aac(&p).unwrap();
        assert_eq!(items[1].item.captions, vec!["Rain.".to_string()]);
        assert_eq!(items[1].at, format!("{}: item 2", p.display()));

        for (text, want) in [
            (
                r#"[{"id": "c1", "audio": "a/1.wav"}]"#,
                "item 1: missing field `captions`",
            ),
            (
                r#"[{"id": "c1", "audio": "a/1.wav", "captions": []}]"#,
                "item 1: `c1`: `captions`",
            ),
            (
                r#"[{"id": "c1", "audio": "a/1.wav", "captions": ["x"]}, {"id": "c1", "audio": "a/2.wav", "captions": ["y"]}]"#,
                "item 2: id `c1` appears again",
            ),
            (
                r#"[{"id": "c1", "audio": "a/9.wav", "captions": ["x"]}]"#,
                "does not exist",
            ),
            (r#"[]"#, "no items"),
            ("[{\"id\": \"c1\",\n oops", "c.json:2"),
            (r#"{"id": "c1"}"#, "expected a JSON array"),
        ] {
            std::fs::write(&p, text).unwrap();
            let e = read_aac(&p).unwrap_err().to_string();
            assert!(e.contains("c.json") && e.contains(want), "{text}: {e}");
        }
    }
}
