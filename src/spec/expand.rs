//! Grid expansion: named rows × sweep axes (× seeds), filtered, with `init_from` resolved.

use std::collections::BTreeMap;
use std::path::Path;

use super::{config_from, run_id, RunConfig, Spec, SpecError};

/// One run of the expanded grid.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    /// The row label (`A1`, …, or `default` when the spec has no rows).
    pub label: String,
    /// The sweep point (axis → value), `seeds` excluded.
    pub point: Vec<(String, toml::Value)>,
    pub seed: u64,
    pub config: RunConfig,
    pub run_id: String,
    /// The row this run starts from, if any.
    pub init_from_label: Option<String>,
    pub paper: BTreeMap<String, f64>,
}

impl PlannedRun {
    /// `label` plus the sweep point, e.g. `A2[targets.temperature=0.3]` — seeds are not part of it,
    /// so the runs of one name differ only in seed.
    pub fn name(&self) -> String {
        if self.point.is_empty() {
            self.label.clone()
        } else {
            let p: Vec<String> = self
                .point
                .iter()
                .map(|(k, v)| format!("{k}={}", show(v)))
                .collect();
            format!("{}[{}]", self.label, p.join(","))
        }
    }
}

/// A TOML value as a short string (strings without quotes).
pub fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The expanded grid of one spec.
#[derive(Debug, Clone)]
pub struct Plan {
    pub experiment: String,
    pub description: String,
    pub runs: Vec<PlannedRun>,
    /// Configuration keys (dotted) whose value differs between runs, `seed` excluded.
    pub varying: Vec<String>,
    /// What a reader of the plan should know: what an overlay changed, and rows whose
    /// configurations are identical (one run, one id, listed under each name).
    pub notes: Vec<String>,
    /// The spec's `compare` pairs resolved to row names (A, B); `None`: the report infers them.
    pub compare: Option<Vec<(String, String)>>,
}

/// Build `{a: {b: value}}` from `a.b`.
pub fn nested(dotted: &str, value: toml::Value) -> toml::Table {
    let mut node = value;
    let parts: Vec<&str> = dotted.split('.').collect();
    for p in parts.iter().rev() {
        let mut t = toml::Table::new();
        t.insert((*p).to_string(), node);
        node = toml::Value::Table(t);
    }
    match node {
        toml::Value::Table(t) => t,
        _ => unreachable!(),
    }
}

fn lookup<'a>(t: &'a serde_json::Value, dotted: &str) -> Option<&'a serde_json::Value> {
    dotted.split('.').try_fold(t, |node, k| node.get(k))
}

fn values_equal(cfg_value: &serde_json::Value, want: &toml::Value) -> bool {
    let want_json = serde_json::to_value(want).unwrap_or(serde_json::Value::Null);
    match (cfg_value.as_f64(), want_json.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => cfg_value == &want_json,
    }
}

