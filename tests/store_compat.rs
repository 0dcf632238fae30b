//! A store written by an earlier release (`tests/fixtures/store/release.db`, made by
//! `tools/store_fixture.sh`; see `PROVENANCE`) reads as typed stage records, and this build
//! renders the very report that release rendered from it.

mod common;

use acdc::store::stages::{SourceRole, StageName, StageStatus, TargetKind};
use acdc::store::Store;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/store")
        .join(name)
}

/// A copy of the release's store in a fresh home.
fn release_home(dir: &std::path::Path) -> std::path::PathBuf {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::copy(fixture("release.db"), home.join("acdc.db")).unwrap();
    home
}

#[test]
fn every_stage_record_of_a_release_reads_typed() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open_home(&release_home(d.path())).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for er in store.experiment_runs("compat").unwrap() {
        let stages = store.stages(&er.run_id).unwrap();
        assert!(!stages.is_empty(), "{}", er.label);
        for r in &stages {
            let what = format!("{} {}: {:?}", er.label, r.stage, r.raw);
            seen.insert(format!("{}:{}", r.stage, r.status.as_str()));
            match (&r.stage, r.status) {
                (StageName::Data, StageStatus::Failed) => {
                    assert!(
                        r.error.as_deref().unwrap().contains("no-such-clotho"),
                        "{what}"
                    );
                    assert!(r.info.is_none(), "{what}");
                }
                (_, StageStatus::Done) => {
                    assert!(r.info.is_some() && r.error.is_none(), "{what}")
                }
                _ => panic!("unexpected record {what}"),
            }
            match &r.stage {
                StageName::Data if r.status == StageStatus::Done => {
                    let d = r.data().unwrap();
                    assert_eq!((d.clips, d.policy.as_str()), (10, "error"), "{what}");
                }
                StageName::Targets => {
                    let t = r.targets().unwrap();
                    let train = t.iter().find(|s| s.role == SourceRole::Train).unwrap();
                    assert_eq!(train.source, "synth_train");
                    let kind = if er.label == "caption" {
                        TargetKind::Caption
                    } else {
                        TargetKind::Dialogue
                    };
                    assert_eq!(train.info.kind, kind, "{what}");
                    assert_eq!(
                        t.iter().any(|s| s.role == SourceRole::Instruct),
                        er.label == "instruct",
                        "{what}"
                    );
                    if kind == TargetKind::Dialogue {
                        assert!(train.info.set.is_some() && train.info.reused.is_some());
                    }
                }
                StageName::Train => {
                    let t = r.train().unwrap();
                    assert_eq!(t.steps, 4);
                    assert!(
                        t.final_loss.is_finite() && t.audio_input.is_some(),
                        "{what}"
                    );
                }
                StageName::Eval => {
                    let e = r.eval().unwrap();
                    assert!(!e.scores.is_empty() && e.decoder.is_some(), "{what}");
                    assert!(e.unavailable.is_some(), "{what}");
                    assert_eq!(e.probes_trained.is_some(), er.label == "instruct", "{what}");
                }
                StageName::Adhoc(set) => {
                    let a = r.adhoc().unwrap();
                    assert_eq!(set, "held");
                    assert_eq!(a.sources["aqa"].items, 2, "{what}");
                    assert!(
                        !a.scores.is_empty() && a.decode.max_new_tokens == 5,
                        "{what}"
                    );
                }
                _ => {}
            }
        }
        // The typed status agrees with the stage-status query.
        for r in &stages {
            assert_eq!(
                store.stage_status(&er.run_id, &r.stage).unwrap(),
                Some(r.status)
            );
        }
    }
    for want in [
        "data:done",
        "data:failed",
        "targets:done",
        "train:done",
        "eval:done",
        "eval:held:done",
    ] {
        assert!(seen.contains(want), "the fixture lacks {want}: {seen:?}");
    }
}

#[test]
fn this_build_renders_the_report_the_release_rendered() {
    let d = tempfile::tempdir().unwrap();
    let home = release_home(d.path());
    let o = common::acdc(&home, d.path(), &["report", "compat"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let ours = std::fs::read_to_string(d.path().join("reports/compat/README.md")).unwrap();
    let theirs = std::fs::read_to_string(fixture("release-report.md")).unwrap();
    if ours != theirs {
        let first = ours
            .lines()
            .zip(theirs.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "the report differs from line {}:\nnow:  {:?}\nthen: {:?}",
            first + 1,
            ours.lines().nth(first),
            theirs.lines().nth(first)
        );
    }
}
