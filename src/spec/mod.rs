//! Experiment specs: schema, layered loading, grid expansion and run ids.
//!
//! A spec is TOML:
//! ```toml
//! extends = "base.toml"          # optional; the chain is merged, this file winning
//! max_runs = 512                 # refuse larger grids
//! compare = [["A2", "A1"]]       # pairs the report compares (A − B); default: rows that
//!                                # differ in one configuration key. Not a run key.
//! [experiment]
//! name = "quickstart"
//! description = "..."
//! [defaults]                     # a run configuration (see `schema::RunConfig`)
//! backbone = "builtin:tiny"
//! [runs.A1]                      # named rows override defaults
//! targets.kind = "caption"
//! paper = { judge_score_avg = 32.64 }    # reference numbers for the report
//! init_from = "A2"               # start from another row's trained weights
//! [sweep]                        # cartesian product with the rows
//! "targets.temperature" = [0.3, 0.7, 1.0]
//! seeds = [0, 1, 2]
//! ```
//!
//! An overlay (`--overlay miniature`, [`overlay`]) rewrites a loaded spec onto another world.

pub mod expand;
pub mod load;
pub mod overlay;
pub mod probes;
pub mod run_id;
pub mod schema;

pub use expand::{expand, Plan, PlannedRun};
pub use run_id::{canonical_json, run_id};
pub use schema::RunConfig;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Everything that can be wrong with a spec; each names the file and key.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{}: cannot read: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("{}:{line}:{column}: TOML syntax error: {message}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: key `{key}`: {message}", file.display())]
    Key {
        file: PathBuf,
        key: String,
        message: String,
    },
    #[error("`extends` cycle: {chain}")]
    ExtendsCycle { chain: String },
    #[error("--set {assignment}: {message}")]
    Set { assignment: String, message: String },
    #[error("{}: the grid has {size} runs, more than max_runs = {max}; raise max_runs or narrow the sweep", file.display())]
    TooLarge {
        file: PathBuf,
        size: usize,
        max: usize,
    },
}

/// The `[experiment]` table.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentMeta {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// One named row before merging with the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct RowSpec {
    pub label: String,
    /// Reference numbers from the paper, metric → value.
    pub paper: BTreeMap<String, f64>,
    pub init_from: Option<String>,
    pub description: String,
    /// The configuration keys this row overrides.
    pub overrides: toml::Table,
}

/// A loaded spec (before expansion).
#[derive(Debug, Clone)]
pub struct Spec {
    pub file: PathBuf,
    pub experiment: ExperimentMeta,
    pub max_runs: usize,
    pub defaults: toml::Table,
    pub rows: Vec<RowSpec>,
    /// Sweep axes in key order; `seeds` is the axis of `seed`.
    pub sweep: Vec<(String, Vec<toml::Value>)>,
    pub include: Vec<toml::Table>,
    pub exclude: Vec<toml::Table>,
    /// What an overlay changed that a reader of the plan should know (empty without one).
    pub notes: Vec<String>,
    /// The pairs of rows the report compares (`compare = [["A", "B"], …]`: A − B), each side a
    /// row label or a row's name with its sweep point; `None`: the report infers them (rows that
    /// differ in one configuration key). Experiment-level: it changes no run.
    pub compare: Option<Vec<(String, String)>>,
    /// Worker processes `acdc run` starts when `--workers` is not given (`workers = 2`: a
    /// machine setting of the experiment, e.g. one per CPU core for toy runs that each use one;
    /// it changes no run). `None`: one.
    pub workers: Option<usize>,
}

pub const DEFAULT_MAX_RUNS: usize = 512;

/// Load a spec with its `extends` chain, the `ACDC_*` environment and `--set` overrides.
pub fn load(path: &Path, sets: &[String]) -> Result<Spec, SpecError> {
    load_with(path, None, sets)
}

/// [`load`] with an overlay file (`--overlay`, see [`overlay`]) applied above the `extends` chain
/// and below the environment and `--set`.
pub fn load_with(path: &Path, overlay: Option<&Path>, sets: &[String]) -> Result<Spec, SpecError> {
    let overlay = overlay.map(overlay::read).transpose()?;
    let (table, notes) = load::layered_with(path, overlay.as_ref(), sets)?;
    let mut spec = from_table(path, table)?;
    spec.notes = notes;
    Ok(spec)
}

fn key_err(file: &Path, key: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError::Key {
        file: file.to_path_buf(),
        key: key.into(),
        message: message.into(),
    }
}

