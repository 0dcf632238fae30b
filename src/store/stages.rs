//! What each stage of a run records, typed, and how the store reads and writes it: the stage names and statuses, and one serde struct
//! per stage's info (data, targets, train, eval, and a set `acdc eval` scored). Exec writes
//! them, the report, `acdc show` and the tests read them; no JSON key is spelled anywhere else.
//!
//! On disk a stage is a row of `stages` (run, stage, status, info JSON). The JSON has the same
//! shape as the records of earlier releases (read back by the test of a store one wrote), and a
//! failed stage's info carries its reason under `error`, beside whatever the stage had recorded.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use rusqlite::{params, OptionalExtension};

use super::records::EvalScore;
use super::{now_iso, StoreError};
use crate::spec::schema::TruncatedReplies;

/// Stage names of the sets `acdc eval RUN --name SET` scored: `eval:SET`.
pub const ADHOC_STAGE_PREFIX: &str = "eval:";

/// A stage of a run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StageName {
    Data,
    Targets,
    Train,
    Eval,
    /// A set `acdc eval RUN --name SET` scored on the done run.
    Adhoc(String),
    /// A name this build does not know (written by another release): kept as read.
    Other(String),
}

impl StageName {
    pub fn parse(s: &str) -> StageName {
        match s {
            "data" => StageName::Data,
            "targets" => StageName::Targets,
            "train" => StageName::Train,
            "eval" => StageName::Eval,
            _ => match s.strip_prefix(ADHOC_STAGE_PREFIX) {
                Some(set) => StageName::Adhoc(set.to_string()),
                None => StageName::Other(s.to_string()),
            },
        }
    }

    /// The name as stored.
    pub fn key(&self) -> String {
        match self {
            StageName::Data => "data".into(),
            StageName::Targets => "targets".into(),
            StageName::Train => "train".into(),
            StageName::Eval => "eval".into(),
            StageName::Adhoc(set) => format!("{ADHOC_STAGE_PREFIX}{set}"),
            StageName::Other(s) => s.clone(),
        }
    }
}

impl std::fmt::Display for StageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key())
    }
}

/// Where a stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageStatus {
    Running,
    Done,
    Failed,
}

impl StageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StageStatus::Running => "running",
            StageStatus::Done => "done",
            StageStatus::Failed => "failed",
        }
    }

    /// A status this build does not know reads as failed: never as done.
    pub fn parse(s: &str) -> StageStatus {
        match s {
            "running" => StageStatus::Running,
            "done" => StageStatus::Done,
            _ => StageStatus::Failed,
        }
    }
}

/// Items one exclusion list removed from a training source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExcludedItems {
    /// The source (`<dataset>_<split>`).
    pub source: String,
    /// The list as configured.
    pub list: String,
    pub items: usize,
}

/// The `data` stage: how many clips the run reads, which could not be read and what the
/// missing-audio policy did, and what exclusion lists removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    pub clips: usize,
    pub unreadable: usize,
    /// The first five unreadable files, each with its reason.
    pub first_unreadable: Vec<String>,
    /// `data.missing_audio`: `error` or `skip`.
    pub policy: String,
    #[serde(default)]
    pub excluded: Vec<ExcludedItems>,
}

/// What a training source's targets are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The captions themselves.
    Caption,
    /// The backbone's replies to the captions (dialogue continuation).
    Dialogue,
    /// Ground-truth answers to an instruction-tuning source's questions.
    Qa,
}

/// The targets of one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetSetInfo {
    pub kind: TargetKind,
    pub examples: usize,
    /// Dialogue targets: the cache key of the generated set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<String>,
    /// Dialogue targets: replies found in the cache rather than generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_replies: Option<usize>,
    /// Replies cut off at `targets.max_new_tokens`, and what was done with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated_replies: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated_policy: Option<TruncatedReplies>,
}

impl TargetSetInfo {
    /// Targets that are the source's own text (captions, answers).
    pub fn given(kind: TargetKind, examples: usize) -> Self {
        TargetSetInfo {
            kind,
            examples,
            set: None,
            reused: None,
            empty_replies: None,
            truncated_replies: None,
            truncated_policy: None,
        }
    }
}

/// How a source serves the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceRole {
    Train,
    Val,
    Instruct,
}

/// The `targets` stage: one entry a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetSource {
    pub source: String,
    pub role: SourceRole,
    pub info: TargetSetInfo,
}

/// How the adapter saw the audio in training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioInputKind {
    /// Frozen-encoder outputs computed once before training.
    Encoded,
    /// The encoder run inside each step (trainable, SpecAugment, or over the memory budget).
    Features,
}

/// The `train` stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainInfo {
    pub steps: usize,
    pub resumed_from: Option<usize>,
    /// NaN (stored as null) when no step ran.
    #[serde(deserialize_with = "nan_if_null")]
    pub final_loss: f64,
    /// Steps skipped for a non-finite loss or gradient (`train.nan_policy = "skip"`).
    pub skipped: u64,
    pub weights: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_input: Option<AudioInputKind>,
}

fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// The judge an evaluation used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JudgeStamp {
    pub engine: String,
    pub template: String,
    pub template_hash: String,
}

/// The `eval` stage. While it runs only `decoder` and `backbone` are set (what a retry must
/// know to reuse this attempt's predictions).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvalInfo {
    /// sha256 of the acdc binary that decoded.
    pub decoder: Option<String>,
    /// Fingerprint of the backbone that answered.
    pub backbone: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<EvalScore>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reused_predictions: Option<usize>,
    /// Outputs scored that hit `decode.max_new_tokens` (those reused from an interrupted
    /// attempt included; before schema 7, only those decoded in the last attempt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated_outputs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeStamp>,
    /// Captioning metrics that could not be computed here (no Java for METEOR / SPICE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<Vec<String>>,
    /// Probe kinds the run's synthetic instruction data teaches (not zero-shot for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes_trained: Option<Vec<String>>,
}

/// A file `acdc eval` read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetFile {
    pub file: String,
    pub sha256: String,
    pub items: usize,
}

/// Decode settings `acdc eval` used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecodeStamp {
    pub beams: usize,
    pub max_new_tokens: usize,
}

/// A set `acdc eval RUN --name SET` scored (stage `eval:SET`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdhocInfo {
    /// Always "acdc eval".
    pub kind: String,
    /// `aqa` and / or `aac`: the files read.
    pub sources: BTreeMap<String, SetFile>,
    pub scores: Vec<EvalScore>,
    pub decode: DecodeStamp,
    pub truncated_outputs: u64,
    pub decoder: Option<String>,
    pub backbone: Option<String>,
    pub acdc_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeStamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<Vec<String>>,
}

/// A stage's info, by stage.
#[derive(Debug, Clone, PartialEq)]
pub enum StageInfo {
    Data(DataInfo),
    Targets(Vec<TargetSource>),
    Train(TrainInfo),
    Eval(EvalInfo),
    Adhoc(AdhocInfo),
}

impl StageInfo {
    /// The info as the stored JSON object (the targets stage's: an array).
    pub fn to_json(&self) -> serde_json::Value {
        let v = match self {
            StageInfo::Data(i) => serde_json::to_value(i),
            StageInfo::Targets(i) => serde_json::to_value(i),
            StageInfo::Train(i) => serde_json::to_value(i),
            StageInfo::Eval(i) => serde_json::to_value(i),
            StageInfo::Adhoc(i) => serde_json::to_value(i),
        };
        v.expect("stage records are plain data")
    }

    /// Read a stored info as `stage`'s; `None` where it is not one (a failure that recorded
    /// only its reason, or a stage this build does not know).
    pub fn from_json(stage: &StageName, v: &serde_json::Value) -> Option<StageInfo> {
        let v = v.clone();
        match stage {
            StageName::Data => serde_json::from_value(v).ok().map(StageInfo::Data),
            StageName::Targets => serde_json::from_value(v).ok().map(StageInfo::Targets),
            StageName::Train => serde_json::from_value(v).ok().map(StageInfo::Train),
            StageName::Eval => serde_json::from_value(v).ok().map(StageInfo::Eval),
            StageName::Adhoc(_) => serde_json::from_value(v).ok().map(StageInfo::Adhoc),
            StageName::Other(_) => None,
        }
    }
}

/// The stored JSON of a stage: its info (if any), and the reason under `error` when it failed.
pub(super) fn info_json(info: Option<&StageInfo>, error: Option<&str>) -> String {
    let mut v = info.map_or_else(|| serde_json::json!({}), StageInfo::to_json);
    if let Some(e) = error {
        match v.as_object_mut() {
            Some(o) => {
                o.insert("error".into(), e.into());
            }
            // The targets stage's array has no room for a reason: the reason alone.
            None => v = serde_json::json!({ "error": e }),
        }
    }
    v.to_string()
}

/// One stage of a run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StageRecord {
    pub stage: StageName,
    pub status: StageStatus,
    /// The stage's info, read as its type; `None` when there is none (a stage that has only
    /// started, or failed before it had anything to say).
    pub info: Option<StageInfo>,
    /// Why it failed.
    pub error: Option<String>,
    /// The stored JSON as read (what `acdc show --json` prints).
    pub raw: serde_json::Value,
}

impl StageRecord {
    /// A stored row: stage name, status, info text (absent or unparsable text reads as none).
    pub fn from_row(stage: &str, status: &str, info: Option<&str>) -> StageRecord {
        let stage = StageName::parse(stage);
        let raw: serde_json::Value = info
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or(serde_json::Value::Null);
        let error = raw
            .get("error")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string);
        let info = if raw.is_null() {
            None
        } else {
            StageInfo::from_json(&stage, &raw)
        };
        StageRecord {
            stage,
            status: StageStatus::parse(status),
            info,
            error,
            raw,
        }
    }

    pub fn data(&self) -> Option<&DataInfo> {
        match &self.info {
            Some(StageInfo::Data(i)) => Some(i),
            _ => None,
        }
    }

    pub fn targets(&self) -> Option<&[TargetSource]> {
        match &self.info {
            Some(StageInfo::Targets(i)) => Some(i),
            _ => None,
        }
    }

    pub fn train(&self) -> Option<&TrainInfo> {
        match &self.info {
            Some(StageInfo::Train(i)) => Some(i),
            _ => None,
        }
    }

    pub fn eval(&self) -> Option<&EvalInfo> {
        match &self.info {
            Some(StageInfo::Eval(i)) => Some(i),
            _ => None,
        }
    }

    pub fn adhoc(&self) -> Option<&AdhocInfo> {
        match &self.info {
            Some(StageInfo::Adhoc(i)) => Some(i),
            _ => None,
        }
    }
}

