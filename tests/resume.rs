//! A run killed with SIGKILL mid-training resumes from its last checkpoint and ends exactly where
//! an uninterrupted run ends; several workers on one store never execute a run twice; `--reeval`
//! evaluates done runs again without retraining.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acdc::store::Store;

const LONG: &str = "[runs.r]\ntrain.steps = 120\ntrain.checkpoint_every = 10\ntrain.log_every = 1\nllm.mode = \"lora\"\n";

/// (loss by step, scores as ("task/metric", value))
type Curve = (Vec<(u64, f64)>, Vec<(String, f64)>);

fn curve(home: &std::path::Path) -> Curve {
    let s = Store::open(&home.join("acdc.db")).unwrap();
    let runs = s.list_runs(None, None).unwrap();
    assert_eq!(runs.len(), 1);
    let r = &runs[0].run;
    assert_eq!(r.status.as_str(), "done", "{:?}", r.error);
    let evals = s
        .evals(&r.id)
        .unwrap()
        .into_iter()
        .map(|e| (format!("{}/{}", e.task, e.metric), e.value))
        .collect();
    (s.step_series(&r.id, "loss").unwrap(), evals)
}

#[test]
fn sigkill_mid_training_resumes_to_the_same_result() {
    let d = tempfile::tempdir().unwrap();
    let spec = common::tiny_spec(d.path(), "resume", LONG);

    // Reference: uninterrupted.
    let ref_home = d.path().join("ref");
    let o = common::acdc(&ref_home, d.path(), &["run", spec.to_str().unwrap()]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let (want_curve, want_evals) = curve(&ref_home);
    assert_eq!(want_curve.len(), 120);

    // Interrupted: kill -9 once a mid-run checkpoint exists.
    let home = d.path().join("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_acdc"))
        .args(["run", spec.to_str().unwrap(), "--no-report"])
        .env("ACDC_HOME", &home)
        .current_dir(d.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let killed_at = loop {
        let ckpts: Vec<_> = std::fs::read_dir(home.join("runs"))
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .flat_map(|e| {
                std::fs::read_dir(e.path().join("checkpoints"))
                    .ok()
                    .into_iter()
                    .flatten()
            })
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("step-"))
            .collect();
        if ckpts
            .iter()
            .any(|c| c.file_name().to_string_lossy().as_ref() >= "step-00000020")
        {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            break ckpts.len();
        }
        if let Some(st) = child.try_wait().unwrap() {
            panic!("run finished ({st}) before it could be killed; make it longer");
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(killed_at > 0);
    {
        let s = Store::open(&home.join("acdc.db")).unwrap();
        let runs = s.list_runs(None, None).unwrap();
        assert_eq!(runs[0].run.status.as_str(), "running", "killed mid-run");
    }
    // The dead worker's run is claimable again; the run resumes and completes.
    let o = common::acdc(&home, d.path(), &["run", spec.to_str().unwrap()]);
    assert!(o.status.success(), "{}", common::stderr(&o));

    let s = Store::open(&home.join("acdc.db")).unwrap();
    let id = s.list_runs(None, None).unwrap()[0].run.id.clone();
    let info = common::stage(&s, &id, "train").train().cloned().unwrap();
    assert!(
        info.resumed_from.unwrap() >= 20,
        "resumed from a checkpoint: {info:?}"
    );
    drop(s);
    let (got_curve, got_evals) = curve(&home);
    assert_eq!(got_curve.len(), want_curve.len());

    for ((s1, a), (s2, b)) in want_curve.iter().zip(&got_curve) {
        assert_eq!(s1, s2);
        assert!(
            (a - b).abs() <= 1e-5 * a.abs().max(1.0),
            "loss at step {s1}: {a} vs {b}"
        );
    }
    assert_eq!(want_evals.len(), got_evals.len());
    for ((k1, a), (k2, b)) in want_evals.iter().zip(&got_evals) {
        assert_eq!(k1, k2);
        assert!((a - b).abs() < 1e-9, "{k1}: {a} vs {b}");
    }
}

#[test]
fn two_workers_share_the_grid_without_duplicates() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::tiny_spec(
        d.path(),
        "workers",
        "[runs.a]\nseed = 1\n[runs.b]\nseed = 2\n[runs.c]\nseed = 3\ninit_from = \"a\"\n[runs.e]\nseed = 5\n",
    );
    let o = common::acdc(
        &home,
        d.path(),
        &["run", spec.to_str().unwrap(), "--workers", "2"],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let err = common::stderr(&o);
    let s = Store::open(&home.join("acdc.db")).unwrap();
    let runs = s.experiment_runs("workers").unwrap();
    assert_eq!(runs.len(), 4);
    for r in &runs {
        assert_eq!(r.status.as_str(), "done");
        let starts = err
            .matches(&format!("run {} ({}) starting", r.run_id, r.label))
            .count();
        assert_eq!(starts, 1, "run {} started {starts} times:\n{err}", r.label);
    }
    // c started from a's trained weights, after a finished.
    let a = s
        .run(&runs.iter().find(|r| r.label == "a").unwrap().run_id)
        .unwrap();
    let c = s
        .run(&runs.iter().find(|r| r.label == "c").unwrap().run_id)
        .unwrap();
    assert!(c.started_at.unwrap() >= a.finished_at.unwrap());
}

/// A failed run under several workers: the grid still completes, the failure is reported once in
/// the summary and the invocation exits 2 (a worker exiting 2 is not a broken worker).
#[test]
fn two_workers_report_a_failed_run_and_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::tiny_spec(
        d.path(),
        "workers-fail",
        "[runs.a]\nseed = 1\n[runs.f]\ndata.max_audio_seconds = 0.5\ndata.missing_audio = \"skip\"\n[runs.b]\nseed = 2\n",
    );
    let run = |workers: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            spec.to_str().unwrap(),
            "--workers",
            workers,
            "--no-report",
        ];
        args.extend(extra);
        let o = common::acdc(&home, d.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{}", common::stderr(&o));
        o
    };
    let o = run("2", &[]);
    let out = common::stdout(&o);
    assert!(
        out.contains("experiment workers-fail:") && out.contains("1 failed"),
        "{out}"
    );
    let s = Store::open(&home.join("acdc.db")).unwrap();
    let mut failed = String::new();
    for r in s.experiment_runs("workers-fail").unwrap() {
        let want = if r.label == "f" { "failed" } else { "done" };
        assert_eq!(r.status.as_str(), want, "{}", r.label);
        if r.label == "f" {
            failed = r.run_id.clone();
        }
    }
    drop(s);
    // --retry-failed with three workers tries the failed run once, not once per worker.
    let o = run("3", &["--retry-failed"]);
    let err = common::stderr(&o);
    assert_eq!(
        err.matches(&format!("run {failed} (f) starting")).count(),
        1,
        "{err}"
    );
    assert!(
        common::stdout(&o).contains("1 failed"),
        "{}",
        common::stdout(&o)
    );
}

