//! Overlays: a TOML file that moves a whole spec onto another world, e.g. `--overlay miniature`
//! (`experiments/overlays/miniature.toml`) puts `experiments/paper.toml` or any ablation onto the
//! synthetic world, the toy backbone and encoder, on CPU, at miniature size.
//!
//! A spec's named rows override its `[defaults]`, so an overlay that only set defaults would not
//! reach a row's own `backbone = "Qwen/…"` or `data.train = [audiocaps, …]`. An overlay is
//! therefore a set of rules applied to every place a run's value can come from — the `[defaults]`,
//! every `[runs.<LABEL>]` row and every `[sweep]` value — after the `extends` chain is merged and
//! before the `ACDC_*` environment and `--set` are layered on top (so those still win, as they
//! do over any spec):
//!
//! ```toml
//! [overlay]
//! name = "miniature"
//! experiment_suffix = "-miniature"    # appended to experiment.name: its own store entries and report
//! description = "..."
//!
//! [set]                    # keys the overlay owns: set in [defaults], removed from every row and
//! backbone = "builtin:…"   # sweep (a sweep axis over an owned key is dropped)
//!
//! [scale]                  # numbers scaled wherever written (defaults filled in from the schema's
//! "train.steps" = { factor = 0.02, min = 1 }    # default when the spec does not set them)
//!
//! [datasets]               # "<dataset>/<split>" or "<dataset>/*" → "<dataset>/<split>", applied to
//! "audiocaps/train" = "synth/train"             # every source of data.train, data.instruct,
//! "audiocaps/*" = "synth/test"                  # data.val, data.eval_aac and data.eval_aqa
//! ```
//!
//! Training sources keep their place and weight in the mix (a three-source mix stays three
//! sources, even when all three become the same set); evaluation sets that become the same set
//! are evaluated once. A dataset the `[datasets]` table does not map is an error, except the
//! target datasets themselves (a `synth` source stays as it is). Rows that become identical are
//! one run (one run id); `acdc plan` says so. The rules, being applied to the spec's tables, are
//! not applied to `include`/`exclude` conditions: those are matched against the rewritten runs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::expand::nested;
use super::load::deep_merge;
use super::SpecError;

/// Configuration keys holding a list of `{ dataset, split, … }` sources.
pub const DATA_LISTS: &[&str] = &[
    "data.train",
    "data.instruct",
    "data.val",
    "data.eval_aac",
    "data.eval_aqa",
];
/// The lists among [`DATA_LISTS`] that are evaluation sets: duplicates after mapping are dropped.
const EVAL_LISTS: &[&str] = &["data.eval_aac", "data.eval_aqa"];

/// Where named overlays live, relative to a folder holding `experiments/`.
pub const OVERLAY_DIR: &str = "experiments/overlays";

/// A number scaled by the overlay: `value × factor`, at least `min` (integers rounded up).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    pub factor: f64,
    #[serde(default)]
    pub min: f64,
}

impl Scale {
    fn apply(&self, v: &toml::Value) -> Option<toml::Value> {
        match v {
            toml::Value::Integer(i) => {
                // Rounded up, with a tolerance for the factor's binary representation (20000 × 0.02
                // is 400, not 401).
                let x = ((*i as f64) * self.factor - 1e-9).ceil().max(self.min);
                Some(toml::Value::Integer(x as i64))
            }
            toml::Value::Float(f) => Some(toml::Value::Float((f * self.factor).max(self.min))),
            _ => None,
        }
    }
}

/// A loaded overlay file.
#[derive(Debug, Clone)]
pub struct Overlay {
    pub file: PathBuf,
    pub name: String,
    pub description: String,
    pub experiment_suffix: String,
    /// Owned keys (dotted, leaves) and their values.
    pub set: Vec<(String, toml::Value)>,
    /// The `[set]` table as written (nested).
    set_table: toml::Table,
    pub scale: Vec<(String, Scale)>,
    /// `dataset/split` or `dataset/*` → (dataset, split).
    pub datasets: Vec<(String, (String, String))>,
}

const SECTIONS: &[&str] = &["overlay", "set", "scale", "datasets"];

