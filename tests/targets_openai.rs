//! `targets.engine = "openai"`: dialogue replies from an OpenAI-compatible server (a local
//! stand-in on 127.0.0.1, tests/common/mock_judge.rs), with the built-in engine's cache, resume
//! and truncation handling: what each request carries (the caption as the only user turn, the
//! run's sampling settings, a seed per reply, the served model, the API key only in its header),
//! `finish_reason = "length"` as truncated, retries on 5xx, a set per served model, and a
//! failing server that keeps what arrived so the next run asks only for the rest.

mod common;

use acdc::store::stages::TargetSetInfo;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use acdc::data::CaptionItem;
use acdc::model::backbone::Backbone;
use acdc::spec::schema::{TargetEngine, TargetsConfig, TruncatedReplies};
use acdc::store::Store;
use acdc::targets::{build, TargetExample, TargetsError};
use burn::tensor::Device;
use common::mock_judge::{mock, prompt_of, status, Answer, Seen};

const KEY: &str = "sk-engine-test-not-a-real-key-0815";
const KEY_ENV: &str = "ACDC_TEST_ENGINE_KEY";

/// A reply that says what it answers (caption and seed), cut for length when the caption says so.
fn reply(s: &Seen, _: usize) -> Answer {
    let caption = prompt_of(s);
    let seed = s.body["seed"].as_u64().unwrap_or(0);
    let finish = if caption.contains("long") {
        "length"
    } else {
        "stop"
    };
    Answer {
        status: 200,
        body: serde_json::json!({"choices": [{
            "message": {"role": "assistant", "content": format!(" Re: {caption} [{seed}] ")},
            "finish_reason": finish,
        }]})
        .to_string(),
        delay: 0.0,
        retry_after: None,
    }
}

fn items() -> Vec<CaptionItem> {
    vec![
        CaptionItem {
            id: "c1".into(),
            audio: "c1.wav".into(),
            captions: vec!["A dog barks.".into(), "A long siren wails.".into()],
        },
        CaptionItem {
            id: "c2".into(),
            audio: "c2.wav".into(),
            captions: vec!["Rain falls.".into()],
        },
    ]
}

fn cfg(url: &str) -> TargetsConfig {
    TargetsConfig {
        engine: TargetEngine::Openai,
        engine_url: url.into(),
        engine_model: "served-tiny".into(),
        engine_api_key_env: KEY_ENV.into(),
        engine_concurrency: 2,
        engine_retries: 2,
        engine_backoff_s: 0.01,
        temperature: 0.7,
        top_p: 0.9,
        samples_per_caption: 2,
        max_new_tokens: 12,
        truncated: TruncatedReplies::Drop,
        ..TargetsConfig::default()
    }
}

/// The run's targets for `items()` at seed 7.
fn targets(
    store: &mut Store,
    b: &Backbone,
    c: &TargetsConfig,
) -> Result<(Vec<TargetExample>, TargetSetInfo), TargetsError> {
    build(store, b, c, 7, &items(), &Device::flex(), &mut |_, _| {})
}

fn tiny(home: &Path) -> Backbone {
    Backbone::resolve("builtin:tiny", home).unwrap()
}

#[test]
fn replies_come_from_the_server_with_the_runs_settings() {
    std::env::set_var(KEY_ENV, KEY);
    let d = tempfile::tempdir().unwrap();
    let mut store = Store::open(&d.path().join("acdc.db")).unwrap();
    let b = tiny(d.path());
    let m = mock(reply);
    m.serve_models(&["served-tiny", "another-model"]);
    let c = cfg(&m.url);
    let (examples, info) = targets(&mut store, &b, &c).unwrap();
    assert_eq!(
        m.model_lists.load(Ordering::SeqCst),
        1,
        "the served list is checked first"
    );

    // 3 captions × 2 samples asked; the 2 replies to the "long" caption were cut off and dropped.
    let seen = m.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 6);
    assert_eq!(info.truncated_replies, Some(2), "{info:?}");
    assert_eq!(examples.len(), 4);
    let mut seeds = Vec::new();
    for s in &seen {
        assert_eq!(s.path, "/v1/chat/completions");
        assert_eq!(s.auth.as_deref(), Some(format!("Bearer {KEY}").as_str()));
        let body = &s.body;
        assert_eq!(body["model"], "served-tiny");
        assert_eq!(body["max_tokens"], 12);
        assert_eq!(body["temperature"], 0.7);
        assert_eq!(body["top_p"], 0.9);
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 1, "the caption is the only turn: {body}");
        assert_eq!(messages[0]["role"], "user");
        seeds.push(body["seed"].as_u64().expect("a seed per request"));
    }
    seeds.sort();
    seeds.dedup();
    assert_eq!(seeds.len(), 6, "each (caption, sample) has its own seed");
    for e in &examples {
        assert!(
            e.text.starts_with(&format!("Re: {} [", e.source)) && e.text.ends_with(']'),
            "{e:?}"
        );
        assert!(e.ends);
    }
    // The key is sent, never stored.
    let db = std::fs::read(d.path().join("acdc.db")).unwrap();
    assert!(!String::from_utf8_lossy(&db).contains(KEY));

    // The same settings again: the set is reused, no request is sent.
    let (again, info) = targets(&mut store, &b, &c).unwrap();
    assert_eq!(m.count(), 6);
    assert_eq!(info.reused, Some(6));
    assert_eq!(again, examples);

    // Another served model is another set: asked again, recorded by name.
    let other = TargetsConfig {
        engine_model: "another-model".into(),
        ..c.clone()
    };
    let (_, info) = targets(&mut store, &b, &other).unwrap();
    assert_eq!(m.count(), 12);
    assert_eq!(info.reused, Some(0));
    assert!(info.set.is_some());
}