/// `--reeval` evaluates done runs again without retraining: the weights file and the train
/// stage stay as they were, scores the new evaluation produces replace the old ones, and scores
/// it no longer produces go; a plain rerun afterwards finds the run done.
#[test]
fn reeval_scores_done_runs_again_without_retraining() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::tiny_spec(
        d.path(),
        "reeval",
        "eval.probes = true\neval.probe_items = 2\n",
    );
    let store = common::run_spec(&home, d.path(), &spec, &[]);
    let run = store.experiment_runs("reeval").unwrap()[0].run_id.clone();
    let weights = store.run_dir(&run).final_weights();
    let modified = |p: &std::path::Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let (w0, train0) = (
        modified(&weights),
        common::stage(&store, &run, "train").info,
    );
    let before = store.evals(&run).unwrap();
    let bleu = |evals: &[acdc::store::records::EvalScore]| {
        evals
            .iter()
            .find(|e| e.task == "synth_test/aac" && e.metric == "bleu_4")
            .map(|e| e.value)
            .unwrap()
    };
    // A score changed and one no evaluation makes: both must be gone after --reeval.
    let mut store = store;
    let fake = |metric: &str, value: f64| acdc::store::records::EvalScore {
        task: "synth_test/aac".into(),
        metric: metric.into(),
        value,
        n: 1,
    };
    store
        .put_evals(&run, &[fake("bleu_4", 123.0), fake("stale", 1.0)])
        .unwrap();
    // Item scores are replaced the same way: a set's items by the new ones, a metric no
    // evaluation makes dropped.
    let items_before = store.item_scores(&run).unwrap();
    assert!(
        items_before.iter().any(|i| i.metric == "cider_d")
            && items_before.iter().any(|i| i.task == "synth_test/probes"),
        "{items_before:?}"
    );
    let ghost = |metric: &str| acdc::store::records::ItemScore {
        task: "synth_test/aac".into(),
        metric: metric.into(),
        item_id: "ghost".into(),
        value: 9.0,
    };
    store
        .put_item_scores(&run, &[ghost("cider_d"), ghost("stale")])
        .unwrap();
    drop(store);

    let out = common::acdc(
        &home,
        d.path(),
        &[
            "run",
            spec.to_str().unwrap(),
            "--reeval",
            "--no-report",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["executed"], serde_json::json!([run]), "{summary}");

    let store = acdc::store::Store::open_home(&home).unwrap();
    assert_eq!(store.run(&run).unwrap().status.as_str(), "done");
    assert_eq!(modified(&weights), w0, "the weights were not rewritten");
    assert_eq!(common::stage(&store, &run, "train").info, train0);
    let after = store.evals(&run).unwrap();
    assert!(after.iter().all(|e| e.metric != "stale"), "{after:?}");
    assert_eq!(bleu(&after), bleu(&before));
    assert_eq!(after.len(), before.len());
    assert_eq!(store.item_scores(&run).unwrap(), items_before);
    drop(store);

    let out = common::acdc(
        &home,
        d.path(),
        &["run", spec.to_str().unwrap(), "--no-report", "--json"],
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["already_done"],
        serde_json::json!([run]),
        "{summary}"
    );
}
