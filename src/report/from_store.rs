//! Gathering an experiment's report data from the store (the only input a report has).

use std::collections::BTreeMap;

use super::data::{EvalFacts, ProbeExample, ReportData, ReportRow, RunResult};
use crate::spec::probes::PROBE_KINDS;
use crate::store::stages::{EvalInfo, StageName, StageRecord};
use crate::store::{Store, StoreError};

/// Order of metrics within a task.
const METRIC_ORDER: &[&str] = &[
    "bleu_1",
    "bleu_2",
    "bleu_3",
    "bleu_4",
    "rouge_l",
    "cider_d",
    "meteor",
    "spice",
    "spider",
    "token_f1",
    "exact_match",
    "judge_score",
    "judge_success_rate",
    "judge_score_avg",
    "judge_score_weighted",
    "token_f1_avg",
    "token_f1_weighted",
    "exact_match_avg",
    "exact_match_weighted",
];

fn metric_rank(m: &str) -> (String, usize, String) {
    let (task, metric) = m.rsplit_once('/').unwrap_or(("", m));
    (
        task.to_string(),
        METRIC_ORDER
            .iter()
            .position(|x| *x == metric)
            .unwrap_or(usize::MAX),
        metric.to_string(),
    )
}

fn show(v: &serde_json::Value) -> String {
    crate::spec::run_id::display_value(v)
}

/// The report data of `experiment`, from the store alone.
pub fn gather(store: &Store, experiment: &str) -> Result<ReportData, StoreError> {
    let crate::store::runs::ExperimentRecord {
        description,
        spec_path,
        varying,
    } = store.experiment(experiment)?;
    let compare = store.experiment_compare(experiment)?;
    let ers = store.experiment_runs(experiment)?;
    let mut rows: Vec<ReportRow> = Vec::new();
    let mut metrics = std::collections::BTreeSet::new();
    for er in ers {
        let run = store.run(&er.run_id)?;
        let cfg: crate::spec::RunConfig = serde_json::from_str(&run.config).unwrap_or_default();
        let flat = crate::spec::run_id::flatten(&cfg);
        let evals = store.evals(&er.run_id)?;
        let m: BTreeMap<String, f64> = evals
            .iter()
            .map(|e| (format!("{}/{}", e.task, e.metric), e.value))
            .collect();
        let mut items: BTreeMap<String, i64> = BTreeMap::new();
        for e in &evals {
            let n = items.entry(e.task.clone()).or_default();
            *n = (*n).max(e.n);
        }
        let stages = store.stages(&er.run_id)?;
        let skipped_audio = stages
            .iter()
            .find_map(StageRecord::data)
            .filter(|d| d.policy == "skip")
            .map_or(0, |d| d.unreadable as u64);
        let mut eval = eval_facts(stages.iter().find_map(StageRecord::eval), &evals);
        eval.adhoc_sets = adhoc_sets(&stages);
        let mut item_scores: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
        for s in store.item_scores(&er.run_id)? {
            item_scores
                .entry(format!("{}/{}", s.task, s.metric))
                .or_default()
                .insert(s.item_id, s.value);
        }
        metrics.extend(m.keys().cloned());
        let result = RunResult {
            run_id: er.run_id.clone(),
            seed: er.seed as u64,
            status: run.status.as_str().to_string(),
            metrics: m,
            loss_curve: store.step_series(&er.run_id, "loss")?,
            val_curve: store.step_series(&er.run_id, "val_loss")?,
            error: run.error.clone(),
            items,
            skipped_audio,
            eval,
            item_scores,
        };
        match rows.iter_mut().find(|r| r.name == er.name) {
            Some(row) => row.runs.push(result),
            None => rows.push(ReportRow {
                name: er.name.clone(),
                label: er.label.clone(),
                params: varying
                    .iter()
                    .map(|k| (k.clone(), flat.get(k).map(show).unwrap_or_default()))
                    .collect(),
                runs: vec![result],
                paper: serde_json::from_str(&er.paper).unwrap_or_default(),
            }),
        }
    }
    let (mut probe_metrics, mut metric_order): (Vec<String>, Vec<String>) =
        metrics.into_iter().partition(|m| m.contains("/probes/"));
    metric_order.sort_by_key(|m| metric_rank(m));
    probe_metrics.sort_by_key(|m| probe_rank(m));
    let probe_examples = if probe_metrics.is_empty() {
        Vec::new()
    } else {
        probe_examples(store, &rows)?
    };
    Ok(ReportData {
        experiment: experiment.to_string(),
        description,
        varying,
        rows,
        metric_order,
        probe_metrics,
        probe_examples,
        spec_path,
        compare,
    })
}

