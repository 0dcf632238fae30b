//! `acdc run SPEC --executor slurm`: a grid as Slurm job arrays.
//!
//! The submitting host registers the plan in `acdc.db`, ingests what earlier tasks left, and
//! submits one array task per run that is not done: `sbatch --array=0-(N-1)%K` over a list of
//! run ids (split into several arrays where N exceeds the cluster's `MaxArraySize`). A run whose
//! `init_from` parent is also submitted goes in a later array, submitted with
//! `--dependency=afterany:<the earlier arrays>`, so it never holds an allocation while it waits;
//! its task checks that the parent ended done (else it records why it cannot start). Each task
//! runs `acdc slurm-task` on its run with the run's own store (`runs/<id>/run.db`, see
//! `store::ingest`), writing only to its run folder in the shared `$ACDC_HOME`. A last job
//! (`afterany` on every array) runs `acdc ingest`, so the store and `acdc report` are complete
//! when the arrays end; `acdc run` and `acdc report` ingest too, and ingestion is idempotent.
//! With `--wait`, `acdc run` follows the jobs (`squeue`) and exits as a local run does (2 when
//! a run failed).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::worker::{select, worker_loop, ExecError, RunOptions, RunSummary};
use crate::spec::{self, Plan, PlannedRun};
use crate::store::runs::RunStatus;
use crate::store::Store;

/// The `sbatch` settings of a submission (flags of `acdc run --executor slurm`).
#[derive(Debug, Clone, Default)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    pub account: Option<String>,
    /// `--time` of each task (`HH:MM:SS`, `D-HH:MM`, …).
    pub time: Option<String>,
    pub cpus_per_task: Option<usize>,
    pub gpus_per_task: Option<usize>,
    /// `--mem` of each task (`16G`, …).
    pub mem: Option<String>,
    /// At most this many tasks of an array at once (`%K`).
    pub array_parallelism: Option<usize>,
    /// Extra `#SBATCH` lines, as given (`--qos=high`, `--constraint=a100`).
    pub sbatch_lines: Vec<String>,
    /// Follow the jobs until they end, then ingest and summarise.
    pub wait: bool,
}

/// What a submission did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Submitted {
    pub experiment: String,
    /// The folder with the scripts, run lists and task logs.
    pub dir: PathBuf,
    /// Job ids of the arrays, in submission order, and of the final ingestion job.
    pub arrays: Vec<String>,
    pub ingest_job: Option<String>,
    /// Runs submitted, and runs already done (not submitted).
    pub submitted: Vec<String>,
    pub already_done: Vec<String>,
}

/// One array to submit: the runs of one `init_from` level, a slice of at most MaxArraySize.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayJob {
    pub name: String,
    pub runs: Vec<String>,
    /// Index of the level (0: no parent among the submitted runs).
    pub level: usize,
}

