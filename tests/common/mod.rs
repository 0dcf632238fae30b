//! Shared helpers of the integration tests: tiny specs, running the binary.
#![allow(dead_code)]

pub mod mock_judge;
pub mod stand_in_hub;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Defaults of a seconds-scale experiment on a small synthetic world.
pub const TINY_DEFAULTS: &str = r#"
[defaults]
backbone = "builtin:tiny"
device = "cpu"
encoder.checkpoint = "builtin:tiny-eat"
encoder.target_frames = 192
adapter.hidden = 32
targets.max_new_tokens = 6
train.steps = 6
train.batch_size = 2
train.warmup_steps = 2
train.checkpoint_every = 2
train.log_every = 1
decode.beams = 1
decode.max_new_tokens = 5
data.train = [{ dataset = "synth", split = "train" }]
data.eval_aac = [{ dataset = "synth", split = "test" }]
data.eval_aqa = [{ dataset = "synth", split = "test", max_items = 6 }]
data.synth = { clips = 10, seed = 3, clip_seconds = 2.0 }
"#;

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A spec named `name` with the tiny defaults and the given extra text (rows, sweeps).
pub fn tiny_spec(dir: &Path, name: &str, extra: &str) -> PathBuf {
    write(
        dir,
        &format!("{name}.toml"),
        &format!("[experiment]\nname = \"{name}\"\n{TINY_DEFAULTS}\n{extra}"),
    )
}

/// `acdc ARGS` with the store in `home`. The Hugging Face Hub is offline for it
/// (`HF_HUB_OFFLINE=1`): no test reaches the internet (tests/hub.rs uses a local stand-in).
pub fn acdc(home: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_acdc"))
        .args(args)
        .env("ACDC_HOME", home)
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("RUST_LOG")
        .current_dir(cwd)
        .output()
        .expect("acdc runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// `acdc run SPEC --no-report` (plus `extra` arguments) with the store in `home`; panics with
/// acdc's stderr unless the command and every run succeed. Returns the store.
pub fn run_spec(home: &Path, cwd: &Path, spec: &Path, extra: &[&str]) -> acdc::store::Store {
    run_spec_exiting(home, cwd, spec, extra, &[0])
}

/// [`run_spec`] where some runs may fail (exit 2; callers check the runs in the store).
pub fn run_spec_may_fail(
    home: &Path,
    cwd: &Path,
    spec: &Path,
    extra: &[&str],
) -> acdc::store::Store {
    run_spec_exiting(home, cwd, spec, extra, &[0, 2])
}

fn run_spec_exiting(
    home: &Path,
    cwd: &Path,
    spec: &Path,
    extra: &[&str],
    codes: &[i32],
) -> acdc::store::Store {
    let mut args = vec!["run", spec.to_str().unwrap(), "--no-report"];
    args.extend_from_slice(extra);
    let o = acdc(home, cwd, &args);
    assert!(
        o.status.code().is_some_and(|c| codes.contains(&c)),
        "exit {:?}, wanted one of {codes:?}\n{}{}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    acdc::store::Store::open(&home.join("acdc.db")).unwrap()
}

/// The run id of `label` in `experiment`.
pub fn run_id(store: &acdc::store::Store, experiment: &str, label: &str) -> String {
    store
        .experiment_runs(experiment)
        .unwrap()
        .into_iter()
        .find(|r| r.label == label)
        .unwrap_or_else(|| panic!("{experiment} has no run labelled {label}"))
        .run_id
}

/// The record of a run's `stage` (`data`, `train`, `eval:SET`, …).
pub fn stage(
    store: &acdc::store::Store,
    run: &str,
    stage: &str,
) -> acdc::store::stages::StageRecord {
    let name = acdc::store::stages::StageName::parse(stage);
    store
        .stage(run, &name)
        .unwrap()
        .unwrap_or_else(|| panic!("run {run} has no {stage} stage"))
}

/// Everything a reviewer reads of `experiment` in the store under `home`: every run's scores and
/// per-item scores (by row label, sorted; every run must be done) and the report's text
/// (`reports/<experiment>/README.md` beside the store). Two runs of an experiment agree when
/// these are equal.
pub fn exported(home: &Path, experiment: &str) -> (Vec<String>, String) {
    let store = acdc::store::Store::open(&home.join("acdc.db")).unwrap();
    let mut rows = Vec::new();
    for r in store.experiment_runs(experiment).unwrap() {
        let run = store.run(&r.run_id).unwrap();
        assert_eq!(run.status.as_str(), "done", "{} {:?}", r.label, run.error);
        for s in store.evals(&r.run_id).unwrap() {
            rows.push(format!(
                "{} {} {} {:?} {}",
                r.label, s.task, s.metric, s.value, s.n
            ));
        }
        for s in store.item_scores(&r.run_id).unwrap() {
            rows.push(format!("{} {:?}", r.label, s));
        }
    }
    rows.sort();
    let report =
        std::fs::read_to_string(home.join(format!("reports/{experiment}/README.md"))).unwrap();
    (rows, report)
}
