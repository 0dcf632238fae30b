//! Questioning a trained run (`acdc ask`): the answer of a done run's model to a question about
//! each audio file, or with no question its reply to the audio alone — the prompt of
//! dialogue-continuation training, with nothing after the audio.

use std::path::PathBuf;

use super::trained::{TrainedRun, TrainedRunError};
use crate::eval::run::{decode_all, Answerer, Row};
use crate::text::prompt::audio_prompt;

/// One answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Answer {
    /// The audio file as given.
    pub audio: String,
    pub question: Option<String>,
    pub answer: String,
}

/// How to decode: the run's `decode` settings unless given.
#[derive(Debug, Clone, Copy, Default)]
pub struct AskDecode {
    pub beams: Option<usize>,
    pub max_new_tokens: Option<usize>,
}

/// The model's answer for each file of `audio`, in order.
pub fn ask(
    run: &TrainedRun,
    audio: &[PathBuf],
    question: Option<&str>,
    decode: AskDecode,
) -> Result<Vec<Answer>, TrainedRunError> {
    let fail = |message: String| TrainedRunError::Model {
        run: run.id.clone(),
        message,
    };
    let mut cfg = run.cfg.clone();
    if let Some(b) = decode.beams {
        cfg.decode.beams = b;
    }
    if let Some(n) = decode.max_new_tokens {
        cfg.decode.max_new_tokens = n;
    }
    let keys: Vec<String> = audio.iter().map(|a| a.display().to_string()).collect();
    let mut clips: Vec<(String, PathBuf)> = Vec::new();
    for (k, a) in keys.iter().zip(audio) {
        if !clips.iter().any(|(c, _)| c == k) {
            clips.push((k.clone(), a.clone()));
        }
    }
    let sound = run.audio(&clips, &|_| None)?;
    let prompt = audio_prompt(&run.backbone.tokenizer, &run.backbone.chat, question)
        .map_err(|e| fail(format!("the question does not fit the chat template: {e}")))?;
    let rows: Vec<Row> = keys
        .iter()
        .map(|k| Row {
            audio: k.clone(),
            instruction: question.map(str::to_string),
            prompt: prompt.clone(),
        })
        .collect();
    let pb = super::stages::bar(rows.len() as u64, "answering");
    pb.set_prefix(run.id.clone());
    let answerer = Answerer::Audio {
        model: &run.model,
        audio: sound.input(),
    };
    let outputs = decode_all(
        &answerer,
        &run.backbone,
        &cfg,
        &rows,
        &run.device,
        &mut |n| pb.inc(n as u64),
    )
    .map_err(|e| fail(e.to_string()))?;
    pb.finish_and_clear();
    Ok(keys
        .into_iter()
        .zip(outputs)
        .map(|(audio, (answer, _))| Answer {
            audio,
            question: question.map(str::to_string),
            answer,
        })
        .collect())
}
