//! `acdc plan` over every shipped spec, and a snapshot of its table.

mod common;

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_shipped_spec_plans() {
    let home = tempfile::tempdir().unwrap();
    for dir in ["experiments", "ablations"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let o = common::acdc(home.path(), root(), &["plan", p.to_str().unwrap()]);
            assert!(
                o.status.success(),
                "{}: {}",
                p.display(),
                common::stderr(&o)
            );
        }
    }
}

#[test]
fn paper_plan_has_eight_distinct_runs() {
    let home = tempfile::tempdir().unwrap();
    let o = common::acdc(
        home.path(),
        root(),
        &["plan", "experiments/paper.toml", "--json"],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    let labels: Vec<&str> = runs.iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4"]);
    let ids: std::collections::BTreeSet<&str> =
        runs.iter().map(|r| r["run_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 8);
}

#[test]
fn plan_table_snapshot() {
    let home = tempfile::tempdir().unwrap();
    for spec in [
        "experiments/quickstart.toml",
        "experiments/paper.toml",
        "ablations/temperature.toml",
    ] {
        let o = common::acdc(home.path(), root(), &["plan", spec]);
        assert!(o.status.success(), "{}", common::stderr(&o));
        insta::assert_snapshot!(spec.replace(['/', '.'], "_"), common::stdout(&o));
    }
}

#[test]
fn unknown_only_label_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let o = common::acdc(
        home.path(),
        root(),
        &[
            "run",
            "experiments/quickstart.toml",
            "--only",
            "caption-frozen,Z9",
        ],
    );
    assert!(!o.status.success());
    let e = common::stderr(&o);
    assert!(
        e.contains("--only Z9") && e.contains("caption-frozen"),
        "{e}"
    );
}
