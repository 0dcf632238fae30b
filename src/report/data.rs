//! Plain input data for report rendering.
//!
//! The store layer fills a [`ReportData`]; the renderers in this module tree
//! ([`super::markdown`], [`super::plot`], [`super::render`]) only read it and never touch a
//! database. All maps are `BTreeMap`s so that iteration order, and therefore every rendered
//! byte, is deterministic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything needed to render the report of one experiment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReportData {
    /// Experiment name (as passed to `acdc report <experiment>`).
    pub experiment: String,
    /// Free-text description of the experiment (may be empty).
    pub description: String,
    /// Dotted config keys that differ between rows, e.g. `"targets.kind"`, `"llm.mode"`.
    pub varying: Vec<String>,
    /// Table rows, in display order.
    pub rows: Vec<ReportRow>,
    /// Metric keys, e.g. `"synth_test/aac/bleu_4"`; table columns and bar plots follow this order.
    pub metric_order: Vec<String>,
    /// Instruction-probe metric keys (`<set>/probes/<kind>`), in probe order: their own table,
    /// not in `metric_order`.
    #[serde(default)]
    pub probe_metrics: Vec<String>,
    /// A few probe answers of each kind (from each row's first done run), under the probe table.
    #[serde(default)]
    pub probe_examples: Vec<ProbeExample>,
    /// The spec file the experiment was registered from (for hints such as `acdc run SPEC
    /// --reeval`); may be empty.
    #[serde(default)]
    pub spec_path: String,
    /// The pairs of rows (A, B) the spec's `compare` names; `None`: inferred (see
    /// [`ReportData::comparisons`]).
    #[serde(default)]
    pub compare: Option<Vec<(String, String)>>,
}

/// One answer to an instruction probe, as the report shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProbeExample {
    pub row: String,
    pub kind: String,
    pub question: String,
    pub output: String,
    /// e.g. `expected: 3` and `verdict: correct`.
    pub notes: Vec<String>,
}

/// One row of the report: one configuration (label + sweep point), possibly run with several seeds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReportRow {
    /// Display name, label plus sweep point, e.g. `"A2"` or `"T[targets.temperature=0.3]"`.
    pub name: String,
    /// The row's label in the experiment spec.
    pub label: String,
    /// Varying key -> displayed value.
    pub params: BTreeMap<String, String>,
    /// One run per seed (may be a single run).
    pub runs: Vec<RunResult>,
    /// Metric -> value reported in the paper. Keys are either full metric keys as in
    /// [`ReportData::metric_order`] or short names (see [`ReportData::paper_metric_for`]).
    pub paper: BTreeMap<String, f64>,
}

/// One training run (one seed) of a row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunResult {
    /// Store id of the run.
    pub run_id: String,
    /// Seed of the run.
    pub seed: u64,
    /// `pending` | `running` | `done` | `failed`.
    pub status: String,
    /// Metric -> value.
    pub metrics: BTreeMap<String, f64>,
    /// `(step, training loss)` points.
    pub loss_curve: Vec<(u64, f64)>,
    /// `(step, validation loss)` points; may be empty.
    pub val_curve: Vec<(u64, f64)>,
    /// Error message of a failed run.
    pub error: Option<String>,
    /// Items each evaluation task was scored on (`"synth_test/aac"` -> n).
    #[serde(default)]
    pub items: BTreeMap<String, i64>,
    /// Unreadable audio files the run skipped (`data.missing_audio = "skip"`).
    #[serde(default)]
    pub skipped_audio: u64,
    /// What the eval stage recorded beside the scores.
    #[serde(default)]
    pub eval: EvalFacts,
    /// Item scores behind the metrics that are means over items: metric key → item id → score
    /// (empty for runs evaluated before acdc recorded them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub item_scores: BTreeMap<String, BTreeMap<String, f64>>,
}

