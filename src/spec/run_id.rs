//! Canonical JSON of a run configuration and the run id derived from it.
//!
//! The canonical form is the configuration serialised with every key (defaults included), object
//! keys sorted, no whitespace. The run id is the first 12 hex digits of the SHA-256 of that form
//! without the [`MACHINE_KEYS`], so the same configuration in any experiment, under any label, on
//! any machine, is the same run.

use sha2::{Digest, Sha256};

use super::RunConfig;

/// The canonical JSON text of a configuration.
pub fn canonical_json(cfg: &RunConfig) -> String {
    // serde_json::Value keeps object keys in a BTreeMap (sorted) without `preserve_order`.
    let value = serde_json::to_value(cfg).expect("RunConfig always serialises");
    serde_json::to_string(&value).expect("a JSON value always serialises")
}

/// Keys that say where things are on this machine or how to reach a service, not what a run
/// computes. They are stored with the run (and used when it executes) but left out of its id and
/// of the resume check, so moving datasets or jars, or serving the judge elsewhere, does not turn
/// finished runs into new ones. A dataset is identified by its name and split, not its directory:
/// a different dataset under the same name needs a new name.
pub const MACHINE_KEYS: &[&str] = &[
    "data.roots",
    "eval.judge_url",
    "eval.judge_api_key_env",
    "eval.judge_concurrency",
    "eval.judge_timeout_s",
    "eval.judge_retries",
    "eval.judge_backoff_s",
    "eval.meteor_jar",
    "eval.spice_jar",
    "targets.engine",
    "targets.engine_url",
    "targets.engine_model",
    "targets.engine_api_key_env",
    "targets.engine_concurrency",
    "targets.engine_retries",
    "targets.engine_timeout_s",
    "targets.engine_backoff_s",
];

/// Settings that change how a run computes, not what it computes (memory, not results): its id is
/// hashed with their default value, so it does not depend on them, and a run resumes under either
/// value. (Hashed at the default rather than left out, so the ids of runs at the default stay
/// what they were before the key was listed.)
pub const HOW_KEYS: &[&str] = &["train.gradient_checkpointing"];

/// Whether a dotted key may differ between two runs of one id: a [`MACHINE_KEYS`] or
/// [`HOW_KEYS`] setting.
pub fn is_setting_key(key: &str) -> bool {
    is_machine_key(key) || HOW_KEYS.contains(&key)
}

/// The judge template a run names (`eval.judge_template`, a file) enters its id by its contents:
/// `sha256:<hex>` of the file's bytes instead of its path, so editing the template makes new runs
/// and moving it does not. A file that cannot be read keeps its path (the run's evaluation will
/// say why it cannot read it).
fn judge_template_identity(path: &str) -> serde_json::Value {
    match std::fs::read(path) {
        Ok(bytes) => format!("sha256:{}", hex::encode(Sha256::digest(&bytes))).into(),
        Err(_) => path.into(),
    }
}

/// Machine keys whose value is replaced in the run id by whether it is set: a METEOR or SPICE
/// jar adds metrics to what a run reports, wherever the jar lives.
pub const PRESENCE_KEYS: &[&str] = &["eval.meteor_jar", "eval.spice_jar"];

/// Built-in models that acdc trains itself (not random weights), with the version of their
/// recipe. A run whose configuration names one has `builtin_recipes` (name → version) in the
/// JSON its id hashes, so after a recipe changes a store's runs of the old model are new runs,
/// not finished ones reported as if they had used the new model. The model's directory under
/// `$ACDC_HOME/models/` carries the same version (`model::backbone::{tiny_chat_dir,
/// tiny_eat_events_weights}`), so a new recipe is built, not an old build reused. Runs of models
/// not listed keep the ids they had before versions entered the id (tiny-chat v5; the encoder
/// `builtin:tiny-eat-events` was listed from its first recipe on, as version 1, at tiny-chat v7).
pub const BUILTIN_RECIPES: &[(&str, u32)] =
    &[("builtin:tiny-chat", 7), ("builtin:tiny-eat-events", 1)];

