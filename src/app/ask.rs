//! `acdc ask`: a done run's answers about audio files, as text or JSON.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::exec::ask::{ask as answer, AskDecode};
use crate::exec::trained::{done_run, TrainedRun};

pub fn ask(
    home: &Path,
    run: &str,
    audio: &[PathBuf],
    question: Option<&str>,
    decode: AskDecode,
    json: bool,
) -> Result<String> {
    if question.is_some_and(|q| q.trim().is_empty()) {
        bail!("--question is empty; leave it out for the run's reply to the audio alone");
    }
    if decode.beams == Some(0) {
        bail!("--beams 0: give at least 1 (1 = greedy)");
    }
    if decode.max_new_tokens == Some(0) {
        bail!("--max-new-tokens 0: give at least 1");
    }
    let store = super::open_existing(home)?;
    let (id, cfg) = done_run(&store, run)?;
    let trained = TrainedRun::load(&store, &id, cfg)?;
    let answers = answer(&trained, audio, question, decode)?;
    if json {
        return Ok(serde_json::to_string_pretty(&answers)? + "\n");
    }
    let mut out = String::new();
    for a in &answers {
        // One line an answer; a reply's own line breaks continue indented.
        writeln!(out, "{}: {}", a.audio, a.answer.replace('\n', "\n    "))?;
    }
    Ok(out)
}
