//! A report rendered from a fixture store (built here, no training) is guarded by a snapshot, and
//! rendering twice gives the same bytes. The store holds what an eval stage records: captioning
//! scores without the jars, judged QA on three AudioBench sets of unequal size (so the unweighted
//! and weighted means differ), the judge and template, probe scores, and the item scores behind
//! the means, which the spec's `compare` list turns into a comparison of the two rows.

mod common;

use acdc::store::records::{EvalScore, ItemScore};
use acdc::store::runs::WorkerInfo;
use acdc::store::stages::{EvalInfo, JudgeStamp, StageInfo, StageName};
use acdc::store::Store;

/// `n` item scores with mean `mean`, spread over `width` (deterministic).
fn spread(task: &str, metric: &str, n: usize, mean: f64, width: f64) -> Vec<ItemScore> {
    let raw: Vec<f64> = (0..n).map(|j| ((j * 7919) % 13) as f64 / 12.0).collect();
    let m = raw.iter().sum::<f64>() / n as f64;
    raw.iter()
        .enumerate()
        .map(|(j, r)| ItemScore {
            task: task.into(),
            metric: metric.into(),
            item_id: format!("item-{j:03}"),
            value: mean + width * (r - m),
        })
        .collect()
}

/// `n` probe verdicts, `right` of them correct, starting at item `from`.
fn verdicts(metric: &str, n: usize, right: usize, from: usize) -> Vec<ItemScore> {
    (0..n)
        .map(|j| ItemScore {
            task: "synth_test/probes".into(),
            metric: metric.into(),
            item_id: format!("clip{j:02}-{metric}"),
            value: ((j + n - from) % n < right) as u8 as f64,
        })
        .collect()
}

