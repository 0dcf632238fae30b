//! `acdc ask` and `acdc eval` on a done run that this test trains itself (the tiny world,
//! `builtin:tiny`, a few steps), with its own question files on a second synthetic world.

mod common;

use std::path::Path;

use acdc::store::Store;

fn ok(o: &std::process::Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: exit {:?}\n{}{}",
        o.status.code(),
        common::stdout(o),
        common::stderr(o)
    );
    common::stdout(o)
}

/// The command fails and its error says each of `wants`.
fn fails(o: &std::process::Output, wants: &[&str]) {
    let err = common::stderr(o);
    assert!(!o.status.success(), "should fail: {}", common::stdout(o));
    for w in wants {
        assert!(err.contains(w), "error lacks `{w}`: {err}");
    }
}

fn qa_line(id: &str, audio: &str, question: &str, answer: &str) -> String {
    serde_json::json!({"id": id, "audio": audio, "question": question, "answer": answer})
        .to_string()
        + "\n"
}

/// `task/metric` -> (value, n) of the run's scores under `prefix`.
fn scores(home: &Path, run: &str, prefix: &str) -> Vec<(String, f64, i64)> {
    let s = Store::open(&home.join("acdc.db")).unwrap();
    s.evals(run)
        .unwrap()
        .into_iter()
        .filter(|e| e.task.starts_with(prefix))
        .map(|e| (format!("{}/{}", e.task, e.metric), e.value, e.n))
        .collect()
}