/// Build a [`Spec`] from an already layered table.
pub fn from_table(file: &Path, mut table: toml::Table) -> Result<Spec, SpecError> {
    table.remove("extends");
    for k in table.keys() {
        if !load::SPEC_SECTIONS.contains(&k.as_str()) {
            return Err(key_err(
                file,
                k.clone(),
                format!(
                    "unknown top-level key; expected one of {}",
                    load::SPEC_SECTIONS.join(", ")
                ),
            ));
        }
    }
    let experiment: ExperimentMeta = match table.remove("experiment") {
        Some(v) => deserialize(file, "experiment", v)?,
        None => {
            return Err(key_err(
                file,
                "experiment.name",
                "missing: every spec needs [experiment] name = \"...\"",
            ))
        }
    };
    if experiment.name.trim().is_empty() {
        return Err(key_err(file, "experiment.name", "must not be empty"));
    }
    let max_runs = match table.remove("max_runs") {
        None => DEFAULT_MAX_RUNS,
        Some(toml::Value::Integer(n)) if n > 0 => n as usize,
        Some(other) => {
            return Err(key_err(
                file,
                "max_runs",
                format!("expected a positive integer, found {other}"),
            ))
        }
    };
    let defaults = match table.remove("defaults") {
        None => toml::Table::new(),
        Some(toml::Value::Table(t)) => t,
        Some(other) => {
            return Err(key_err(
                file,
                "defaults",
                format!("expected a table, found {}", other.type_str()),
            ))
        }
    };
    // Validate the defaults on their own so their errors say `defaults.…`.
    config_from(file, "defaults", &toml::Table::new(), &defaults)?;

    let mut rows = Vec::new();
    match table.remove("runs") {
        None => {}
        Some(toml::Value::Table(t)) => {
            for (label, v) in t {
                let key = format!("runs.{label}");
                let mut overrides = match v {
                    toml::Value::Table(t) => t,
                    other => {
                        return Err(key_err(
                            file,
                            key,
                            format!("expected a table, found {}", other.type_str()),
                        ))
                    }
                };
                if label.is_empty() || label.contains(['/', ',', ' ']) {
                    return Err(key_err(
                        file,
                        key,
                        "labels must be non-empty and contain no '/', ',' or spaces",
                    ));
                }
                let paper = match overrides.remove("paper") {
                    None => BTreeMap::new(),
                    Some(v) => {
                        deserialize::<BTreeMap<String, f64>>(file, &format!("{key}.paper"), v)?
                    }
                };
                let init_from = match overrides.remove("init_from") {
                    None => None,
                    Some(toml::Value::String(s)) => Some(s),
                    Some(other) => {
                        return Err(key_err(
                            file,
                            format!("{key}.init_from"),
                            format!("expected a row label string, found {other}"),
                        ))
                    }
                };
                let description = match overrides.remove("description") {
                    None => String::new(),
                    Some(toml::Value::String(s)) => s,
                    Some(other) => {
                        return Err(key_err(
                            file,
                            format!("{key}.description"),
                            format!("expected a string, found {other}"),
                        ))
                    }
                };
                config_from(file, &key, &defaults, &overrides)?;
                rows.push(RowSpec {
                    label,
                    paper,
                    init_from,
                    description,
                    overrides,
                });
            }
        }
        Some(other) => {
            return Err(key_err(
                file,
                "runs",
                format!("expected a table of rows, found {}", other.type_str()),
            ))
        }
    }
    let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
    for r in &rows {
        if let Some(src) = &r.init_from {
            if !labels.contains(&src.as_str()) {
                return Err(key_err(
                    file,
                    format!("runs.{}.init_from", r.label),
                    format!(
                        "names `{src}`, which is not a row; rows: {}",
                        labels.join(", ")
                    ),
                ));
            }
            if src == &r.label {
                return Err(key_err(
                    file,
                    format!("runs.{}.init_from", r.label),
                    "a row cannot start from itself",
                ));
            }
        }
    }

    let mut sweep = Vec::new();
    match table.remove("sweep") {
        None => {}
        Some(toml::Value::Table(t)) => {
            for (axis, v) in t {
                let key = format!("sweep.{axis}");
                let values = match v {
                    toml::Value::Array(a) => a,
                    other => {
                        return Err(key_err(
                            file,
                            key,
                            format!("expected a list of values, found {}", other.type_str()),
                        ))
                    }
                };
                if values.is_empty() {
                    return Err(key_err(
                        file,
                        key,
                        "empty sweep axis: give at least one value",
                    ));
                }
                // Check each value against the schema.
                for (i, val) in values.iter().enumerate() {
                    let cfg_key = if axis == "seeds" {
                        "seed".to_string()
                    } else {
                        axis.clone()
                    };
                    let over = expand::nested(&cfg_key, val.clone());
                    config_from(file, &format!("{key}[{i}]"), &defaults, &over)?;
                }
                sweep.push((axis, values));
            }
        }
        Some(other) => {
            return Err(key_err(
                file,
                "sweep",
                format!("expected a table, found {}", other.type_str()),
            ))
        }
    }
    let include = filters(file, "include", table.remove("include"))?;
    let exclude = filters(file, "exclude", table.remove("exclude"))?;
    let compare = table
        .remove("compare")
        .map(|v| compare_pairs(file, v))
        .transpose()?;
    let workers = match table.remove("workers") {
        None => None,
        Some(toml::Value::Integer(n)) if n > 0 => Some(n as usize),
        Some(other) => {
            return Err(key_err(
                file,
                "workers",
                format!("expected a positive integer, found {other}"),
            ))
        }
    };
    Ok(Spec {
        file: file.to_path_buf(),
        experiment,
        max_runs,
        defaults,
        rows,
        sweep,
        include,
        exclude,
        notes: Vec::new(),
        compare,
        workers,
    })
}

