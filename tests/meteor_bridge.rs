//! METEOR through the official jar equals pycocoevalcap's (fixture from tools/meteor_fixture.py;
//! tolerance 1e-4): on pre-tokenized inputs (the jar protocol), and on the varied captioning items
//! through acdc's PTB path (`meteor_captions(.., CaptionTokenizer::Ptb)`, as the `score` command
//! and the eval stage use it) against pycocoevalcap's PTBTokenizer + Meteor. Needs java and the
//! jar: set ACDC_METEOR_JAR, or have pycocoevalcap installed in the Python on PATH. Without them
//! the tests say so and check nothing else.

use std::path::PathBuf;

use acdc::eval::caption_metrics::{tokenize, CaptionItem, CaptionTokenizer};

fn jar() -> Option<PathBuf> {
    if let Some(j) = acdc::eval::meteor::jar_from_env().expect("ACDC_METEOR_JAR") {
        return Some(j);
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import pycocoevalcap.meteor.meteor as m, os; print(os.path.join(os.path.dirname(m.__file__), 'meteor-1.5.jar'))"])
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    p.exists().then_some(p)
}

/// The jar, when it and java are there (else says why the test is skipped).
fn jar_and_java() -> Option<PathBuf> {
    let Some(jar) = jar() else {
        eprintln!("SKIPPED: no METEOR jar (set ACDC_METEOR_JAR or pip install pycocoevalcap)");
        return None;
    };
    if std::process::Command::new("java")
        .arg("-version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: no java on PATH");
        return None;
    }
    Some(jar)
}

fn fixture() -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/caption_metrics/meteor.json"
        ))
        .unwrap(),
    )
    .unwrap()
}

fn strs(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn meteor_matches_pycocoevalcap() {
    let Some(jar) = jar_and_java() else {
        return;
    };
    let f = fixture();
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

/// The captioning items of the parity fixture (punctuation, case, contractions, hyphens, numbers,
/// non-ASCII, an empty and a 500+ word candidate, duplicated references…) scored as COCOEvalCap
/// scores them: PTB tokens (identical to pycocoevalcap's, checked here too), then METEOR, per item
/// and corpus within 1e-4.
#[test]
fn meteor_of_ptb_tokenized_captions_matches_pycocoevalcap() {
    let f = fixture();
    let fx = f["ptb_items"].as_array().expect("ptb_items in meteor.json");
    let items: Vec<CaptionItem> = fx
        .iter()
        .map(|i| CaptionItem {
            id: i["id"].as_str().unwrap().to_string(),
            candidate: i["candidate"].as_str().unwrap().to_string(),
            references: strs(&i["references"]),
        })
        .collect();
    assert!(items.iter().any(|it| it.candidate.is_empty()));
    assert!(items
        .iter()
        .any(|it| it.candidate.split_whitespace().count() >= 500));
    // The strings the jar is given are pycocoevalcap's (this needs no jar).
    let toks = |t: &str| tokenize(t, CaptionTokenizer::Ptb).join(" ");
    for (it, want) in items.iter().zip(fx) {
        assert_eq!(toks(&it.candidate), want["ptb_candidate"], "{}", it.id);
        let refs: Vec<String> = it.references.iter().map(|r| toks(r)).collect();
        assert_eq!(refs, strs(&want["ptb_references"]), "{}", it.id);
    }
    let Some(jar) = jar_and_java() else {
        return;
    };
    let (corpus, per) =
        acdc::eval::meteor::meteor_captions(&jar, &items, CaptionTokenizer::Ptb).unwrap();
    let want = f["ptb_corpus"].as_f64().unwrap();
    assert!((corpus - want).abs() < 1e-4, "corpus {corpus} vs {want}");
    assert_eq!(per.len(), items.len());
    for ((got, it), w) in per.iter().zip(&items).zip(fx) {
        let want = w["meteor"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-4, "{}: {got} vs {want}", it.id);
    }
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