/// What the eval stage's info and scores say beside the numbers.
fn eval_facts(info: Option<&EvalInfo>, evals: &[crate::store::records::EvalScore]) -> EvalFacts {
    let info = info.cloned().unwrap_or_default();
    let judge = info.judge.map(|j| {
        let hash = j.template_hash;
        format!(
            "`{}` with template `{}` (sha256 `{}`)",
            j.engine,
            j.template,
            &hash[..hash.len().min(12)]
        )
    });
    EvalFacts {
        judge,
        unavailable: info.unavailable.unwrap_or_default(),
        probes_trained: info.probes_trained.unwrap_or_default(),
        truncated_outputs: info.truncated_outputs.unwrap_or(0),
        probe_items: evals
            .iter()
            .filter(|e| e.task.ends_with("/probes"))
            .map(|e| (format!("{}/{}", e.task, e.metric), e.n))
            .collect(),
        adhoc_sets: BTreeMap::new(),
    }
}

/// The sets `acdc eval` scored for a run (its stages `eval:SET`): set -> the files read, with
/// their items.
fn adhoc_sets(stages: &[StageRecord]) -> BTreeMap<String, String> {
    stages
        .iter()
        .filter_map(|r| {
            let StageName::Adhoc(set) = &r.stage else {
                return None;
            };
            let info = r.adhoc().cloned().unwrap_or_default();
            let files: Vec<String> = ["aqa", "aac"]
                .iter()
                .filter_map(|k| {
                    let s = info.sources.get(*k)?;
                    let name = std::path::Path::new(&s.file)
                        .file_name()
                        .map_or(s.file.as_str().into(), |n| n.to_string_lossy());
                    Some(format!("`{name}` ({} items)", s.items))
                })
                .collect();
            Some((set.clone(), files.join(" and ")))
        })
        .collect()
}

/// Probe metrics in probe order, then the recall and the mean.
fn probe_rank(m: &str) -> (String, usize) {
    let (set, metric) = m.rsplit_once('/').unwrap_or(("", m));
    let order = PROBE_KINDS
        .iter()
        .copied()
        .chain(["captioning_recall", "mean"])
        .position(|k| k == metric)
        .unwrap_or(usize::MAX);
    (set.to_string(), order)
}

/// Rows whose probe answers are shown, and answers per kind and row.
const EXAMPLE_ROWS: usize = 4;

/// One answer per probe kind from the first done run of each of the first rows.
fn probe_examples(store: &Store, rows: &[ReportRow]) -> Result<Vec<ProbeExample>, StoreError> {
    let mut out = Vec::new();
    for row in rows.iter().take(EXAMPLE_ROWS) {
        let Some(run) = row.runs.iter().find(|r| r.is_done()) else {
            continue;
        };
        let preds = store.predictions(&run.run_id, None)?;
        for kind in PROBE_KINDS {
            if let Some(p) = preds
                .iter()
                .find(|p| p.task.ends_with("/probes") && p.item_id.ends_with(&format!("-{kind}")))
            {
                out.push(ProbeExample {
                    row: row.name.clone(),
                    kind: kind.to_string(),
                    question: p.prompt.clone(),
                    output: p.output.clone(),
                    notes: p.references.clone(),
                });
            }
        }
    }
    Ok(out)
}
