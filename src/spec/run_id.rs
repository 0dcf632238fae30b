//! Canonical JSON of a run configuration and the run id derived from it.
//!
//! The canonical form is the configuration serialised with every key (defaults included), object
//! keys sorted, no whitespace. The run id is the first 12 hex digits of its SHA-256, so the same
//! configuration in any experiment, under any label, is the same run.

use sha2::{Digest, Sha256};

use super::RunConfig;

/// The canonical JSON text of a configuration.
pub fn canonical_json(cfg: &RunConfig) -> String {
    // serde_json::Value keeps object keys in a BTreeMap (sorted) without `preserve_order`.
    let value = serde_json::to_value(cfg).expect("RunConfig always serialises");
    serde_json::to_string(&value).expect("a JSON value always serialises")
}

/// The run id: first 12 hex digits of sha256(canonical JSON).
pub fn run_id(cfg: &RunConfig) -> String {
    let digest = Sha256::digest(canonical_json(cfg).as_bytes());
    hex::encode(digest)[..12].to_string()
}

/// Flatten a configuration into `dotted.key → JSON value` (arrays stay whole).
pub fn flatten(cfg: &RunConfig) -> std::collections::BTreeMap<String, serde_json::Value> {
    flatten_value(&serde_json::to_value(cfg).expect("RunConfig always serialises"))
}

/// Flatten any JSON object into `dotted.key → value` (a configuration read back from disk).
pub fn flatten_value(
    v: &serde_json::Value,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let mut out = std::collections::BTreeMap::new();
    fn walk(
        prefix: &str,
        v: &serde_json::Value,
        out: &mut std::collections::BTreeMap<String, serde_json::Value>,
    ) {
        match v {
            serde_json::Value::Object(m) if !m.is_empty() => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), other.clone());
            }
        }
    }
    walk("", v, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_stable_and_sensitive() {
        let a = RunConfig::default();
        let mut b = a.clone();
        assert_eq!(run_id(&a), run_id(&b));
        assert_eq!(run_id(&a).len(), 12);
        b.targets.temperature = 0.3;
        assert_ne!(run_id(&a), run_id(&b));
        let json = canonical_json(&a);
        assert!(json.starts_with("{\"adapter\":"), "keys sorted: {json}");
    }
}

/// A configuration value as a short table cell: strings bare, dataset lists as
/// `audiocaps/train + wavcaps/train×4` (weight shown when not 1), everything else as JSON.
pub fn display_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items)
            if !items.is_empty() && items.iter().all(|i| i.get("dataset").is_some()) =>
        {
            items
                .iter()
                .map(|i| {
                    let mut s = format!(
                        "{}/{}",
                        i["dataset"].as_str().unwrap_or("?"),
                        i["split"].as_str().unwrap_or("?")
                    );
                    if let Some(w) = i.get("weight").and_then(|w| w.as_f64()) {
                        if w != 1.0 {
                            s.push_str(&format!("×{w}"));
                        }
                    }
                    if let Some(m) = i.get("max_items").and_then(|m| m.as_u64()) {
                        if m > 0 {
                            s.push_str(&format!("[:{m}]"));
                        }
                    }
                    s
                })
                .collect::<Vec<_>>()
                .join(" + ")
        }
        other => other.to_string(),
    }
}