impl super::Store {
    /// Status of a run's stage, if recorded.
    pub fn stage_status(
        &self,
        run_id: &str,
        stage: &StageName,
    ) -> Result<Option<StageStatus>, StoreError> {
        let status: Option<String> = self
            .conn
            .query_row(
                "SELECT status FROM stages WHERE run_id = ?1 AND stage = ?2",
                params![run_id, stage.key()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        Ok(status.as_deref().map(StageStatus::parse))
    }

    pub fn stage_start(&self, run_id: &str, stage: &StageName) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO stages (run_id, stage, status, started_at) VALUES (?1, ?2, 'running', ?3)
                 ON CONFLICT(run_id, stage) DO UPDATE SET status = 'running', started_at = excluded.started_at, finished_at = NULL",
                params![run_id, stage.key(), now_iso()],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Replace a stage's info while it runs (what a later attempt must know if this one dies).
    pub fn stage_set_info(
        &self,
        run_id: &str,
        stage: &StageName,
        info: &StageInfo,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE stages SET info = ?3 WHERE run_id = ?1 AND stage = ?2",
                params![run_id, stage.key(), info_json(Some(info), None)],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// A stage completed, with what it records.
    pub fn stage_done(
        &self,
        run_id: &str,
        stage: &StageName,
        info: &StageInfo,
    ) -> Result<(), StoreError> {
        self.stage_finish(run_id, stage, StageStatus::Done, Some(info), None)
    }

    /// A stage failed for `error`, with what it had recorded up to then (if anything).
    pub fn stage_failed(
        &self,
        run_id: &str,
        stage: &StageName,
        info: Option<&StageInfo>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.stage_finish(run_id, stage, StageStatus::Failed, info, Some(error))
    }

    fn stage_finish(
        &self,
        run_id: &str,
        stage: &StageName,
        status: StageStatus,
        info: Option<&StageInfo>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE stages SET status = ?3, finished_at = ?4, info = ?5 WHERE run_id = ?1 AND stage = ?2",
                params![run_id, stage.key(), status.as_str(), now_iso(), info_json(info, error)],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// All stage records of a run, in the order they started.
    pub fn stages(&self, run_id: &str) -> Result<Vec<StageRecord>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT stage, status, info FROM stages WHERE run_id = ?1 ORDER BY started_at, stage")
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map(params![run_id], |r| {
                let (stage, status, info): (String, String, Option<String>) =
                    (r.get(0)?, r.get(1)?, r.get(2)?);
                Ok(StageRecord::from_row(&stage, &status, info.as_deref()))
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// One stage's record, if the run has it.
    pub fn stage(
        &self,
        run_id: &str,
        stage: &StageName,
    ) -> Result<Option<StageRecord>, StoreError> {
        Ok(self.stages(run_id)?.into_iter().find(|r| &r.stage == stage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [
            "data",
            "targets",
            "train",
            "eval",
            "eval:clotho-held-out",
            "later",
        ] {
            assert_eq!(StageName::parse(s).key(), s);
        }
        assert_eq!(
            StageName::parse("eval:x"),
            StageName::Adhoc("x".to_string())
        );
        assert_eq!(StageStatus::parse("done"), StageStatus::Done);
        assert_eq!(StageStatus::parse("paused"), StageStatus::Failed);
    }

    #[test]
    fn a_failure_keeps_what_the_stage_had_recorded() {
        let data = StageInfo::Data(DataInfo {
            clips: 3,
            unreadable: 1,
            first_unreadable: vec!["a.wav: no such file".into()],
            policy: "error".into(),
            excluded: vec![],
        });
        let text = info_json(Some(&data), Some("1 audio file(s) missing"));
        let r = StageRecord::from_row("data", "failed", Some(&text));
        assert_eq!(r.info, Some(data));
        assert_eq!(r.error.as_deref(), Some("1 audio file(s) missing"));
        assert_eq!(r.status, StageStatus::Failed);

        // A targets failure has only its reason; the array shape is not forced onto it.
        let text = info_json(Some(&StageInfo::Targets(vec![])), Some("backbone"));
        let r = StageRecord::from_row("targets", "failed", Some(&text));
        assert_eq!((r.info, r.error.as_deref()), (None, Some("backbone")));
        let r = StageRecord::from_row("train", "running", None);
        assert_eq!((r.info, r.error), (None, None));
    }
}
