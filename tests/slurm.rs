//! `acdc run --executor slurm` against a real Slurm: a single-node cluster on this machine from
//! Debian's packages (`tools/slurm-local.sh start`, which `.ci/run` runs before this test with
//! `ACDC_REQUIRE_SLURM=1`; elsewhere the test says it was skipped when no Slurm answers).
//! - A grid with an `init_from` row runs as job arrays (the child's array waits on its parent's)
//!   and its store and report equal a local run's.
//! - Tasks killed after their first checkpoint (`ACDC_PAUSE_AT=train` holds them there;
//!   `scancel --signal=KILL`) leave their runs unfinished and the child pending; the next
//!   `acdc run --executor slurm` submits them again, the killed ones resume from their
//!   checkpoints, and the numbers still equal the local run's.
//! - A task signalled as Slurm does before its time limit (`SIGUSR1` to the batch step) writes a
//!   checkpoint, requeues itself (`scontrol requeue`), and its next start resumes from it, with
//!   the numbers of an uninterrupted run.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn slurm_answers() -> bool {
    Command::new("sinfo")
        .args(["-h", "-o", "%t"])
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
}

/// Whether to go on: Slurm answers, or the test is skipped (failing where CI requires Slurm).
fn slurm_or_skip() -> bool {
    if slurm_answers() {
        return true;
    }
    assert!(
        std::env::var("ACDC_REQUIRE_SLURM").as_deref() != Ok("1"),
        "ACDC_REQUIRE_SLURM=1 but no Slurm answers (tools/slurm-local.sh start; SLURM_CONF)"
    );
    eprintln!("skipped: no Slurm answers here (tools/slurm-local.sh start brings one up)");
    false
}

fn spec(dir: &Path, steps: usize) -> std::path::PathBuf {
    spec_named(dir, "sl", steps, 25, ROWS)
}

const ROWS: &str = r#"
[runs.caption]
targets.kind = "caption"

[runs.dialogue]
targets.kind = "dialogue"

[runs.staged]
targets.kind = "caption"
init_from = "dialogue"
"#;

fn spec_named(
    dir: &Path,
    name: &str,
    steps: usize,
    checkpoint_every: usize,
    rows: &str,
) -> std::path::PathBuf {
    common::write(
        dir,
        &format!("{name}.toml"),
        &format!(
            r#"[experiment]
name = "{name}"

[defaults]
backbone = "builtin:tiny"
device = "cpu"
encoder.checkpoint = "builtin:tiny-eat"
encoder.target_frames = 192
adapter.hidden = 32
targets.max_new_tokens = 6
train.steps = {steps}
train.batch_size = 2
train.warmup_steps = 2
train.checkpoint_every = {checkpoint_every}
train.log_every = 1
decode.beams = 1
decode.max_new_tokens = 5
data.train = [{{ dataset = "synth", split = "train" }}]
data.eval_aac = [{{ dataset = "synth", split = "test" }}]
data.eval_aqa = [{{ dataset = "synth", split = "test", max_items = 6 }}]
data.synth = {{ clips = 24, seed = 3, clip_seconds = 3.0 }}
{rows}"#
        ),
    )
}

