//! The layer order of ARCHITECTURE.md, checked: every `crate::<module>` a module's source names
//! is one the table there allows it. The known departures (numbered there) are allowed by name,
//! file by file, so a new one fails here and a removed one is a line to delete.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module → the modules it may use (ARCHITECTURE.md, "Layers").
fn allowed() -> BTreeMap<&'static str, Vec<&'static str>> {
    let below_exec = [
        "targets", "train", "eval", "report", "model", "decode", "data", "text", "audio", "spec",
        "store", "home", "once", "rng", "openai", "hub", "pause", "preempt",
    ];
    let mut everything = below_exec.to_vec();
    everything.extend(["exec", "app", "cli"]);
    BTreeMap::from([
        ("rng", vec![]),
        ("once", vec![]),
        ("home", vec![]),
        ("openai", vec![]),
        ("hub", vec!["once"]),
        ("pause", vec![]),
        ("preempt", vec![]),
        ("spec", vec![]),
        ("text", vec![]),
        ("store", vec!["spec", "home"]),
        ("audio", vec!["rng"]),
        (
            "data",
            vec![
                "audio", "spec", "store", "home", "once", "rng", "hub", "pause",
            ],
        ),
        (
            "model",
            vec!["text", "spec", "data", "home", "hub", "pause"],
        ),
        ("decode", vec!["model", "text", "rng"]),
        (
            "targets",
            vec![
                "decode", "model", "data", "text", "store", "spec", "rng", "openai", "pause",
            ],
        ),
        (
            "train",
            vec![
                "model", "data", "text", "audio", "store", "home", "spec", "once", "rng", "pause",
                "preempt",
            ],
        ),
        (
            "eval",
            vec![
                "decode", "model", "data", "text", "store", "spec", "rng", "openai",
            ],
        ),
        ("report", vec!["store", "spec", "rng", "pause"]),
        ("exec", below_exec.to_vec()),
        ("app", everything.clone()),
        ("cli", everything),
    ])
}

/// The departures ARCHITECTURE.md lists: (file, module it may name all the same).
const DEPARTURES: &[(&str, &str)] = &[];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The `crate::<name>` references in a source text (comments included: a doc link upward is a
/// dependency of the reader's too).
fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
        rest = after;
    }
    out
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let allowed = allowed();
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut wrong = Vec::new();
    let mut departures_seen = BTreeSet::new();
    for f in &files {
        let rel = f
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let module = rel
            .trim_start_matches("src/")
            .split(['/', '.'])
            .next()
            .unwrap()
            .to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let may = allowed.get(module.as_str()).unwrap_or_else(|| {
            panic!("{rel}: module `{module}` is not in ARCHITECTURE.md's table")
        });
        let text = std::fs::read_to_string(f).unwrap();
        for used in crate_refs(&text) {
            if used == module
                || may.contains(&used.as_str())
                || !allowed.contains_key(used.as_str())
            {
                continue;
            }
            if DEPARTURES.contains(&(rel.as_str(), used.as_str())) {
                departures_seen.insert((rel.clone(), used));
                continue;
            }
            wrong.push(format!("{rel} uses crate::{used}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layer order:\n{}",
        wrong.join("\n")
    );
    for (file, module) in DEPARTURES {
        assert!(
            departures_seen.contains(&(file.to_string(), module.to_string())),
            "{file} no longer uses crate::{module}: delete the departure here and in ARCHITECTURE.md"
        );
    }
}