fn matches(filter: &toml::Table, label: &str, cfg: &RunConfig) -> Result<bool, String> {
    let json = serde_json::to_value(cfg).expect("RunConfig serialises");
    for (k, want) in filter {
        let ok = if k == "label" {
            match want {
                toml::Value::String(s) => s == label,
                toml::Value::Array(a) => a.iter().any(|v| v.as_str() == Some(label)),
                _ => false,
            }
        } else {
            match lookup(&json, k) {
                Some(v) => match want {
                    toml::Value::Array(a) if !v.is_array() => a.iter().any(|w| values_equal(v, w)),
                    w => values_equal(v, w),
                },
                None => return Err(format!("unknown key `{k}` (expected `label` or a configuration key such as `targets.kind`)")),
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Expand a spec into its runs.
pub fn expand(spec: &Spec) -> Result<Plan, SpecError> {
    let file: &Path = &spec.file;
    let key_err = |key: String, message: String| SpecError::Key {
        file: file.to_path_buf(),
        key,
        message,
    };

    let rows: Vec<super::RowSpec> = if spec.rows.is_empty() {
        vec![super::RowSpec {
            label: "default".into(),
            paper: BTreeMap::new(),
            init_from: None,
            description: String::new(),
            overrides: toml::Table::new(),
        }]
    } else {
        spec.rows.clone()
    };

    // Size check before enumerating anything.
    let points: usize = spec.sweep.iter().map(|(_, v)| v.len()).product();
    let size = rows.len().saturating_mul(points);
    if size > spec.max_runs && spec.include.is_empty() && spec.exclude.is_empty() {
        return Err(SpecError::TooLarge {
            file: file.to_path_buf(),
            size,
            max: spec.max_runs,
        });
    }
    if size > spec.max_runs.saturating_mul(64) {
        return Err(SpecError::TooLarge {
            file: file.to_path_buf(),
            size,
            max: spec.max_runs,
        });
    }

    // Rows in dependency order (init_from sources first); cycles refused.
    let mut order: Vec<usize> = Vec::new();
    let mut state = vec![0u8; rows.len()]; // 0 new, 1 visiting, 2 done
    fn visit(
        i: usize,
        rows: &[super::RowSpec],
        state: &mut [u8],
        order: &mut Vec<usize>,
        path: &mut Vec<String>,
    ) -> Result<(), String> {
        if state[i] == 2 {
            return Ok(());
        }
        path.push(rows[i].label.clone());
        if state[i] == 1 {
            return Err(path.join(" → "));
        }
        state[i] = 1;
        if let Some(src) = &rows[i].init_from {
            let j = rows
                .iter()
                .position(|r| &r.label == src)
                .expect("checked at load");
            visit(j, rows, state, order, path)?;
        }
        state[i] = 2;
        path.pop();
        order.push(i);
        Ok(())
    }
    for i in 0..rows.len() {
        visit(i, &rows, &mut state, &mut order, &mut Vec::new()).map_err(|cycle| {
            key_err(
                format!("runs.{}.init_from", rows[i].label),
                format!("init_from cycle: {cycle}"),
            )
        })?;
    }

    // Cartesian product of the sweep axes.
    let mut grid: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
    for (axis, values) in &spec.sweep {
        let mut next = Vec::with_capacity(grid.len() * values.len());
        for p in &grid {
            for v in values {
                let mut q = p.clone();
                q.push((axis.clone(), v.clone()));
                next.push(q);
            }
        }
        grid = next;
    }

    // Runs per row, keyed for init_from lookup by (label, point incl. seed).
    let mut by_row: BTreeMap<usize, Vec<PlannedRun>> = BTreeMap::new();
    let mut reference_points = std::collections::BTreeSet::new();
    let mut index: BTreeMap<(String, String), String> = BTreeMap::new();
    for &ri in &order {
        let row = &rows[ri];
        let mut out = Vec::new();
        for point in &grid {
            let mut over = row.overrides.clone();
            for (axis, v) in point {
                let key = if axis == "seeds" {
                    "seed"
                } else {
                    axis.as_str()
                };
                super::load::deep_merge(&mut over, nested(key, v.clone()));
            }
            let ctx = format!("runs.{}", row.label);
            let mut config = config_from(file, &ctx, &spec.defaults, &over)?;
            let point_key = format!("{point:?}");
            let init_from_label = row.init_from.clone();
            if let Some(src) = &row.init_from {
                let src_id =
                    index
                        .get(&(src.clone(), point_key.clone()))
                        .cloned()
                        .ok_or_else(|| {
                            key_err(
                        format!("runs.{}.init_from", row.label),
                        format!("row `{src}` has no run at the same sweep point (filtered out?)"),
                    )
                        })?;
                config.init_from = Some(src_id);
            }
            let keep_inc = spec.include.is_empty()
                || spec
                    .include
                    .iter()
                    .any(|f| matches(f, &row.label, &config).unwrap_or(false));
            for (i, f) in spec.include.iter().chain(spec.exclude.iter()).enumerate() {
                if let Err(m) = matches(f, &row.label, &config) {
                    let which = if i < spec.include.len() {
                        format!("include[{i}]")
                    } else {
                        format!("exclude[{}]", i - spec.include.len())
                    };
                    return Err(key_err(which, m));
                }
            }
            let excluded = spec
                .exclude
                .iter()
                .any(|f| matches(f, &row.label, &config).unwrap_or(false));
            if !config.reference.is_none() {
                if row.init_from.is_some() {
                    return Err(key_err(
                        format!("runs.{}.init_from", row.label),
                        "a reference row (`reference`) trains nothing, so it cannot start from another row".into(),
                    ));
                }
                // The seed changes nothing in a reference row: one run per sweep point.
                let point_key = format!(
                    "{:?}",
                    point
                        .iter()
                        .filter(|(k, _)| k != "seeds")
                        .collect::<Vec<_>>()
                );
                if !reference_points.insert((row.label.clone(), point_key)) {
                    continue;
                }
            }
            let id = run_id(&config);
            index.insert((row.label.clone(), point_key), id.clone());
            if !keep_inc || excluded {
                continue;
            }
            let seed = config.seed;
            out.push(PlannedRun {
                label: row.label.clone(),
                point: point
                    .iter()
                    .filter(|(k, _)| k != "seeds")
                    .cloned()
                    .collect(),
                seed,
                config,
                run_id: id,
                init_from_label,
                paper: row.paper.clone(),
            });
        }
        by_row.insert(ri, out);
    }
    // Present runs in the spec's row order (labels sorted as TOML tables are), then grid order.
    let mut runs: Vec<PlannedRun> = Vec::new();
    for i in 0..rows.len() {
        runs.extend(by_row.remove(&i).unwrap_or_default());
    }
    // A kept run whose source was filtered out still needs that source: keep the dependency visible.
    let kept: std::collections::BTreeSet<String> = runs.iter().map(|r| r.run_id.clone()).collect();
    for r in &runs {
        if let Some(src) = &r.config.init_from {
            if !kept.contains(src) {
                return Err(key_err(
                    format!("runs.{}.init_from", r.label),
                    format!("run {} starts from run {src} of row `{}`, which the include/exclude filters removed", r.run_id, r.init_from_label.clone().unwrap_or_default()),
                ));
            }
        }
    }
    // Machine settings do not make a run: two rows that differ only in them would share one.
    let mut by_id: BTreeMap<&str, &PlannedRun> = BTreeMap::new();
    for r in &runs {
        let Some(other) = by_id.insert(&r.run_id, r) else {
            continue;
        };
        let (a, b) = (
            super::run_id::flatten(&other.config),
            super::run_id::flatten(&r.config),
        );
        let differ: Vec<&str> = a
            .keys()
            .chain(b.keys())
            .filter(|k| a.get(*k) != b.get(*k))
            .map(|k| k.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !differ.is_empty() {
            return Err(key_err(
                format!("runs.{}", r.label),
                format!(
                    "is the same run ({}) as row `{}`: they differ only in machine settings ({}), which say where things are, not what is computed; give a different dataset a different name",
                    r.run_id,
                    other.label,
                    differ.join(", ")
                ),
            ));
        }
    }
    if runs.len() > spec.max_runs {
        return Err(SpecError::TooLarge {
            file: file.to_path_buf(),
            size: runs.len(),
            max: spec.max_runs,
        });
    }
    let varying = varying_keys(&runs);
    let mut notes = spec.notes.clone();
    notes.extend(shared_runs(&runs));
    let compare = spec
        .compare
        .as_ref()
        .map(|pairs| resolve_compare(file, pairs, &runs))
        .transpose()?;
    Ok(Plan {
        experiment: spec.experiment.name.clone(),
        description: spec.experiment.description.clone(),
        runs,
        varying,
        notes,
        compare,
    })
}

/// One note per run id that several names share (rows whose configurations are identical, e.g.
/// under an overlay that maps every backbone to one): they are one run, executed once.
fn shared_runs(runs: &[PlannedRun]) -> Vec<String> {
    let mut by_id: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for r in runs {
        let names = by_id.entry(&r.run_id).or_insert_with(|| {
            order.push(&r.run_id);
            Vec::new()
        });
        let name = r.name();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    order
        .into_iter()
        .filter(|id| by_id[id].len() > 1)
        .map(|id| {
            format!(
                "{} are one run ({id}): their configurations are identical",
                by_id[id].join(", ")
            )
        })
        .collect()
}

/// The spec's `compare` pairs as pairs of row names. A side names a row (`T[targets.temperature=0.3]`)
/// or a label, which stands for that label's rows: two labels with sweep points pair their rows
/// at the same point. A name that is no row of the plan is an error naming `compare[i]`.
fn resolve_compare(
    file: &Path,
    pairs: &[(String, String)],
    runs: &[PlannedRun],
) -> Result<Vec<(String, String)>, SpecError> {
    // Rows in plan order: (name, label, sweep point).
    type Point = [(String, toml::Value)];
    let mut rows: Vec<(String, &str, &Point)> = Vec::new();
    for r in runs {
        let name = r.name();
        if !rows.iter().any(|(n, _, _)| *n == name) {
            rows.push((name, &r.label, &r.point));
        }
    }
    let err = |i: usize, message: String| SpecError::Key {
        file: file.to_path_buf(),
        key: format!("compare[{i}]"),
        message,
    };
    let side = |i: usize, want: &str| {
        let exact: Vec<usize> = (0..rows.len()).filter(|&j| rows[j].0 == want).collect();
        let found = if exact.is_empty() {
            (0..rows.len()).filter(|&j| rows[j].1 == want).collect()
        } else {
            exact
        };
        if found.is_empty() {
            let names: Vec<&str> = rows.iter().map(|(n, _, _)| n.as_str()).collect();
            Err(err(
                i,
                format!(
                    "names `{want}`, which is not a row of this experiment; rows: {}",
                    names.join(", ")
                ),
            ))
        } else {
            Ok(found)
        }
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, (a, b)) in pairs.iter().enumerate() {
        let (xs, ys) = (side(i, a)?, side(i, b)?);
        let mut found = Vec::new();
        if xs.len() == 1 && ys.len() == 1 {
            found.push((xs[0], ys[0]));
        } else {
            for &x in &xs {
                found.extend(
                    ys.iter()
                        .filter(|&&y| rows[y].2 == rows[x].2)
                        .map(|&y| (x, y)),
                );
            }
        }
        if found.is_empty() {
            return Err(err(
                i,
                format!("`{a}` and `{b}` have no rows at the same sweep point to compare; name the rows, e.g. `{}`", rows[xs[0]].0),
            ));
        }
        for (x, y) in found {
            if x == y {
                return Err(err(i, format!("compares row `{}` with itself", rows[x].0)));
            }
            let pair = (rows[x].0.clone(), rows[y].0.clone());
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
    }
    Ok(out)
}

/// Keys whose values differ between runs (`seed`, `init_from` and machine settings excluded).
pub fn varying_keys(runs: &[PlannedRun]) -> Vec<String> {
    let flats: Vec<_> = runs
        .iter()
        .map(|r| super::run_id::flatten(&r.config))
        .collect();
    let mut keys = Vec::new();
    if let Some(first) = flats.first() {
        for k in first.keys() {
            if k == "seed" || k == "init_from" || super::run_id::is_machine_key(k) {
                continue;
            }
            if flats.iter().any(|f| f.get(k) != first.get(k)) {
                keys.push(k.clone());
            }
        }
    }
    keys
}
