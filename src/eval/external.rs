//! Scores from scorers outside acdc's own code, run on a set's predictions after they are stored
//! (so a scorer that fails loses no decoding): METEOR and SPICE/SPIDEr through the official jars
//! for captioning sets, and the LLM judge for audio-QA sets.

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use super::caption_metrics::{CaptionItem as ScoredCaption, CaptionTokenizer};
use super::judged_qa::Judge;
use super::run::{EvalError, EvalSet};
use crate::spec::schema::EvalConfig;
use crate::store::records::{EvalScore, ItemScore, Prediction};
use crate::store::stages::JudgeStamp;
use crate::store::Store;

/// The external scorers a run's `eval` settings name.
pub struct ExternalScorers {
    pub meteor: Option<PathBuf>,
    pub spice: Option<PathBuf>,
    pub judge: Option<Judge>,
}

fn as_captions(preds: &[Prediction]) -> Vec<ScoredCaption> {
    preds
        .iter()
        .map(|p| ScoredCaption {
            id: p.item_id.clone(),
            candidate: p.output.clone(),
            references: p.references.clone(),
        })
        .collect()
}

fn task_error(task: &str) -> impl Fn(String) -> EvalError + '_ {
    move |message| EvalError::Task {
        task: task.to_string(),
        message,
    }
}

/// Corpus METEOR of a captioning set's predictions (PTB tokens, the official jar).
pub fn meteor_score(jar: &Path, task: &str, preds: &[Prediction]) -> Result<EvalScore, EvalError> {
    let (corpus, _) =
        super::meteor::meteor_captions(jar, &as_captions(preds), CaptionTokenizer::Ptb)
            .map_err(|e| task_error(task)(e.to_string()))?;
    Ok(EvalScore {
        task: task.to_string(),
        metric: "meteor".into(),
        value: corpus,
        n: preds.len() as i64,
    })
}

/// Corpus SPICE and SPIDEr (with the set's corpus CIDEr-D) of a captioning set's predictions.
pub fn spice_scores(
    jar: &Path,
    task: &str,
    preds: &[Prediction],
    cider_d: f64,
) -> Result<Vec<EvalScore>, EvalError> {
    let (spice, _) = super::spice::spice_captions(jar, &as_captions(preds), CaptionTokenizer::Ptb)
        .map_err(|e| task_error(task)(e.to_string()))?;
    let score = |metric: &str, value: f64| EvalScore {
        task: task.to_string(),
        metric: metric.into(),
        value,
        n: preds.len() as i64,
    };
    Ok(vec![
        score("spice", spice),
        score("spider", super::spice::spider(cider_d, spice)),
    ])
}

impl ExternalScorers {
    /// The jars `eval.meteor_jar` / `eval.spice_jar` (or their environment variables) name, and the
    /// judge `eval.judge` names when `judge_needed` (a local judge model loads on `device`).
    pub fn from_config(
        e: &EvalConfig,
        home: &Path,
        device: &Device,
        judge_needed: bool,
    ) -> Result<ExternalScorers, String> {
        let judge = if judge_needed {
            Judge::from_config(e, home, device).map_err(|err| format!("eval.judge: {err}"))?
        } else {
            None
        };
        Ok(ExternalScorers {
            meteor: super::meteor::configured_jar(&e.meteor_jar),
            spice: super::spice::configured_jar(&e.spice_jar),
            judge,
        })
    }

    /// The external scores of `set`, whose own scores so far are in `scores` (CIDEr-D for SPIDEr),
    /// and the item scores behind those that are means over items (the judge's rating of each
    /// answer × 20, under `judge_score`; METEOR and SPICE are corpus scores and have none here).
    pub fn score(
        &self,
        store: &mut Store,
        set: &EvalSet,
        preds: &[Prediction],
        scores: &[EvalScore],
    ) -> Result<(Vec<EvalScore>, Vec<ItemScore>), String> {
        let mut out = Vec::new();
        let mut items = Vec::new();
        match set {
            EvalSet::Aac { name, .. } => {
                let task = format!("{name}/aac");
                if let Some(jar) = &self.meteor {
                    out.push(meteor_score(jar, &task, preds).map_err(|e| e.to_string())?);
                }
                if let Some(jar) = &self.spice {
                    let cider = scores
                        .iter()
                        .find(|s| s.task == task && s.metric == "cider_d")
                        .map(|s| s.value)
                        .unwrap_or(f64::NAN);
                    out.extend(spice_scores(jar, &task, preds, cider).map_err(|e| e.to_string())?);
                }
            }
            EvalSet::Aqa { name, .. } => {
                if let Some(j) = &self.judge {
                    // Every judgment given before a failure is kept in the judge cache.
                    let task = format!("{name}/aqa");
                    let (s, report) = j
                        .score_predictions(store, &task, preds)
                        .map_err(|e| format!("{task}: {e}"))?;
                    out.extend(s);
                    items.extend(report.items.iter().map(|it| ItemScore {
                        task: task.clone(),
                        metric: "judge_score".into(),
                        item_id: it.id.clone(),
                        value: it.rating * 20.0,
                    }));
                }
            }
            EvalSet::Probes { .. } => {}
        }
        Ok((out, items))
    }

    /// Captioning metrics this run leaves out because no jar is configured (the stage info
    /// records them, so reports can say so rather than show nothing).
    pub fn unavailable(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.meteor.is_none() {
            out.push("meteor");
        }
        if self.spice.is_none() {
            out.extend(["spice", "spider"]);
        }
        out
    }

    /// What the stage info records about the judge (engine and template hash).
    pub fn info(&self) -> Option<JudgeStamp> {
        self.judge.as_ref().map(|j| JudgeStamp {
            engine: j.engine.id(),
            template: j.template.origin.clone(),
            template_hash: j.template.hash.clone(),
        })
    }
}
