//! Audio-QA sets in JSONL form: one `{"id", "audio", "question", "answer"}` object a line, audio
//! paths relative to the file's folder (the synthetic world's `qa_*.jsonl`; AudioBench's hub parquet
//! files convert to this form).

use std::path::Path;

use super::items::{DataError, QaItem};

#[derive(serde::Deserialize)]
struct Line {
    id: String,
    audio: String,
    #[serde(alias = "instruction")]
    question: String,
    answer: String,
}

pub fn read_qa_jsonl(path: &Path) -> Result<Vec<QaItem>, DataError> {
    Ok(read_qa_jsonl_lines(path)?
        .into_iter()
        .map(|(_, item)| item)
        .collect())
}

/// [`read_qa_jsonl`] with each item's line number (1-based; blank lines are skipped).
pub fn read_qa_jsonl_lines(path: &Path) -> Result<Vec<(usize, QaItem)>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::Io {
        path: path.into(),
        message: e.to_string(),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(line).map_err(|e| DataError::Parse {
            path: path.into(),
            line: i + 1,
            message: e.to_string(),
        })?;
        let audio = super::items::inside_root(base, &l.audio).map_err(|m| DataError::Parse {
            path: path.into(),
            line: i + 1,
            message: m,
        })?;
        out.push((
            i + 1,
            QaItem {
                id: l.id,
                audio,
                question: l.question,
                answer: l.answer,
            },
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lines_and_refuses_escapes() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("test.jsonl");
        std::fs::write(&p, "{\"id\": \"q1\", \"audio\": \"a/1.wav\", \"instruction\": \"What?\", \"answer\": \"Rain.\"}\n\n").unwrap();
        let items = read_qa_jsonl(&p).unwrap();
        assert_eq!(items[0].audio, d.path().join("a/1.wav"));
        assert_eq!(items[0].question, "What?");
        std::fs::write(
            &p,
            "{\"id\": \"q1\", \"audio\": \"../x.wav\", \"question\": \"?\", \"answer\": \"a\"}\n",
        )
        .unwrap();
        let e = read_qa_jsonl(&p).unwrap_err().to_string();
        assert!(e.contains("test.jsonl:1") && e.contains("outside"), "{e}");
        std::fs::write(&p, "{\"id\": \"q1\"}\n").unwrap();
        let e = read_qa_jsonl(&p).unwrap_err().to_string();
        assert!(e.contains("test.jsonl:1") && e.contains("audio"), "{e}");
    }
}
