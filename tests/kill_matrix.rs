//! Faults, measured (issue 17, item 5):
//! - a fresh experiment killed with SIGKILL at each point of its life — the synthetic world's
//!   build, a builtin model's build, target generation, training, evaluation, the report
//!   (`ACDC_PAUSE_AT`, `src/pause.rs`, stops it there) — is completed by the next `acdc run`,
//!   whose scores, per-item scores and report equal those of a run never interrupted;
//! - eight local workers on one store run a grid with no run executed twice, every run done and
//!   no "database is locked" anywhere;
//! - a worker process killed mid-run is reaped at once and its run taken over by the others.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Caption and dialogue targets (so targets are generated), a few checkpoints, both eval tasks.
fn spec(dir: &Path) -> std::path::PathBuf {
    common::write(
        dir,
        "km.toml",
        r#"[experiment]
name = "km"

[defaults]
backbone = "builtin:tiny"
device = "cpu"
encoder.checkpoint = "builtin:tiny-eat"
encoder.target_frames = 192
adapter.hidden = 32
targets.max_new_tokens = 6
train.steps = 12
train.batch_size = 2
train.warmup_steps = 2
train.checkpoint_every = 4
train.log_every = 1
decode.beams = 1
decode.max_new_tokens = 5
data.train = [{ dataset = "synth", split = "train" }]
data.eval_aac = [{ dataset = "synth", split = "test" }]
data.eval_aqa = [{ dataset = "synth", split = "test", max_items = 6 }]
data.synth = { clips = 24, seed = 3, clip_seconds = 3.0 }

[runs.caption]
targets.kind = "caption"

[runs.dialogue]
targets.kind = "dialogue"
"#,
    )
}

fn acdc_cmd(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_acdc"));
    c.env("ACDC_HOME", home)
        .env_remove("RUST_LOG")
        .env_remove("ACDC_PAUSE_AT")
        .current_dir(home);
    c
}

/// `acdc run` to the end, within a watchdog (a hang fails the test instead of stalling CI).
fn run_to_end(home: &Path, spec: &Path) {
    let mut child = acdc_cmd(home)
        .args(["run", spec.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        let _ = tx.send(text);
    });
    let status = wait_or_kill(&mut child, Duration::from_secs(600));
    let text = rx.recv().unwrap_or_default();
    assert!(
        status.is_some_and(|s| s.success()),
        "the run after the kill did not complete ({status:?}):\n{text}"
    );
}