/// `compare = [["A", "B"], …]`: a list of two-name lists.
fn compare_pairs(file: &Path, v: toml::Value) -> Result<Vec<(String, String)>, SpecError> {
    let toml::Value::Array(a) = v else {
        return Err(key_err(
            file,
            "compare",
            format!(
                "expected a list of [row A, row B] pairs, e.g. compare = [[\"A2\", \"A1\"]]; found {}",
                v.type_str()
            ),
        ));
    };
    a.into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            toml::Value::Array(p) => match p.as_slice() {
                [toml::Value::String(x), toml::Value::String(y)] => {
                    if x == y {
                        Err(key_err(
                            file,
                            format!("compare[{i}]"),
                            format!("compares `{x}` with itself"),
                        ))
                    } else {
                        Ok((x.clone(), y.clone()))
                    }
                }
                _ => Err(key_err(
                    file,
                    format!("compare[{i}]"),
                    format!(
                        "expected two row names [\"A\", \"B\"] (A − B), found {}",
                        toml::Value::Array(p.clone())
                    ),
                )),
            },
            other => Err(key_err(
                file,
                format!("compare[{i}]"),
                format!(
                    "expected two row names [\"A\", \"B\"] (A − B), found {}",
                    other.type_str()
                ),
            )),
        })
        .collect()
}

/// `t`'s conditions with nested tables turned into dotted keys under `prefix`.
fn flatten_filter(prefix: &str, t: toml::Table, out: &mut toml::Table) {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(inner) => flatten_filter(&key, inner, out),
            v => {
                out.insert(key, v);
            }
        }
    }
}

fn filters(file: &Path, key: &str, v: Option<toml::Value>) -> Result<Vec<toml::Table>, SpecError> {
    match v {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(a)) => a
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                // `{ targets.kind = "caption" }` (unquoted) parses as a nested table: conditions
                // are matched on dotted keys, as `{ "targets.kind" = "caption" }` writes them.
                toml::Value::Table(t) => {
                    let mut flat = toml::Table::new();
                    flatten_filter("", t, &mut flat);
                    Ok(flat)
                }
                other => Err(key_err(
                    file,
                    format!("{key}[{i}]"),
                    format!(
                        "expected a table of key = value conditions, found {}",
                        other.type_str()
                    ),
                )),
            })
            .collect(),
        Some(other) => Err(key_err(
            file,
            key,
            format!("expected a list of tables, found {}", other.type_str()),
        )),
    }
}

fn deserialize<T: serde::de::DeserializeOwned>(
    file: &Path,
    key: &str,
    v: toml::Value,
) -> Result<T, SpecError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let inner = e.path().to_string();
        let full = if inner == "." || inner.is_empty() {
            key.to_string()
        } else {
            format!("{key}.{inner}")
        };
        key_err(file, full, e.into_inner().to_string())
    })
}

/// Merge `defaults` ⊕ `overrides` into a [`RunConfig`]; errors name `context.<key>`.
pub fn config_from(
    file: &Path,
    context: &str,
    defaults: &toml::Table,
    overrides: &toml::Table,
) -> Result<RunConfig, SpecError> {
    let mut merged = defaults.clone();
    load::deep_merge(&mut merged, overrides.clone());
    let cfg: RunConfig = deserialize(file, context, toml::Value::Table(merged))?;
    validate(file, context, &cfg)?;
    Ok(cfg)
}

