//! A run's evaluation with `eval.judge` set: the AQA sets are judged (score, success rate, the
//! averages over sets), the template hash is recorded, a judge that fails fails the eval stage
//! with the item named and keeps the decoded predictions, and `--retry-failed` finishes the run.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use acdc::store::runs::RunStatus;
use acdc::store::stages::{StageInfo, StageName};
use common::mock_judge::{mock, ok_chat, prompt_of, status};

fn spec(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    common::tiny_spec(
        dir,
        "judged",
        &format!(
            "eval.judge = \"openai:mock-judge\"\neval.judge_url = \"{url}\"\n\
             eval.judge_retries = 0\neval.judge_backoff_s = 0.01\n\
             [runs.cap]\ntargets.kind = \"caption\"\n\
             data.eval_aqa = [{{ dataset = \"synth\", split = \"test\", max_items = 6 }}, \
             {{ dataset = \"synth\", split = \"train\", max_items = 2 }}]\n"
        ),
    )
}

/// A mock judge that answers HTTP 500 until the returned flag is set, then `reply`.
fn judge_down_until_healthy(reply: &'static str) -> (common::mock_judge::Mock, Arc<AtomicBool>) {
    let healthy = Arc::new(AtomicBool::new(false));
    let h = healthy.clone();
    let m = mock(move |_, _| {
        if h.load(Ordering::SeqCst) {
            ok_chat(reply)
        } else {
            status(500)
        }
    });
    (m, healthy)
}

/// Overwrite a stored prediction's output with a marker, to tell reuse from a fresh decode.
fn mark_answer(
    home: &std::path::Path,
    id: &str,
    p: &acdc::store::records::Prediction,
) -> acdc::store::records::Prediction {
    let mut marked = p.clone();
    marked.output = "a marked answer".into();
    acdc::store::Store::open(&home.join("acdc.db"))
        .unwrap()
        .put_predictions(id, &[marked.clone()])
        .unwrap();
    marked
}

#[test]
fn aqa_sets_are_judged_and_a_failing_judge_keeps_the_predictions() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let (m, healthy) = judge_down_until_healthy("Explanation: partly right.\nRating: 2");
    let spec = spec(d.path(), &m.url);

    // The judge fails: the run fails at its eval stage, naming the set and an item.
    let store = common::run_spec_may_fail(&home, d.path(), &spec, &[]);
    let id = &common::run_id(&store, "judged", "cap");
    let run = store.run(id).unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    let err = run.error.unwrap_or_default();
    assert!(
        err.contains("synth_test/aqa") && err.contains("HTTP 500") && err.contains("item `"),
        "{err}"
    );
    // What was decoded before the judge failed is in the store.
    let preds = store.predictions(id, Some("synth_test/aqa")).unwrap();
    assert_eq!(preds.len(), 6);
    assert!(store
        .evals(id)
        .unwrap()
        .iter()
        .any(|e| e.metric == "token_f1"));
    let asked = m.count();
    assert_eq!(asked, 6, "one request per QA item, no retries");
    // Each prompt is the shipped rubric filled with the question, the answer and the prediction.
    let p = prompt_of(&m.seen.lock().unwrap()[0]);
    assert!(
        p.contains("Reference answer: ") && p.contains("Rating: N"),
        "{p}"
    );

    // Mark one recorded answer: the retry must score it as stored, not decode the set again.
    let marked = mark_answer(&home, id, &preds[0]);
    let recorded = store.predictions(id, None).unwrap().len();

    // The judge is back: retrying finishes the run with judged scores.
    healthy.store(true, Ordering::SeqCst);
    let store = common::run_spec(&home, d.path(), &spec, &["--retry-failed"]);
    assert_eq!(store.run(id).unwrap().status, RunStatus::Done);
    let evals = store.evals(id).unwrap();
    let get = |task: &str, metric: &str| {
        evals
            .iter()
            .find(|e| e.task == task && e.metric == metric)
            .unwrap_or_else(|| panic!("{task}/{metric} missing: {evals:?}"))
            .clone()
    };
    let js = get("synth_test/aqa", "judge_score");
    assert_eq!((js.value, js.n), (40.0, 6));
    // Each answer's rating × 20 is recorded under `judge_score`; their mean is the score.
    let ratings: Vec<f64> = store
        .item_scores(id)
        .unwrap()
        .into_iter()
        .filter(|i| i.task == "synth_test/aqa" && i.metric == "judge_score")
        .map(|i| i.value)
        .collect();
    assert_eq!(ratings.len(), 6);
    assert_eq!(ratings.iter().sum::<f64>() / 6.0, 40.0);
    assert_eq!(get("synth_test/aqa", "judge_success_rate").value, 1.0);
    assert_eq!(get("synth_train/aqa", "judge_score").n, 2);
    assert_eq!(get("aqa", "judge_score_avg").value, 40.0);
    assert_eq!(get("aqa", "judge_score_weighted").value, 40.0);
    assert_eq!(get("aqa", "judge_score_avg").n, 8);
    assert!(get("aqa", "token_f1_avg").value.is_finite());
    assert_eq!(m.count(), asked + 6 + 2, "both QA sets judged");
    let info = common::stage(&store, id, "eval").eval().cloned().unwrap();
    let judge = info.judge.as_ref().expect("the judge recorded");
    assert_eq!(judge.engine, "openai:mock-judge|chat|t=0|max=512");
    assert_eq!(judge.template, "builtin:rating-0-5");
    assert_eq!(info.reused_predictions, Some(recorded));
    let again = store.predictions(id, Some("synth_test/aqa")).unwrap();
    assert!(
        again
            .iter()
            .any(|p| p.item_id == marked.item_id && p.output == "a marked answer"),
        "the retry re-decoded instead of reusing the recorded predictions"
    );
    assert_eq!(judge.template_hash.len(), 64);
}