/// The overlay file an `--overlay` argument names: a path (it contains a `/` or ends in `.toml`),
/// or a name looked up as `experiments/overlays/<name>.toml` in the spec's folder and each folder
/// above it, then in the current directory.
pub fn resolve(arg: &str, spec: &Path) -> Result<PathBuf, SpecError> {
    let as_path = Path::new(arg);
    if arg.contains('/') || arg.contains(std::path::MAIN_SEPARATOR) || arg.ends_with(".toml") {
        if as_path.is_file() {
            return Ok(as_path.to_path_buf());
        }
        return Err(SpecError::Io {
            path: as_path.to_path_buf(),
            message: "--overlay: no such overlay file".into(),
        });
    }
    let mut places: Vec<PathBuf> = Vec::new();
    if let Ok(canon) = spec.canonicalize() {
        let mut dir = canon.parent();
        while let Some(d) = dir {
            places.push(d.join(OVERLAY_DIR));
            if d.file_name().is_some_and(|n| n == "experiments") {
                places.push(d.join("overlays"));
            }
            dir = d.parent();
        }
    }
    places.push(PathBuf::from(OVERLAY_DIR));
    for p in &places {
        let f = p.join(format!("{arg}.toml"));
        if f.is_file() {
            return Ok(f);
        }
    }
    let mut known = BTreeSet::new();
    for p in &places {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                let path = e.path();
                if path.extension().is_some_and(|x| x == "toml") {
                    if let Some(stem) = path.file_stem() {
                        known.insert(stem.to_string_lossy().to_string());
                    }
                }
            }
        }
    }
    let known = if known.is_empty() {
        "none found".to_string()
    } else {
        known.into_iter().collect::<Vec<_>>().join(", ")
    };
    Err(SpecError::Io {
        path: PathBuf::from(format!("{OVERLAY_DIR}/{arg}.toml")),
        message: format!(
            "--overlay {arg}: no such overlay beside {} or above it, nor in the current directory (known: {known}); give a name from {OVERLAY_DIR}/ or a path",
            spec.display()
        ),
    })
}

fn key_err(file: &Path, key: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError::Key {
        file: file.to_path_buf(),
        key: key.into(),
        message: message.into(),
    }
}

/// Dotted leaves of a nested table (arrays stay whole).
fn leaves(prefix: &str, t: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(inner) => leaves(&key, inner, out),
            v => out.push((key, v.clone())),
        }
    }
}

fn get<'a>(t: &'a toml::Table, dotted: &str) -> Option<&'a toml::Value> {
    let (head, rest) = match dotted.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (dotted, None),
    };
    match (t.get(head), rest) {
        (Some(v), None) => Some(v),
        (Some(toml::Value::Table(inner)), Some(r)) => get(inner, r),
        _ => None,
    }
}

fn get_mut<'a>(t: &'a mut toml::Table, dotted: &str) -> Option<&'a mut toml::Value> {
    let (head, rest) = match dotted.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (dotted, None),
    };
    match (t.get_mut(head), rest) {
        (Some(v), None) => Some(v),
        (Some(toml::Value::Table(inner)), Some(r)) => get_mut(inner, r),
        _ => None,
    }
}

/// Remove a dotted key (and tables it leaves empty); returns the removed value.
fn remove(t: &mut toml::Table, dotted: &str) -> Option<toml::Value> {
    match dotted.split_once('.') {
        None => t.remove(dotted),
        Some((head, rest)) => {
            let toml::Value::Table(inner) = t.get_mut(head)? else {
                return None;
            };
            let out = remove(inner, rest);
            if inner.is_empty() {
                t.remove(head);
            }
            out
        }
    }
}

/// `a` is `b` or lies under it (`data.synth.clips` under `data.synth`).
fn under(a: &str, b: &str) -> bool {
    a == b || a.strip_prefix(b).is_some_and(|r| r.starts_with('.'))
}

/// The schema's default value of a dotted configuration key.
fn schema_default(key: &str) -> Option<toml::Value> {
    let json = serde_json::to_value(super::RunConfig::default()).ok()?;
    let v = key.split('.').try_fold(&json, |node, k| node.get(k))?;
    toml::Value::try_from(v).ok()
}

fn short(v: &toml::Value) -> String {
    super::expand::show(v)
}

fn source_name(t: &toml::Table) -> (String, String) {
    let s = |k: &str| t.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    (s("dataset"), s("split"))
}