/// Version of the synthetic world's generator and its files: the `synth-vN-…` folder of a world
/// (`data::sources::synth_dir`) and, as `synth_world`, the JSON the id of every run that reads
/// the `synth` dataset hashes, so after the generator changes a world is generated again and its
/// runs are new runs, not finished ones reported as if they had read the new world. Bump it with
/// any change to what `data/synth/` writes for a given config (v2 added each event's `level_db`
/// to `events.jsonl`). The toy models learn from synthetic worlds of their own: a change that
/// alters those also bumps their [`BUILTIN_RECIPES`] versions.
pub const SYNTH_WORLD_VERSION: u32 = 3;

/// Whether a run reads the synthetic world (as a training, instruction, validation or eval set).
fn reads_synth(cfg: &RunConfig) -> bool {
    let d = &cfg.data;
    let sources = d.train.iter().chain(&d.instruct).chain(&d.val);
    sources
        .map(|s| &s.dataset)
        .chain(d.eval_aac.iter().chain(&d.eval_aqa).map(|s| &s.dataset))
        .any(|name| name == "synth")
}

/// The recipe version of the built-in model `name` (see [`BUILTIN_RECIPES`]).
pub fn builtin_recipe(name: &str) -> Option<u32> {
    BUILTIN_RECIPES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
}

