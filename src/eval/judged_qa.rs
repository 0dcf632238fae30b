//! Judged QA as a run's evaluation uses it (and `acdc judge`): the judge a configuration names,
//! judging an audio-QA set's predictions into scores, and the averages over the QA sets
//! (AudioBench reports the three sets' unweighted mean; the sample-weighted mean is given beside
//! it, each labelled by its metric name).

use std::path::Path;
use std::time::Duration;

use burn::tensor::Device;

use super::judge::{judge, JudgeEngine, JudgeError, JudgeItem, JudgeReport, JudgeTemplate};
use super::judge_local::LocalJudge;
use super::judge_openai::{Api, OpenAiConfig, OpenAiJudge};
use crate::spec::schema::EvalConfig;
use crate::store::records::{EvalScore, Prediction};
use crate::store::Store;

/// A judge ready to rate answers: its engine and prompt template.
pub struct Judge {
    pub engine: Box<dyn JudgeEngine>,
    pub template: JudgeTemplate,
}

impl Judge {
    /// The judge `eval.judge` names (`None` for `none`). A `local` model is loaded on `device`.
    pub fn from_config(
        e: &EvalConfig,
        home: &Path,
        device: &Device,
    ) -> Result<Option<Judge>, String> {
        if e.judge == "none" {
            return Ok(None);
        }
        let template = if e.judge_template.is_empty() {
            JudgeTemplate::builtin()
        } else {
            JudgeTemplate::from_file(Path::new(&e.judge_template)).map_err(|e| e.to_string())?
        };
        let engine: Box<dyn JudgeEngine> = match e.judge.split_once(':') {
            Some(("openai", model)) => {
                let mut c = OpenAiConfig::new(&e.judge_url, model.trim());
                c.api = match e.judge_api.as_str() {
                    "chat" => Api::Chat,
                    "completions" => Api::Completions,
                    other => {
                        return Err(format!("judge API `{other}`: expected chat or completions"))
                    }
                };
                c.api_key_env = e.judge_api_key_env.clone();
                c.concurrency = e.judge_concurrency.max(1);
                if !(e.judge_timeout_s > 0.0 && e.judge_timeout_s.is_finite()) {
                    return Err("the judge timeout must be a positive number of seconds".into());
                }
                c.timeout = Duration::from_secs_f64(e.judge_timeout_s);
                c.retries = e.judge_retries;
                if !(e.judge_backoff_s >= 0.0 && e.judge_backoff_s.is_finite()) {
                    return Err("the judge backoff must be a finite number of seconds >= 0".into());
                }
                c.backoff = Duration::from_secs_f64(e.judge_backoff_s);
                Box::new(OpenAiJudge::new(
                    c,
                    e.judge_max_tokens,
                    e.judge_temperature,
                )?)
            }
            Some(("local", model)) => Box::new(
                LocalJudge::load(model.trim(), home, device.clone(), e.judge_max_tokens)
                    .map_err(|err| format!("judge model {}: {err}", model.trim()))?,
            ),
            _ => {
                return Err(format!(
                    "`{}` is not a judge; expected none, openai:<served model> or local:<model>",
                    e.judge
                ))
            }
        };
        Ok(Some(Judge { engine, template }))
    }