/// What a run's eval stage recorded beside its scores, for the report's notes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EvalFacts {
    /// The judge of its QA sets: engine, template and the template's hash.
    pub judge: Option<String>,
    /// Captioning metrics it could not compute (no jar configured).
    pub unavailable: Vec<String>,
    /// Probe kinds its training taught (`data.instruct` on the synthetic QA pairs).
    pub probes_trained: Vec<String>,
    /// Probes behind each probe metric (`synth_test/probes/order` -> n).
    pub probe_items: BTreeMap<String, i64>,
    /// Outputs its last evaluation decoded that hit `decode.max_new_tokens` (cut off).
    #[serde(default)]
    pub truncated_outputs: u64,
    /// Sets scored after training by `acdc eval` (set name -> the files it read, with items).
    #[serde(default)]
    pub adhoc_sets: BTreeMap<String, String>,
}

/// Summary of one metric over the done runs of a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricStats {
    /// Mean over the values.
    pub mean: f64,
    /// Sample standard deviation (n − 1); `None` when there is a single value.
    pub std: Option<f64>,
    /// Number of values the statistics are over.
    pub n: usize,
}

impl RunResult {
    /// Whether the run finished successfully (`status == "done"`).
    pub fn is_done(&self) -> bool {
        self.status == "done"
    }

    /// Whether the run failed (`status == "failed"`).
    pub fn is_failed(&self) -> bool {
        self.status == "failed"
    }
}

impl ReportData {
    /// What makes scores of this report cover different items: done runs that skipped
    /// unreadable audio, tasks scored on different numbers of items by different done runs, and
    /// runs whose evaluation outputs were cut off at `decode.max_new_tokens`. Empty when every
    /// done run saw the same items in full.
    pub fn coverage_notes(&self) -> Vec<String> {
        let done = || {
            self.rows
                .iter()
                .flat_map(|r| r.runs.iter().filter(|x| x.is_done()).map(move |x| (r, x)))
        };
        let mut notes = Vec::new();
        for (row, run) in done().filter(|(_, x)| x.skipped_audio > 0) {
            notes.push(format!(
                "row {} (seed {}, `{}`) skipped {} unreadable audio file(s) (`data.missing_audio = \"skip\"`): \
                 its scores cover fewer items than the full sets, so Δ against the paper is not like for like.",
                row.name, run.seed, run.run_id, run.skipped_audio
            ));
        }
        for (row, run) in done().filter(|(_, x)| x.eval.truncated_outputs > 0) {
            notes.push(format!(
                "row {} (seed {}, `{}`): {} evaluation output(s) hit `decode.max_new_tokens` before \
                 an end of turn and were scored cut off.",
                row.name, run.seed, run.run_id, run.eval.truncated_outputs
            ));
        }
        let mut by_task: BTreeMap<&str, BTreeMap<i64, Vec<String>>> = BTreeMap::new();
        for (row, run) in done() {
            for (task, n) in &run.items {
                by_task
                    .entry(task)
                    .or_default()
                    .entry(*n)
                    .or_default()
                    .push(format!("{} (seed {})", row.name, run.seed));
            }
        }
        for (task, counts) in by_task.into_iter().filter(|(_, c)| c.len() > 1) {
            let parts: Vec<String> = counts
                .iter()
                .map(|(n, who)| format!("{n} items: {}", who.join(", ")))
                .collect();
            notes.push(format!(
                "`{task}` was scored on different numbers of items: {}.",
                parts.join("; ")
            ));
        }
        notes
    }

    /// Probes behind each probe kind's score (from the first done run that has it), with the
    /// kind's chance level: `(kind, n, chance)` in report order.
    pub fn probe_counts(&self) -> Vec<(&str, i64, Option<f64>)> {
        use crate::spec::probes::{chance, PROBE_KINDS};
        self.probe_metrics
            .iter()
            .filter_map(|m| {
                let kind = m.rsplit_once("/probes/").map(|(_, k)| k)?;
                if !PROBE_KINDS.contains(&kind) {
                    return None;
                }
                let n = self
                    .rows
                    .iter()
                    .flat_map(|r| r.runs.iter().filter(|x| x.is_done()))
                    .find_map(|r| r.eval.probe_items.get(m))?;
                Some((kind, *n, chance(kind)))
            })
            .collect()
    }