/// Predictions decoded from weights that are then trained again are not reused: a retry after
/// the final weights went missing retrains and decodes afresh.
#[test]
fn retrained_weights_are_decoded_afresh() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let (m, healthy) = judge_down_until_healthy("Rating: 5");
    let spec = spec(d.path(), &m.url);
    let store = common::run_spec_may_fail(&home, d.path(), &spec, &[]);
    let id = &common::run_id(&store, "judged", "cap");
    assert_eq!(store.run(id).unwrap().status, RunStatus::Failed);
    mark_answer(
        &home,
        id,
        &store.predictions(id, Some("synth_test/aqa")).unwrap()[0],
    );
    std::fs::remove_file(store.run_dir(id).final_weights()).unwrap();

    healthy.store(true, Ordering::SeqCst);
    let store = common::run_spec(&home, d.path(), &spec, &["--retry-failed"]);
    assert_eq!(store.run(id).unwrap().status, RunStatus::Done);
    let again = store.predictions(id, Some("synth_test/aqa")).unwrap();
    assert_eq!(again.len(), 6);
    assert!(
        again.iter().all(|p| p.output != "a marked answer"),
        "decoded from the old weights' record"
    );
    let info = common::stage(&store, id, "eval").eval().cloned().unwrap();
    assert_eq!(info.reused_predictions, Some(0));
}

/// Predictions another build of acdc decoded (or decoded from another backbone) are never reused:
/// a retry by a new build deletes them before decoding, so a set it does not reach before failing
/// again cannot be scored from the old build's outputs by a later retry.
#[test]
fn another_builds_predictions_are_decoded_afresh() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let (m, healthy) = judge_down_until_healthy("Rating: 5");
    let spec = spec(d.path(), &m.url);
    let store = common::run_spec_may_fail(&home, d.path(), &spec, &[]);
    let id = &common::run_id(&store, "judged", "cap");
    assert_eq!(store.run(id).unwrap().status, RunStatus::Failed);
    // As if an older build had decoded the set after the failing one, then stopped.
    let data = acdc::spec::schema::DataConfig {
        synth: acdc::spec::schema::SynthData {
            clips: 10,
            seed: 3,
            clip_seconds: 2.0,
        },
        ..Default::default()
    };
    let qa = &acdc::data::sources::qa_items(&home, &data, "synth", "train").unwrap()[0];
    let old = acdc::store::records::Prediction {
        task: "synth_train/aqa".into(),
        item_id: qa.id.clone(),
        prompt: qa.question.clone(),
        output: "a marked answer".into(),
        references: vec![qa.answer.clone()],
        cut_off: false,
    };
    let mut store = store;
    store.put_predictions(id, &[old]).unwrap();
    let mut info = common::stage(&store, id, "eval").eval().cloned().unwrap();
    assert!(
        info.decoder.is_some() && info.backbone.is_some(),
        "{info:?}"
    );
    info.decoder = Some("an older build".into());
    store
        .stage_set_info(id, &StageName::Eval, &StageInfo::Eval(info))
        .unwrap();

    // This build retries and fails at the judge again, before the set above; then succeeds.
    let store = common::run_spec_may_fail(&home, d.path(), &spec, &["--retry-failed"]);
    assert_eq!(store.run(id).unwrap().status, RunStatus::Failed);
    healthy.store(true, Ordering::SeqCst);
    let store = common::run_spec(&home, d.path(), &spec, &["--retry-failed"]);
    assert_eq!(store.run(id).unwrap().status, RunStatus::Done);
    let again = store.predictions(id, Some("synth_train/aqa")).unwrap();
    assert_eq!(again.len(), 2);
    assert!(
        again.iter().all(|p| p.output != "a marked answer"),
        "scored the older build's record"
    );
}

#[test]
fn bad_judge_settings_are_named() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    for (extra, want) in [
        ("eval.judge = \"gpt4\"\n", "eval.judge"),
        (
            "eval.judge = \"openai:m\"\neval.judge_url = \"localhost:5000\"\n",
            "eval.judge_url",
        ),
        (
            "eval.judge = \"openai:m\"\neval.judge_api = \"responses\"\n",
            "eval.judge_api",
        ),
        (
            "eval.judge = \"local:builtin:tiny\"\neval.judge_timeout_s = 0\n",
            "eval.judge_timeout_s",
        ),
    ] {
        let spec = common::tiny_spec(d.path(), "badjudge", extra);
        let o = common::acdc(&home, d.path(), &["plan", spec.to_str().unwrap()]);
        assert!(!o.status.success(), "{extra}");
        assert!(
            common::stderr(&o).contains(want),
            "{extra}: {}",
            common::stderr(&o)
        );
    }
    // A template file that is missing fails the eval stage with its path.
    let spec = common::tiny_spec(
        d.path(),
        "notemplate",
        "eval.judge = \"local:builtin:tiny\"\neval.judge_template = \"no-such-template.txt\"\n",
    );
    let store = common::run_spec_may_fail(&home, d.path(), &spec, &[]);
    let id = &store.experiment_runs("notemplate").unwrap()[0]
        .run_id
        .clone();
    let run = store.run(id).unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run
        .error
        .unwrap_or_default()
        .contains("no-such-template.txt"));
}
