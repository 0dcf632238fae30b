//! Scoring a done run on a new set without retraining (`acdc eval RUN --aqa FILE.jsonl
//! [--aac FILE.json] --name SET`): the run's model and decode settings, the eval stage's scoring
//! (token-F1 / exact match, captioning metrics, METEOR / SPICE jars and the judge the run's
//! configuration names), stored under the run's tasks `SET/aqa` and `SET/aac` with their
//! predictions (see `store::adhoc`: they survive the run's own re-evaluation; a new `acdc eval`
//! of the set replaces them). Every input is checked before the model loads; nothing is recorded
//! unless the whole set was scored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::trained::{done_run, TrainedRun, TrainedRunError};
use crate::data::adhoc::{read_aac, read_aqa};
use crate::data::DataError;
use crate::eval::external::ExternalScorers;
use crate::eval::run::{evaluate, EvalSet, RecordedOutputs};
use crate::spec::RunConfig;
use crate::store::adhoc::task_set;
use crate::store::records::EvalScore;
use crate::store::stages::{AdhocInfo, DecodeStamp, SetFile};
use crate::store::{Store, StoreError};

/// The set to score.
#[derive(Debug, Clone)]
pub struct NewSet {
    /// Task prefix: scores go to `NAME/aqa` and `NAME/aac`.
    pub name: String,
    pub aqa: Option<PathBuf>,
    pub aac: Option<PathBuf>,
}

