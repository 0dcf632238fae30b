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
    let text = std::fs::read_to_string(path).map_err(|e| DataError::Io { path: path.into(), message: e.to_string() })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(line).map_err(|e| DataError::Parse { path: path.into(), line: i + 1, message: e.to_string() })?;
        out.push(QaItem { id: l.id, audio: base.join(l.audio), question: l.question, answer: l.answer });
    }
    Ok(out)
}
