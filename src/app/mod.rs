//! Command handlers behind the CLI: each returns the text it prints (so tests can call them).
//! Experiment and store commands live here; `lm` holds the backbone-inspection commands.

pub mod ask;
pub mod encode;
pub mod eval;
pub mod judge;
pub mod lm;
pub mod lm_bench;
pub mod score;
pub mod slurm;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cli::{Cli, Command, ExportFormat};
use crate::exec::{run_experiment, RunOptions};
use crate::spec::{self, Plan};
use crate::store::runs::RunStatus;
use crate::store::Store;

/// `acdc run` went through the whole grid (and rendered its report) but some runs failed: the
/// summary is still printed, and the process exits with status 2 so scripts and CI notice.
#[derive(Debug)]
pub struct RunsFailed {
    /// What goes to stdout: the summary (text or JSON).
    pub stdout: String,
    pub failed: usize,
}

impl std::fmt::Display for RunsFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} run(s) failed; their errors are stored (`acdc ls --status failed`, `acdc show RUN`), and `acdc run --retry-failed` runs them again",
            self.failed
        )
    }
}

impl std::error::Error for RunsFailed {}

fn finish_run(stdout: String, failed: usize) -> Result<String> {
    if failed == 0 {
        Ok(stdout)
    } else {
        Err(RunsFailed { stdout, failed }.into())
    }
}

/// Run a parsed command; returns what goes to stdout. An `acdc run` with failed runs returns
/// [`RunsFailed`], which carries its stdout.
pub fn dispatch(cli: Cli) -> Result<String> {
    let home = cli
        .home
        .clone()
        .unwrap_or_else(|| crate::home::Home::from_env().root().to_path_buf());
    match cli.command {
        Command::Plan {
            spec,
            overlay,
            sets,
            json,
        } => {
            let overlay = resolve_overlay(overlay.as_deref(), &spec)?;
            plan(&spec, overlay.as_deref(), &sets, &home, json)
        }
        Command::Run(a) => {
            let overlay = resolve_overlay(a.overlay.as_deref(), &a.spec)?;
            if a.dry_run {
                return plan(&a.spec, overlay.as_deref(), &a.sets, &home, a.json);
            }
            let opts = RunOptions {
                spec: a.spec,
                overlay,
                sets: a.sets,
                only: a.only,
                workers: a.workers,
                retry_failed: a.retry_failed,
                reeval: a.reeval,
                home: home.clone(),
            };
            match a.executor {
                crate::cli::Executor::Local => run(&opts, a.report_dir, a.no_report, a.json),
                crate::cli::Executor::Slurm => {
                    let s = crate::exec::slurm::SlurmOptions {
                        partition: a.partition,
                        account: a.account,
                        time: a.time,
                        cpus_per_task: a.cpus_per_task,
                        gpus_per_task: a.gpus_per_task,
                        mem: a.mem,
                        array_parallelism: a.array_parallelism,
                        sbatch_lines: a.sbatch_lines,
                        wait: a.wait,
                    };
                    slurm::run_on_slurm(&opts, &s, a.report_dir, a.no_report, a.json)
                }
            }
        }
        Command::Ingest { experiment } => slurm::ingest(&home, &experiment),
        Command::SlurmTask {
            spec,
            overlay,
            sets,
            run,
        } => {
            let opts = RunOptions {
                spec,
                overlay,
                sets,
                only: Vec::new(),
                workers: Some(1),
                retry_failed: true,
                reeval: false,
                home: home.clone(),
            };
            slurm::slurm_task(&opts, &run)
        }
        Command::Ls {
            experiment,
            status,
            json,
        } => ls(&home, experiment.as_deref(), status.as_deref(), json),
        Command::Show { run, json } => show(&home, &run, json),
        Command::Diff { a, b } => diff(&home, &a, &b),
        Command::Export { experiment, format } => export(&home, &experiment, format),
        Command::Report { experiment, out } => {
            let mut store = open_existing(&home)?;
            slurm::ingest_experiment(&mut store, &experiment)?;
            let dir = out.unwrap_or_else(|| PathBuf::from("reports").join(&experiment));
            let files = crate::report::write_report(&store, &experiment, &dir)?;
            Ok(files.iter().map(|f| format!("{}\n", f.display())).collect())
        }
        Command::Lm { command } => lm::dispatch(command, &home),
        Command::Score(a) => score::score(
            &a.input,
            &a.metrics,
            a.tokenizer,
            &score::Jars {
                meteor_jar: a.meteor_jar,
                spice_jar: a.spice_jar,
            },
            a.json,
        ),
        Command::Features {
            audio,
            out_dir,
            raw,
            no_pad,
            target_frames,
        } => features(
            &audio,
            &out_dir,
            raw,
            if no_pad { 0 } else { target_frames },
        ),
        Command::Encode {
            encoder,
            inputs,
            out_dir,
            no_pad,
            target_frames,
        } => encode::encode(
            &home,
            &encoder,
            &inputs,
            &out_dir,
            if no_pad { 0 } else { target_frames },
        ),
        Command::Ask(a) => ask::ask(
            &home,
            &a.run,
            &a.audio,
            a.question.as_deref(),
            crate::exec::ask::AskDecode {
                beams: a.beams,
                max_new_tokens: a.max_new_tokens,
            },
            a.json,
        ),
        Command::Eval {
            run,
            aqa,
            aac,
            name,
            json,
        } => eval::eval(
            &home,
            &run,
            &crate::exec::score_set::NewSet { name, aqa, aac },
            json,
        ),
        Command::Judge { input, args, json } => judge::judge(&home, &input, &args, json),
        Command::Synth {
            out,
            clips,
            seed,
            clip_seconds,
        } => synth(&out, clips, seed, clip_seconds),
    }
}