/// What was recorded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SetScores {
    pub run_id: String,
    pub set: String,
    pub scores: Vec<EvalScore>,
    /// Outputs that hit `decode.max_new_tokens` before an end of turn.
    pub truncated_outputs: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ScoreSetError {
    #[error("--name `{name}`: {message}")]
    Name { name: String, message: String },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Run(#[from] TrainedRunError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("run `{run}`: {message} (nothing was recorded)")]
    Scoring { run: String, message: String },
}

/// Names of the run's own evaluation sets: those its configuration evaluates (as the data stage
/// names them), and every set of a task it has recorded that `acdc eval` did not make.
fn own_sets(store: &Store, run_id: &str, cfg: &RunConfig) -> Result<Vec<String>, StoreError> {
    let mut out: Vec<String> = cfg
        .data
        .eval_aac
        .iter()
        .chain(&cfg.data.eval_aqa)
        .map(|s| format!("{}_{}", s.dataset, s.split))
        .collect();
    if cfg.eval.probes {
        out.push("synth_test".into());
    }
    let adhoc = store.adhoc_sets(run_id)?;
    let tasks = store
        .evals(run_id)?
        .into_iter()
        .map(|e| e.task)
        .chain(store.predictions(run_id, None)?.into_iter().map(|p| p.task));
    for t in tasks {
        let set = task_set(&t).to_string();
        if !adhoc.contains(&set) && !out.contains(&set) {
            out.push(set);
        }
    }
    Ok(out)
}

fn check_name(name: &str) -> Result<(), ScoreSetError> {
    let bad = |message: &str| ScoreSetError::Name {
        name: name.to_string(),
        message: message.to_string(),
    };
    if name.is_empty() {
        return Err(bad(
            "empty; give the set a name (its scores go to `NAME/aqa`)",
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(bad(
            "use letters, digits, `_`, `-` and `.` only (it becomes the task prefix `NAME/aqa`)",
        ));
    }
    if name == "aqa" {
        return Err(bad(
            "`aqa` is the task of the run's QA averages; choose another name",
        ));
    }
    Ok(())
}

/// Where a set's file is and what it held (recorded as provenance): its absolute path, sha256
/// and items.
fn provenance(path: &Path, items: usize) -> Result<SetFile, DataError> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).map_err(|e| DataError::Io {
        path: path.into(),
        message: e.to_string(),
    })?;
    let file = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    Ok(SetFile {
        file: file.display().to_string(),
        sha256: hex::encode(Sha256::digest(&bytes)),
        items,
    })
}

/// A new set's inputs, read and checked: its evaluation sets, where each audio key lives, and
/// the files' provenance.
struct Inputs {
    sets: Vec<EvalSet>,
    places: BTreeMap<String, String>,
    sources: BTreeMap<String, SetFile>,
}

fn read_inputs(set: &NewSet) -> Result<Inputs, ScoreSetError> {
    let mut sets = Vec::new();
    let mut places: BTreeMap<String, String> = BTreeMap::new();
    let mut sources = BTreeMap::new();
    if let Some(p) = &set.aqa {
        let items = read_aqa(p)?;
        for it in &items {
            places
                .entry(it.item.audio.display().to_string())
                .or_insert_with(|| it.at.clone());
        }
        sources.insert("aqa".into(), provenance(p, items.len())?);
        sets.push(EvalSet::Aqa {
            name: set.name.clone(),
            items: items.into_iter().map(|l| l.item).collect(),
        });
    }
    if let Some(p) = &set.aac {
        let items = read_aac(p)?;
        for it in &items {
            places
                .entry(it.item.audio.display().to_string())
                .or_insert_with(|| it.at.clone());
        }
        sources.insert("aac".into(), provenance(p, items.len())?);
        sets.push(EvalSet::Aac {
            name: set.name.clone(),
            items: items.into_iter().map(|l| l.item).collect(),
        });
    }

    Ok(Inputs {
        sets,
        places,
        sources,
    })
}

/// Score run `run` (id or unique prefix) on `set` and record the scores.
pub fn score_set(store: &mut Store, run: &str, set: &NewSet) -> Result<SetScores, ScoreSetError> {
    check_name(&set.name)?;
    if set.aqa.is_none() && set.aac.is_none() {
        return Err(ScoreSetError::Usage(
            "nothing to score: give --aqa FILE.jsonl and/or --aac FILE.json".into(),
        ));
    }
    let (id, cfg) = done_run(store, run)?;
    if own_sets(store, &id, &cfg)?.contains(&set.name) {
        return Err(ScoreSetError::Name {
            name: set.name.clone(),
            message: format!("run `{id}` has an evaluation set of that name in its own configuration or scores; choose another name"),
        });
    }

    // Every input, checked before anything loads.
    let Inputs {
        sets,
        places,
        sources,
    } = read_inputs(set)?;

    // Its models were built when it ran; a store moved to a fresh $ACDC_HOME builds them again.
    super::stages::provision_builtins(&cfg, &store.home(), &id).map_err(|e| {
        ScoreSetError::Scoring {
            run: id.clone(),
            message: e.to_string(),
        }
    })?;
    let trained = TrainedRun::load(store, &id, cfg)?;
    let scoring = |message: String| ScoreSetError::Scoring {
        run: id.clone(),
        message,
    };
    let clips: Vec<(String, PathBuf)> = places
        .keys()
        .map(|k| (k.clone(), PathBuf::from(k)))
        .collect();
    let audio = trained.audio(&clips, &|k| places.get(k).cloned())?;
    let judge_needed = sets.iter().any(|s| matches!(s, EvalSet::Aqa { .. }));
    let external = ExternalScorers::from_config(
        &trained.cfg.eval,
        trained.home(),
        &trained.device,
        judge_needed,
    )
    .map_err(scoring)?;
    let total: usize = sets.iter().map(EvalSet::len).sum();
    let pb = super::stages::bar(total as u64, "evaluating");
    pb.set_prefix(id.clone());
    let mut scores = Vec::new();
    let mut items = Vec::new();
    let mut predictions = Vec::new();
    let mut truncated = 0;
    for s in &sets {
        let answerer = crate::eval::run::Answerer::Audio {
            model: &trained.model,
            audio: audio.input(),
        };
        let ev = evaluate(
            answerer,
            &trained.backbone,
            &trained.cfg,
            s,
            &RecordedOutputs::new(),
            &trained.device,
            &mut |n| pb.inc(n as u64),
        )
        .map_err(|e| scoring(e.to_string()))?;
        let (more, more_items) = external
            .score(store, s, &ev.predictions, &ev.scores)
            .map_err(scoring)?;
        truncated += ev.truncated;
        scores.extend(ev.scores);
        scores.extend(more);
        items.extend(ev.items);
        items.extend(more_items);
        predictions.extend(ev.predictions);
    }
    pb.finish_and_clear();

    let info = AdhocInfo {
        kind: "acdc eval".into(),
        sources,
        scores: scores.clone(),
        decode: DecodeStamp {
            beams: trained.cfg.decode.beams,
            max_new_tokens: trained.cfg.decode.max_new_tokens,
        },
        truncated_outputs: truncated as u64,
        decoder: super::stages::binary_fingerprint().map(str::to_string),
        backbone: Some(trained.backbone.fingerprint.clone()),
        acdc_version: env!("CARGO_PKG_VERSION").into(),
        judge: external.info(),
        unavailable: set.aac.is_some().then(|| {
            external
                .unavailable()
                .into_iter()
                .map(String::from)
                .collect()
        }),
    };
    store.replace_adhoc_set(&id, &set.name, &info, &scores, &items, &predictions)?;
    Ok(SetScores {
        run_id: id,
        set: set.name.clone(),
        scores,
        truncated_outputs: truncated,
    })
}
