//! Every experiment file rehearses in miniature (issue 14, item 7): `experiments/paper.toml` and
//! each `ablations/*.toml` plan and run with `--overlay miniature`.
//!
//! The plan test checks the overlay's own settings on every run. The run test adds `--set`s on
//! top to keep CI short: a handful of steps on a ten-clip world, and `backbone = builtin:tiny` /
//! `encoder.checkpoint = builtin:tiny-eat` (random weights) instead of the overlay's toy models,
//! whose first build (pretraining) takes minutes; `--set` wins over the overlay, as it does over
//! any spec. All files share one store, so a run two files have in common is executed once.

mod common;

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// experiments/paper.toml and every ablation.
fn specs() -> Vec<PathBuf> {
    let mut out = vec![root().join("experiments").join("paper.toml")];
    let mut abl: Vec<PathBuf> = std::fs::read_dir(root().join("ablations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    abl.sort();
    out.extend(abl);
    out
}

/// The `[set]` table of the miniature overlay.
fn overlay_set() -> toml::Table {
    let text = std::fs::read_to_string(root().join("experiments/overlays/miniature.toml")).unwrap();
    let t: toml::Table = toml::from_str(&text).unwrap();
    t["set"].as_table().unwrap().clone()
}

fn plan_json(home: &Path, spec: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "plan",
        spec.to_str().unwrap(),
        "--overlay",
        "miniature",
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = common::acdc(home, root(), &args);
    assert!(
        o.status.success(),
        "{}: {}",
        spec.display(),
        common::stderr(&o)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn every_file_plans_in_miniature() {
    let home = tempfile::tempdir().unwrap();
    let set = overlay_set();
    let backbone = set["backbone"].as_str().unwrap();
    let encoder = set["encoder"]["checkpoint"].as_str().unwrap();
    for spec in specs() {
        let v = plan_json(home.path(), &spec, &[]);
        let name = spec.display();
        assert!(
            v["experiment"].as_str().unwrap().ends_with("-miniature"),
            "{name}"
        );
        let runs = v["runs"].as_array().unwrap();
        assert!(!runs.is_empty(), "{name}");
        for r in runs {
            let c = &r["config"];
            let label = r["label"].as_str().unwrap();
            assert_eq!(c["backbone"], backbone, "{name} {label}");
            assert_eq!(c["encoder"]["checkpoint"], encoder, "{name} {label}");
            assert_eq!(c["device"], "cpu", "{name} {label}");
            assert_eq!(c["train"]["precision"], "f32", "{name} {label}");
            assert_eq!(c["eval"]["judge"], "none", "{name} {label}");
            assert_eq!(c["eval"]["probes"], true, "{name} {label}");
            assert!(
                c["train"]["steps"].as_u64().unwrap() <= 400,
                "{name} {label}"
            );
            for list in ["train", "instruct", "val", "eval_aac", "eval_aqa"] {
                for s in c["data"][list].as_array().unwrap() {
                    assert_eq!(s["dataset"], "synth", "{name} {label} data.{list}");
                }
            }
        }
    }
}

#[test]
fn rows_the_overlay_makes_identical_are_one_run() {
    let home = tempfile::tempdir().unwrap();
    let v = plan_json(home.path(), &root().join("ablations/backbone.toml"), &[]);
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    let ids: std::collections::BTreeSet<&str> =
        runs.iter().map(|r| r["run_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1, "three HF backbones, one toy backbone");
    let notes: Vec<&str> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("are one run")
            && n.contains("llama3")
            && n.contains("qwen2_5")
            && n.contains("mistral")),
        "{notes:?}"
    );
    // The table says so too.
    let o = common::acdc(
        home.path(),
        root(),
        &["plan", "ablations/backbone.toml", "--overlay", "miniature"],
    );
    assert!(
        common::stdout(&o).contains("note: "),
        "{}",
        common::stdout(&o)
    );
    // The paper's eight rows stay eight runs (A and B keep their mixes' shape).
    let v = plan_json(home.path(), &root().join("experiments/paper.toml"), &[]);
    let ids: std::collections::BTreeSet<&str> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 8);
}

#[test]
fn an_unknown_overlay_is_named() {
    let home = tempfile::tempdir().unwrap();
    let o = common::acdc(
        home.path(),
        root(),
        &[
            "plan",
            "ablations/temperature.toml",
            "--overlay",
            "minature",
        ],
    );
    assert!(!o.status.success());
    let e = common::stderr(&o);
    assert!(e.contains("minature") && e.contains("miniature"), "{e}");
}

/// `--set`s that shrink every run to seconds (see the module comment).
const QUICK: &[&str] = &[
    "backbone=builtin:tiny",
    "encoder.checkpoint=builtin:tiny-eat",
    "train.steps=2",
    "train.warmup_steps=1",
    "train.batch_size=2",
    "train.checkpoint_every=2",
    "train.log_every=1",
    "encoder.target_frames=192",
    "adapter.hidden=32",
    "targets.max_new_tokens=6",
    "decode.max_new_tokens=5",
    "data.synth={ clips = 10, seed = 3, clip_seconds = 2.0 }",
    "eval.probe_items=2",
];

#[test]
fn every_file_runs_in_miniature() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    for spec in specs() {
        let stem = spec.file_stem().unwrap().to_string_lossy().to_string();
        let report = d.path().join("reports").join(&stem);
        let mut args = vec![
            "run".to_string(),
            spec.display().to_string(),
            "--overlay".into(),
            "miniature".into(),
            "--report-dir".into(),
            report.display().to_string(),
        ];
        for s in QUICK {
            args.push("--set".into());
            args.push(s.to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = common::acdc(&home, root(), &args);
        assert!(
            o.status.success(),
            "{}:\n{}{}",
            spec.display(),
            common::stdout(&o),
            common::stderr(&o)
        );
        assert!(
            report.join("README.md").exists(),
            "{}: no report",
            spec.display()
        );
    }
    // Every planned run of every file is done.
    let store = acdc::store::Store::open(&home.join("acdc.db")).unwrap();
    for r in store
        .list_runs(None, None)
        .unwrap()
        .into_iter()
        .map(|l| l.run)
    {
        assert_eq!(r.status.as_str(), "done", "run {}: {:?}", r.id, r.error);
    }
}
