//! The worker loop behind `acdc run`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::spec::{self, Plan, PlannedRun};
use crate::store::runs::{RunStatus, WorkerInfo};
use crate::store::Store;

/// Options of `acdc run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub spec: PathBuf,
    /// The overlay file applied to the spec (`--overlay`, resolved), if any.
    pub overlay: Option<PathBuf>,
    pub sets: Vec<String>,
    pub only: Vec<String>,
    /// Worker processes (`--workers`); `None`: the spec's `workers`, else one.
    pub workers: Option<usize>,
    pub retry_failed: bool,
    /// Evaluate the selected done runs again (their trained weights are kept).
    pub reeval: bool,
    pub home: PathBuf,
}

/// What an invocation did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RunSummary {
    pub experiment: String,
    pub executed: Vec<String>,
    pub failed: Vec<(String, String)>,
    pub already_done: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("--only {label}: no such row; rows: {rows}")]
    UnknownLabel { label: String, rows: String },
    #[error("worker process: {0}")]
    Worker(String),
}

/// The runs `--only` selects, plus the runs they start from.
pub fn select<'a>(plan: &'a Plan, only: &[String]) -> Result<Vec<&'a PlannedRun>, ExecError> {
    if only.is_empty() {
        return Ok(plan.runs.iter().collect());
    }
    let labels: BTreeSet<&str> = plan.runs.iter().map(|r| r.label.as_str()).collect();
    for l in only {
        if !labels.contains(l.as_str()) {
            return Err(ExecError::UnknownLabel {
                label: l.clone(),
                rows: labels.iter().copied().collect::<Vec<_>>().join(", "),
            });
        }
    }
    let mut want: BTreeSet<String> = plan
        .runs
        .iter()
        .filter(|r| only.contains(&r.label))
        .map(|r| r.run_id.clone())
        .collect();
    loop {
        let deps: Vec<String> = plan
            .runs
            .iter()
            .filter(|r| want.contains(&r.run_id))
            .filter_map(|r| r.config.init_from.clone())
            .filter(|d| !want.contains(d))
            .collect();
        if deps.is_empty() {
            break;
        }
        want.extend(deps);
    }
    Ok(plan
        .runs
        .iter()
        .filter(|r| want.contains(&r.run_id))
        .collect())
}

/// Keep a run's heartbeat fresh from a side thread while it executes.
struct Heartbeat {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    fn start(db: PathBuf, run_id: String) -> Heartbeat {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let Ok(store) = Store::open(&db) else { return };
            while !s.load(Ordering::Relaxed) {
                let _ = store.heartbeat(&run_id);
                for _ in 0..50 {
                    if s.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        });
        Heartbeat {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn execute_one(store: &mut Store, run: &PlannedRun, home: &Path) -> Result<(), String> {
    let init = run
        .config
        .init_from
        .as_ref()
        .map(|src| crate::train::trainer::final_weights(&store.run_dir(src)));
    let _beat = Heartbeat::start(store.path.clone(), run.run_id.clone());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        super::stages::execute(store, &run.run_id, &run.config, home, init)
    }));
    match r {
        // The run's failure, recorded as text: the one place a stage error becomes a string.
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("panic: {msg}"))
        }
    }
}

