//! METEOR through the official jar equals pycocoevalcap's (fixture from tools/meteor_fixture.py;
//! tolerance 1e-4). Needs java and the jar: set ACDC_METEOR_JAR, or have pycocoevalcap installed in
//! the Python on PATH. Without them the test says so and checks nothing else.

use std::path::PathBuf;

fn jar() -> Option<PathBuf> {
    if let Some(j) = acdc::eval::meteor::jar_from_env() {
        return Some(j);
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import pycocoevalcap.meteor.meteor as m, os; print(os.path.join(os.path.dirname(m.__file__), 'meteor-1.5.jar'))"])
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    p.exists().then_some(p)
}

#[test]
fn meteor_matches_pycocoevalcap() {
    let Some(jar) = jar() else {
        eprintln!("SKIPPED: no METEOR jar (set ACDC_METEOR_JAR or pip install pycocoevalcap)");
        return;
    };
    if std::process::Command::new("java")
        .arg("-version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: no java on PATH");
        return;
    }
    let f: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/caption_metrics/meteor.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let items: Vec<(Vec<String>, String)> = f["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["references"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_string())
                    .collect(),
                i["candidate"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut m = acdc::eval::meteor::Meteor::start(&jar).unwrap();
    let (corpus, per) = m.score(&items).unwrap();
    assert!(
        (corpus - f["corpus"].as_f64().unwrap()).abs() < 1e-4,
        "{corpus}"
    );
    for (got, want) in per.iter().zip(f["items"].as_array().unwrap()) {
        assert!(
            (got - want["meteor"].as_f64().unwrap()).abs() < 1e-4,
            "{got} vs {want}"
        );
    }
    // A second batch on the same process works too (the process is persistent).
    let (again, _) = m.score(&items[..2]).unwrap();
    assert!(again > 0.0);
}

#[test]
fn missing_jar_is_named() {
    let e = acdc::eval::meteor::Meteor::start(std::path::Path::new("/nonexistent/meteor-1.5.jar"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("/nonexistent/meteor-1.5.jar"), "{e}");
}

mod common;

/// `eval.meteor_jar` adds METEOR to a run's captioning scores; a jar that is not there fails the
/// eval stage naming it, with the decoded predictions kept.
#[test]
fn runs_score_meteor_when_a_jar_is_configured() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let status = |name: &str, jar: &str, extra: &[&str]| {
        let spec = common::tiny_spec(
            d.path(),
            name,
            &format!("eval.meteor_jar = \"{jar}\"\n[runs.cap]\ntargets.kind = \"caption\"\n"),
        );
        let store = common::run_spec_may_fail(&home, d.path(), &spec, extra);
        let id = common::run_id(&store, name, "cap");
        let run = store.run(&id).unwrap();
        (store, id, run)
    };
    let (store, id, run) = status("nojar", "/nonexistent/meteor-1.5.jar", &[]);
    assert_eq!(run.status.as_str(), "failed");
    let err = run.error.unwrap_or_default();
    assert!(
        err.contains("/nonexistent/meteor-1.5.jar") && err.contains("synth_test/aac"),
        "{err}"
    );
    assert!(!store
        .predictions(&id, Some("synth_test/aac"))
        .unwrap()
        .is_empty());

    let Some(jar) = jar() else {
        eprintln!("SKIPPED the scoring half: no METEOR jar");
        return;
    };
    if std::process::Command::new("java")
        .arg("-version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED the scoring half: no java on PATH");
        return;
    }
    // Where the jar lives is not part of the run: fixing the path and retrying finishes the same run.
    let failed_id = id;
    let (store, id, run) = status("withjar", jar.to_str().unwrap(), &["--retry-failed"]);
    assert_eq!(id, failed_id);
    assert_eq!(run.status.as_str(), "done", "{:?}", run.error);
    assert!(
        run.config.contains(jar.to_str().unwrap()) && !run.config.contains("/nonexistent/"),
        "the stored config shows the jar the run used: {}",
        run.config
    );
    let m = store
        .evals(&id)
        .unwrap()
        .into_iter()
        .find(|e| e.task == "synth_test/aac" && e.metric == "meteor")
        .expect("meteor scored");
    assert!((0.0..=1.0).contains(&m.value));
}
