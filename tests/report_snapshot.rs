//! A report rendered from a fixture store (built here, no training) is guarded by a snapshot, and
//! rendering twice gives the same bytes. The store holds what an eval stage records: captioning
//! scores without the jars, judged QA on three AudioBench sets of unequal size (so the unweighted
//! and weighted means differ), the judge and template, and probe scores.

mod common;

use acdc::store::records::EvalScore;
use acdc::store::runs::WorkerInfo;
use acdc::store::Store;

#[test]
fn report_from_fixture_store() {
    let d = tempfile::tempdir().unwrap();
    let spec = common::write(
        d.path(),
        "fx.toml",
        r#"[experiment]
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
    let mut store = Store::open_home(&d.path().join("home")).unwrap();
    store.register_plan(&plan, "fx.toml").unwrap();
    let me = WorkerInfo {
        host: "h".into(),
        pid: 1,
        git_commit: None,
        git_dirty: None,
        version: "0".into(),
    };
    for (i, r) in plan.runs.iter().enumerate() {
        assert!(store.claim(&r.run_id, &me, false).unwrap());
        if r.label == "A2" && r.seed == 1 {
            store
                .finish_run(
                    &r.run_id,
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
        store.stage_start(&r.run_id, "eval").unwrap();
        store
            .stage_finish(
                &r.run_id,
                "eval",
                true,
                &serde_json::json!({
                    "judge": {"engine": "openai:http://judge.invalid/v1#llama-3-70b-awq",
                              "template": "builtin:rating-0-5", "template_hash": "0123456789abcdef0123"},
                    "unavailable": ["meteor", "spice", "spider"],
                }),
            )
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
        store.finish_run(&r.run_id, None).unwrap();
    }
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
