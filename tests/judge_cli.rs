//! `acdc judge` against a local mock of an OpenAI-compatible server: scores, the judgment cache,
//! retries on 429/500 (waiting as `Retry-After` says), bounded concurrency, timeouts, malformed and
//! empty replies, the API key kept out of output, and bad input named; and the `local` engine on
//! the builtin tiny model.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::mock_judge::{mock, ok_chat, prompt_of, status, Answer, Seen};

const KEY: &str = "sk-test-not-a-real-key-4711";

/// `P: <prediction>` and `R: <reference>` from the test template.
fn field(prompt: &str, tag: &str) -> String {
    prompt
        .lines()
        .find_map(|l| l.strip_prefix(tag))
        .unwrap_or("")
        .to_string()
}

/// 5 for an exact answer, no rating for "dunno", 1 otherwise.
fn grader(s: &Seen, _: usize) -> Answer {
    let p = prompt_of(s);
    let (pred, reference) = (field(&p, "P: "), field(&p, "R: "));
    if pred.contains("dunno") {
        ok_chat("I cannot judge this.")
    } else if pred == reference {
        ok_chat("Explanation: the same.\nRating: 5")
    } else {
        ok_chat("Explanation: it differs.\nRating: 1")
    }
}

const TEMPLATE: &str = "Q: {question}\nR: {reference}\nP: {prediction}\nRate it.";

/// One answer, `q1`, in `one.jsonl`.
fn one_item(dir: &Path) -> std::path::PathBuf {
    common::write(
        dir,
        "one.jsonl",
        r#"{"id": "q1", "question": "What?", "reference": "rain", "prediction": "rain"}"#,
    )
}

fn items(dir: &Path) -> std::path::PathBuf {
    common::write(
        dir,
        "answers.jsonl",
        concat!(
            r#"{"id": "a", "question": "What barks?", "reference": "a dog", "prediction": "a dog"}"#,
            "\n",
            r#"{"id": 7, "question": "How many?", "reference": "two", "prediction": "two"}"#,
            "\n\n",
            r#"{"id": "c", "question": "Where?", "reference": "a park", "prediction": "a kitchen"}"#,
            "\n",
            r#"{"id": "d", "question": "Is it loud?", "reference": "yes", "prediction": "dunno"}"#,
            "\n"
        ),
    )
}

fn judge(home: &Path, input: &Path, url: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "judge",
        input.to_str().unwrap(),
        "--base-url",
        url,
        "--model",
        "judge-70b",
        "--api-key-env",
        "ACDC_TEST_JUDGE_KEY",
        "--backoff-s",
        "0.01",
        "--json",
    ];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_acdc"))
        .args(&args)
        .env("ACDC_HOME", home)
        .env("ACDC_TEST_JUDGE_KEY", KEY)
        .env_remove("RUST_LOG")
        .output()
        .expect("acdc runs")
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", common::stderr(o));
    serde_json::from_str(&common::stdout(o)).unwrap()
}

#[test]
fn judges_caches_and_keeps_the_key_out() {
    let d = tempfile::tempdir().unwrap();
    let t = common::write(d.path(), "t.txt", TEMPLATE);
    let input = items(d.path());
    let m = mock(grader);
    let o = judge(
        d.path(),
        &input,
        &m.url,
        &["--template", t.to_str().unwrap()],
    );
    let v = json(&o);
    // (5 + 5 + 1 + 0) / 4 × 20; "dunno" got no rating.
    assert!((v["score"].as_f64().unwrap() - 55.0).abs() < 1e-9, "{v}");
    assert_eq!(v["success_rate"], 0.75);
    assert_eq!(v["n"], 4);
    assert_eq!(v["cached"], 0);
    let ids: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "7", "c", "d"]);
    assert_eq!(v["items"][3]["parsed"], false);
    assert_eq!(v["items"][3]["rating"], 0.0);
    assert_eq!(v["items"][2]["rating"], 1.0);
    assert_eq!(v["judge"], "openai:judge-70b|chat|t=0|max=512");
    assert_eq!(v["template_hash"].as_str().unwrap().len(), 64);
    {
        let seen = m.seen.lock().unwrap();
        assert_eq!(seen.len(), 4);
        for s in seen.iter() {
            assert_eq!(s.path, "/v1/chat/completions");
            assert_eq!(s.auth.as_deref(), Some(format!("Bearer {KEY}").as_str()));
            assert_eq!(s.body["model"], "judge-70b");
            assert_eq!(s.body["max_tokens"], 512);
            assert_eq!(s.body["temperature"], 0.0);
        }
        assert!(seen
            .iter()
            .any(|s| prompt_of(s) == "Q: Where?\nR: a park\nP: a kitchen\nRate it."));
    }
    for text in [common::stdout(&o), common::stderr(&o)] {
        assert!(!text.contains(KEY), "the key leaked: {text}");
    }
    let db = std::fs::read(d.path().join("acdc.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&db).contains(KEY),
        "the key is in the store"
    );

    // A rerun asks nothing and gives the same numbers.
    let again = json(&judge(
        d.path(),
        &input,
        &m.url,
        &["--template", t.to_str().unwrap()],
    ));
    assert_eq!(m.count(), 4);
    assert_eq!(again["cached"], 4);
    assert_eq!(again["score"], v["score"]);
    // Another template (or judge model, or decoding setting) is another judgment.
    let t2 = common::write(d.path(), "t2.txt", &format!("{TEMPLATE}\nBe strict."));
    let third = json(&judge(
        d.path(),
        &input,
        &m.url,
        &["--template", t2.to_str().unwrap()],
    ));
    assert_eq!(m.count(), 8);
    assert_eq!(third["cached"], 0);
    assert_ne!(third["template_hash"], v["template_hash"]);
    json(&judge(
        d.path(),
        &input,
        &m.url,
        &["--template", t.to_str().unwrap(), "--max-tokens", "64"],
    ));
    assert_eq!(m.count(), 12);
}