    /// Judge items, with the store's cache.
    pub fn judge(
        &self,
        store: &mut Store,
        items: &[JudgeItem],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<JudgeReport, JudgeError> {
        judge(store, self.engine.as_ref(), &self.template, items, progress)
    }

    /// Judge an audio-QA set's predictions (question = the prompt, reference = the answer):
    /// `judge_score` (mean × 20) and `judge_success_rate` of `task`.
    pub fn score_predictions(
        &self,
        store: &mut Store,
        task: &str,
        preds: &[Prediction],
    ) -> Result<(Vec<EvalScore>, JudgeReport), JudgeError> {
        let items: Vec<JudgeItem> = preds
            .iter()
            .map(|p| JudgeItem {
                id: p.item_id.clone(),
                question: p.prompt.clone(),
                reference: p.references.join(" / "),
                prediction: p.output.clone(),
            })
            .collect();
        let r = self.judge(store, &items, &mut |_, _| {})?;
        let n = r.n as i64;
        let score = |metric: &str, value: f64| EvalScore {
            task: task.to_string(),
            metric: metric.into(),
            value,
            n,
        };
        Ok((
            vec![
                score("judge_score", r.score),
                score("judge_success_rate", r.success_rate),
            ],
            r,
        ))
    }
}

/// Averages over the audio-QA sets (tasks ending in `/aqa`) of each QA metric present in at
/// least two sets:
/// task `aqa`, metrics `<metric>_avg` (unweighted mean of the sets, as AudioBench averages) and
/// `<metric>_weighted` (weighted by the sets' item counts).
pub fn aqa_averages(scores: &[EvalScore]) -> Vec<EvalScore> {
    let mut out = Vec::new();
    for metric in ["judge_score", "token_f1", "exact_match"] {
        // A set that scored no items has no mean to contribute.
        let sets: Vec<&EvalScore> = scores
            .iter()
            .filter(|s| s.task.ends_with("/aqa") && s.metric == metric && s.n > 0)
            .collect();
        // One set is its own average: nothing to add.
        if sets.len() < 2 {
            continue;
        }
        let n: i64 = sets.iter().map(|s| s.n).sum();
        let avg = sets.iter().map(|s| s.value).sum::<f64>() / sets.len() as f64;
        let weighted = if n > 0 {
            sets.iter().map(|s| s.value * s.n as f64).sum::<f64>() / n as f64
        } else {
            avg
        };
        for (suffix, value) in [("avg", avg), ("weighted", weighted)] {
            out.push(EvalScore {
                task: "aqa".into(),
                metric: format!("{metric}_{suffix}"),
                value,
                n,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(task: &str, metric: &str, value: f64, n: i64) -> EvalScore {
        EvalScore {
            task: task.into(),
            metric: metric.into(),
            value,
            n,
        }
    }

    #[test]
    fn averages_are_unweighted_and_weighted() {
        let scores = vec![
            s("clotho_aqa_test/aqa", "judge_score", 60.0, 300),
            s("audiocaps_qa_test/aqa", "judge_score", 40.0, 100),
            s("clotho_aqa_test/aqa", "token_f1", 0.5, 300),
            s("audiocaps_test/aac", "cider_d", 0.7, 975),
        ];
        let a = aqa_averages(&scores);
        let get = |m: &str| a.iter().find(|x| x.metric == m).unwrap().value;
        assert_eq!(get("judge_score_avg"), 50.0);
        assert_eq!(get("judge_score_weighted"), 55.0);
        // token_f1 is in one set only: no average.
        assert!(a.iter().all(|x| !x.metric.starts_with("token_f1")));
        assert!(a
            .iter()
            .all(|x| x.task == "aqa" && !x.metric.starts_with("cider")));
        assert_eq!(
            a.iter().find(|x| x.metric == "judge_score_avg").unwrap().n,
            400
        );
    }

    #[test]
    fn config_names_the_judge() {
        let dir = tempfile::tempdir().unwrap();
        let dev = Device::flex();
        let mut e = EvalConfig::default();
        assert!(Judge::from_config(&e, dir.path(), &dev).unwrap().is_none());
        e.judge = "openai:judge-70b".into();
        let j = Judge::from_config(&e, dir.path(), &dev).unwrap().unwrap();
        assert_eq!(j.engine.id(), "openai:judge-70b|chat|t=0|max=512");
        assert_eq!(j.template.origin, "builtin:rating-0-5");
        e.judge_template = dir.path().join("nope.txt").display().to_string();
        let err = Judge::from_config(&e, dir.path(), &dev).err().unwrap();
        assert!(err.contains("nope.txt"), "{err}");
    }
}