/// Read and check an overlay file.
pub fn read(path: &Path) -> Result<Overlay, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|e| SpecError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut table: toml::Table =
        toml::from_str(&text).map_err(|e| super::load::syntax_error(path, &text, &e))?;
    for k in table.keys() {
        if !SECTIONS.contains(&k.as_str()) {
            return Err(key_err(
                path,
                k.clone(),
                format!(
                    "unknown overlay section; expected one of {}",
                    SECTIONS.join(", ")
                ),
            ));
        }
    }
    let section = |table: &mut toml::Table, k: &str| -> Result<toml::Table, SpecError> {
        match table.remove(k) {
            None => Ok(toml::Table::new()),
            Some(toml::Value::Table(t)) => Ok(t),
            Some(other) => Err(key_err(
                path,
                k,
                format!("expected a table, found {}", other.type_str()),
            )),
        }
    };
    let meta = section(&mut table, "overlay")?;
    let text_of = |k: &str| -> Result<String, SpecError> {
        match meta.get(k) {
            None => Ok(String::new()),
            Some(toml::Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(key_err(
                path,
                format!("overlay.{k}"),
                format!("expected a string, found {}", other.type_str()),
            )),
        }
    };
    for k in meta.keys() {
        if !["name", "description", "experiment_suffix"].contains(&k.as_str()) {
            return Err(key_err(
                path,
                format!("overlay.{k}"),
                "unknown key; expected name, description, experiment_suffix",
            ));
        }
    }
    let name = match text_of("name")? {
        n if n.is_empty() => path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default(),
        n => n,
    };
    let description = text_of("description")?;
    let experiment_suffix = text_of("experiment_suffix")?;

    // [set]: configuration keys, checked against the schema.
    let set_table = section(&mut table, "set")?;
    super::config_from(path, "set", &toml::Table::new(), &set_table)?;
    let mut set = Vec::new();
    leaves("", &set_table, &mut set);

    // [scale]: numeric configuration keys.
    let mut scale = Vec::new();
    let defaults = super::run_id::flatten(&super::RunConfig::default());
    for (k, v) in section(&mut table, "scale")? {
        let ctx = format!("scale.{k}");
        if !defaults.get(&k).is_some_and(|d| d.is_number()) {
            return Err(key_err(
                path,
                ctx,
                "not a numeric configuration key (write it quoted and dotted: \"train.steps\" = { factor = 0.02, min = 1 })",
            ));
        }
        if set.iter().any(|(s, _)| under(&k, s) || under(s, &k)) {
            return Err(key_err(path, ctx, "is also under [set]; give it one rule"));
        }
        let s: Scale = serde_path_to_error::deserialize(v)
            .map_err(|e| key_err(path, &ctx, e.into_inner().to_string()))?;
        if !(s.factor > 0.0 && s.factor.is_finite() && s.min.is_finite()) {
            return Err(key_err(
                path,
                ctx,
                "factor must be a positive number and min a finite one",
            ));
        }
        scale.push((k, s));
    }

    // [datasets]: "dataset/split" or "dataset/*" = "dataset/split".
    let mut datasets = Vec::new();
    for (k, v) in section(&mut table, "datasets")? {
        let ctx = format!("datasets.\"{k}\"");
        let from_ok = k
            .split_once('/')
            .is_some_and(|(d, s)| !d.is_empty() && !s.is_empty());
        if !from_ok {
            return Err(key_err(
                path,
                ctx,
                "expected \"<dataset>/<split>\" or \"<dataset>/*\"",
            ));
        }
        let to = match &v {
            toml::Value::String(s) => s.split_once('/').and_then(|(d, s)| {
                (!d.is_empty() && !s.is_empty() && s != "*").then(|| (d.to_string(), s.to_string()))
            }),
            _ => None,
        };
        let Some(to) = to else {
            return Err(key_err(
                path,
                ctx,
                format!("expected \"<dataset>/<split>\", found {v}"),
            ));
        };
        datasets.push((k, to));
    }
    for (k, _) in &set {
        if DATA_LISTS.iter().any(|d| under(k, d) || under(d, k)) && !datasets.is_empty() {
            return Err(key_err(
                path,
                format!("set.{k}"),
                "is also rewritten by [datasets]; give it one rule",
            ));
        }
    }
    Ok(Overlay {
        file: path.to_path_buf(),
        name,
        description,
        experiment_suffix,
        set,
        set_table,
        scale,
        datasets,
    })
}