#[test]
fn completions_api_and_the_shipped_template() {
    let d = tempfile::tempdir().unwrap();
    let input = items(d.path());
    let m = mock(|s, _| {
        let p = prompt_of(s);
        let text = if p.contains("Answer to grade: a dog") {
            "Rating: 4"
        } else {
            "Rating: 2"
        };
        Answer {
            status: 200,
            body: serde_json::json!({"choices": [{"text": format!(" {text}\n")}]}).to_string(),
            delay: 0.0,
            retry_after: None,
        }
    });
    let v = json(&judge(d.path(), &input, &m.url, &["--api", "completions"]));
    assert!(
        (v["score"].as_f64().unwrap() - (4.0 + 2.0 * 3.0) / 4.0 * 20.0).abs() < 1e-9,
        "{v}"
    );
    assert_eq!(v["template"], "builtin:rating-0-5");
    let seen = m.seen.lock().unwrap();
    assert!(seen
        .iter()
        .all(|s| s.path == "/v1/completions" && s.body["prompt"].is_string()));
    assert!(prompt_of(&seen[0]).contains("Rating: N"));
}

#[test]
fn retries_429_and_500_then_succeeds() {
    let d = tempfile::tempdir().unwrap();
    let t = common::write(d.path(), "t.txt", TEMPLATE);
    let input = items(d.path());
    let m = mock(|s, before| match before {
        0 => Answer {
            retry_after: Some("0"),
            ..status(429)
        },
        1 => status(500),
        2 => status(503),
        _ => grader(s, before),
    });
    let v = json(&judge(
        d.path(),
        &input,
        &m.url,
        &["--template", t.to_str().unwrap(), "--retries", "3"],
    ));
    assert!((v["score"].as_f64().unwrap() - 55.0).abs() < 1e-9, "{v}");
    assert_eq!(m.count(), 16, "four attempts for each of four prompts");
}

#[test]
fn failures_name_the_item_and_keep_the_rest() {
    let d = tempfile::tempdir().unwrap();
    let t = common::write(d.path(), "t.txt", TEMPLATE);
    let input = items(d.path());
    let flaky = mock(|s, before| {
        if field(&prompt_of(s), "P: ") == "a kitchen" {
            status(500)
        } else {
            grader(s, before)
        }
    });
    let o = judge(
        d.path(),
        &input,
        &flaky.url,
        &["--template", t.to_str().unwrap(), "--retries", "2"],
    );
    assert!(!o.status.success());
    let e = common::stderr(&o);
    assert!(
        e.contains("1 of 4")
            && e.contains("item `c`")
            && e.contains("HTTP 500")
            && e.contains("after 3 attempts"),
        "{e}"
    );
    assert!(!e.contains(KEY));
    assert_eq!(flaky.count(), 3 + 3);
    // The three judged items were kept: a healthy server is asked only for the fourth.
    let healthy = mock(grader);
    let v = json(&judge(
        d.path(),
        &input,
        &healthy.url,
        &["--template", t.to_str().unwrap()],
    ));
    assert_eq!(healthy.count(), 1);
    assert_eq!(v["cached"], 3);
    assert!((v["score"].as_f64().unwrap() - 55.0).abs() < 1e-9);

    // A client error is not retried.
    let denied = mock(|_, _| status(401));
    let d2 = tempfile::tempdir().unwrap();
    let o = judge(
        d2.path(),
        &input,
        &denied.url,
        &["--template", t.to_str().unwrap(), "--concurrency", "1"],
    );
    assert!(!o.status.success());
    assert!(
        common::stderr(&o).contains("HTTP 401"),
        "{}",
        common::stderr(&o)
    );
    assert_eq!(denied.count(), 4, "one request per item, no retries");
}