fn acdc(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_acdc"))
        .args(args)
        .env("ACDC_HOME", home)
        .env_remove("RUST_LOG")
        .current_dir(home)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Poll `squeue` until no job is queued or running (the ingestion jobs included).
fn wait_for_empty_queue() {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let q = Command::new("squeue").args(["-h"]).output().unwrap();
        if q.stdout.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "jobs did not end");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_grid_runs_as_job_arrays_and_resumes_a_killed_task() {
    if !slurm_or_skip() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let steps = 150;
    let local = d.path().join("local");
    std::fs::create_dir_all(&local).unwrap();
    let spec = spec(d.path(), steps);
    let o = acdc(&local, &["run", spec.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let want = common::exported(&local, "sl");

    // The whole grid on Slurm, followed to its end.
    let home = d.path().join("slurm");
    std::fs::create_dir_all(&home).unwrap();
    let o = acdc(
        &home,
        &[
            "run",
            spec.to_str().unwrap(),
            "--executor",
            "slurm",
            "--array-parallelism",
            "2",
            "--wait",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("submitted 2 run(s) as array job"), "{t}");
    assert!(t.contains("submitted 1 run(s) as array job"), "{t}");
    assert_eq!(common::exported(&home, "sl"), want, "Slurm ≠ local");

    // Again from nothing, every task stopped after its first checkpoint (`ACDC_PAUSE_AT`
    // reaches the tasks through sbatch's exported environment) and killed there.
    let home = d.path().join("killed");
    std::fs::create_dir_all(&home).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_acdc"))
        .args(["run", spec.to_str().unwrap(), "--executor", "slurm"])
        .env("ACDC_HOME", &home)
        .env("ACDC_PAUSE_AT", "train")
        .env_remove("RUST_LOG")
        .current_dir(&home)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let jobs_dir = std::fs::read_dir(home.join("slurm"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let paused = |name: &str| {
        std::fs::read_to_string(jobs_dir.join("logs").join(name))
            .is_ok_and(|t| t.contains("acdc: paused at train"))
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    while !(paused("acdc-sl-l0-0-0.out") && paused("acdc-sl-l0-0-1.out")) {
        assert!(
            Instant::now() < deadline,
            "the tasks never reached their first checkpoint"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let arrays: Vec<String> = String::from_utf8_lossy(
        &Command::new("squeue")
            .args(["-h", "-o", "%F %j"])
            .output()
            .unwrap()
            .stdout,
    )
    .lines()
    .filter(|l| l.ends_with("acdc-sl-l0-0"))
    .filter_map(|l| l.split_whitespace().next().map(str::to_string))
    .collect();
    assert!(!arrays.is_empty(), "the paused array is not in squeue");
    let st = Command::new("scancel")
        .args(["--signal=KILL", "--full", &arrays[0]])
        .status()
        .unwrap();
    assert!(st.success());
    // Every job ends: the killed array, the child's (its parent did not end: it stays
    // pending) and the ingestion.
    wait_for_empty_queue();
    let store = acdc::store::Store::open(&home.join("acdc.db")).unwrap();
    let caption = common::run_id(&store, "sl", "caption");
    for r in store.experiment_runs("sl").unwrap() {
        let status = store.run(&r.run_id).unwrap().status;
        assert!(
            matches!(status.as_str(), "running" | "pending"),
            "{} ended {}",
            r.label,
            status.as_str()
        );
    }
    drop(store);
    let run_store = home.join("runs").join(&caption).join("run.db");
    // The next submission runs them again; the two killed ones resume from their checkpoints.
    let o = acdc(
        &home,
        &[
            "run",
            spec.to_str().unwrap(),
            "--executor",
            "slurm",
            "--wait",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("submitted 2 run(s) as array job"), "{t}");
    assert!(t.contains("submitted 1 run(s) as array job"), "{t}");
    assert_eq!(
        common::exported(&home, "sl"),
        want,
        "after killed tasks: Slurm ≠ local"
    );
    let store = acdc::store::Store::open(&run_store).unwrap();
    let train = common::stage(&store, &caption, "train");
    assert!(
        train.train().is_some_and(|t| t.resumed_from.is_some()),
        "the rerun did not resume from the checkpoint: {}",
        train.raw
    );
}

#[test]
fn a_task_warned_of_its_time_limit_checkpoints_requeues_itself_and_resumes() {
    if !slurm_or_skip() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let steps = 3000;
    let spec = spec_named(
        d.path(),
        "sp",
        steps,
        100,
        "[runs.caption]\ntargets.kind = \"caption\"\n",
    );
    let local = d.path().join("local");
    std::fs::create_dir_all(&local).unwrap();
    let o = acdc(&local, &["run", spec.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let want = common::exported(&local, "sp");

    let home = d.path().join("slurm");
    std::fs::create_dir_all(&home).unwrap();
    let o = acdc(
        &home,
        &["run", spec.to_str().unwrap(), "--executor", "slurm"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let store = acdc::store::Store::open(&home.join("acdc.db")).unwrap();
    let run = common::run_id(&store, "sp", "caption");
    drop(store);
    let run_store = home.join("runs").join(&run).join("run.db");
    // Past its first checkpoint, far from its end.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        assert!(Instant::now() < deadline, "the run never trained");
        let trained = acdc::store::Store::open(&run_store)
            .ok()
            .and_then(|s| s.step_series(&run, "loss").ok())
            .map_or(0, |v| v.len());
        assert!(trained < steps, "training ended before the signal");
        if trained >= 100 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let q = String::from_utf8_lossy(
        &Command::new("squeue")
            .args(["-h", "-o", "%i %j"])
            .output()
            .unwrap()
            .stdout,
    )
    .to_string();
    let task = q
        .lines()
        .find(|l| l.ends_with(" acdc-sp-l0-0"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("the task is not in squeue:\n{q}"))
        .to_string();
    let st = Command::new("scancel")
        .args(["--signal=USR1", "--batch", &task])
        .status()
        .unwrap();
    assert!(st.success());
    wait_for_empty_queue();
    let o = acdc(&home, &["report", "sp"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        common::exported(&home, "sp"),
        want,
        "requeued ≠ uninterrupted"
    );
    let jobs_dir = std::fs::read_dir(home.join("slurm"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let log = std::fs::read_to_string(jobs_dir.join("logs/acdc-sp-l0-0-0.out")).unwrap();
    assert!(
        log.contains("stopped by a Slurm signal") && log.contains("requeueing task"),
        "{log}"
    );
    let store = acdc::store::Store::open(&run_store).unwrap();
    let train = common::stage(&store, &run, "train");
    assert!(
        train.train().is_some_and(|t| t.resumed_from.is_some()),
        "the requeued task did not resume from the checkpoint: {}",
        train.raw
    );
}
