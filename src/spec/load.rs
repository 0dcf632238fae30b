//! Layered loading of a spec file: the file ← its `extends` chain ← an overlay (`--overlay`, see
//! [`super::overlay`]) ← `ACDC_*` environment ← `--set`.
//!
//! Each TOML file is parsed on its own first, so syntax errors carry the file, line and column. The
//! `extends` chain is merged table by table (the extending file wins), cycles are refused, and the
//! result is layered with figment under the environment (`ACDC_DEFAULTS__TRAIN__STEPS=10` sets
//! `defaults.train.steps`; only variables with a `__` are read, so `ACDC_HOME` is not a key) and the
//! command line's `--set key.path=value` (value in TOML syntax; a bare word is a string; a key that
//! does not start with a spec section is taken under `defaults.`).

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use std::path::{Path, PathBuf};

use super::SpecError;

/// Top-level keys of a spec file.
pub const SPEC_SECTIONS: &[&str] = &[
    "extends",
    "max_runs",
    "compare",
    "workers",
    "experiment",
    "defaults",
    "runs",
    "sweep",
    "include",
    "exclude",
];

/// Read `path` and its `extends` chain into one TOML table (the child overriding its parents).
pub fn read_chain(path: &Path) -> Result<toml::Table, SpecError> {
    let mut stack: Vec<PathBuf> = Vec::new();
    read_chain_inner(path, &mut stack)
}

fn read_chain_inner(path: &Path, stack: &mut Vec<PathBuf>) -> Result<toml::Table, SpecError> {
    let canon = path.canonicalize().map_err(|e| SpecError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if let Some(pos) = stack.iter().position(|p| p == &canon) {
        let mut chain: Vec<String> = stack[pos..]
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        chain.push(canon.display().to_string());
        return Err(SpecError::ExtendsCycle {
            chain: chain.join(" → "),
        });
    }
    let text = std::fs::read_to_string(&canon).map_err(|e| SpecError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| syntax_error(path, &text, &e))?;
    stack.push(canon.clone());
    let merged = match table.get("extends") {
        None => table,
        Some(toml::Value::String(parent)) => {
            let parent_path = canon.parent().unwrap_or(Path::new(".")).join(parent);
            let mut base = read_chain_inner(&parent_path, stack).map_err(|e| match e {
                SpecError::Io { path: p, message } if p == parent_path => SpecError::Key {
                    file: path.to_path_buf(),
                    key: "extends".into(),
                    message: format!("cannot read `{}`: {message}", p.display()),
                },
                other => other,
            })?;
            let mut child = table;
            child.remove("extends");
            base.remove("extends");
            deep_merge(&mut base, child);
            base
        }
        Some(other) => {
            return Err(SpecError::Key {
                file: path.to_path_buf(),
                key: "extends".into(),
                message: format!("expected a file path string, found {}", other.type_str()),
            })
        }
    };
    stack.pop();
    Ok(merged)
}

pub(crate) fn syntax_error(path: &Path, text: &str, e: &toml::de::Error) -> SpecError {
    let (line, col) = match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before
                .rsplit('\n')
                .next()
                .map(|l| l.chars().count())
                .unwrap_or(0)
                + 1;
            (line, col)
        }
        None => (0, 0),
    };
    SpecError::Syntax {
        file: path.to_path_buf(),
        line,
        column: col,
        message: e.message().to_string(),
    }
}

/// Merge `over` into `base`: tables merge recursively, everything else is replaced.
pub fn deep_merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => deep_merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Parse one `--set key.path=value` into a nested table.
pub fn parse_set(assignment: &str) -> Result<toml::Table, SpecError> {
    let (key, raw) = assignment.split_once('=').ok_or_else(|| SpecError::Set {
        assignment: assignment.into(),
        message: "expected key.path=value".into(),
    })?;
    let key = key.trim();
    let mut parts = key_path(key).ok_or_else(|| SpecError::Set {
        assignment: assignment.into(),
        message: "empty key".into(),
    })?;
    let value = parse_value(raw.trim());
    if !SPEC_SECTIONS.contains(&parts[0].as_str()) {
        parts.insert(0, "defaults".into());
    }
    let mut node = value;
    for p in parts.iter().rev() {
        let mut t = toml::Table::new();
        t.insert(p.clone(), node);
        node = toml::Value::Table(t);
    }
    match node {
        toml::Value::Table(t) => Ok(t),
        _ => unreachable!("built from at least one key"),
    }
}