/// The runs to submit grouped into arrays: by `init_from` level (a run after its parent's level),
/// each level split into slices of at most `max_array` runs.
pub fn arrays(experiment: &str, runs: &[&PlannedRun], max_array: usize) -> Vec<ArrayJob> {
    let ids: BTreeMap<&str, &PlannedRun> = runs.iter().map(|r| (r.run_id.as_str(), *r)).collect();
    let mut level: BTreeMap<&str, usize> = BTreeMap::new();
    fn depth<'a>(
        r: &'a PlannedRun,
        ids: &BTreeMap<&'a str, &'a PlannedRun>,
        level: &mut BTreeMap<&'a str, usize>,
    ) -> usize {
        if let Some(&l) = level.get(r.run_id.as_str()) {
            return l;
        }
        let l = match r.config.init_from.as_deref().and_then(|p| ids.get(p)) {
            Some(parent) => depth(parent, ids, level) + 1,
            None => 0,
        };
        level.insert(r.run_id.as_str(), l);
        l
    }
    for r in runs {
        depth(r, &ids, &mut level);
    }
    let deepest = level.values().copied().max().unwrap_or(0);
    let mut out = Vec::new();
    for l in 0..=deepest {
        let at: Vec<String> = runs
            .iter()
            .filter(|r| level[r.run_id.as_str()] == l)
            .map(|r| r.run_id.clone())
            .collect();
        for (i, chunk) in at.chunks(max_array.max(1)).enumerate() {
            out.push(ArrayJob {
                name: format!("acdc-{experiment}-l{l}-{i}"),
                runs: chunk.to_vec(),
                level: l,
            });
        }
    }
    out
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The batch script of one array: `#SBATCH` settings, then `acdc slurm-task` on the run of line
/// `SLURM_ARRAY_TASK_ID + 1` of `run_list`. `acdc` is `exe`, which must be on the shared
/// filesystem (as `home` and the spec must be).
#[allow(clippy::too_many_arguments)] // the parts of one script, each distinct
pub fn array_script(
    job: &ArrayJob,
    o: &SlurmOptions,
    exe: &Path,
    home: &Path,
    task_args: &[String],
    run_list: &Path,
    log_dir: &Path,
) -> String {
    let mut s = String::from("#!/bin/bash\n");
    let _ = writeln!(s, "#SBATCH --job-name={}", job.name);
    let n = job.runs.len();
    match o.array_parallelism {
        Some(k) => {
            let _ = writeln!(s, "#SBATCH --array=0-{}%{k}", n - 1);
        }
        None => {
            let _ = writeln!(s, "#SBATCH --array=0-{}", n - 1);
        }
    }
    let _ = writeln!(
        s,
        "#SBATCH --output={}",
        log_dir.join(format!("{}-%a.out", job.name)).display()
    );
    let _ = writeln!(s, "#SBATCH --requeue");
    // Two minutes before the time limit: checkpoint and requeue (`preempt`).
    let _ = writeln!(s, "#SBATCH --signal=B:USR1@120");
    // A requeued task's log goes on after its first attempt's.
    let _ = writeln!(s, "#SBATCH --open-mode=append");
    if let Some(p) = &o.partition {
        let _ = writeln!(s, "#SBATCH --partition={p}");
    }
    if let Some(a) = &o.account {
        let _ = writeln!(s, "#SBATCH --account={a}");
    }
    if let Some(t) = &o.time {
        let _ = writeln!(s, "#SBATCH --time={t}");
    }
    if let Some(c) = o.cpus_per_task {
        let _ = writeln!(s, "#SBATCH --cpus-per-task={c}");
    }
    if let Some(g) = o.gpus_per_task {
        let _ = writeln!(s, "#SBATCH --gpus-per-task={g}");
    }
    if let Some(m) = &o.mem {
        let _ = writeln!(s, "#SBATCH --mem={m}");
    }
    for l in &o.sbatch_lines {
        let l = l.trim();
        let l = l.strip_prefix("#SBATCH").map(str::trim).unwrap_or(l);
        let _ = writeln!(s, "#SBATCH {l}");
    }
    s.push_str("set -euo pipefail\n");
    let _ = writeln!(
        s,
        "run=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" {})",
        sh_quote(&run_list.display().to_string())
    );
    let args: Vec<String> = task_args.iter().map(|a| sh_quote(a)).collect();
    let _ = writeln!(
        s,
        "exec env ACDC_HOME={} {} slurm-task {} --run \"$run\"",
        sh_quote(&home.display().to_string()),
        sh_quote(&exe.display().to_string()),
        args.join(" ")
    );
    s
}

/// A command's stdout, or an error naming it.
fn output(cmd: &mut Command) -> Result<String, ExecError> {
    let what = format!("{cmd:?}");
    let o = cmd
        .output()
        .map_err(|e| ExecError::Worker(format!("{what}: {e} (is Slurm installed here?)")))?;
    if !o.status.success() {
        return Err(ExecError::Worker(format!(
            "{what} exited with {}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&o.stdout).to_string())
}

/// The cluster's `MaxArraySize` (`scontrol show config`); Slurm's default 1001 if unreadable.
fn max_array_size() -> usize {
    Command::new("scontrol")
        .args(["show", "config"])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout).lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == "MaxArraySize").then(|| v.trim().parse::<usize>().ok())?
            })
        })
        .unwrap_or(1001)
        // Task ids run 0..MaxArraySize-1.
        .saturating_sub(1)
        .max(1)
}

/// The `acdc slurm-task` arguments that give the same plan: the spec, overlay and `--set`s.
fn task_args(opts: &RunOptions) -> Result<Vec<String>, ExecError> {
    let abs = |p: &Path| {
        std::path::absolute(p).map_err(|e| ExecError::Worker(format!("{}: {e}", p.display())))
    };
    let mut a = vec![abs(&opts.spec)?.display().to_string()];
    if let Some(o) = &opts.overlay {
        a.push("--overlay".into());
        a.push(abs(o)?.display().to_string());
    }
    for s in &opts.sets {
        a.push("--set".into());
        a.push(s.clone());
    }
    Ok(a)
}