/// Execute the selected runs of a plan until none is left that this process can take.
pub fn worker_loop(
    store: &mut Store,
    runs: &[&PlannedRun],
    home: &Path,
    summary: &mut RunSummary,
) -> Result<(), ExecError> {
    let me = WorkerInfo::current();
    let mut attempted: BTreeSet<String> = BTreeSet::new();
    loop {
        let mut status: BTreeMap<String, RunStatus> = BTreeMap::new();
        for r in runs {
            status.insert(r.run_id.clone(), store.run(&r.run_id)?.status);
        }
        let open: Vec<&PlannedRun> = runs
            .iter()
            .copied()
            .filter(|r| match status[&r.run_id] {
                // Failed runs are retried only when `--retry-failed` made them pending again.
                RunStatus::Done | RunStatus::Failed => false,
                _ => true,
            })
            .collect();
        if open.is_empty() {
            return Ok(());
        }
        let mut progressed = false;
        let mut waiting = false;
        for r in &open {
            if let Some(dep) = &r.config.init_from {
                match status
                    .get(dep)
                    .copied()
                    .or_else(|| store.run(dep).ok().map(|x| x.status))
                {
                    Some(RunStatus::Done) => {}
                    Some(RunStatus::Failed) => {
                        // Its source failed: this run cannot start.
                        if store.claim(&r.run_id, &me, false)? {
                            let msg = format!("init_from run {dep} failed");
                            store.finish_run(&r.run_id, Some(&msg))?;
                            summary.failed.push((r.run_id.clone(), msg));
                            attempted.insert(r.run_id.clone());
                            progressed = true;
                        }
                        continue;
                    }
                    _ => {
                        waiting = true;
                        continue;
                    }
                }
            }
            if attempted.contains(&r.run_id) && status[&r.run_id] != RunStatus::Running {
                continue;
            }
            if store.claim(&r.run_id, &me, false)? {
                attempted.insert(r.run_id.clone());
                eprintln!("acdc: run {} ({}) starting", r.run_id, r.name());
                let result = execute_one(store, r, home);
                match &result {
                    Ok(()) => {
                        store.finish_run(&r.run_id, None)?;
                        eprintln!("acdc: run {} ({}) done", r.run_id, r.name());
                        summary.executed.push(r.run_id.clone());
                    }
                    Err(e) => {
                        store.finish_run(&r.run_id, Some(e))?;
                        eprintln!("acdc: run {} ({}) failed: {e}", r.run_id, r.name());
                        summary.failed.push((r.run_id.clone(), e.clone()));
                    }
                }
                progressed = true;
                break;
            } else if status[&r.run_id] == RunStatus::Running {
                waiting = true;
            }
        }
        if !progressed {
            if !waiting {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// `acdc run`: register the plan, execute it (with `workers` processes), return what happened.
pub fn run_experiment(opts: &RunOptions) -> Result<(Plan, RunSummary), ExecError> {
    let spec = spec::load_with(&opts.spec, opts.overlay.as_deref(), &opts.sets)?;
    let plan = spec::expand(&spec)?;
    let selected = select(&plan, &opts.only)?;
    let mut store = Store::open_home(&opts.home)?;
    store.register_plan(&plan, &opts.spec.display().to_string())?;
    let mut summary = RunSummary {
        experiment: plan.experiment.clone(),
        ..Default::default()
    };
    for r in &selected {
        // Reopened before any worker starts, so every worker sees them pending and each failed
        // run is retried once, however many workers there are.
        if opts.retry_failed {
            store.reset_failed(&r.run_id)?;
        }
        if opts.reeval && store.reopen_for_eval(&r.run_id)? {
            continue;
        }
        if store.run(&r.run_id)?.status == RunStatus::Done {
            summary.already_done.push(r.run_id.clone());
        }
    }
    let mut children = Vec::new();
    let workers = opts.workers.or(spec.workers).unwrap_or(1).max(1);
    if workers > 1 {
        let exe = std::env::current_exe().map_err(|e| ExecError::Worker(e.to_string()))?;
        for _ in 1..workers {
            let mut cmd = std::process::Command::new(&exe);
            cmd.arg("run")
                .arg(&opts.spec)
                .arg("--workers")
                .arg("1")
                .arg("--no-report")
                .env("ACDC_HOME", &opts.home);
            if let Some(o) = &opts.overlay {
                cmd.arg("--overlay").arg(o);
            }
            for s in &opts.sets {
                cmd.arg("--set").arg(s);
            }
            if !opts.only.is_empty() {
                cmd.arg("--only").arg(opts.only.join(","));
            }
            children.push(
                cmd.spawn()
                    .map_err(|e| ExecError::Worker(format!("{}: {e}", exe.display())))?,
            );
        }
    }
    worker_loop(&mut store, &selected, &opts.home, &mut summary)?;
    for mut c in children {
        let st = c.wait().map_err(|e| ExecError::Worker(e.to_string()))?;
        // Exit 2: the worker finished but some runs failed; they are gathered from the store below.
        if !st.success() && st.code() != Some(2) {
            return Err(ExecError::Worker(format!(
                "a worker process exited with {st}"
            )));
        }
    }
    // Runs finished by other workers count as executed in this invocation too.
    for r in &selected {
        let rec = store.run(&r.run_id)?;
        if rec.status == RunStatus::Failed && !summary.failed.iter().any(|(id, _)| id == &r.run_id)
        {
            summary
                .failed
                .push((r.run_id.clone(), rec.error.unwrap_or_default()));
        }
    }
    Ok((plan, summary))
}