fn wait_or_kill(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let start = std::time::Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Start `acdc run` paused at `point`, wait until it says it got there, and SIGKILL it.
fn kill_at(home: &Path, spec: &Path, point: &str) {
    let mut child = acdc_cmd(home)
        .args(["run", spec.to_str().unwrap()])
        .env("ACDC_PAUSE_AT", point)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let want = format!("acdc: paused at {point} ");
    std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with(&want) {
                let _ = tx.send(Ok(()));
                return;
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        let _ = tx.send(Err(seen));
    });
    match rx.recv_timeout(Duration::from_secs(600)) {
        Ok(Ok(())) => {}
        Ok(Err(seen)) => panic!("acdc ended before reaching {point}:\n{seen}"),
        Err(_) => panic!("acdc did not reach {point}"),
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

#[test]
fn killed_anywhere_the_next_run_completes_with_the_same_numbers() {
    let d = tempfile::tempdir().unwrap();
    let reference = d.path().join("reference");
    std::fs::create_dir_all(&reference).unwrap();
    let spec = spec(d.path());
    run_to_end(&reference, &spec);
    let want = common::exported(&reference, "km");
    assert!(want
        .0
        .iter()
        .any(|r| r.starts_with("dialogue synth_test/aac cider_d")));

    for point in ["world", "model-build", "targets", "train", "eval", "report"] {
        let home = d.path().join(point);
        std::fs::create_dir_all(&home).unwrap();
        kill_at(&home, &spec, point);
        run_to_end(&home, &spec);
        let got = common::exported(&home, "km");
        assert_eq!(got.0, want.0, "scores after a kill at {point}");
        assert_eq!(got.1, want.1, "report after a kill at {point}");
    }
}

#[test]
fn eight_workers_run_each_run_once_without_a_locked_store() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let spec = common::write(
        d.path(),
        "grid.toml",
        &format!(
            "[experiment]\nname = \"grid\"\n{}\n[sweep]\nseeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]\n\n[runs.caption]\ntargets.kind = \"caption\"\n\n[runs.dialogue]\ntargets.kind = \"dialogue\"\n",
            common::TINY_DEFAULTS
        ),
    );
    let o = acdc_cmd(&home)
        .args(["run", spec.to_str().unwrap(), "--workers", "8"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{text}");
    assert!(
        !text.to_lowercase().contains("database is locked"),
        "{text}"
    );
    // One summary, of the whole experiment: the workers' own go nowhere.
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout.matches("experiment grid:").count(), 1, "{stdout}");
    assert!(
        stdout.contains("experiment grid: 24 run(s) executed, 0 already done, 0 failed"),
        "{stdout}"
    );
    let store = acdc::store::Store::open(&home.join("acdc.db")).unwrap();
    let runs = store.experiment_runs("grid").unwrap();
    assert_eq!(runs.len(), 24);
    for r in &runs {
        assert_eq!(store.run(&r.run_id).unwrap().status.as_str(), "done");
        let started = text
            .lines()
            .filter(|l| {
                l.starts_with(&format!("acdc: run {} ", r.run_id)) && l.ends_with(" starting")
            })
            .count();
        assert_eq!(
            started, 1,
            "run {} started {started} times:\n{text}",
            r.run_id
        );
    }
}

#[test]
fn a_worker_killed_mid_run_is_reaped_and_its_run_taken_over() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let spec = common::write(
        d.path(),
        "kw.toml",
        &format!(
            "[experiment]\nname = \"kw\"\n{}\n[sweep]\nseeds = [0, 1, 2, 3, 4, 5, 6, 7]\n\n[runs.long]\ntrain.steps = 400\ntrain.checkpoint_every = 50\n",
            common::TINY_DEFAULTS
        ),
    );
    let parent = acdc_cmd(&home)
        .args([
            "run",
            spec.to_str().unwrap(),
            "--workers",
            "3",
            "--no-report",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let parent_pid = parent.id() as i64;
    let mut parent = parent;
    let stderr = parent.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        let _ = tx.send(text);
    });
    // A run being trained by a worker process (not the parent), past its first checkpoint.
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    let (victim_run, victim_pid) = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no child worker got to train"
        );
        if let Ok(store) = acdc::store::Store::open(&home.join("acdc.db")) {
            let found = store.experiment_runs("kw").ok().and_then(|runs| {
                runs.into_iter().find_map(|r| {
                    let rec = store.run(&r.run_id).ok()?;
                    let pid = rec.worker_pid?;
                    let trained = store.step_series(&r.run_id, "loss").ok()?.len();
                    (rec.status.as_str() == "running" && pid != parent_pid && trained >= 60)
                        .then_some((r.run_id, pid))
                })
            });
            if let Some(f) = found {
                break f;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    kill9(victim_pid);
    // Reaped by the parent well before the grid ends: no zombie left behind.
    let reaped = std::time::Instant::now() + Duration::from_secs(30);
    while std::path::Path::new(&format!("/proc/{victim_pid}")).exists() {
        assert!(
            std::time::Instant::now() < reaped,
            "the killed worker was not reaped"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        parent.try_wait().unwrap().is_none(),
        "the grid ended before the reaping could be seen (make its runs longer)"
    );
    let status = wait_or_kill(&mut parent, Duration::from_secs(600));
    let text = rx.recv().unwrap_or_default();
    assert!(status.is_some_and(|s| s.success()), "{status:?}\n{text}");
    assert!(text.contains("a worker process was killed"), "{text}");
    let store = acdc::store::Store::open(&home.join("acdc.db")).unwrap();
    for r in store.experiment_runs("kw").unwrap() {
        assert_eq!(
            store.run(&r.run_id).unwrap().status.as_str(),
            "done",
            "{}",
            r.run_id
        );
    }
    let restarts = text
        .lines()
        .filter(|l| l.starts_with(&format!("acdc: run {victim_run} ")) && l.ends_with(" starting"))
        .count();
    assert_eq!(restarts, 2, "the killed run was not taken over:\n{text}");
}

/// SIGKILL to a process that is not our child.
fn kill9(pid: i64) {
    let st = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}