#[test]
fn timeouts_and_malformed_replies_are_errors() {
    let d = tempfile::tempdir().unwrap();
    let input = one_item(d.path());
    let slow = mock(|s, b| Answer {
        delay: 3.0,
        ..grader(s, b)
    });
    let o = judge(
        d.path(),
        &input,
        &slow.url,
        &["--timeout-s", "0.3", "--retries", "1"],
    );
    assert!(!o.status.success());
    let e = common::stderr(&o);
    assert!(
        e.contains("item `q1`") && e.contains("timed out") && e.contains("after 2 attempts"),
        "{e}"
    );

    let garbage = mock(|_, _| Answer {
        status: 200,
        body: "<html>oops".into(),
        delay: 0.0,
        retry_after: None,
    });
    let o = judge(d.path(), &input, &garbage.url, &["--retries", "1"]);
    let e = common::stderr(&o);
    assert!(
        !o.status.success()
            && e.contains("malformed response (not JSON")
            && e.contains("<html>oops"),
        "{e}"
    );
    assert_eq!(garbage.count(), 2);

    let no_choices = mock(|_, _| Answer {
        status: 200,
        body: r#"{"object": "list"}"#.into(),
        delay: 0.0,
        retry_after: None,
    });
    let o = judge(d.path(), &input, &no_choices.url, &["--retries", "0"]);
    let e = common::stderr(&o);
    assert!(
        !o.status.success() && e.contains("no choices[0].message.content"),
        "{e}"
    );

    // Nothing answered: nothing was stored, so a good server is asked.
    let good = mock(grader);
    let t = common::write(d.path(), "t.txt", TEMPLATE);
    let v = json(&judge(
        d.path(),
        &input,
        &good.url,
        &["--template", t.to_str().unwrap()],
    ));
    assert_eq!(v["score"], 100.0);
}

#[test]
fn blank_replies_are_retried_then_rated_0_and_not_stored() {
    let d = tempfile::tempdir().unwrap();
    let t = common::write(d.path(), "t.txt", TEMPLATE);
    let input = one_item(d.path());
    let args = ["--template", t.to_str().unwrap(), "--retries", "1"];

    // A blank reply is retried like a malformed one: a good second answer is the judgment.
    let once = mock(|s, before| {
        if before == 0 {
            ok_chat("  \n")
        } else {
            grader(s, before)
        }
    });
    let v = json(&judge(d.path(), &input, &once.url, &args));
    assert_eq!(once.count(), 2);
    assert_eq!(v["score"], 100.0);

    // A judge that keeps saying nothing: once the retries are spent the item rates 0 as a
    // failure (the run goes on) ...
    let d = tempfile::tempdir().unwrap();
    let blank = mock(|_, _| ok_chat("  \n"));
    let v = json(&judge(d.path(), &input, &blank.url, &args));
    assert_eq!(blank.count(), 2);
    assert_eq!(v["score"], 0.0);
    assert_eq!(v["success_rate"], 0.0);
    assert_eq!(v["items"][0]["rating"], 0.0);
    assert_eq!(v["items"][0]["parsed"], false);
    assert_eq!(v["items"][0]["reply"], "");
    // ... and is not stored: a rerun asks again, and a good server is listened to.
    json(&judge(d.path(), &input, &blank.url, &args));
    assert_eq!(blank.count(), 4);
    let good = mock(grader);
    let v = json(&judge(d.path(), &input, &good.url, &args));
    assert_eq!(good.count(), 1);
    assert_eq!(v["cached"], 0);
    assert_eq!(v["score"], 100.0);
}