/// The [`BUILTIN_RECIPES`] named anywhere in `value` (a configuration as JSON).
fn builtin_recipes_in(value: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    fn walk(v: &serde_json::Value, out: &mut serde_json::Map<String, serde_json::Value>) {
        match v {
            // The name alone (`backbone`) or after a prefix (`eval.judge = "local:builtin:…"`).
            serde_json::Value::String(s) => {
                for (name, version) in BUILTIN_RECIPES {
                    let named = s
                        .strip_suffix(name)
                        .is_some_and(|p| p.is_empty() || p.ends_with(':'));
                    if named {
                        out.insert(name.to_string(), (*version).into());
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = serde_json::Map::new();
    walk(value, &mut out);
    out
}

/// Whether a dotted key (as [`flatten`] gives them) is, or lies under, one of the [`MACHINE_KEYS`].
pub fn is_machine_key(key: &str) -> bool {
    MACHINE_KEYS.iter().any(|m| {
        key == *m
            || key
                .strip_prefix(m)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// The JSON text the run id hashes: the canonical JSON without the [`MACHINE_KEYS`], except that
/// the [`PRESENCE_KEYS`] stay as `true` / `false` (set or empty); the [`HOW_KEYS`] at their
/// defaults; a judge template file by its contents' hash; with the recipe versions of the
/// [`BUILTIN_RECIPES`] it names under `builtin_recipes`; and with the [`SYNTH_WORLD_VERSION`] as
/// `synth_world` when it reads the synthetic world.
pub fn identity_json(cfg: &RunConfig) -> String {
    let mut value = serde_json::to_value(cfg).expect("RunConfig always serialises");
    let recipes = builtin_recipes_in(&value);
    for key in MACHINE_KEYS {
        let (parent, leaf) = key.rsplit_once('.').unwrap_or(("", key));
        let mut node = &mut value;
        for part in parent.split('.').filter(|p| !p.is_empty()) {
            node = node
                .get_mut(part)
                .unwrap_or_else(|| panic!("MACHINE_KEYS names `{key}`, not in RunConfig"));
        }
        let object = node
            .as_object_mut()
            .unwrap_or_else(|| panic!("MACHINE_KEYS names `{key}`, not in RunConfig"));
        let was = object
            .remove(leaf)
            .unwrap_or_else(|| panic!("MACHINE_KEYS names `{key}`, not in RunConfig"));
        if PRESENCE_KEYS.contains(key) {
            let set = was.as_str().is_some_and(|s| !s.is_empty());
            object.insert(leaf.to_string(), serde_json::Value::Bool(set));
        }
    }
    let defaults = serde_json::to_value(RunConfig::default()).expect("RunConfig always serialises");
    for key in HOW_KEYS {
        let path: Vec<&str> = key.split('.').collect();
        let default = path
            .iter()
            .try_fold(&defaults, |v, p| v.get(*p))
            .unwrap_or_else(|| panic!("HOW_KEYS names `{key}`, not in RunConfig"))
            .clone();
        let (leaf, parents) = path.split_last().expect("a dotted key");
        let node = parents
            .iter()
            .try_fold(&mut value, |v, p| v.get_mut(*p))
            .and_then(|v| v.as_object_mut())
            .unwrap_or_else(|| panic!("HOW_KEYS names `{key}`, not in RunConfig"));
        node.insert(leaf.to_string(), default);
    }
    if let Some(t) = value
        .get_mut("eval")
        .and_then(|e| e.get_mut("judge_template"))
        .filter(|t| t.as_str().is_some_and(|s| !s.is_empty()))
    {
        *t = judge_template_identity(t.as_str().expect("a string, checked"));
    }
    let object = value
        .as_object_mut()
        .expect("RunConfig serialises as an object");
    if !recipes.is_empty() {
        object.insert("builtin_recipes".into(), recipes.into());
    }
    if reads_synth(cfg) {
        object.insert("synth_world".into(), SYNTH_WORLD_VERSION.into());
    }
    serde_json::to_string(&value).expect("a JSON value always serialises")
}

/// The run id: first 12 hex digits of sha256([`identity_json`]).
pub fn run_id(cfg: &RunConfig) -> String {
    let digest = Sha256::digest(identity_json(cfg).as_bytes());
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

    /// A run of a built-in model acdc trains itself has the recipe's version in its id (a new
    /// recipe makes new runs); runs of other models keep the id they had before versions existed.
    #[test]
    fn builtin_recipes_are_in_the_id() {
        let mut a = RunConfig::default();
        let plain = run_id(&a);
        assert!(!identity_json(&a).contains("builtin_recipes"));
        a.backbone = "builtin:tiny".into();
        a.eval.judge = "local:builtin:tiny".into();
        assert!(!identity_json(&a).contains("builtin_recipes"));
        a.backbone = "builtin:tiny-chat".into();
        let json = identity_json(&a);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            v["builtin_recipes"]["builtin:tiny-chat"],
            serde_json::json!(builtin_recipe("builtin:tiny-chat").unwrap())
        );
        assert_ne!(run_id(&a), plain);
        // Named anywhere (here: as the judge), it counts the same.
        let mut j = RunConfig::default();
        j.eval.judge = "local:builtin:tiny-chat".into();
        assert!(identity_json(&j).contains("\"builtin_recipes\":{\"builtin:tiny-chat\":"));
        // The pretrained encoder is versioned too; the random one is not, and its name, a prefix
        // of the pretrained one's, does not count as naming it.
        let mut e = RunConfig::default();
        e.encoder.checkpoint = "builtin:tiny-eat".into();
        assert!(!identity_json(&e).contains("builtin_recipes"));
        e.encoder.checkpoint = "builtin:tiny-eat-events".into();
        let v: serde_json::Value = serde_json::from_str(&identity_json(&e)).unwrap();
        assert_eq!(
            v["builtin_recipes"],
            serde_json::json!({"builtin:tiny-eat-events": builtin_recipe("builtin:tiny-eat-events").unwrap()})
        );
        // What is stored is the configuration as given.
        assert!(!canonical_json(&a).contains("builtin_recipes"));
    }

    /// A run that reads the synthetic world, in any role, has the world's version in its id;
    /// runs of real datasets keep theirs.
    #[test]
    fn the_synthetic_worlds_version_is_in_the_id_of_runs_that_read_it() {
        let real = RunConfig::default();
        assert!(!identity_json(&real).contains("synth_world"));
        let synth = |f: &dyn Fn(&mut RunConfig)| {
            let mut c = RunConfig::default();
            f(&mut c);
            let v: serde_json::Value = serde_json::from_str(&identity_json(&c)).unwrap();
            assert_eq!(v["synth_world"], serde_json::json!(SYNTH_WORLD_VERSION));
            assert_ne!(run_id(&c), run_id(&real));
            assert!(!canonical_json(&c).contains("synth_world"));
        };
        synth(&|c| c.data.train[0].dataset = "synth".into());
        synth(&|c| c.data.eval_aac[0].dataset = "synth".into());
        synth(&|c| c.data.eval_aqa[0].dataset = "synth".into());
        synth(&|c| {
            let mut s = c.data.train[0].clone();
            s.dataset = "synth".into();
            c.data.instruct.push(s);
        });
    }

    /// Where data, jars and the judge server live does not change the run; what is judged does.
    #[test]
    fn machine_keys_leave_the_id_alone() {
        let a = RunConfig::default();
        let mut b = a.clone();
        b.data
            .roots
            .insert("audiocaps".into(), "/mnt/elsewhere/audiocaps".into());
        b.eval.judge_url = "http://gpu-box:8000/v1".into();
        b.eval.judge_api_key_env = "MY_KEY".into();
        b.eval.judge_concurrency = 64;
        b.eval.judge_timeout_s = 5.0;
        b.eval.judge_retries = 0;
        b.eval.judge_backoff_s = 0.1;
        // How the backbone's replies are computed (acdc's decoder or a server serving it).
        b.targets.engine = crate::spec::schema::TargetEngine::Openai;
        b.targets.engine_url = "http://gpu-box:8001/v1".into();
        b.targets.engine_model = "llama-3-8b".into();
        b.targets.engine_api_key_env = "VLLM_KEY".into();
        b.targets.engine_concurrency = 128;
        b.targets.engine_retries = 9;
        b.targets.engine_timeout_s = 30.0;
        b.targets.engine_backoff_s = 0.5;
        assert_eq!(run_id(&a), run_id(&b));
        // A jar adds metrics: having one is part of the run, its location is not.
        b.eval.meteor_jar = "/opt/meteor-1.5.jar".into();
        b.eval.spice_jar = "/opt/spice-1.0.jar".into();
        assert_ne!(run_id(&a), run_id(&b));
        let mut moved = b.clone();
        moved.eval.meteor_jar = "/elsewhere/meteor-1.5.jar".into();
        moved.eval.spice_jar = "/elsewhere/spice-1.0.jar".into();
        assert_eq!(run_id(&b), run_id(&moved));
        assert_ne!(canonical_json(&a), canonical_json(&b), "still stored");
        for (k, _) in flatten(&b) {
            let machine = is_machine_key(&k);
            assert_eq!(
                machine,
                k.starts_with("data.roots.")
                    || (k.starts_with("eval.judge_")
                        && ![
                            "eval.judge_template",
                            "eval.judge_max_tokens",
                            "eval.judge_temperature",
                            "eval.judge_api"
                        ]
                        .contains(&k.as_str()))
                    || k.ends_with("_jar")
                    || k.starts_with("targets.engine"),
                "{k}"
            );
        }
        let mut c = a.clone();
        c.eval.judge = "openai:another-judge".into();
        assert_ne!(run_id(&a), run_id(&c));
        c = a.clone();
        c.data
            .patterns
            .insert("audiocaps".into(), "{split}/{youtube_id}.wav".into());
        assert_ne!(
            run_id(&a),
            run_id(&c),
            "how files are named is not a machine setting"
        );
    }

    /// Issue 17 item 7: the id covers the judge template's contents, not its path, and not
    /// `train.gradient_checkpointing`; runs at the defaults keep their ids.
    #[test]
    fn ids_cover_the_template_contents_and_not_how_memory_is_spent() {
        let base = RunConfig::default();
        let before = run_id(&base);
        let mut ckpt = base.clone();
        ckpt.train.gradient_checkpointing = true;
        assert_eq!(run_id(&ckpt), before);
        assert!(is_setting_key("train.gradient_checkpointing"));

        let d = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            d.path().join("a.txt"),
            d.path().join("b.txt"),
            d.path().join("c.txt"),
        );
        std::fs::write(
            &a,
            "Rate {question} / {reference} / {prediction} from 0 to 5.",
        )
        .unwrap();
        std::fs::write(
            &b,
            "Rate {question} / {reference} / {prediction} from 0 to 5.",
        )
        .unwrap();
        std::fs::write(&c, "Score {question} / {reference} / {prediction}, 0-5.").unwrap();
        let with = |p: &std::path::Path| {
            let mut cfg = base.clone();
            cfg.eval.judge_template = p.display().to_string();
            run_id(&cfg)
        };
        assert_eq!(with(&a), with(&b), "same contents, another path");
        assert_ne!(with(&a), with(&c), "other contents");
        assert_ne!(with(&a), before);
        // Edited in place: another run.
        let first = with(&a);
        std::fs::write(&a, "Judge {question} / {reference} / {prediction} 0..5").unwrap();
        assert_ne!(with(&a), first);
    }
}