#[test]
fn ask_answers_each_audio_and_eval_records_a_set_that_survives_reeval() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::tiny_spec(d.path(), "ask", "[runs.dlg]\ntargets.kind = \"dialogue\"\n");
    let store = common::run_spec(&home, d.path(), &spec, &[]);
    let run = common::run_id(&store, "ask", "dlg");
    drop(store);
    let acdc = |args: &[&str]| common::acdc(&home, d.path(), args);

    // A second world holds the audio the questions are about.
    let world = d.path().join("world");
    ok(
        &acdc(&[
            "synth",
            "--out",
            world.to_str().unwrap(),
            "--clips",
            "4",
            "--seed",
            "9",
            "--clip-seconds",
            "2",
        ]),
        "synth",
    );
    let wav = |n: u32| world.join(format!("audio/train/synth_0000{n}.wav"));
    let (a, b) = (wav(0), wav(1));
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());

    // ask: one answer an audio file, in order, as text or JSON.
    let q = "How many times does the dog bark?";
    let out = ok(
        &acdc(&[
            "ask",
            &run[..6],
            "--audio",
            a_s,
            "--audio",
            b_s,
            "--question",
            q,
        ]),
        "ask",
    );
    let lines: Vec<&str> = out.lines().filter(|l| !l.starts_with("    ")).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with(&format!("{a_s}: ")), "{out}");
    assert!(lines[1].starts_with(&format!("{b_s}: ")), "{out}");

    let json = |out: &str| -> serde_json::Value { serde_json::from_str(out).unwrap() };
    let v = json(&ok(
        &acdc(&[
            "ask",
            &run,
            "--audio",
            a_s,
            "--audio",
            b_s,
            "--question",
            q,
            "--json",
        ]),
        "ask --json",
    ));
    let answers = v.as_array().unwrap();
    assert_eq!(answers.len(), 2, "{v}");
    for (x, path) in answers.iter().zip([a_s, b_s]) {
        let keys: Vec<&String> = x.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["answer", "audio", "question"], "{x}");
        assert_eq!(x["audio"], path);
        assert_eq!(x["question"], q);
        assert!(x["answer"].is_string());
    }
    // The answers are the text lines' answers (same model, same decoding).
    assert_eq!(
        lines[0],
        format!("{a_s}: {}", answers[0]["answer"].as_str().unwrap()).replace('\n', "\n    ")
    );

    // Without --question: the reply to the audio alone; other beams and lengths.
    let v = json(&ok(
        &acdc(&[
            "ask",
            &run,
            "--audio",
            a_s,
            "--json",
            "--beams",
            "2",
            "--max-new-tokens",
            "3",
        ]),
        "ask without --question",
    ));
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert!(
        v[0]["question"].is_null() && v[0]["answer"].is_string(),
        "{v}"
    );

    // ask errors name what is wrong.
    let missing = world.join("audio/nope.wav");
    fails(
        &acdc(&["ask", &run, "--audio", missing.to_str().unwrap()]),
        &["nope.wav"],
    );
    fails(
        &acdc(&["ask", "ffffffffffff", "--audio", a_s]),
        &["ffffffffffff", "not found"],
    );
    let weights = home.join("runs").join(&run).join("final/trainable.bpk");
    let aside = weights.with_extension("aside");
    std::fs::rename(&weights, &aside).unwrap();
    fails(
        &acdc(&["ask", &run, "--audio", a_s]),
        &[&run, "trainable.bpk", "missing"],
    );
    std::fs::rename(&aside, &weights).unwrap();
    // A run that is not done (registered, never run).
    let pending_spec = common::tiny_spec(d.path(), "later", "[runs.p]\ntrain.steps = 7\n");
    let plan = acdc::spec::expand(&acdc::spec::load(&pending_spec, &[]).unwrap()).unwrap();
    let mut store = Store::open(&home.join("acdc.db")).unwrap();
    store
        .register_plan(&plan, pending_spec.to_str().unwrap())
        .unwrap();
    drop(store);
    let pending = &plan.runs[0].run_id;
    fails(
        &acdc(&["ask", pending, "--audio", a_s]),
        &[pending, "pending, not done"],
    );
    fails(
        &acdc(&["eval", pending, "--aqa", "x.jsonl", "--name", "held"]),
        &[pending, "not done"],
    );

    // eval: a new QA set and a captioning set, audio paths relative to the files.
    let qa = world.join("held.jsonl");
    let rel = |n: u32| format!("audio/train/synth_0000{n}.wav");
    std::fs::write(
        &qa,
        qa_line("h1", &rel(0), q, "Three.")
            + &qa_line("h2", &rel(1), "Is anyone talking?", "Yes.")
            + "\n"
            + &qa_line("h3", &rel(2), "What do you hear?", "Rain."),
    )
    .unwrap();
    let aac = world.join("held_captions.json");
    std::fs::write(
        &aac,
        serde_json::json!([
            {"id": "c1", "audio": rel(0), "captions": ["A dog barks while people talk.", "Babble and barking."]},
            {"id": "c2", "audio": rel(1), "captions": ["People talk."]},
        ])
        .to_string(),
    )
    .unwrap();
    let (qa_s, aac_s) = (qa.to_str().unwrap(), aac.to_str().unwrap());
    let v = json(&ok(
        &acdc(&[
            "eval",
            &run[..8],
            "--aqa",
            qa_s,
            "--aac",
            aac_s,
            "--name",
            "held",
            "--json",
        ]),
        "eval",
    ));
    assert_eq!(v["run_id"], run.as_str());
    let held = scores(&home, &run, "held/");
    let has = |s: &[(String, f64, i64)], key: &str, n: i64| {
        s.iter()
            .any(|(k, v, m)| k == key && v.is_finite() && *m == n)
    };
    for (key, n) in [
        ("held/aqa/token_f1", 3),
        ("held/aqa/exact_match", 3),
        ("held/aac/cider_d", 2),
        ("held/aac/bleu_4", 2),
    ] {
        assert!(has(&held, key, n), "{key} (n={n}) missing: {held:?}");
    }
    // `acdc show --json` lists them beside the run's own scores, and the set's stage.
    let show = json(&ok(&acdc(&["show", &run, "--json"]), "show"));
    let tasks: Vec<&str> = show["evals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["task"].as_str().unwrap())
        .collect();
    assert!(
        tasks.contains(&"held/aqa") && tasks.contains(&"synth_test/aqa"),
        "{tasks:?}"
    );
    let stage = show["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "eval:held")
        .expect("stage eval:held");
    assert_eq!(stage["info"]["sources"]["aqa"]["items"], 3);
    {
        let s = Store::open(&home.join("acdc.db")).unwrap();
        assert_eq!(s.predictions(&run, Some("held/aqa")).unwrap().len(), 3);
        assert_eq!(s.predictions(&run, Some("held/aac")).unwrap().len(), 2);
    }
    // The experiment's report shows them, and says where they come from.
    let rep = d.path().join("rep");
    ok(
        &acdc(&["report", "ask", "--out", rep.to_str().unwrap()]),
        "report",
    );
    let text = std::fs::read_to_string(rep.join("README.md")).unwrap();
    assert!(
        text.contains("held/aqa/token_f1") && text.contains("held/aac/cider_d"),
        "{text}"
    );
    assert!(
        text.contains(
            "`acdc eval --name held` on `held.jsonl` (3 items) and `held_captions.json` (2 items)"
        ),
        "{text}"
    );

    // A rerun replaces the set: two questions now, and no captioning part.
    std::fs::write(
        &qa,
        qa_line("h1", &rel(0), q, "Three.") + &qa_line("h4", &rel(2), "Is it loud?", "No."),
    )
    .unwrap();
    ok(
        &acdc(&["eval", &run, "--aqa", qa_s, "--name", "held"]),
        "eval again",
    );
    let held = scores(&home, &run, "held/");
    assert!(has(&held, "held/aqa/token_f1", 2), "{held:?}");
    assert!(
        !held.iter().any(|(k, _, _)| k.starts_with("held/aac/")),
        "{held:?}"
    );
    let preds = |home: &Path| {
        let s = Store::open(&home.join("acdc.db")).unwrap();
        s.predictions(&run, Some("held/aqa"))
            .unwrap()
            .into_iter()
            .map(|p| p.item_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(preds(&home), ["h1", "h4"]);

    // `acdc run --reeval` evaluates the run's own sets again and keeps the set.
    let own_before = scores(&home, &run, "synth_test/");
    common::run_spec(&home, d.path(), &spec, &["--reeval"]);
    assert_eq!(scores(&home, &run, "held/"), held);
    assert_eq!(preds(&home), ["h1", "h4"]);
    let own_after = scores(&home, &run, "synth_test/");
    assert_eq!(
        own_after.iter().map(|s| &s.0).collect::<Vec<_>>(),
        own_before.iter().map(|s| &s.0).collect::<Vec<_>>()
    );

    // Bad input: an error naming the file and line (or item), and nothing recorded is lost.
    let bad = world.join("bad.jsonl");
    let bad_s = bad.to_str().unwrap();
    let good = qa_line("g1", &rel(0), q, "Three.");
    std::fs::write(world.join("junk.wav"), b"not audio at all").unwrap();
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            good.clone() + "{\"id\": \"g2\", \"audio\": \"audio/train/synth_00001.wav\", \"question\": \"?\"}\n",
            vec!["bad.jsonl:2", "answer"],
        ),
        (good.clone() + "\n{not json\n", vec!["bad.jsonl:3"]),
        (
            good.clone() + &qa_line("g2", "audio/none.wav", q, "x"),
            vec!["bad.jsonl:2", "none.wav", "does not exist"],
        ),
        (
            good.clone() + &qa_line("g1", &rel(1), q, "x"),
            vec!["bad.jsonl:2", "`g1` appears again", "bad.jsonl:1"],
        ),
        (String::new(), vec!["bad.jsonl", "no lines"]),
        (
            good.clone() + &qa_line("g2", "junk.wav", q, "x"),
            vec!["bad.jsonl:2", "junk.wav"],
        ),
    ];
    for (text, wants) in &cases {
        std::fs::write(&bad, text).unwrap();
        fails(
            &acdc(&["eval", &run, "--aqa", bad_s, "--name", "held"]),
            wants,
        );
        assert_eq!(scores(&home, &run, "held/"), held, "{wants:?}");
        assert_eq!(preds(&home), ["h1", "h4"]);
    }
    let bad_aac = world.join("bad.json");
    std::fs::write(
        &bad_aac,
        serde_json::json!([{"id": "c1", "audio": rel(0), "captions": ["x"]}, {"id": "c2", "audio": rel(1)}])
            .to_string(),
    )
    .unwrap();
    fails(
        &acdc(&[
            "eval",
            &run,
            "--aac",
            bad_aac.to_str().unwrap(),
            "--name",
            "held",
        ]),
        &["bad.json: item 2", "captions"],
    );
    // A name the run's own evaluation uses, or that is not a plain name.
    fails(
        &acdc(&["eval", &run, "--aqa", qa_s, "--name", "synth_test"]),
        &["synth_test", "own"],
    );
    fails(
        &acdc(&["eval", &run, "--aqa", qa_s, "--name", "a/b"]),
        &["a/b"],
    );
    fails(&acdc(&["eval", &run, "--name", "held"]), &["--aqa"]);
    assert_eq!(scores(&home, &run, "held/"), held);
}

/// With `eval.judge` in the run's configuration, a new QA set is judged too; a judge that fails
/// records nothing and keeps what was there.
#[test]
fn eval_judges_a_new_qa_set_with_the_runs_judge() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let healthy = Arc::new(AtomicBool::new(true));
    let h = healthy.clone();
    let m = common::mock_judge::mock(move |_, _| {
        if h.load(Ordering::SeqCst) {
            common::mock_judge::ok_chat("Close enough.\nRating: 4")
        } else {
            common::mock_judge::status(500)
        }
    });
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::tiny_spec(
        d.path(),
        "judged",
        &format!(
            "eval.judge = \"openai:mock-judge\"\neval.judge_url = \"{}\"\n\
             eval.judge_retries = 0\neval.judge_backoff_s = 0.01\n[runs.cap]\ntargets.kind = \"caption\"\n",
            m.url
        ),
    );
    let store = common::run_spec(&home, d.path(), &spec, &[]);
    let run = common::run_id(&store, "judged", "cap");
    drop(store);
    let asked = m.count();
    let acdc = |args: &[&str]| common::acdc(&home, d.path(), args);

    // Questions about the run's own synthetic world, in a file of our own beside it.
    let world = std::fs::read_dir(home.join("data"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("synth.json").exists())
        .expect("the synthetic world");
    let mut clips: Vec<String> = Vec::new();
    for line in std::fs::read_to_string(world.join("qa_train.jsonl"))
        .unwrap()
        .lines()
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let a = v["audio"].as_str().unwrap().to_string();
        if !clips.contains(&a) {
            clips.push(a);
        }
    }
    assert!(clips.len() >= 3, "{clips:?}");
    let qa = world.join("held.jsonl");
    std::fs::write(
        &qa,
        qa_line("j1", &clips[0], "What do you hear?", "A dog.")
            + &qa_line("j2", &clips[1], "Is it loud?", "No."),
    )
    .unwrap();
    let qa_s = qa.to_str().unwrap();
    ok(
        &acdc(&["eval", &run, "--aqa", qa_s, "--name", "held"]),
        "eval",
    );
    assert_eq!(m.count(), asked + 2, "one judgment per new item");
    let held = scores(&home, &run, "held/");
    let get = |key: &str| {
        held.iter()
            .find(|(k, _, _)| k == key)
            .unwrap_or_else(|| panic!("{key} missing: {held:?}"))
            .clone()
    };
    assert_eq!(get("held/aqa/judge_score").1, 80.0);
    assert_eq!(get("held/aqa/judge_score").2, 2);
    assert_eq!(get("held/aqa/judge_success_rate").1, 1.0);

    // The judge fails: an error naming the set, and the recorded scores stay.
    healthy.store(false, Ordering::SeqCst);
    std::fs::write(&qa, qa_line("j3", &clips[2], "What do you hear?", "Rain.")).unwrap();
    fails(
        &acdc(&["eval", &run, "--aqa", qa_s, "--name", "held"]),
        &["held/aqa", "nothing was recorded"],
    );
    assert_eq!(scores(&home, &run, "held/"), held);
}
