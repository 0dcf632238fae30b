//! `acdc run --executor slurm`, `acdc slurm-task` and `acdc ingest`: the handlers of the Slurm
//! executor (`exec::slurm`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::exec::slurm::{run_task, submit, wait, SlurmOptions};
use crate::exec::RunOptions;
use crate::store::Store;

/// Submit the runs that are not done; with `--wait`, follow them, ingest, render the report and
/// summarise as a local run.
pub fn run_on_slurm(
    opts: &RunOptions,
    slurm: &SlurmOptions,
    report_dir: Option<PathBuf>,
    no_report: bool,
    json: bool,
) -> Result<String> {
    let (plan, sub) = submit(opts, slurm)?;
    if !slurm.wait || sub.submitted.is_empty() {
        if json {
            return Ok(serde_json::to_string_pretty(&sub)? + "\n");
        }
        let mut out = format!(
            "experiment {}: {} run(s) submitted, {} already done\n",
            plan.experiment,
            sub.submitted.len(),
            sub.already_done.len()
        );
        if !sub.submitted.is_empty() {
            writeln!(
                out,
                "arrays: {}; ingestion job {} (`acdc ingest {}` any time; scripts and logs in {})",
                sub.arrays.join(", "),
                sub.ingest_job.as_deref().unwrap_or("-"),
                plan.experiment,
                sub.dir.display()
            )?;
        }
        return Ok(out);
    }
    let summary = wait(&opts.home, &plan, &sub)?;
    super::summarise(&plan, &summary, &opts.home, report_dir, no_report, json)
}

/// One array task: exit 0 when its run ended done, 2 otherwise (its error is in its store).
pub fn slurm_task(opts: &RunOptions, run: &str) -> Result<String> {
    if run_task(opts, run)? {
        Ok(format!("run {run} done\n"))
    } else {
        Err(super::RunsFailed {
            stdout: String::new(),
            failed: 1,
        }
        .into())
    }
}

/// Ingest the run stores of an experiment's runs; one line per run ingested.
pub fn ingest(home: &Path, experiment: &str) -> Result<String> {
    let mut store = super::open_existing(home)?;
    let done = ingest_experiment(&mut store, experiment)?;
    let mut out = String::new();
    for i in &done {
        writeln!(out, "{} {} ({} rows)", i.run_id, i.status, i.rows)?;
    }
    writeln!(out, "{} run store(s) ingested", done.len())?;
    Ok(out)
}

/// The run stores of `experiment`'s runs, copied into `store`.
pub fn ingest_experiment(
    store: &mut Store,
    experiment: &str,
) -> Result<Vec<crate::store::ingest::Ingested>> {
    let ids: Vec<String> = store
        .experiment_runs(experiment)?
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    Ok(store.ingest_runs(&ids)?)
}