    /// Rows whose done runs trained on probe kinds (`data.instruct` on the synthetic QA pairs),
    /// with those kinds.
    pub fn probes_taught(&self) -> Vec<(&str, Vec<&str>)> {
        self.rows
            .iter()
            .filter_map(|row| {
                let taught: std::collections::BTreeSet<&str> = row
                    .runs
                    .iter()
                    .filter(|x| x.is_done())
                    .flat_map(|x| x.eval.probes_trained.iter().map(String::as_str))
                    .collect();
                (!taught.is_empty()).then(|| (row.name.as_str(), taught.into_iter().collect()))
            })
            .collect()
    }

    /// What the metric columns are, for the metrics present: captioning metrics and those left
    /// out for want of a jar, the lexical QA stand-ins, and the judge's scores with the judges
    /// and templates used.
    pub fn metric_notes(&self) -> Vec<String> {
        let done: Vec<&RunResult> = self
            .rows
            .iter()
            .flat_map(|r| r.runs.iter().filter(|x| x.is_done()))
            .collect();
        let has = |suffix: &str| self.metric_order.iter().any(|m| m.ends_with(suffix));
        let mut notes = Vec::new();
        if self.metric_order.iter().any(|m| m.contains("/aac/")) {
            notes.push(
                "`…/aac/…`: captioning metrics against each clip's reference captions, computed as \
                 pycocoevalcap computes them (PTB tokenization; corpus-level BLEU-1..4, ROUGE-L, \
                 CIDEr-D; METEOR 1.5 and SPICE 1.0 through the official jars; SPIDEr = (CIDEr-D + \
                 SPICE) / 2)."
                    .to_string(),
            );
            let mut missing: Vec<&str> = done
                .iter()
                .flat_map(|r| r.eval.unavailable.iter().map(String::as_str))
                .collect();
            missing.sort_unstable();
            missing.dedup();
            if !missing.is_empty() {
                notes.push(format!(
                    "Not computed: {} — no jar was configured (`eval.meteor_jar` / `eval.spice_jar`, \
                     or `ACDC_METEOR_JAR` / `ACDC_SPICE_JAR`); acdc never approximates them.",
                    missing
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        if has("/aqa/token_f1") || has("/aqa/exact_match") {
            notes.push(
                "`…/aqa/token_f1`, `…/aqa/exact_match`: lexical overlap of the answer with the \
                 reference answer (SQuAD normalisation), computed for every QA set. They stand in \
                 where no judge is configured and are not comparable with the paper's judged \
                 scores."
                    .to_string(),
            );
        }
        if has("/aqa/accuracy") {
            notes.push(
                "`…/aqa/accuracy`: share of answers that agree with the reference by the probes' \
                 verdicts (yes/no, the number, the sound picked, the source named), for QA sets \
                 whose references all have the synthetic world's short forms (\"Yes.\", \
                 \"Three.\", \"The dog comes first.\"); it counts a right answer in other words, \
                 which token-F1 and exact match do not."
                    .to_string(),
            );
        }
        if has("/aqa/judge_score") || has("judge_score_avg") {
            notes.push(
                "`…/aqa/judge_score`: the judge LLM's mean rating (0–5) × 20, AudioBench style; \
                 `judge_success_rate`: share of judge replies that ended with a rating (the rest \
                 count 0); `aqa/judge_score_avg`: unweighted mean over the QA sets; \
                 `aqa/judge_score_weighted`: mean weighted by each set's items."
                    .to_string(),
            );
            let mut judges: Vec<&str> = done
                .iter()
                .filter_map(|r| r.eval.judge.as_deref())
                .collect();
            judges.sort_unstable();
            judges.dedup();
            if !judges.is_empty() {
                notes.push(format!("Judged by: {}.", judges.join("; ")));
            }
        }
        // Sets scored after training: where they come from, and on how many runs.
        let mut adhoc: BTreeMap<&str, (Vec<&str>, usize)> = BTreeMap::new();
        for r in &done {
            for (set, source) in &r.eval.adhoc_sets {
                let e = adhoc.entry(set).or_default();
                if !e.0.contains(&source.as_str()) {
                    e.0.push(source);
                }
                e.1 += 1;
            }
        }
        for (set, (sources, runs)) in adhoc {
            notes.push(format!(
                "`{set}/…`: scored after training by `acdc eval --name {set}` on {} ({runs} of {} done run(s)); \
                 not part of the runs' own evaluation or of `aqa/…_avg`.",
                sources.join("; "),
                done.len()
            ));
        }
        notes
    }
}

impl ReportRow {
    /// Finite values of `metric` over the done runs, in run order.
    pub fn metric_values(&self, metric: &str) -> Vec<f64> {
        self.runs
            .iter()
            .filter(|r| r.is_done())
            .filter_map(|r| r.metrics.get(metric).copied())
            .filter(|v| v.is_finite())
            .collect()
    }

    /// Mean and sample std of `metric` over the done runs that have a (finite) value;
    /// `None` when no done run has one.
    pub fn metric_stats(&self, metric: &str) -> Option<MetricStats> {
        let vals = self.metric_values(metric);
        let n = vals.len();
        if n == 0 {
            return None;
        }
        let mean = vals.iter().sum::<f64>() / n as f64;
        let std = (n > 1).then(|| {
            let ss: f64 = vals.iter().map(|v| (v - mean) * (v - mean)).sum();
            (ss / (n - 1) as f64).sqrt()
        });
        Some(MetricStats { mean, std, n })
    }

    /// Number of runs with status `done`.
    pub fn n_done(&self) -> usize {
        self.runs.iter().filter(|r| r.is_done()).count()
    }
}

impl ReportData {
    /// Which metric of [`ReportData::metric_order`] a paper key refers to.
    ///
    /// A paper key matches a metric if it is equal to it, or if it is a unique `/`-suffix of
    /// exactly one metric (e.g. `"aac/cider_d"` or `"cider_d"` for `"synth_test/aac/cider_d"`).
    /// Keys matching no metric, or ambiguously several, return `None` (the markdown shows them
    /// in extra `paper <key>` columns).
    pub fn paper_metric_for(&self, paper_key: &str) -> Option<&str> {
        if let Some(m) = self.metric_order.iter().find(|m| m.as_str() == paper_key) {
            return Some(m);
        }
        let suffix = format!("/{paper_key}");
        let mut hits = self.metric_order.iter().filter(|m| m.ends_with(&suffix));
        match (hits.next(), hits.next()) {
            (Some(m), None) => Some(m),
            _ => None,
        }
    }

    /// The paper value of `metric` for `row`, if the row has one (exact key preferred over a
    /// suffix key, see [`ReportData::paper_metric_for`]).
    pub fn paper_value(&self, row: &ReportRow, metric: &str) -> Option<f64> {
        if let Some(v) = row.paper.get(metric) {
            return Some(*v);
        }
        row.paper
            .iter()
            .find(|(k, _)| self.paper_metric_for(k) == Some(metric))
            .map(|(_, v)| *v)
    }

    /// Paper keys (over all rows, sorted, deduplicated) that match no metric in `metric_order`.
    pub fn unmatched_paper_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .rows
            .iter()
            .flat_map(|r| r.paper.keys())
            .filter(|k| self.paper_metric_for(k).is_none())
            .cloned()
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// Shared test fixture: 4 rows (caption/dialogue × frozen/lora), two seeds on one row, a failed
/// run, a running run, paper values on two rows.
#[cfg(test)]
pub(crate) fn fixture() -> ReportData {
    #[allow(clippy::too_many_arguments)]
    fn run(
        id: &str,
        seed: u64,
        status: &str,
        metrics: &[(&str, f64)],
        scale: f64,
        n_steps: u64,
        val: bool,
        error: Option<&str>,
    ) -> RunResult {
        let loss_curve = (0..=n_steps)
            .map(|i| {
                let s = i * 50;
                (
                    s,
                    scale * (2.0 + 4.0 * (-(s as f64) / 300.0).exp()) + 0.05 * ((i % 3) as f64),
                )
            })
            .collect();
        let val_curve = if val {
            (1..=n_steps / 4)
                .map(|i| {
                    let s = i * 200;
                    (s, scale * (2.3 + 4.0 * (-(s as f64) / 300.0).exp()))
                })
                .collect()
        } else {
            Vec::new()
        };
        RunResult {
            run_id: id.to_string(),
            seed,
            status: status.to_string(),
            metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            loss_curve,
            val_curve,
            error: error.map(str::to_string),
            items: BTreeMap::new(),
            skipped_audio: 0,
            eval: EvalFacts::default(),
            item_scores: BTreeMap::new(),
        }
    }
    // Per-item token-F1 (4 items) whose means are the runs' scores.
    let with_f1 = |mut r: RunResult, values: [f64; 4]| {
        r.item_scores.insert(
            "synth_test/aqa/token_f1".to_string(),
            values
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("qa-{i}"), *v))
                .collect(),
        );
        r
    };
    let m = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let p = |pairs: &[(&str, f64)]| -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    const B: &str = "synth_test/aac/bleu_4";
    const C: &str = "synth_test/aac/cider_d";
    const F: &str = "synth_test/aqa/token_f1";
    const PC: &str = "synth_test/probes/counting";
    const PA: &str = "synth_test/probes/absent";
    const PM: &str = "synth_test/probes/mean";
    ReportData {
        experiment: "table2_targets".to_string(),
        description: "Caption vs dialogue targets, frozen LLM vs LoRA | small scale.".to_string(),
        varying: vec!["targets.kind".to_string(), "llm.mode".to_string()],
        metric_order: vec![B.to_string(), C.to_string(), F.to_string()],
        rows: vec![
            ReportRow {
                name: "A1".to_string(),
                label: "A1".to_string(),
                params: m(&[("targets.kind", "caption"), ("llm.mode", "frozen")]),
                runs: vec![
                    with_f1(run("r-a1-s0", 0, "done", &[(B, 0.1234), (C, 0.456), (F, 0.31), (PC, 0.25), (PA, 0.5), (PM, 0.375)], 1.0, 40, true, None), [0.2, 0.3, 0.34, 0.4]),
                    with_f1(run("r-a1-s1", 1, "done", &[(B, 0.1300), (C, 0.470), (F, 0.33), (PC, 0.5), (PA, 0.5), (PM, 0.5)], 1.02, 40, true, None), [0.22, 0.32, 0.36, 0.42]),
                ],
                paper: p(&[(B, 0.141), ("cider_d", 0.512), ("aqa_avg", 0.402)]),
            },
            ReportRow {
                name: "A2".to_string(),
                label: "A2".to_string(),
                params: m(&[("targets.kind", "dialogue"), ("llm.mode", "frozen")]),
                runs: vec![with_f1(run("r-a2-s0", 0, "done", &[(B, 0.1012), (C, 12.5), (F, 0.52)], 0.9, 40, false, None), [0.5, 0.45, 0.6, 0.53])],
                paper: p(&[(B, 0.098), (F, 0.55)]),
            },
            ReportRow {
                name: "A3".to_string(),
                label: "A3".to_string(),
                params: m(&[("targets.kind", "caption"), ("llm.mode", "lora")]),
                runs: vec![run(
                    "r-a3-s0",
                    0,
                    "failed",
                    &[],
                    1.1,
                    12,
                    false,
                    Some("CUDA out of memory | tried to allocate 2.00 GiB\nstack backtrace:\n  0: acdc::train"),
                )],
                paper: BTreeMap::new(),
            },
            ReportRow {
                name: "A4".to_string(),
                label: "A4".to_string(),
                params: m(&[("targets.kind", "dialogue"), ("llm.mode", "lora")]),
                runs: vec![run("r-a4-s0", 0, "running", &[], 0.8, 20, true, None)],
                paper: BTreeMap::new(),
            },
        ],
        probe_metrics: vec![PC.to_string(), PA.to_string(), PM.to_string()],
        probe_examples: vec![ProbeExample {
            row: "A1".to_string(),
            kind: "counting".to_string(),
            question: "How often can the dog be heard? Reply with a number.".to_string(),
            output: "The dog barks 3 times | loudly.".to_string(),
            notes: vec!["expected: 3".to_string(), "verdict: correct".to_string()],
        }],
        spec_path: "experiments/table2.toml".to_string(),
        compare: None,
    }
}
