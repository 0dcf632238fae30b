//! The worker loop behind `acdc run`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::spec::{self, Plan, PlannedRun};
use crate::store::runs::{Claim, RunStatus, WorkerInfo};
use crate::store::{Store, StoreError};

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

/// Keep a run's heartbeat fresh from a side thread while it executes (its own connection; a
/// busy store only delays a beat). When the claim turns out lost, `lost` is set and the beats
/// stop.
struct Heartbeat {
    stop: Arc<AtomicBool>,
    lost: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    fn start(db: PathBuf, claim: Claim) -> Heartbeat {
        let stop = Arc::new(AtomicBool::new(false));
        let lost = Arc::new(AtomicBool::new(false));
        let (s, l) = (stop.clone(), lost.clone());
        let handle = std::thread::spawn(move || {
            let Ok(store) = Store::open(&db) else { return };
            while !s.load(Ordering::Relaxed) {
                if let Err(StoreError::ClaimLost { .. }) = store.heartbeat(&claim) {
                    l.store(true, Ordering::Relaxed);
                    return;
                }
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
            lost,
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

fn execute_one(
    store: &mut Store,
    run: &PlannedRun,
    claim: &Claim,
    home: &Path,
) -> Result<(), String> {
    let init = run
        .config
        .init_from
        .as_ref()
        .map(|src| store.run_dir(src).final_weights());
    let beat = Heartbeat::start(store.path.clone(), claim.clone());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        super::stages::execute(store, &run.run_id, &run.config, home, init, &beat.lost)
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
        // A Slurm task asked to stop takes nothing more.
        if crate::preempt::requested().is_some() {
            return Ok(());
        }
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
        let mut pass = Pass {
            store: &mut *store,
            status: &status,
            me: &me,
            attempted: &mut attempted,
            summary: &mut *summary,
            progressed: false,
            waiting: false,
        };
        pass.run_one(&open, home)?;
        let (progressed, waiting) = (pass.progressed, pass.waiting);
        if !progressed {
            if !waiting {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// One pass of a worker over the open runs: it executes the first it can claim, and notes
/// whether it made progress (executed or failed a run) or saw runs it must wait for.
struct Pass<'a> {
    store: &'a mut Store,
    status: &'a BTreeMap<String, RunStatus>,
    me: &'a WorkerInfo,
    attempted: &'a mut BTreeSet<String>,
    summary: &'a mut RunSummary,
    progressed: bool,
    waiting: bool,
}

/// Where a run's `init_from` parent stands.
enum Parent {
    /// None, or done: the run may start.
    Ready,
    /// Not done yet: the run waits.
    Pending,
    /// Failed: the run cannot start.
    Failed(String),
}

impl Pass<'_> {
    fn parent(&self, r: &PlannedRun) -> Parent {
        let Some(dep) = &r.config.init_from else {
            return Parent::Ready;
        };
        let status = self
            .status
            .get(dep)
            .copied()
            .or_else(|| self.store.run(dep).ok().map(|x| x.status));
        match status {
            Some(RunStatus::Done) => Parent::Ready,
            Some(RunStatus::Failed) => Parent::Failed(dep.clone()),
            _ => Parent::Pending,
        }
    }

    /// Try the open runs in order until one is executed.
    fn run_one(&mut self, open: &[&PlannedRun], home: &Path) -> Result<(), ExecError> {
        for r in open {
            match self.parent(r) {
                Parent::Ready => {}
                Parent::Pending => {
                    self.waiting = true;
                    continue;
                }
                Parent::Failed(dep) => {
                    self.fail_unstartable(r, &dep)?;
                    continue;
                }
            }
            let running = self.status[&r.run_id] == RunStatus::Running;
            if self.attempted.contains(&r.run_id) && !running {
                continue;
            }
            if let Some(claim) = self.store.claim(&r.run_id, self.me, false)? {
                self.attempted.insert(r.run_id.clone());
                self.execute(r, &claim, home)?;
                self.progressed = true;
                return Ok(());
            }
            if running {
                self.waiting = true;
            }
        }
        Ok(())
    }

    /// A run whose `init_from` source failed cannot start: record it as failed (when this
    /// worker gets its claim).
    fn fail_unstartable(&mut self, r: &PlannedRun, dep: &str) -> Result<(), ExecError> {
        if let Some(claim) = self.store.claim(&r.run_id, self.me, false)? {
            let msg = format!("init_from run {dep} failed");
            self.store.finish_run(&claim, Some(&msg))?;
            self.summary.failed.push((r.run_id.clone(), msg));
            self.attempted.insert(r.run_id.clone());
            self.progressed = true;
        }
        Ok(())
    }

    /// Execute a claimed run and record how it ended (unless the claim was lost meanwhile:
    /// then the worker that took the run over records its end, and this one says so).
    fn execute(&mut self, r: &PlannedRun, claim: &Claim, home: &Path) -> Result<(), ExecError> {
        say(format!("acdc: run {} ({}) starting", r.run_id, r.name()));
        let outcome = execute_one(self.store, r, claim, home);
        // Stopped by Slurm's signal (a Slurm task only): not a failure. The run goes back to
        // pending, its checkpoint kept, for the task's next start.
        if outcome.is_err() && crate::preempt::requested().is_some() {
            self.store.release_claim_of_dead_task(&r.run_id)?;
            say(format!(
                "acdc: run {} ({}) stopped by a Slurm signal ({}); it resumes from its checkpoint when its task runs again",
                r.run_id,
                r.name(),
                outcome.err().unwrap_or_default()
            ));
            return Ok(());
        }
        match self
            .store
            .finish_run(claim, outcome.as_ref().err().map(String::as_str))
        {
            Err(e @ StoreError::ClaimLost { .. }) => {
                say(format!("acdc: run {} ({}): {e}", r.run_id, r.name()));
                return Ok(());
            }
            other => other?,
        }
        match outcome {
            Ok(()) => {
                say(format!("acdc: run {} ({}) done", r.run_id, r.name()));
                self.summary.executed.push(r.run_id.clone());
            }
            Err(e) => {
                say(format!("acdc: run {} ({}) failed: {e}", r.run_id, r.name()));
                self.summary.failed.push((r.run_id.clone(), e));
            }
        }
        Ok(())
    }
}

/// Prints one status line on stderr in one `write` call. Workers share their parent's stderr,
/// and `eprintln!` writes a formatted line piece by piece, so lines from eight workers could
/// interleave mid-line; one write of a line under `PIPE_BUF` bytes reaches a pipe whole.
fn say(line: String) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
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
                .env("ACDC_HOME", &opts.home)
                // A worker's own summary counts only its runs; this process prints the
                // experiment's, read from the store. Its status lines (stderr) still show.
                .stdout(std::process::Stdio::null());
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
    // Worker processes are reaped as soon as they end (`try_wait` every half second), so one
    // killed mid-run (say by the OOM killer) is gone at once rather than a zombie whose pid
    // still exists until this process reaches its end; the other workers then take its run
    // over.
    let reaper = std::thread::spawn(move || {
        let mut statuses = Vec::with_capacity(children.len());
        while !children.is_empty() {
            let mut i = 0;
            while i < children.len() {
                match children[i].try_wait() {
                    Ok(Some(st)) => {
                        statuses.push(Ok(st));
                        children.swap_remove(i);
                    }
                    Ok(None) => i += 1,
                    Err(e) => {
                        statuses.push(Err(e.to_string()));
                        children.swap_remove(i);
                    }
                }
            }
            if !children.is_empty() {
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
        }
        statuses
    });
    let looped = worker_loop(&mut store, &selected, &opts.home, &mut summary);
    let statuses = reaper
        .join()
        .map_err(|_| ExecError::Worker("the worker reaper panicked".into()))?;
    looped?;
    for st in statuses {
        let st = st.map_err(ExecError::Worker)?;
        // Killed by a signal (the OOM killer, `kill -9`): its run is taken over by the workers
        // left, and what happened to every run is read from the store below.
        if st.code().is_none() {
            eprintln!("acdc: a worker process was killed ({st}); the runs it held were taken over");
            continue;
        }
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
        if rec.status == RunStatus::Done
            && !summary.already_done.contains(&r.run_id)
            && !summary.executed.contains(&r.run_id)
        {
            summary.executed.push(r.run_id.clone());
        }
        if rec.status == RunStatus::Failed && !summary.failed.iter().any(|(id, _)| id == &r.run_id)
        {
            summary
                .failed
                .push((r.run_id.clone(), rec.error.unwrap_or_default()));
        }
    }
    Ok((plan, summary))
}