impl Overlay {
    /// Where a source of `dataset`/`split` goes (`None`: not mapped).
    fn map(&self, dataset: &str, split: &str) -> Option<(String, String)> {
        let exact = format!("{dataset}/{split}");
        let any = format!("{dataset}/*");
        self.datasets
            .iter()
            .find(|(k, _)| k == &exact)
            .or_else(|| self.datasets.iter().find(|(k, _)| k == &any))
            .map(|(_, to)| to.clone())
    }

    fn targets(&self) -> BTreeSet<&str> {
        self.datasets.iter().map(|(_, (d, _))| d.as_str()).collect()
    }

    /// Apply the rules to one table of configuration keys (the defaults, a row, a sweep value
    /// written as a nested table); `ctx` names it in errors and notes. Owned keys are removed.
    fn rewrite(
        &self,
        spec: &Path,
        ctx: &str,
        t: &mut toml::Table,
        notes: &mut Vec<String>,
    ) -> Result<(), SpecError> {
        for (k, v) in &self.set {
            if let Some(was) = remove(t, k) {
                if ctx.starts_with("runs.") && &was != v {
                    notes.push(format!(
                        "{ctx} sets {k} = {}; the overlay replaces it with {}",
                        short(&was),
                        short(v)
                    ));
                }
            }
        }
        for (k, s) in &self.scale {
            if let Some(v) = get_mut(t, k) {
                *v = s.apply(v).ok_or_else(|| {
                    key_err(
                        spec,
                        format!("{ctx}.{k}"),
                        format!("expected a number (the overlay scales it), found {v}"),
                    )
                })?;
            }
        }
        if self.datasets.is_empty() {
            return Ok(());
        }
        let targets = self.targets();
        for list in DATA_LISTS {
            let Some(toml::Value::Array(sources)) = get_mut(t, list) else {
                continue;
            };
            // Evaluation sets by where they go, with the sets that went there.
            let mut groups: Vec<((String, String), Vec<String>)> = Vec::new();
            let mut kept = Vec::with_capacity(sources.len());
            for (i, src) in sources.drain(..).enumerate() {
                let toml::Value::Table(mut st) = src else {
                    kept.push(src);
                    continue; // the schema check reports it
                };
                let (dataset, split) = source_name(&st);
                let to = match self.map(&dataset, &split) {
                    Some(to) => to,
                    None if targets.contains(dataset.as_str()) => (dataset.clone(), split.clone()),
                    None => {
                        return Err(key_err(
                            spec,
                            format!("{ctx}.{list}[{i}]"),
                            format!(
                                "dataset `{dataset}` split `{split}` has no mapping in overlay {}: add \"{dataset}/{split}\" = \"<dataset>/<split>\" (or \"{dataset}/*\") under [datasets]",
                                self.file.display()
                            ),
                        ))
                    }
                };
                if EVAL_LISTS.contains(list) {
                    let from = format!("{dataset}/{split}");
                    if let Some((_, g)) = groups.iter_mut().find(|(t, _)| t == &to) {
                        g.push(from);
                        continue;
                    }
                    groups.push((to.clone(), vec![from]));
                }
                st.insert("dataset".into(), toml::Value::String(to.0));
                st.insert("split".into(), toml::Value::String(to.1));
                kept.push(toml::Value::Table(st));
            }
            *sources = kept;
            for ((d, s), from) in groups.into_iter().filter(|(_, g)| g.len() > 1) {
                notes.push(format!(
                    "{ctx}.{list}: {} all become {d}/{s}, evaluated once",
                    from.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Apply the overlay to a spec's merged table (its `extends` chain already merged); returns
    /// notes on what it changed that a reader of the plan should know.
    pub fn apply(&self, spec: &Path, table: &mut toml::Table) -> Result<Vec<String>, SpecError> {
        let mut notes = Vec::new();
        if let Some(toml::Value::Table(exp)) = table.get_mut("experiment") {
            if let Some(toml::Value::String(name)) = exp.get_mut("name") {
                name.push_str(&self.experiment_suffix);
            }
            let what = format!("overlay {}", self.name);
            let desc = match exp.get("description").and_then(|d| d.as_str()) {
                Some(d) if !d.is_empty() => format!("{d} ({what})"),
                _ => format!("({what})"),
            };
            exp.insert("description".into(), toml::Value::String(desc));
        }
        // Defaults: fill what the rules rewrite from the schema's defaults, so that a run whose
        // spec never wrote `train.steps` or `data.eval_aqa` gets the rewritten value too.
        let mut defaults = match table.remove("defaults") {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t,
            Some(other) => {
                return Err(key_err(
                    spec,
                    "defaults",
                    format!("expected a table, found {}", other.type_str()),
                ))
            }
        };
        let mut filled: Vec<&str> = self.scale.iter().map(|(k, _)| k.as_str()).collect();
        if !self.datasets.is_empty() {
            filled.extend(DATA_LISTS);
        }
        for k in filled {
            if get(&defaults, k).is_none() {
                if let Some(v) = schema_default(k) {
                    deep_merge(&mut defaults, nested(k, v));
                }
            }
        }
        self.rewrite(spec, "defaults", &mut defaults, &mut notes)?;
        deep_merge(&mut defaults, self.set_table.clone());
        table.insert("defaults".into(), toml::Value::Table(defaults));

        if let Some(toml::Value::Table(rows)) = table.get_mut("runs") {
            for (label, row) in rows.iter_mut() {
                if let toml::Value::Table(r) = row {
                    self.rewrite(spec, &format!("runs.{label}"), r, &mut notes)?;
                }
            }
        }
        if let Some(toml::Value::Table(sweep)) = table.get_mut("sweep") {
            let axes: Vec<String> = sweep.keys().cloned().collect();
            for axis in axes {
                if axis == "seeds" {
                    continue;
                }
                if let Some((k, _)) = self.set.iter().find(|(k, _)| under(&axis, k)) {
                    sweep.remove(&axis);
                    notes.push(format!(
                        "sweep axis `{axis}` dropped: the overlay sets {k} for every run"
                    ));
                    continue;
                }
                let Some(toml::Value::Array(values)) = sweep.get_mut(&axis) else {
                    continue; // the spec check reports it
                };
                for (i, v) in values.iter_mut().enumerate() {
                    let mut t = nested(&axis, v.clone());
                    self.rewrite(spec, &format!("sweep.{axis}[{i}]"), &mut t, &mut notes)?;
                    match get(&t, &axis) {
                        Some(new) => *v = new.clone(),
                        None => *v = toml::Value::Table(toml::Table::new()),
                    }
                }
            }
        }
        Ok(notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlay(dir: &Path) -> Overlay {
        let p = dir.join("mini.toml");
        std::fs::write(
            &p,
            r#"
[overlay]
experiment_suffix = "-mini"
[set]
backbone = "builtin:tiny"
device = "cpu"
eval.judge = "none"
[scale]
"train.steps" = { factor = 0.01, min = 1 }
"train.lr" = { factor = 10.0 }
[datasets]
"audiocaps/train" = "synth/train"
"audiocaps/*" = "synth/test"
"clotho/development" = "synth/train"
"clotho/*" = "synth/test"
"clotho_aqa/*" = "synth/test"
"audiocaps_qa/*" = "synth/test"
"wavcaps_qa/*" = "synth/test"
"#,
        )
        .unwrap();
        read(&p).unwrap()
    }

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn rows_defaults_and_sweeps_are_rewritten() {
        let d = tempfile::tempdir().unwrap();
        let o = overlay(d.path());
        let mut t = table(
            r#"
[experiment]
name = "x"
[defaults]
backbone = "meta-llama/Meta-Llama-3-8B-Instruct"
device = "cuda"
train = { steps = 20000, lr = 1e-4 }
data.train = [{ dataset = "audiocaps", split = "train" }]
data.eval_aac = [{ dataset = "audiocaps", split = "test" }, { dataset = "clotho", split = "evaluation" }]
[runs.q]
backbone = "Qwen/Qwen2.5-7B-Instruct"
train.steps = 2000
data.train = [{ dataset = "audiocaps", split = "train" }, { dataset = "clotho", split = "development", weight = 4.0 }]
[sweep]
"device" = ["cuda", "wgpu"]
"train.steps" = [100, 1000]
"#,
        );
        let notes = o.apply(Path::new("x.toml"), &mut t).unwrap();
        assert_eq!(get(&t, "experiment.name").unwrap().as_str(), Some("x-mini"));
        let def = t["defaults"].as_table().unwrap();
        assert_eq!(get(def, "backbone").unwrap().as_str(), Some("builtin:tiny"));
        assert_eq!(get(def, "device").unwrap().as_str(), Some("cpu"));
        assert_eq!(get(def, "train.steps").unwrap().as_integer(), Some(200));
        assert!((get(def, "train.lr").unwrap().as_float().unwrap() - 1e-3).abs() < 1e-12);
        // Filled from the schema's default and rewritten.
        assert_eq!(
            get(def, "data.eval_aqa").unwrap().as_array().unwrap().len(),
            1,
            "three QA sets become synth/test, evaluated once"
        );
        let aac = get(def, "data.eval_aac").unwrap().as_array().unwrap();
        assert_eq!(aac.len(), 1);
        let row = get(&t, "runs.q").unwrap().as_table().unwrap();
        assert!(get(row, "backbone").is_none(), "owned keys leave the rows");
        assert_eq!(get(row, "train.steps").unwrap().as_integer(), Some(20));
        let mix = get(row, "data.train").unwrap().as_array().unwrap();
        assert_eq!(mix.len(), 2, "a mix keeps its sources");
        assert_eq!(
            source_name(mix[1].as_table().unwrap()),
            ("synth".into(), "train".into())
        );
        assert_eq!(mix[1].get("weight").unwrap().as_float(), Some(4.0));
        let sweep = t["sweep"].as_table().unwrap();
        assert!(!sweep.contains_key("device"));
        assert_eq!(
            sweep["train.steps"].as_array().unwrap(),
            &vec![toml::Value::Integer(1), toml::Value::Integer(10)]
        );
        assert!(notes.iter().any(|n| n.contains("runs.q sets backbone")));
        assert!(notes
            .iter()
            .any(|n| n.contains("sweep axis `device` dropped")));
        // The result is a valid spec.
        let spec = crate::spec::from_table(Path::new("x.toml"), t).unwrap();
        let plan = crate::spec::expand(&spec).unwrap();
        assert!(plan
            .runs
            .iter()
            .all(|r| r.config.backbone == "builtin:tiny"));
    }

    #[test]
    fn an_unmapped_dataset_is_named() {
        let d = tempfile::tempdir().unwrap();
        let o = overlay(d.path());
        let mut t = table(
            "[experiment]\nname = \"x\"\n[runs.w]\ndata.train = [{ dataset = \"wavcaps\", split = \"train\" }]\n",
        );
        let e = o
            .apply(Path::new("x.toml"), &mut t)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("runs.w.data.train[0]") && e.contains("wavcaps") && e.contains("[datasets]"),
            "{e}"
        );
    }

    #[test]
    fn bad_overlay_files_are_named() {
        let d = tempfile::tempdir().unwrap();
        for (text, want) in [
            ("[sett]\nx = 1\n", "sett"),
            ("[set]\nbackbon = \"x\"\n", "backbon"),
            (
                "[scale]\n\"backbone\" = { factor = 2.0 }\n",
                "scale.backbone",
            ),
            (
                "[scale]\n\"train.steps\" = { factor = 0.0 }\n",
                "scale.train.steps",
            ),
            (
                "[datasets]\naudiocaps = \"synth/train\"\n",
                "datasets.\"audiocaps\"",
            ),
            (
                "[datasets]\n\"audiocaps/train\" = \"synth\"\n",
                "datasets.\"audiocaps/train\"",
            ),
        ] {
            let p = d.path().join("bad.toml");
            std::fs::write(&p, text).unwrap();
            let e = read(&p).unwrap_err().to_string();
            assert!(e.contains("bad.toml") && e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn names_resolve_beside_the_spec_and_paths_as_given() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("experiments").join("overlays");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("mini.toml"), "").unwrap();
        std::fs::create_dir_all(d.path().join("ablations")).unwrap();
        let spec = d.path().join("ablations").join("a.toml");
        std::fs::write(&spec, "").unwrap();
        let found = resolve("mini", &spec).unwrap();
        assert_eq!(
            found.canonicalize().unwrap(),
            dir.join("mini.toml").canonicalize().unwrap()
        );
        let e = resolve("nope", &spec).unwrap_err().to_string();
        assert!(e.contains("nope") && e.contains("known: mini"), "{e}");
        let p = dir.join("mini.toml");
        assert_eq!(resolve(p.to_str().unwrap(), &spec).unwrap(), p);
    }
}