/// `acdc synth`: write a synthetic world.
fn synth(out: &Path, clips: usize, seed: u64, clip_seconds: f32) -> Result<String> {
    let mut cfg = crate::data::synth::SynthConfig::new(clips, seed);
    cfg.clip_seconds = clip_seconds;
    let s = crate::data::synth::generate(out, &cfg)?;
    Ok(format!(
        "{}: {} train + {} test clips, {} event types\n",
        out.display(),
        s.train,
        s.test,
        s.event_types.len()
    ))
}

/// `acdc run` (not `--dry-run`): execute the plan, write its report unless `no_report`, and say
/// what happened.
fn run(
    opts: &RunOptions,
    report_dir: Option<PathBuf>,
    no_report: bool,
    json: bool,
) -> Result<String> {
    let (plan, summary) = run_experiment(opts)?;
    summarise(&plan, &summary, &opts.home, report_dir, no_report, json)
}

/// Render the report (unless `no_report`) and say what an `acdc run` did; exit 2 when a run
/// failed ([`RunsFailed`]).
fn summarise(
    plan: &Plan,
    summary: &crate::exec::RunSummary,
    home: &Path,
    report_dir: Option<PathBuf>,
    no_report: bool,
    json: bool,
) -> Result<String> {
    let mut out = String::new();
    if !no_report {
        let dir = report_dir.unwrap_or_else(|| PathBuf::from("reports").join(&plan.experiment));
        let store = Store::open_home(home)?;
        crate::report::write_report(&store, &plan.experiment, &dir)?;
        if !json {
            writeln!(out, "report: {}", dir.join("README.md").display())?;
        }
    }
    if json {
        return finish_run(
            serde_json::to_string_pretty(&summary)? + "\n",
            summary.failed.len(),
        );
    }
    let mut head = format!(
        "experiment {}: {} run(s) executed, {} already done, {} failed\n",
        plan.experiment,
        summary.executed.len(),
        summary.already_done.len(),
        summary.failed.len()
    );
    for n in &plan.notes {
        writeln!(head, "note: {n}")?;
    }
    for (id, e) in &summary.failed {
        writeln!(head, "  failed {id}: {}", e.lines().next().unwrap_or(""))?;
    }
    finish_run(head + &out, summary.failed.len())
}

/// `acdc features`: one `.npy` per input; every failure is reported, the others are still written.
fn features(audio: &[PathBuf], out_dir: &Path, raw: bool, target_frames: usize) -> Result<String> {
    use crate::audio::{
        decode::load_mono_16k,
        fbank::{eat_input, FbankConfig},
        npy,
    };
    let cfg = FbankConfig::default();
    per_file(audio, out_dir, |a, dest| {
        let w = load_mono_16k(a)?;
        let (f, frames) = eat_input(&w, &cfg, target_frames, !raw);
        npy::write_f32(dest, &f, &[frames, cfg.num_mel_bins])
            .with_context(|| format!("{}: cannot write", dest.display()))?;
        Ok(format!(
            "{} [{frames}, {}]",
            dest.display(),
            cfg.num_mel_bins
        ))
    })
}