/// The fixture store in `dir/home`, registered from `dir/fx.toml`.
fn fixture_store(dir: &std::path::Path) -> Store {
    let spec = common::write(
        dir,
        "fx.toml",
        r#"compare = [["A2", "A1"]]
[experiment]
name = "fixture"
description = "A fixture store: two rows, two seeds on one, a failed run, paper numbers."
[defaults]
backbone = "builtin:tiny"
[runs.A1]
targets.kind = "caption"
paper = { "synth_test/aac/cider_d" = 0.5 }
[runs.A2]
targets.kind = "dialogue"
[sweep]
seeds = [0, 1]
"#,
    );
    let plan = acdc::spec::expand(&acdc::spec::load(&spec, &[]).unwrap()).unwrap();
    let mut store = Store::open_home(&dir.join("home")).unwrap();
    store.register_plan(&plan, "fx.toml").unwrap();
    let me = WorkerInfo {
        host: "h".into(),
        pid: 1,
        started: None,
        git_commit: None,
        git_dirty: None,
        version: "0".into(),
    };
    for (i, r) in plan.runs.iter().enumerate() {
        let claim = store.claim(&r.run_id, &me, false).unwrap().unwrap();
        if r.label == "A2" && r.seed == 1 {
            store
                .finish_run(
                    &claim,
                    Some("non-finite loss (NaN) at step 3 (train.nan_policy = \"fail\")"),
                )
                .unwrap();
            continue;
        }
        let steps: Vec<(u64, String, f64)> = (1..=5)
            .map(|s| (s, "loss".to_string(), 5.0 - 0.5 * s as f64 + 0.1 * i as f64))
            .collect();
        store.log_steps(&r.run_id, &steps).unwrap();
        let base = 0.1 * (i + 1) as f64;
        let s = |task: &str, metric: &str, value: f64, n: i64| EvalScore {
            task: task.into(),
            metric: metric.into(),
            value,
            n,
        };
        let mut judged = vec![
            s(
                "clotho_aqa_test/aqa",
                "judge_score",
                50.0 + 10.0 * base,
                300,
            ),
            s("clotho_aqa_test/aqa", "judge_success_rate", 1.0, 300),
            s(
                "audiocaps_qa_test/aqa",
                "judge_score",
                40.0 + 10.0 * base,
                100,
            ),
            s("audiocaps_qa_test/aqa", "judge_success_rate", 0.99, 100),
            s("wavcaps_qa_test/aqa", "judge_score", 30.0 + 10.0 * base, 50),
            s("wavcaps_qa_test/aqa", "judge_success_rate", 0.98, 50),
            s("synth_test/probes", "order", 0.5, 12),
            s("synth_test/probes", "absent", 0.75, 16),
        ];
        judged.extend(acdc::eval::judged_qa::aqa_averages(&judged));
        store.put_evals(&r.run_id, &judged).unwrap();
        store.stage_start(&r.run_id, &StageName::Eval).unwrap();
        let info = EvalInfo {
            judge: Some(JudgeStamp {
                engine: "openai:http://judge.invalid/v1#llama-3-70b-awq".into(),
                template: "builtin:rating-0-5".into(),
                template_hash: "0123456789abcdef0123".into(),
            }),
            unavailable: Some(vec!["meteor".into(), "spice".into(), "spider".into()]),
            ..EvalInfo::default()
        };
        store
            .stage_done(&r.run_id, &StageName::Eval, &StageInfo::Eval(info))
            .unwrap();
        store
            .put_evals(
                &r.run_id,
                &[
                    EvalScore {
                        task: "synth_test/aac".into(),
                        metric: "bleu_4".into(),
                        value: base / 4.0,
                        n: 40,
                    },
                    EvalScore {
                        task: "synth_test/aac".into(),
                        metric: "cider_d".into(),
                        value: base,
                        n: 40,
                    },
                    EvalScore {
                        task: "synth_test/aqa".into(),
                        metric: "token_f1".into(),
                        value: 1.0 - base,
                        n: 117,
                    },
                ],
            )
            .unwrap();
        let mut items = spread("synth_test/aqa", "token_f1", 117, 1.0 - base, 0.2);
        items.extend(spread(
            "clotho_aqa_test/aqa",
            "judge_score",
            300,
            50.0 + 10.0 * base,
            40.0,
        ));
        items.extend(verdicts("order", 12, 6, i));
        items.extend(verdicts("absent", 16, 12, 3 * i));
        store.put_item_scores(&r.run_id, &items).unwrap();
        store.finish_run(&claim, None).unwrap();
    }
    store
}

#[test]
fn report_from_fixture_store() {
    let d = tempfile::tempdir().unwrap();
    let store = fixture_store(d.path());
    let out1 = d.path().join("r1");
    let out2 = d.path().join("r2");
    let files = acdc::report::write_report(&store, "fixture", &out1).unwrap();
    acdc::report::write_report(&store, "fixture", &out2).unwrap();
    for f in &files {
        let name = f.file_name().unwrap();
        assert_eq!(
            std::fs::read(f).unwrap(),
            std::fs::read(out2.join(name)).unwrap(),
            "{name:?} differs between renders"
        );
    }
    // Run ids depend only on configs, so the snapshot is stable.
    insta::assert_snapshot!(std::fs::read_to_string(out1.join("README.md")).unwrap());
}

/// A store whose runs were evaluated before item scores were recorded still renders: the rows
/// are named as left out of the comparisons, with the command that scores them again.
#[test]
fn report_without_item_scores_names_the_rows() {
    let d = tempfile::tempdir().unwrap();
    let store = fixture_store(d.path());
    for r in store.experiment_runs("fixture").unwrap() {
        store.delete_predictions(&r.run_id).unwrap();
    }
    let out = d.path().join("r");
    acdc::report::write_report(&store, "fixture", &out).unwrap();
    let md = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        md.contains("## Comparisons")
            && md.contains(
                "No per-item scores (evaluated by an acdc that did not record them): A1, A2."
            )
            && md.contains("`acdc run fx.toml --reeval`"),
        "{md}"
    );
    assert!(!md.contains("### A2 − A1"), "{md}");
    assert!(
        md.contains("| A1 | caption |"),
        "the results table is still there: {md}"
    );
}