#[test]
fn a_failing_server_keeps_what_arrived_and_the_next_run_asks_for_the_rest() {
    std::env::set_var(KEY_ENV, KEY);
    let d = tempfile::tempdir().unwrap();
    let mut store = Store::open(&d.path().join("acdc.db")).unwrap();
    let b = tiny(d.path());
    let broken = Arc::new(AtomicBool::new(true));
    let flag = broken.clone();
    // Rain fails for good while `broken`; everything else fails once with a 503 first.
    let m = mock(move |s, before| {
        if prompt_of(s) == "Rain falls." && flag.load(Ordering::SeqCst) {
            status(500)
        } else if before == 0 && prompt_of(s) == "A dog barks." {
            status(503)
        } else {
            reply(s, before)
        }
    });
    let c = TargetsConfig {
        samples_per_caption: 1,
        engine_concurrency: 1,
        ..cfg(&m.url)
    };
    let e = targets(&mut store, &b, &c).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, TargetsError::Engine { .. }), "{msg}");
    assert!(msg.contains("c2#0") && msg.contains("HTTP 500"), "{msg}");
    assert!(!msg.contains(KEY), "{msg}");
    // The dog was retried after its 503; rain was tried 1 + 2 retries times.
    let asked = |p: &str| {
        m.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| prompt_of(s) == p)
            .count()
    };
    assert_eq!(asked("A dog barks."), 2);
    assert_eq!(asked("Rain falls."), 3);
    let first_round = m.count();

    // The server recovers: only the missing reply is asked for.
    broken.store(false, Ordering::SeqCst);
    let (examples, info) = targets(&mut store, &b, &c).unwrap();
    assert_eq!(m.count(), first_round + 1);
    assert_eq!(info.reused, Some(2));
    assert_eq!(
        examples.len(),
        2,
        "the long siren reply was cut off and dropped"
    );
    assert!(examples.iter().any(|e| e.source == "Rain falls."));
}

#[test]
fn unusable_engine_settings_are_named() {
    let d = tempfile::tempdir().unwrap();
    let mut store = Store::open(&d.path().join("acdc.db")).unwrap();
    let b = tiny(d.path());
    let no_scheme = cfg("localhost:8000/v1");
    let e = targets(&mut store, &b, &no_scheme).unwrap_err().to_string();
    assert!(
        e.contains("targets.engine_url") && e.contains("localhost:8000/v1"),
        "{e}"
    );
    let no_timeout = TargetsConfig {
        engine_timeout_s: 0.0,
        ..cfg("http://127.0.0.1:9/v1")
    };
    let e = targets(&mut store, &b, &no_timeout)
        .unwrap_err()
        .to_string();
    assert!(e.contains("targets.engine_timeout_s"), "{e}");
}

#[test]
fn a_server_that_does_not_serve_the_model_is_refused_before_any_request() {
    std::env::set_var(KEY_ENV, KEY);
    let d = tempfile::tempdir().unwrap();
    let mut store = Store::open(&d.path().join("acdc.db")).unwrap();
    let b = tiny(d.path());
    let m = mock(reply);
    m.serve_models(&["some-other-model"]);
    let e = targets(&mut store, &b, &cfg(&m.url)).unwrap_err();
    assert!(matches!(e, TargetsError::EngineSettings(_)), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("served-tiny")
            && text.contains("some-other-model")
            && text.contains("targets.engine_model"),
        "{text}"
    );
    assert_eq!(m.count(), 0, "no reply was asked of another model");
    // Served after all: the same settings go through.
    m.serve_models(&["some-other-model", "served-tiny"]);
    targets(&mut store, &b, &cfg(&m.url)).unwrap();
    assert_eq!(m.count(), 6);
}