/// The parts of a dotted key as TOML reads them (`a.b.c`, or `sweep."targets.temperature"` whose
/// quoted part holds a dot); `None` for an empty key or an empty part. A key TOML cannot read is
/// split at its dots.
fn key_path(key: &str) -> Option<Vec<String>> {
    if let Ok(doc) = toml::from_str::<toml::Table>(&format!("{key} = 0")) {
        let mut parts = Vec::new();
        let mut table = &doc;
        while let Some((k, v)) = table.iter().next() {
            parts.push(k.clone());
            match v {
                toml::Value::Table(t) if table.len() == 1 => table = t,
                _ => break,
            }
        }
        return (!parts.is_empty()).then_some(parts);
    }
    let parts: Vec<String> = key.split('.').map(|p| p.trim().to_string()).collect();
    (!key.is_empty() && parts.iter().all(|p| !p.is_empty())).then_some(parts)
}

/// A value in TOML syntax (`5`, `0.7`, `true`, `"x"`, `[1, 2]`, `{a = 1}`); anything else is a string.
pub fn parse_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.into()),
    }
}

/// The layered spec as one TOML table: file chain ← `ACDC_*` env ← `--set`s.
pub fn layered(path: &Path, sets: &[String]) -> Result<toml::Table, SpecError> {
    layered_with(path, None, sets).map(|(t, _)| t)
}

/// [`layered`] with an overlay applied to the merged file chain, below the environment and the
/// `--set`s (which therefore still override what the overlay sets); also returns the overlay's
/// notes.
pub fn layered_with(
    path: &Path,
    overlay: Option<&super::overlay::Overlay>,
    sets: &[String],
) -> Result<(toml::Table, Vec<String>), SpecError> {
    let mut chain = read_chain(path)?;
    let notes = match overlay {
        Some(o) => o.apply(path, &mut chain)?,
        None => Vec::new(),
    };
    let chain_text = toml::to_string(&chain).map_err(|e| SpecError::Io {
        path: path.to_path_buf(),
        message: format!("re-serialising the merged spec failed: {e}"),
    })?;
    let mut set_table = toml::Table::new();
    for s in sets {
        deep_merge(&mut set_table, parse_set(s)?);
    }
    let figment = Figment::new()
        .merge(Toml::string(&chain_text))
        .merge(
            Env::prefixed("ACDC_")
                .filter(|k| k.as_str().contains("__"))
                .split("__")
                .map(|k| k.as_str().to_ascii_lowercase().into()),
        )
        .merge(Serialized::globals(set_table));
    let value: toml::Value = figment.extract().map_err(|e| SpecError::Key {
        file: path.to_path_buf(),
        key: e.path.join("."),
        message: e.to_string(),
    })?;
    match value {
        toml::Value::Table(t) => Ok((t, notes)),
        other => Err(SpecError::Key {
            file: path.to_path_buf(),
            key: String::new(),
            message: format!("expected a table at the top, found {}", other.type_str()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_set;

    fn set(a: &str) -> toml::Table {
        parse_set(a).unwrap()
    }

    /// `--set` reads its key as TOML does: dotted parts, a quoted part kept whole (a sweep axis
    /// named by a dotted key), spec sections at the top, anything else under `[defaults]`.
    #[test]
    fn set_keys_are_read_as_toml_keys() {
        assert_eq!(
            set("train.steps=5"),
            toml::from_str("[defaults.train]\nsteps = 5").unwrap()
        );
        assert_eq!(
            set("sweep.\"targets.temperature\"=[0.3, 1.0]"),
            toml::from_str("[sweep]\n\"targets.temperature\" = [0.3, 1.0]").unwrap()
        );
        assert_eq!(
            set("sweep.seeds=[0,1,2]"),
            toml::from_str("[sweep]\nseeds = [0, 1, 2]").unwrap()
        );
        assert_eq!(
            set(" decode . beams = 2"),
            toml::from_str("[defaults.decode]\nbeams = 2").unwrap()
        );
        for bad in ["=1", "a..b=1", ".a=1", "a.=1"] {
            let e = parse_set(bad).unwrap_err().to_string();
            assert!(e.contains("empty key"), "{bad}: {e}");
        }
    }
}
