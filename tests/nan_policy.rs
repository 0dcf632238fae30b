//! `train.nan_policy`: a run whose updates blow up (a learning rate of 1e30) fails naming the
//! step under "fail", and under "skip" completes with the skipped updates counted as a metric.

mod common;

use acdc::store::runs::RunStatus;

#[test]
fn non_finite_steps_fail_the_run_or_are_skipped() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::tiny_spec(
        d.path(),
        "nan",
        "train.lr = 1e30\n\n[runs.fails]\ntrain.nan_policy = \"fail\"\n\n[runs.skips]\ntrain.nan_policy = \"skip\"\n",
    );
    let store = common::run_spec_may_fail(&home, d.path(), &spec, &[]);
    let fails = store.run(&common::run_id(&store, "nan", "fails")).unwrap();
    assert_eq!(fails.status, RunStatus::Failed);
    let e = fails.error.unwrap_or_default();
    assert!(e.contains("non-finite") && e.contains("at step"), "{e}");

    let skips = common::run_id(&store, "nan", "skips");
    let run = store.run(&skips).unwrap();
    assert_eq!(run.status, RunStatus::Done, "{:?}", run.error);
    let skipped = store.step_series(&skips, "skipped_updates").unwrap();
    assert!(!skipped.is_empty(), "no update was skipped");
    // Counted 1, 2, … at the steps they happened.
    assert!(skipped
        .windows(2)
        .all(|w| w[1].1 == w[0].1 + 1.0 && w[1].0 > w[0].0));
    let train = common::stage(&store, &skips, "train")
        .train()
        .cloned()
        .unwrap();
    assert_eq!(train.skipped, skipped.last().unwrap().1 as u64);
}
