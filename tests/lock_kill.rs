//! A first run killed while it builds the synthetic world or the toy models never hangs the
//! next: the build-once lock is an OS file lock that dies with its holder (issue 14, item 9).
//!
//! Run `a` starts building a fresh world; run `b` (same world, another seed) waits for it and says
//! so on stderr; `a` is killed with SIGKILL in the middle of the build; `b` then takes the lock at
//! once, builds the world itself and finishes; a rerun of the whole spec finishes `a` too.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A spec of two-step runs that read a few items a set, on the toy backbone: `encoder` (with its
/// frames), `targets` (the targets lines) and `synth` (the world) are what the tests vary.
fn spec(name: &str, encoder: &str, frames: usize, targets: &str, synth: &str) -> String {
    format!(
        r#"[experiment]
name = "{name}"

[defaults]
backbone = "builtin:tiny"
device = "cpu"
encoder.checkpoint = "{encoder}"
encoder.target_frames = {frames}
adapter.hidden = 32
{targets}
train.steps = 2
train.batch_size = 2
train.warmup_steps = 1
train.checkpoint_every = 2
train.log_every = 1
decode.beams = 1
decode.max_new_tokens = 5
data.train = [{{ dataset = "synth", split = "train", max_items = 4 }}]
data.eval_aac = [{{ dataset = "synth", split = "test", max_items = 2 }}]
data.eval_aqa = [{{ dataset = "synth", split = "test", max_items = 2 }}]
data.synth = {synth}
"#
    )
}

/// A world large enough that building it takes seconds (400 clips × 10 s), read sparingly by the
/// runs (a few items a set) so that each run is short once the world exists.
fn world_spec() -> String {
    spec(
        "lockkill",
        "builtin:tiny-eat",
        192,
        "targets.max_new_tokens = 6",
        "{ clips = 400, seed = 5, clip_seconds = 10.0 }",
    ) + "\n[runs.a]\nseed = 0\n\n[runs.b]\nseed = 1\n"
}

fn spawn(home: &Path, cwd: &Path, spec: &Path, only: &str, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_acdc"))
        .args(["run", spec.to_str().unwrap(), "--no-report", "--only", only])
        .env("ACDC_HOME", home)
        .env_remove("RUST_LOG")
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Poll `cond` every 20 ms until it holds; panic with `what` after `limit`.
fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wav_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().count())
        .unwrap_or(0)
}

/// Wait for a child with a limit (a hung child is killed and the test fails).
fn finish(mut child: Child, what: &str, limit: Duration, log: &Path) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not finish within {limit:?}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn killing_the_world_builder_does_not_hang_the_next_run() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::write(d.path(), "lockkill.toml", &world_spec());
    // The world's folder as the library names it (its format version changes with the world).
    let dir = acdc::data::sources::synth_dir(
        &home,
        &acdc::spec::schema::SynthData {
            clips: 400,
            seed: 5,
            clip_seconds: 10.0,
        },
    );
    let world = dir.file_name().unwrap().to_str().unwrap().to_string();
    let data = home.join("data");
    let lock: PathBuf = data.join(format!("{world}.lock"));
    let partial = data.join(format!("{world}.partial"));
    let (log_a, log_b) = (d.path().join("a.log"), d.path().join("b.log"));

    // `a` builds the world: wait until it holds the lock and has written a few clips.
    let mut a = spawn(&home, d.path(), &spec, "a", &log_a);
    wait_for(
        "run a to start building the world",
        Duration::from_secs(120),
        || wav_count(&partial.join("audio").join("train")) >= 5,
    );
    let pid = std::fs::read_to_string(&lock).unwrap_or_default();
    assert_eq!(
        pid.trim(),
        a.id().to_string(),
        "the lock file names its holder"
    );

    // `b` needs the same world: it waits, and says what for.
    let b = spawn(&home, d.path(), &spec, "b", &log_b);
    wait_for(
        "run b to say it waits for the world",
        Duration::from_secs(60),
        || {
            std::fs::read_to_string(&log_b)
                .unwrap_or_default()
                .contains("waiting for")
        },
    );
    assert!(
        !data.join(&world).join("synth.json").exists(),
        "the world was finished before its builder could be killed; make it larger"
    );
    let said = std::fs::read_to_string(&log_b).unwrap();
    assert!(
        said.contains(&format!("pid {}", a.id()))
            && said.contains(&lock.display().to_string())
            && said.contains("synthetic world"),
        "{said}"
    );

    // Kill the builder mid-build: `b` takes over at once and finishes.
    a.kill().unwrap();
    a.wait().unwrap();
    let st = finish(b, "run b", Duration::from_secs(300), &log_b);
    assert!(st.success(), "{}", std::fs::read_to_string(&log_b).unwrap());
    assert!(data.join(&world).join("synth.json").exists());
    assert!(
        !partial.exists(),
        "the killed builder's partial world is gone"
    );

    // The whole spec again: run `a`, left running by a dead worker, is taken over and finishes.
    let store = common::run_spec(&home, d.path(), &spec, &[]);
    for label in ["a", "b"] {
        let id = common::run_id(&store, "lockkill", label);
        assert_eq!(
            store.run(&id).unwrap().status.as_str(),
            "done",
            "run {label}"
        );
    }
}

/// A first run killed while it builds a toy model never blocks the next: the rerun takes the
/// build lock at once, builds the model and finishes the run. The model is
/// `builtin:tiny-eat-events` (pretraining takes a few minutes); `builtin:tiny-chat` is built by
/// the same build-once code under the same kind of lock, but its build takes longer than this
/// test should.
#[test]
fn killing_the_toy_model_build_does_not_hang_the_next_run() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::write(
        d.path(),
        "toykill.toml",
        &spec(
            "toykill",
            "builtin:tiny-eat-events",
            512,
            "targets.kind = \"caption\"",
            "{ clips = 10, seed = 3, clip_seconds = 5.0 }",
        ),
    );
    let weights = acdc::model::backbone::tiny_eat_events_weights(&home);
    let lock = weights.parent().unwrap().join(".lock");
    let log = d.path().join("first.log");
    let mut first = spawn(&home, d.path(), &spec, "default", &log);
    wait_for(
        "the first run to start building the toy encoder",
        Duration::from_secs(120),
        || std::fs::read_to_string(&lock).unwrap_or_default().trim() == first.id().to_string(),
    );
    // Into its pretraining (its held-out world takes a few seconds to generate).
    std::thread::sleep(Duration::from_secs(10));
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        !weights.exists(),
        "the build finished before it could be killed"
    );

    let log = d.path().join("second.log");
    let second = spawn(&home, d.path(), &spec, "default", &log);
    let st = finish(second, "the rerun", Duration::from_secs(900), &log);
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(st.success(), "{said}");
    assert!(
        !said.contains("waiting for another acdc process"),
        "the rerun waited for the killed build: {said}"
    );
    assert!(weights.exists());
    let store = acdc::store::Store::open_home(&home).unwrap();
    let id = common::run_id(&store, "toykill", "default");
    assert_eq!(store.run(&id).unwrap().status.as_str(), "done");
}