/// Run `work(input, DIR/<stem>.npy)` for every input: one output line each; a failing input does
/// not stop the others, and the command fails at the end listing every failure (two inputs with one
/// stem are refused rather than overwriting each other).
pub(crate) fn per_file(
    inputs: &[PathBuf],
    out_dir: &Path,
    mut work: impl FnMut(&Path, &Path) -> Result<String>,
) -> Result<String> {
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("{}: cannot create the output folder", out_dir.display()))?;
    let mut out = String::new();
    let mut failed = Vec::new();
    let mut stems = std::collections::BTreeSet::new();
    for a in inputs {
        let stem = a
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "input".into());
        if !stems.insert(stem.clone()) {
            failed.push(format!(
                "{}: another input already writes {stem}.npy",
                a.display()
            ));
            continue;
        }
        match work(a, &out_dir.join(format!("{stem}.npy"))) {
            Ok(line) => writeln!(out, "{line}")?,
            Err(e) => failed.push(format!("{e:#}")),
        }
    }
    if !failed.is_empty() {
        print!("{out}");
        bail!(
            "{} of {} file(s) failed:\n  {}",
            failed.len(),
            inputs.len(),
            failed.join("\n  ")
        );
    }
    Ok(out)
}

fn open_existing(home: &Path) -> Result<Store> {
    let db = crate::home::Home::new(home).db();
    if !db.exists() {
        bail!(
            "{}: no store here yet (run an experiment first, or pass --home / set ACDC_HOME)",
            db.display()
        );
    }
    Ok(Store::open(&db)?)
}

/// Render rows as an aligned text table.
pub fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let s: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect();
        s.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    out += &line(&w.iter().map(|n| "-".repeat(*n)).collect::<Vec<_>>());
    for r in rows {
        out += &line(r);
    }
    out
}

/// The overlay file `--overlay` names, if any.
fn resolve_overlay(arg: Option<&str>, spec_path: &Path) -> Result<Option<PathBuf>> {
    Ok(arg
        .map(|a| spec::overlay::resolve(a, spec_path))
        .transpose()?)
}

/// `acdc plan`: the grid as a table (statuses from the store when one exists).
pub fn plan(
    spec_path: &Path,
    overlay: Option<&Path>,
    sets: &[String],
    home: &Path,
    json: bool,
) -> Result<String> {
    let s = spec::load_with(spec_path, overlay, sets)?;
    let plan = spec::expand(&s)?;
    let statuses = statuses(&plan, home);
    if json {
        let runs: Vec<serde_json::Value> = plan
            .runs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "label": r.label, "name": r.name(), "run_id": r.run_id, "seed": r.seed,
                    "init_from": r.config.init_from, "status": statuses.get(&r.run_id).cloned().unwrap_or_else(|| "new".into()),
                    "config": serde_json::to_value(&r.config).unwrap_or_default(),
                })
            })
            .collect();
        return Ok(serde_json::to_string_pretty(
            &serde_json::json!({"experiment": plan.experiment, "varying": plan.varying, "notes": plan.notes, "runs": runs}),
        )? + "\n");
    }
    Ok(plan_table(&plan, &statuses))
}

fn statuses(plan: &Plan, home: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let db = crate::home::Home::new(home).db();
    if db.exists() {
        if let Ok(store) = Store::open(&db) {
            for r in &plan.runs {
                if let Ok(rec) = store.run(&r.run_id) {
                    out.insert(r.run_id.clone(), rec.status.as_str().to_string());
                }
            }
        }
    }
    out
}

/// The plan table (stable text; guarded by a snapshot test).
pub fn plan_table(plan: &Plan, statuses: &BTreeMap<String, String>) -> String {
    let seeds: std::collections::BTreeSet<u64> = plan.runs.iter().map(|r| r.seed).collect();
    let mut header = vec!["label".to_string(), "run id".to_string()];
    header.extend(plan.varying.iter().cloned());
    if seeds.len() > 1 {
        header.push("seed".into());
    }
    header.push("init_from".into());
    header.push("status".into());
    let rows: Vec<Vec<String>> = plan
        .runs
        .iter()
        .map(|r| {
            let flat = spec::run_id::flatten(&r.config);
            let mut row = vec![r.label.clone(), r.run_id.clone()];
            for k in &plan.varying {
                row.push(flat.get(k).map(show_json).unwrap_or_default());
            }
            if seeds.len() > 1 {
                row.push(r.seed.to_string());
            }
            row.push(r.init_from_label.clone().unwrap_or_else(|| "-".into()));
            row.push(
                statuses
                    .get(&r.run_id)
                    .cloned()
                    .unwrap_or_else(|| "new".into()),
            );
            row
        })
        .collect();
    let mut out = format!(
        "experiment {}: {} run(s)\n",
        plan.experiment,
        plan.runs.len()
    );
    out += &table(&header, &rows);
    for n in &plan.notes {
        out += &format!("note: {n}\n");
    }
    out
}