/// Register, ingest what earlier tasks left, and submit the runs that are not done.
pub fn submit(opts: &RunOptions, o: &SlurmOptions) -> Result<(Plan, Submitted), ExecError> {
    let spec = spec::load_with(&opts.spec, opts.overlay.as_deref(), &opts.sets)?;
    let plan = spec::expand(&spec)?;
    let selected = select(&plan, &opts.only)?;
    let home = std::path::absolute(&opts.home)
        .map_err(|e| ExecError::Worker(format!("{}: {e}", opts.home.display())))?;
    let mut store = Store::open_home(&home)?;
    store.register_plan(&plan, &opts.spec.display().to_string())?;
    let ids: Vec<String> = selected.iter().map(|r| r.run_id.clone()).collect();
    store.ingest_runs(&ids)?;
    let mut sub = Submitted {
        experiment: plan.experiment.clone(),
        ..Default::default()
    };
    let mut todo = Vec::new();
    for r in &selected {
        match store.run(&r.run_id)?.status {
            RunStatus::Done => sub.already_done.push(r.run_id.clone()),
            RunStatus::Failed if !opts.retry_failed => {}
            _ => todo.push(*r),
        }
    }
    if todo.is_empty() {
        return Ok((plan, sub));
    }
    // A task reads its parent's state from the parent's run store: one for each parent that
    // ended done here (run locally, say) without one.
    let home_dirs = crate::home::Home::new(&home);
    for r in &todo {
        let Some(parent) = r.config.init_from.as_deref() else {
            continue;
        };
        if !home_dirs.run(parent).store().exists() && store.run(parent)?.status == RunStatus::Done {
            let main = store.path.clone();
            Store::open_run_store(&home, parent)?.ingest_run_store(&main, parent)?;
        }
    }
    let stamp = crate::store::now_iso().replace([':', '-'], "");
    sub.dir = home
        .join("slurm")
        .join(format!("{}-{stamp}", plan.experiment));
    let logs = sub.dir.join("logs");
    std::fs::create_dir_all(&logs)
        .map_err(|e| ExecError::Worker(format!("{}: {e}", logs.display())))?;
    let exe = std::env::current_exe().map_err(|e| ExecError::Worker(e.to_string()))?;
    let args = task_args(opts)?;
    let mut prev_levels: Vec<String> = Vec::new();
    let mut this_level: Vec<String> = Vec::new();
    let mut level = 0;
    for job in arrays(&plan.experiment, &todo, max_array_size()) {
        if job.level != level {
            prev_levels.append(&mut this_level);
            level = job.level;
        }
        let list = sub.dir.join(format!("{}.runs", job.name));
        let script = sub.dir.join(format!("{}.sh", job.name));
        let write = |p: &Path, text: String| {
            std::fs::write(p, text).map_err(|e| ExecError::Worker(format!("{}: {e}", p.display())))
        };
        write(&list, job.runs.join("\n") + "\n")?;
        write(
            &script,
            array_script(&job, o, &exe, &home, &args, &list, &logs),
        )?;
        let mut cmd = Command::new("sbatch");
        cmd.arg("--parsable");
        if !prev_levels.is_empty() {
            cmd.arg(format!("--dependency=afterany:{}", prev_levels.join(":")));
        }
        cmd.arg(&script);
        let id = output(&mut cmd)?
            .trim()
            .split(';')
            .next()
            .unwrap_or("")
            .to_string();
        eprintln!(
            "acdc: submitted {} run(s) as array job {id} ({})",
            job.runs.len(),
            job.name
        );
        sub.submitted.extend(job.runs.iter().cloned());
        this_level.push(id.clone());
        sub.arrays.push(id);
    }
    // The store complete when the arrays end, whatever became of them.
    let ingest = format!(
        "exec env ACDC_HOME={} {} ingest {}",
        sh_quote(&home.display().to_string()),
        sh_quote(&exe.display().to_string()),
        sh_quote(&plan.experiment)
    );
    let id = output(
        Command::new("sbatch")
            .arg("--parsable")
            .arg(format!("--job-name=acdc-{}-ingest", plan.experiment))
            .arg(format!("--dependency=afterany:{}", sub.arrays.join(":")))
            .arg(format!("--output={}", logs.join("ingest.out").display()))
            .args(o.partition.as_ref().map(|p| format!("--partition={p}")))
            .args(o.account.as_ref().map(|a| format!("--account={a}")))
            .arg("--wrap")
            .arg(ingest),
    )?;
    sub.ingest_job = Some(id.trim().split(';').next().unwrap_or("").to_string());
    Ok((plan, sub))
}