/// Value checks serde cannot express.
fn validate(file: &Path, ctx: &str, c: &RunConfig) -> Result<(), SpecError> {
    let err = |k: &str, m: &str| Err(key_err(file, format!("{ctx}.{k}"), m.to_string()));
    if c.backbone.trim().is_empty() {
        return err(
            "backbone",
            "must name a model (e.g. builtin:tiny or an HF id)",
        );
    }
    if c.train.val_every > 0 && c.data.val.is_empty() {
        return err(
            "train.val_every",
            "needs held-out sets in `data.val` (e.g. [{ dataset = \"clotho\", split = \"validation\" }])",
        );
    }
    if c.adapter.downsample == 0 {
        return err("adapter.downsample", "must be at least 1");
    }
    if c.adapter.hidden == 0 {
        return err("adapter.hidden", "must be at least 1");
    }
    if !(c.targets.temperature >= 0.0 && c.targets.temperature.is_finite()) {
        return err("targets.temperature", "must be a finite number >= 0");
    }
    if !(c.targets.top_p > 0.0 && c.targets.top_p <= 1.0) {
        return err("targets.top_p", "must be in (0, 1]");
    }
    if c.targets.samples_per_caption == 0 {
        return err("targets.samples_per_caption", "must be at least 1");
    }
    if c.targets.max_new_tokens == 0 {
        return err("targets.max_new_tokens", "must be at least 1");
    }
    if c.llm.lora.rank == 0 {
        return err("llm.lora.rank", "must be at least 1");
    }
    if !(0.0..1.0).contains(&c.llm.lora.dropout) {
        return err("llm.lora.dropout", "must be in [0, 1)");
    }
    const PROJ: &[&str] = &[
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    ];
    for t in &c.llm.lora.targets {
        if !PROJ.contains(&t.as_str()) {
            return err(
                "llm.lora.targets",
                &format!(
                    "unknown projection `{t}`; expected some of {}",
                    PROJ.join(", ")
                ),
            );
        }
    }
    if c.train.batch_size == 0 || c.train.grad_accum == 0 || c.train.steps == 0 {
        return err(
            "train",
            "steps, batch_size and grad_accum must be at least 1",
        );
    }
    for (i, r) in c.train.no_decay.iter().enumerate() {
        if let Err(e) = regex::Regex::new(r) {
            return err(
                &format!("train.no_decay[{i}]"),
                &format!("not a valid regex: {e}"),
            );
        }
    }
    if !(c.train.lr > 0.0 && c.train.lr.is_finite()) {
        return err("train.lr", "must be a positive number");
    }
    if c.train.checkpoint_every == 0 || c.train.log_every == 0 {
        return err("train", "checkpoint_every and log_every must be at least 1");
    }
    if c.decode.beams == 0 || c.decode.max_new_tokens == 0 {
        return err("decode", "beams and max_new_tokens must be at least 1");
    }
    let e = &c.eval;
    if e.probes && e.probe_items == 0 {
        return err(
            "eval.probe_items",
            "must be at least 1 when eval.probes is on",
        );
    }
    let engine = e.judge.split_once(':').map(|(k, m)| (k, m.trim()));
    match engine {
        _ if e.judge == "none" => {}
        Some(("openai" | "local", m)) if !m.is_empty() => {}
        _ => {
            return err(
                "eval.judge",
                &format!(
                "`{}` is not a judge; expected `none`, `openai:<served model>` or `local:<model>`",
                e.judge
            ),
            )
        }
    }
    if e.judge != "none" {
        if e.judge_api != "chat" && e.judge_api != "completions" {
            return err("eval.judge_api", "must be `chat` or `completions`");
        }
        if e.judge_max_tokens == 0 || e.judge_concurrency == 0 {
            return err(
                "eval",
                "judge_max_tokens and judge_concurrency must be at least 1",
            );
        }
        if !(e.judge_timeout_s > 0.0 && e.judge_timeout_s.is_finite()) {
            return err("eval.judge_timeout_s", "must be a positive number");
        }
        if !(e.judge_backoff_s >= 0.0 && e.judge_backoff_s.is_finite()) {
            return err("eval.judge_backoff_s", "must be a finite number >= 0");
        }
        if !(e.judge_temperature >= 0.0 && e.judge_temperature.is_finite()) {
            return err("eval.judge_temperature", "must be a finite number >= 0");
        }
        if e.judge.starts_with("openai:")
            && !(e.judge_url.starts_with("http://") || e.judge_url.starts_with("https://"))
        {
            return err("eval.judge_url", "must start with http:// or https://");
        }
    }
    for (key, sources) in [
        ("data.train", &c.data.train),
        ("data.instruct", &c.data.instruct),
    ] {
        for (i, s) in sources.iter().enumerate() {
            if !(s.weight > 0.0 && s.weight.is_finite()) {
                return err(&format!("{key}[{i}].weight"), "must be a positive number");
            }
        }
    }
    Ok(())
}