/// A JSON value as a short cell.
pub fn show_json(v: &serde_json::Value) -> String {
    spec::run_id::display_value(v)
}

fn ls(home: &Path, experiment: Option<&str>, status: Option<&str>, json: bool) -> Result<String> {
    let store = open_existing(home)?;
    let st =
        match status {
            None => None,
            Some(s) => Some(RunStatus::parse(s).with_context(|| {
                format!("--status {s}: expected pending, running, done or failed")
            })?),
        };
    let runs = store.list_runs(experiment, st)?;
    if json {
        let v: Vec<serde_json::Value> = runs
            .iter()
            .map(|l| serde_json::json!({"run_id": l.run.id, "name": l.row.as_ref().map(|e| e.name.clone()), "status": l.run.status.as_str(), "finished_at": l.run.finished_at, "error": l.run.error}))
            .collect();
        return Ok(serde_json::to_string_pretty(&v)? + "\n");
    }
    let header: Vec<String> = ["run id", "name", "status", "finished", "error"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|l| {
            let (e, r) = (&l.row, &l.run);
            vec![
                r.id.clone(),
                e.as_ref()
                    .map(|e| e.name.clone())
                    .unwrap_or_else(|| "-".into()),
                r.status.as_str().into(),
                r.finished_at.clone().unwrap_or_else(|| "-".into()),
                r.error
                    .as_deref()
                    .map(|e| e.lines().next().unwrap_or("").chars().take(80).collect())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    Ok(table(&header, &rows))
}

fn show(home: &Path, run: &str, json: bool) -> Result<String> {
    let store = open_existing(home)?;
    let id = store.resolve_run(run)?;
    let r = store.run(&id)?;
    let evals = store.evals(&id)?;
    let stages = store.stages(&id)?;
    let arts = store.artifacts(&id)?;
    let config: serde_json::Value = serde_json::from_str(&r.config).unwrap_or_default();
    if json {
        return Ok(serde_json::to_string_pretty(&serde_json::json!({
            "run_id": id, "status": r.status.as_str(), "config": config, "created_at": r.created_at, "started_at": r.started_at,
            "finished_at": r.finished_at, "host": r.worker_host, "git_commit": r.git_commit, "git_dirty": r.git_dirty,
            "acdc_version": r.acdc_version, "device": r.device, "error": r.error,
            "stages": stages.iter().map(|r| serde_json::json!({"stage": r.stage.key(), "status": r.status.as_str(), "info": r.raw})).collect::<Vec<_>>(),
            "evals": evals, "artifacts": arts,
        }))? + "\n");
    }
    let mut out = String::new();
    writeln!(out, "run {id}  status {}", r.status.as_str())?;
    writeln!(
        out,
        "created {}  started {}  finished {}",
        r.created_at,
        r.started_at.as_deref().unwrap_or("-"),
        r.finished_at.as_deref().unwrap_or("-")
    )?;
    writeln!(
        out,
        "host {}  git {}{}  acdc {}  device {}",
        r.worker_host.as_deref().unwrap_or("-"),
        r.git_commit
            .as_deref()
            .map(|c| &c[..c.len().min(12)])
            .unwrap_or("-"),
        if r.git_dirty == Some(true) {
            " (dirty)"
        } else {
            ""
        },
        r.acdc_version.as_deref().unwrap_or("-"),
        r.device.as_deref().unwrap_or("-")
    )?;
    if let Some(e) = &r.error {
        writeln!(out, "error: {e}")?;
    }
    writeln!(out, "\nstages:")?;
    for r in &stages {
        let (s, st) = (r.stage.key(), r.status.as_str());
        writeln!(out, "  {s:<8} {st:<8} {}", r.raw)?;
    }
    writeln!(out, "\nscores:")?;
    for e in &evals {
        writeln!(
            out,
            "  {:<28} {:<12} {:>10.4}  (n={})",
            e.task, e.metric, e.value, e.n
        )?;
    }
    writeln!(out, "\nartifacts:")?;
    for a in &arts {
        writeln!(
            out,
            "  {} {} {} bytes sha256 {}",
            a.kind,
            a.path,
            a.bytes,
            &a.sha256[..16]
        )?;
    }
    writeln!(out, "\nconfig:\n{}", serde_json::to_string_pretty(&config)?)?;
    Ok(out)
}

fn diff(home: &Path, a: &str, b: &str) -> Result<String> {
    let store = open_existing(home)?;
    let (ia, ib) = (store.resolve_run(a)?, store.resolve_run(b)?);
    let ca: crate::spec::RunConfig =
        serde_json::from_str(&store.run(&ia)?.config).context("stored config")?;
    let cb: crate::spec::RunConfig =
        serde_json::from_str(&store.run(&ib)?.config).context("stored config")?;
    let (fa, fb) = (spec::run_id::flatten(&ca), spec::run_id::flatten(&cb));
    let mut rows = Vec::new();
    let keys: std::collections::BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    for k in keys {
        let (va, vb) = (fa.get(k), fb.get(k));
        if va != vb {
            rows.push(vec![
                k.clone(),
                va.map(show_json).unwrap_or_default(),
                vb.map(show_json).unwrap_or_default(),
                String::new(),
            ]);
        }
    }
    let ea: BTreeMap<String, f64> = store
        .evals(&ia)?
        .into_iter()
        .map(|e| (format!("{}/{}", e.task, e.metric), e.value))
        .collect();
    let eb: BTreeMap<String, f64> = store
        .evals(&ib)?
        .into_iter()
        .map(|e| (format!("{}/{}", e.task, e.metric), e.value))
        .collect();
    let mkeys: std::collections::BTreeSet<&String> = ea.keys().chain(eb.keys()).collect();
    for k in mkeys {
        let (va, vb) = (ea.get(k), eb.get(k));
        let d = match (va, vb) {
            (Some(x), Some(y)) => format!("{:+.4}", y - x),
            _ => String::new(),
        };
        rows.push(vec![
            k.clone(),
            va.map(|v| format!("{v:.4}")).unwrap_or("-".into()),
            vb.map(|v| format!("{v:.4}")).unwrap_or("-".into()),
            d,
        ]);
    }
    let header = vec!["key".to_string(), ia, ib, "Δ (b − a)".to_string()];
    Ok(table(&header, &rows))
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn export(home: &Path, experiment: &str, format: ExportFormat) -> Result<String> {
    let store = open_existing(home)?;
    let varying = store.experiment(experiment)?.varying;
    let rows = store.experiment_runs(experiment)?;
    let mut records = Vec::new();
    let mut metric_keys = std::collections::BTreeSet::new();
    for r in &rows {
        let run = store.run(&r.run_id)?;
        let cfg: serde_json::Value = serde_json::from_str(&run.config).unwrap_or_default();
        let evals: BTreeMap<String, f64> = store
            .evals(&r.run_id)?
            .into_iter()
            .map(|e| (format!("{}/{}", e.task, e.metric), e.value))
            .collect();
        metric_keys.extend(evals.keys().cloned());
        records.push((r.clone(), run, cfg, evals));
    }
    match format {
        ExportFormat::Json => {
            let v: Vec<serde_json::Value> = records
                .iter()
                .map(|(r, run, cfg, evals)| serde_json::json!({"label": r.label, "name": r.name, "run_id": r.run_id, "seed": r.seed, "status": run.status.as_str(), "config": cfg, "metrics": evals}))
                .collect();
            // Differences between rows with paired-bootstrap intervals, every item-level metric.
            let comparisons = crate::report::from_store::gather(&store, experiment)?.comparisons();
            Ok(serde_json::to_string_pretty(&serde_json::json!({
                "experiment": experiment,
                "varying": varying,
                "runs": v,
                "comparisons": comparisons,
            }))? + "\n")
        }
        ExportFormat::Csv => {
            let mut header = vec![
                "label".to_string(),
                "name".into(),
                "run_id".into(),
                "seed".into(),
                "status".into(),
            ];
            header.extend(varying.iter().cloned());
            header.extend(metric_keys.iter().cloned());
            let mut out = header
                .iter()
                .map(|h| csv_cell(h))
                .collect::<Vec<_>>()
                .join(",")
                + "\n";
            for (r, run, cfg, evals) in &records {
                let flat: crate::spec::RunConfig =
                    serde_json::from_value(cfg.clone()).unwrap_or_default();
                let flat = spec::run_id::flatten(&flat);
                let mut cells = vec![
                    r.label.clone(),
                    r.name.clone(),
                    r.run_id.clone(),
                    r.seed.to_string(),
                    run.status.as_str().to_string(),
                ];
                cells.extend(
                    varying
                        .iter()
                        .map(|k| flat.get(k).map(show_json).unwrap_or_default()),
                );
                cells.extend(
                    metric_keys
                        .iter()
                        .map(|k| evals.get(k).map(|v| v.to_string()).unwrap_or_default()),
                );
                out += &(cells
                    .iter()
                    .map(|c| csv_cell(c))
                    .collect::<Vec<_>>()
                    .join(",")
                    + "\n");
            }
            Ok(out)
        }
    }
}