/// Follow submitted jobs until none is queued or running (`squeue`), saying how many runs are
/// done now and then; then ingest and summarise as a local run.
pub fn wait(home: &Path, plan: &Plan, sub: &Submitted) -> Result<RunSummary, ExecError> {
    let mut jobs: Vec<String> = sub.arrays.clone();
    jobs.extend(sub.ingest_job.clone());
    let mut last = String::new();
    loop {
        let q = output(Command::new("squeue").args(["-h", "-o", "%i %t", "-j", &jobs.join(",")]))
            .unwrap_or_default();
        let n = q.lines().filter(|l| !l.trim().is_empty()).count();
        let done = sub
            .submitted
            .iter()
            .filter(|id| {
                Store::open(&crate::home::Home::new(home).run(id).store())
                    .ok()
                    .and_then(|s| s.run(id).ok())
                    .is_some_and(|r| matches!(r.status, RunStatus::Done | RunStatus::Failed))
            })
            .count();
        let line = format!(
            "{done}/{} run(s) ended, {n} job task(s) queued or running",
            sub.submitted.len()
        );
        if line != last {
            eprintln!("acdc: {line}");
            last = line;
        }
        if n == 0 {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let mut store = Store::open_home(home)?;
    store.ingest_runs(&sub.submitted)?;
    let mut summary = RunSummary {
        experiment: plan.experiment.clone(),
        already_done: sub.already_done.clone(),
        ..Default::default()
    };
    for id in &sub.submitted {
        let r = store.run(id)?;
        match r.status {
            RunStatus::Done => summary.executed.push(id.clone()),
            RunStatus::Failed => summary
                .failed
                .push((id.clone(), r.error.unwrap_or_default())),
            other => summary.failed.push((
                id.clone(),
                format!(
                    "its task ended with the run {} (killed or out of time; `acdc run --executor slurm` resubmits it)",
                    other.as_str()
                ),
            )),
        }
    }
    Ok(summary)
}

/// `acdc slurm-task`: execute one run of the plan against its own store. A claim left by a task
/// that was killed or preempted is released first (Slurm runs one task per run at a time), and
/// the stages resume from what that task recorded. A run whose parent failed is recorded failed;
/// one whose parent did not end (killed, out of time) stays pending. Returns whether the run
/// ended done.
pub fn run_task(opts: &RunOptions, run_id: &str) -> Result<bool, ExecError> {
    let spec = spec::load_with(&opts.spec, opts.overlay.as_deref(), &opts.sets)?;
    let plan = spec::expand(&spec)?;
    let run = plan
        .runs
        .iter()
        .find(|r| r.run_id == run_id)
        .ok_or_else(|| {
            ExecError::Worker(format!("run {run_id} is not in {}", opts.spec.display()))
        })?;
    let mut store = Store::open_run_store(&opts.home, run_id)?;
    store.register_plan(&plan, &opts.spec.display().to_string())?;
    store.release_claim_of_dead_task(run_id)?;
    if let Some(parent) = run.config.init_from.as_deref() {
        let src = crate::home::Home::new(&opts.home).run(parent).store();
        if src.exists() {
            store.ingest_run_store(&src, parent)?;
        }
        match store.run(parent)?.status {
            RunStatus::Done => {}
            // As a local worker does: a run whose source failed cannot start.
            RunStatus::Failed => {
                let me = crate::store::runs::WorkerInfo::current();
                if let Some(claim) = store.claim(run_id, &me, false)? {
                    store.finish_run(&claim, Some(&format!("init_from run {parent} failed")))?;
                }
                return Ok(false);
            }
            // Its task was killed or ran out of time: this run stays pending, for the next
            // submission to run after it.
            other => {
                eprintln!(
                    "acdc: run {run_id} waits for its init_from run {parent}, which did not end ({}); `acdc run --executor slurm` submits both again",
                    other.as_str()
                );
                return Ok(false);
            }
        }
    }
    crate::preempt::install();
    let mut summary = RunSummary::default();
    worker_loop(&mut store, &[run], &opts.home, &mut summary)?;
    if crate::preempt::requested() == Some(crate::preempt::Stop::Requeue) {
        requeue_self()?;
    }
    Ok(store.run(run_id)?.status == RunStatus::Done)
}

/// Put this task back in the queue (`scontrol requeue`): it starts again later, from the
/// checkpoint just written.
fn requeue_self() -> Result<(), ExecError> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let id = match (var("SLURM_ARRAY_JOB_ID"), var("SLURM_ARRAY_TASK_ID")) {
        (Some(job), Some(task)) => format!("{job}_{task}"),
        _ => var("SLURM_JOB_ID").ok_or_else(|| {
            ExecError::Worker(
                "asked to requeue, but SLURM_JOB_ID is not set (not a Slurm task?)".into(),
            )
        })?,
    };
    eprintln!("acdc: requeueing task {id} (scontrol requeue)");
    output(Command::new("scontrol").args(["requeue", &id]))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(id: &str, parent: Option<&str>) -> PlannedRun {
        let cfg = crate::spec::RunConfig {
            init_from: parent.map(str::to_string),
            ..Default::default()
        };
        PlannedRun {
            run_id: id.into(),
            label: id.into(),
            point: Vec::new(),
            seed: 0,
            config: cfg,
            init_from_label: None,
            paper: Default::default(),
        }
    }

    #[test]
    fn arrays_follow_init_from_levels_and_the_array_limit() {
        let runs = [
            planned("a", None),
            planned("b", None),
            planned("c", Some("a")),
            planned("d", Some("c")),
            planned("e", None),
            planned("f", Some("zz")), // a parent not submitted (done already)
        ];
        let refs: Vec<&PlannedRun> = runs.iter().collect();
        let jobs = arrays("x", &refs, 2);
        let got: Vec<(usize, Vec<&str>)> = jobs
            .iter()
            .map(|j| (j.level, j.runs.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, vec!["a", "b"]),
                (0, vec!["e", "f"]),
                (1, vec!["c"]),
                (2, vec!["d"]),
            ]
        );
    }

    #[test]
    fn the_script_asks_for_what_was_given() {
        let job = ArrayJob {
            name: "acdc-x-l0-0".into(),
            runs: vec!["r1".into(), "r2".into(), "r3".into()],
            level: 0,
        };
        let o = SlurmOptions {
            partition: Some("gpu".into()),
            account: Some("lab".into()),
            time: Some("04:00:00".into()),
            cpus_per_task: Some(8),
            gpus_per_task: Some(1),
            mem: Some("64G".into()),
            array_parallelism: Some(2),
            sbatch_lines: vec!["--qos=high".into(), "#SBATCH --constraint=h100".into()],
            wait: false,
        };
        let s = array_script(
            &job,
            &o,
            Path::new("/shared/bin/acdc"),
            Path::new("/shared/home"),
            &["/shared/x.toml".into(), "--set".into(), "seed=1".into()],
            Path::new("/shared/home/slurm/x/acdc-x-l0-0.runs"),
            Path::new("/shared/home/slurm/x/logs"),
        );
        for line in [
            "#SBATCH --array=0-2%2",
            "#SBATCH --requeue",
            "#SBATCH --signal=B:USR1@120",
            "#SBATCH --partition=gpu",
            "#SBATCH --account=lab",
            "#SBATCH --time=04:00:00",
            "#SBATCH --cpus-per-task=8",
            "#SBATCH --gpus-per-task=1",
            "#SBATCH --mem=64G",
            "#SBATCH --qos=high",
            "#SBATCH --constraint=h100",
            "#SBATCH --output=/shared/home/slurm/x/logs/acdc-x-l0-0-%a.out",
            "run=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" '/shared/home/slurm/x/acdc-x-l0-0.runs')",
            "exec env ACDC_HOME='/shared/home' '/shared/bin/acdc' slurm-task '/shared/x.toml' '--set' 'seed=1' --run \"$run\"",
        ] {
            assert!(s.lines().any(|l| l == line), "missing {line:?} in\n{s}");
        }
    }
}
