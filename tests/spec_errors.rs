//! Bad specs give clear errors naming the file and key.

mod common;

use acdc::spec;

fn err_of(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = common::write(dir, name, text);
    match spec::load(&p, &[]).and_then(|s| spec::expand(&s)) {
        Ok(_) => panic!("{name} should fail"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_toml_names_file_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    let e = err_of(
        d.path(),
        "bad.toml",
        "[experiment]\nname = \"x\"\n[defaults]\nseed = = 3\n",
    );
    assert!(e.contains("bad.toml:4:"), "{e}");
    assert!(e.contains("TOML syntax error"), "{e}");
}

#[test]
fn unknown_key_names_the_key() {
    let d = tempfile::tempdir().unwrap();
    let e = err_of(
        d.path(),
        "u.toml",
        "[experiment]\nname = \"x\"\n[defaults]\ntrain.stepz = 3\n",
    );
    assert!(
        e.contains("u.toml") && e.contains("defaults.train") && e.contains("stepz"),
        "{e}"
    );
    let e = err_of(
        d.path(),
        "u2.toml",
        "[experiment]\nname = \"x\"\n[runs.A1]\nllm.moed = \"lora\"\n",
    );
    assert!(e.contains("runs.A1.llm") && e.contains("moed"), "{e}");
    let e = err_of(
        d.path(),
        "u3.toml",
        "[experiment]\nname = \"x\"\n[defualts]\nseed = 1\n",
    );
    assert!(
        e.contains("defualts") && e.contains("unknown top-level key"),
        "{e}"
    );
}

#[test]
fn wrong_type_says_what_was_expected() {
    let d = tempfile::tempdir().unwrap();
    let e = err_of(
        d.path(),
        "t.toml",
        "[experiment]\nname = \"x\"\n[defaults]\ntrain.steps = \"many\"\n",
    );
    assert!(
        e.contains("t.toml") && e.contains("defaults.train.steps"),
        "{e}"
    );
    assert!(e.contains("expected"), "{e}");
    let e = err_of(
        d.path(),
        "t2.toml",
        "[experiment]\nname = \"x\"\n[defaults]\ntargets.kind = \"summary\"\n",
    );
    assert!(
        e.contains("defaults.targets.kind") && e.contains("caption"),
        "{e}"
    );
}

#[test]
fn cyclic_extends_is_refused() {
    let d = tempfile::tempdir().unwrap();
    common::write(
        d.path(),
        "a.toml",
        "extends = \"b.toml\"\n[experiment]\nname = \"a\"\n",
    );
    common::write(d.path(), "b.toml", "extends = \"a.toml\"\n");
    let e = err_of(
        d.path(),
        "c.toml",
        "extends = \"a.toml\"\n[experiment]\nname = \"c\"\n",
    );
    assert!(
        e.contains("cycle") && e.contains("a.toml") && e.contains("b.toml"),
        "{e}"
    );
}

#[test]
fn extends_merges_and_child_wins() {
    let d = tempfile::tempdir().unwrap();
    common::write(
        d.path(),
        "base.toml",
        "[experiment]\nname = \"base\"\n[defaults]\nseed = 5\ntrain.steps = 7\n",
    );
    let p = common::write(
        d.path(),
        "child.toml",
        "extends = \"base.toml\"\n[experiment]\nname = \"child\"\n[defaults]\ntrain.steps = 9\n",
    );
    let plan = spec::expand(&spec::load(&p, &[]).unwrap()).unwrap();
    assert_eq!(plan.experiment, "child");
    assert_eq!(plan.runs[0].config.seed, 5);
    assert_eq!(plan.runs[0].config.train.steps, 9);
    // --set wins over the file; a bare key goes under defaults.
    let plan = spec::expand(
        &spec::load(
            &p,
            &[
                "train.steps=11".into(),
                "defaults.backbone=builtin:tiny".into(),
            ],
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(plan.runs[0].config.train.steps, 11);
    assert_eq!(plan.runs[0].config.backbone, "builtin:tiny");
}

#[test]
fn empty_sweep_axis_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let e = err_of(
        d.path(),
        "s.toml",
        "[experiment]\nname = \"x\"\n[sweep]\n\"targets.temperature\" = []\n",
    );
    assert!(
        e.contains("sweep.targets.temperature") && e.contains("empty"),
        "{e}"
    );
}

#[test]
fn grid_over_max_runs_is_refused_with_its_size() {
    let d = tempfile::tempdir().unwrap();
    let e = err_of(
        d.path(),
        "g.toml",
        "max_runs = 4\n[experiment]\nname = \"x\"\n[sweep]\nseeds = [1, 2, 3]\n\"targets.temperature\" = [0.1, 0.2]\n",
    );
    assert!(e.contains("6 runs") && e.contains("max_runs = 4"), "{e}");
}

#[test]
fn sweep_seeds_filters_and_init_from() {
    let d = tempfile::tempdir().unwrap();
    let p = common::write(
        d.path(),
        "x.toml",
        r#"exclude = [{ label = "B", "targets.temperature" = 0.3 }]
[experiment]
name = "x"
[runs.A]
targets.kind = "dialogue"
[runs.B]
targets.kind = "caption"
init_from = "A"
[sweep]
seeds = [1, 2]
"targets.temperature" = [0.3, 0.7]
"#,
    );
    let plan = spec::expand(&spec::load(&p, &[]).unwrap()).unwrap();
    assert_eq!(plan.runs.len(), 6);
    let ids: std::collections::BTreeSet<_> = plan.runs.iter().map(|r| r.run_id.clone()).collect();
    assert_eq!(ids.len(), 6);
    for b in plan.runs.iter().filter(|r| r.label == "B") {
        let src = b.config.init_from.as_ref().unwrap();
        let a = plan.runs.iter().find(|r| &r.run_id == src).unwrap();
        assert_eq!(a.label, "A");
        assert_eq!(a.seed, b.seed);
        assert_eq!(a.config.targets.temperature, b.config.targets.temperature);
    }
    assert!(plan.varying.contains(&"targets.kind".to_string()));
    assert!(!plan.varying.contains(&"seed".to_string()));
    // The same filter with an unquoted dotted key (a nested TOML table) means the same.
    let text = std::fs::read_to_string(&p).unwrap().replace(
        r#""targets.temperature" = 0.3 }]"#,
        "targets.temperature = 0.3 }]",
    );
    let q = common::write(d.path(), "y.toml", &text);
    let dotted = spec::expand(&spec::load(&q, &[]).unwrap()).unwrap();
    let ids_of =
        |p: &spec::Plan| -> Vec<String> { p.runs.iter().map(|r| r.run_id.clone()).collect() };
    assert_eq!(ids_of(&dotted), ids_of(&plan));
}

#[test]
fn run_id_does_not_depend_on_label_or_experiment() {
    let d = tempfile::tempdir().unwrap();
    let a = common::write(
        d.path(),
        "a.toml",
        "[experiment]\nname = \"one\"\n[runs.X]\nseed = 4\n",
    );
    let b = common::write(
        d.path(),
        "b.toml",
        "[experiment]\nname = \"two\"\n[defaults]\nseed = 4\n[runs.Y]\n",
    );
    let pa = spec::expand(&spec::load(&a, &[]).unwrap()).unwrap();
    let pb = spec::expand(&spec::load(&b, &[]).unwrap()).unwrap();
    assert_eq!(pa.runs[0].run_id, pb.runs[0].run_id);
}

#[test]
fn environment_layer_overrides_the_file() {
    let d = tempfile::tempdir().unwrap();
    let p = common::write(
        d.path(),
        "e.toml",
        "[experiment]\nname = \"e\"\n[defaults]\ntrain.steps = 3\n",
    );
    // Run in a child process so the variable does not leak into other tests.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_acdc"))
        .args(["plan", p.to_str().unwrap(), "--json"])
        .env("ACDC_DEFAULTS__TRAIN__STEPS", "42")
        .env("ACDC_HOME", d.path().join("home"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(v["runs"][0]["config"]["train"]["steps"], 42);
}

#[test]
fn val_every_without_val_sets_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let e = err_of(
        d.path(),
        "v",
        "[experiment]\nname = \"v\"\n[defaults]\ntrain.val_every = 100\n[runs.a]\n",
    );
    assert!(
        e.contains("train.val_every") && e.contains("data.val"),
        "{e}"
    );
}

/// Two rows that differ only in where their data lives would be one run: refused, naming both
/// rows and the key.
#[test]
fn rows_differing_only_in_machine_settings_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let e = err_of(
        d.path(),
        "m.toml",
        "[experiment]\nname = \"x\"\n[runs.a]\ndata.roots.audiocaps = \"/data/v1\"\n[runs.b]\ndata.roots.audiocaps = \"/data/v2\"\n",
    );
    assert!(
        e.contains("m.toml")
            && e.contains("runs.b")
            && e.contains("`a`")
            && e.contains("data.roots.audiocaps")
            && e.contains("machine settings"),
        "{e}"
    );
}

/// `compare` names pairs of rows for the report: labels or row names with their sweep point,
/// resolved against the plan; it is experiment-level, so it changes no run id.
#[test]
fn compare_names_rows_and_changes_no_run() {
    let d = tempfile::tempdir().unwrap();
    let rows = r#"
[runs.caption]
targets.kind = "caption"
[runs.dialogue]
targets.kind = "dialogue"
[sweep]
"targets.temperature" = [0.3, 0.7]
seeds = [0, 1]
"#;
    let plain = common::tiny_spec(d.path(), "plain", rows);
    let listed = common::write(
        d.path(),
        "listed.toml",
        &std::fs::read_to_string(&plain)
            .unwrap()
            .replacen("[experiment]", "compare = [[\"dialogue\", \"caption\"], [\"caption[targets.temperature=0.7]\", \"caption[targets.temperature=0.3]\"]]\n[experiment]", 1),
    );
    let a = spec::expand(&spec::load(&plain, &[]).unwrap()).unwrap();
    let b = spec::expand(&spec::load(&listed, &[]).unwrap()).unwrap();
    let ids = |p: &spec::Plan| p.runs.iter().map(|r| r.run_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
    assert_eq!(a.compare, None);
    let pair = |x: &str, y: &str| (x.to_string(), y.to_string());
    assert_eq!(
        b.compare.unwrap(),
        vec![
            // Two labels: their rows at the same sweep point.
            pair(
                "dialogue[targets.temperature=0.3]",
                "caption[targets.temperature=0.3]"
            ),
            pair(
                "dialogue[targets.temperature=0.7]",
                "caption[targets.temperature=0.7]"
            ),
            pair(
                "caption[targets.temperature=0.7]",
                "caption[targets.temperature=0.3]"
            ),
        ]
    );
    // A name that is no row is an error naming it, the key and the rows there are.
    let text = std::fs::read_to_string(&plain).unwrap();
    let e = err_of(
        d.path(),
        "bad.toml",
        &format!("compare = [[\"dialogue\", \"caption\"], [\"dialouge\", \"caption\"]]\n{text}"),
    );
    assert!(
        e.contains("bad.toml")
            && e.contains("compare[1]")
            && e.contains("`dialouge`")
            && e.contains("not a row")
            && e.contains("caption[targets.temperature=0.3]"),
        "{e}"
    );
    for (bad, key) in [
        ("compare = \"dialogue\"", "compare"),
        ("compare = [[\"dialogue\"]]", "compare[0]"),
        ("compare = [[\"dialogue\", \"dialogue\"]]", "compare[0]"),
    ] {
        let e = err_of(d.path(), "shape.toml", &format!("{bad}\n{text}"));
        assert!(
            e.contains("shape.toml") && e.contains(&format!("`{key}`")),
            "{bad}: {e}"
        );
    }
}