/// Eight items through `--concurrency 2`, each answered after 0.2 s: the server has exactly two
/// requests in hand at the busiest moment (concurrent, and bounded).
#[test]
fn concurrency_is_bounded() {
    let d = tempfile::tempdir().unwrap();
    let t = common::write(d.path(), "t.txt", TEMPLATE);
    let lines: Vec<String> = (0..8)
        .map(|i| {
            format!(r#"{{"id": "{i}", "question": "q{i}", "reference": "r", "prediction": "r"}}"#)
        })
        .collect();
    let input = common::write(d.path(), "eight.jsonl", &lines.join("\n"));
    let m = mock(|s, b| Answer {
        delay: 0.2,
        ..grader(s, b)
    });
    let v = json(&judge(
        d.path(),
        &input,
        &m.url,
        &["--template", t.to_str().unwrap(), "--concurrency", "2"],
    ));
    assert_eq!(v["n"], 8);
    assert_eq!(m.count(), 8);
    assert_eq!(m.peak_in_flight(), 2, "requests in flight at most");
}

/// A 429 with `Retry-After: 1` is waited out (the backoff alone would be 0.01 s).
#[test]
fn retry_after_is_honoured() {
    let d = tempfile::tempdir().unwrap();
    let t = common::write(d.path(), "t.txt", TEMPLATE);
    let input = one_item(d.path());
    let m = mock(|s, before| match before {
        0 => Answer {
            retry_after: Some("1"),
            ..status(429)
        },
        _ => grader(s, before),
    });
    let v = json(&judge(
        d.path(),
        &input,
        &m.url,
        &["--template", t.to_str().unwrap(), "--retries", "2"],
    ));
    assert_eq!(v["score"], 100.0);
    let at = m.arrivals();
    assert_eq!(at.len(), 2);
    let gap = at[1] - at[0];
    assert!(gap >= std::time::Duration::from_millis(900), "{gap:?}");
}

#[test]
fn bad_input_is_named() {
    let d = tempfile::tempdir().unwrap();
    let m = mock(grader);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "missing.jsonl",
            b"{\"id\": \"a\", \"question\": \"q\", \"reference\": \"r\", \"prediction\": \"p\"}\n{\"id\": \"b\", \"question\": \"q\", \"prediction\": \"p\"}\n".to_vec(),
            "missing.jsonl: line 2: no `reference`",
        ),
        ("bytes.jsonl", b"{\"id\": \"\xff\"}\n".to_vec(), "bytes.jsonl: line 1: not UTF-8"),
        ("notjson.jsonl", b"id,question\n".to_vec(), "notjson.jsonl: line 1: not a JSON object"),
        (
            "dup.jsonl",
            b"{\"id\": \"a\", \"question\": \"q\", \"reference\": \"r\", \"prediction\": \"p\"}\n{\"id\": \"a\", \"question\": \"q\", \"reference\": \"r\", \"prediction\": \"p\"}\n".to_vec(),
            "dup.jsonl: line 2: duplicate id `a`",
        ),
        ("empty.jsonl", b"\n\n".to_vec(), "empty.jsonl: no items"),
    ];
    for (name, bytes, want) in cases {
        let p = d.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let o = judge(d.path(), &p, &m.url, &[]);
        assert!(!o.status.success());
        assert!(
            common::stderr(&o).contains(want),
            "{name}: {}",
            common::stderr(&o)
        );
    }
    let input = items(d.path());
    let t = common::write(d.path(), "half.txt", "Q: {question} R: {reference}");
    let o = judge(
        d.path(),
        &input,
        &m.url,
        &["--template", t.to_str().unwrap()],
    );
    let e = common::stderr(&o);
    assert!(
        !o.status.success() && e.contains("half.txt") && e.contains("{prediction}"),
        "{e}"
    );
    let o = judge(d.path(), &input, "localhost:5000", &[]);
    assert!(
        common::stderr(&o).contains("must start with http://"),
        "{}",
        common::stderr(&o)
    );
    assert_eq!(m.count(), 0, "nothing was asked for bad input");
}

#[test]
fn local_engine_judges_with_acdcs_own_llm() {
    let d = tempfile::tempdir().unwrap();
    let input = items(d.path());
    let run = || {
        common::acdc(
            d.path(),
            d.path(),
            &[
                "judge",
                input.to_str().unwrap(),
                "--engine",
                "local",
                "--model",
                "builtin:tiny",
                "--max-tokens",
                "8",
                "--json",
            ],
        )
    };
    let v = json(&run());
    assert_eq!(v["n"], 4);
    // The judge id pins the weights: other weights under the same name are another judge.
    let weights = acdc::model::backbone::Backbone::resolve("builtin:tiny", d.path())
        .unwrap()
        .fingerprint;
    assert_eq!(
        v["judge"],
        format!("local:builtin:tiny@{weights}|greedy|max=8")
    );
    let sr = v["success_rate"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&sr));
    for it in v["items"].as_array().unwrap() {
        let r = it["rating"].as_f64().unwrap();
        assert!((0.0..=5.0).contains(&r));
        assert_eq!(
            it["parsed"].as_bool().unwrap(),
            acdc::eval::judge::parse_rating(it["reply"].as_str().unwrap()).is_some()
        );
    }
    let again = json(&run());
    assert_eq!(again["cached"], 4);
    assert_eq!(again["score"], v["score"]);
}
