//! The whole chain end to end on a tiny synthetic world: run, rerun (nothing re-executed),
//! report, a corrupt audio file failing only the runs that read it, a NaN loss failing its run.

mod common;

use acdc::store::stages::{StageName, StageStatus};
use acdc::store::Store;

fn status_of(home: &std::path::Path) -> Vec<(String, String, Option<String>)> {
    let s = Store::open(&home.join("acdc.db")).unwrap();
    s.list_runs(None, None)
        .unwrap()
        .into_iter()
        .map(|l| (l.run.id, l.run.status.as_str().to_string(), l.run.error))
        .collect()
}

#[test]
fn runs_end_to_end_then_reruns_nothing() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::tiny_spec(
        d.path(),
        "e2e",
        "eval.probes = true\neval.probe_items = 3\n\
         [runs.cap]\ntargets.kind = \"caption\"\n[runs.dlg]\ntargets.kind = \"dialogue\"\nllm.mode = \"lora\"\n",
    );
    let o = common::acdc(&home, d.path(), &["run", spec.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "{}\n{}",
        common::stdout(&o),
        common::stderr(&o)
    );
    assert!(
        common::stdout(&o).contains("2 run(s) executed"),
        "{}",
        common::stdout(&o)
    );
    let st = status_of(&home);
    assert_eq!(st.len(), 2);
    assert!(st.iter().all(|(_, s, _)| s == "done"), "{st:?}");

    // Scores, predictions, curves and artifacts are in the store.
    let store = Store::open(&home.join("acdc.db")).unwrap();
    for (id, _, _) in &st {
        let evals = store.evals(id).unwrap();
        for m in [
            "bleu_1",
            "bleu_4",
            "rouge_l",
            "cider_d",
            "token_f1",
            "exact_match",
        ] {
            let e = evals
                .iter()
                .find(|e| e.metric == m)
                .unwrap_or_else(|| panic!("{m} missing"));
            assert!(e.value.is_finite() && e.n > 0);
        }
        assert!(!store.predictions(id, None).unwrap().is_empty());
        // The instruction probes: a score per kind in [0, 1], answers stored with verdicts.
        let probes: Vec<_> = evals
            .iter()
            .filter(|e| e.task == "synth_test/probes")
            .collect();
        for kind in ["counting", "presence", "captioning", "absent", "mean"] {
            let e = probes
                .iter()
                .find(|e| e.metric == kind)
                .unwrap_or_else(|| panic!("probe {kind} missing: {probes:?}"));
            assert!((0.0..=1.0).contains(&e.value) && e.n > 0, "{e:?}");
        }
        let answers = store.predictions(id, Some("synth_test/probes")).unwrap();
        let mean = probes.iter().find(|e| e.metric == "mean").unwrap();
        assert_eq!(answers.len() as i64, mean.n);
        assert!(answers
            .iter()
            .all(|p| p.references.len() == 2 && p.references[1].starts_with("verdict: ")));
        // Behind every score that is a mean over items, the items: their mean is the score
        // (the probes' `mean` is over the kinds, derived in the report, not stored).
        let items = store.item_scores(id).unwrap();
        for e in evals.iter().filter(|e| {
            matches!(
                e.metric.as_str(),
                "token_f1" | "exact_match" | "cider_d" | "rouge_l"
            ) || (e.task == "synth_test/probes" && e.metric != "mean")
        }) {
            let v: Vec<f64> = items
                .iter()
                .filter(|i| i.task == e.task && i.metric == e.metric)
                .map(|i| i.value)
                .collect();
            assert_eq!(v.len() as i64, e.n, "{e:?}");
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            assert!((mean - e.value).abs() < 1e-9, "{e:?}: items give {mean}");
        }
        assert!(items
            .iter()
            .all(|i| i.metric != "mean" && i.metric != "bleu_4"));
        // Outputs cut off at decode.max_new_tokens (5 here, on a random-weight backbone: most
        // are) are counted, and the report names them.
        let cut = common::stage(&store, id, "eval")
            .eval()
            .and_then(|e| e.truncated_outputs)
            .expect("truncated_outputs recorded");
        let decoded = store.predictions(id, None).unwrap().len() as u64;
        assert!(cut > 0 && cut <= decoded, "{cut} of {decoded}");
        let loss = store.step_series(id, "loss").unwrap();
        assert_eq!(
            loss.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            (1..=6).collect::<Vec<_>>()
        );
        assert!(store
            .artifacts(id)
            .unwrap()
            .iter()
            .any(|a| a.kind == "weights"));
    }
    // Dialogue targets are cached and shared.
    let report = d.path().join("reports/e2e/README.md");
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(
        text.contains("| cap |") && text.contains("| dlg |"),
        "{text}"
    );
    assert!(
        text.contains("## Zero-shot instruction probes") && text.contains("### Example answers"),
        "{text}"
    );
    assert!(
        text.contains("evaluation output(s) hit `decode.max_new_tokens`"),
        "{text}"
    );
    for f in ["loss.png", "loss.svg"] {
        assert!(d.path().join("reports/e2e").join(f).exists());
    }

    // Again: nothing executes, and the report is byte-identical.
    let before = std::fs::read(&report).unwrap();
    let o = common::acdc(&home, d.path(), &["run", spec.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(
        common::stdout(&o).contains("0 run(s) executed, 2 already done"),
        "{}",
        common::stdout(&o)
    );
    assert_eq!(std::fs::read(&report).unwrap(), before);

    // The read-side commands work on the store.
    let id = &st[0].0;
    for args in [
        vec!["ls"],
        vec!["ls", "--experiment", "e2e", "--json"],
        vec!["show", &id[..6]],
        vec!["diff", &st[0].0, &st[1].0],
        vec!["export", "e2e", "--format", "csv"],
        vec!["export", "e2e", "--format", "json"],
    ] {
        let o = common::acdc(&home, d.path(), &args);
        assert!(o.status.success(), "{args:?}: {}", common::stderr(&o));
        assert!(!common::stdout(&o).is_empty());
    }
    let o = common::acdc(
        &home,
        d.path(),
        &[
            "report",
            "e2e",
            "--out",
            d.path().join("again").to_str().unwrap(),
        ],
    );
    assert!(o.status.success());
    assert_eq!(
        std::fs::read(d.path().join("again/README.md")).unwrap(),
        before
    );
}

#[test]
fn corrupt_audio_fails_only_the_runs_that_read_it_and_nan_fails_with_the_step() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    // Two worlds: one gets a corrupt file; the other run must still succeed. A third run diverges.
    let spec = common::tiny_spec(
        d.path(),
        "bad",
        r#"[runs.broken]
data.synth = { clips = 10, seed = 3, clip_seconds = 2.0 }
[runs.skips]
data.synth = { clips = 10, seed = 3, clip_seconds = 2.0 }
data.missing_audio = "skip"
data.val = [{ dataset = "synth", split = "train" }]
train.val_every = 2
[runs.fine]
data.synth = { clips = 10, seed = 4, clip_seconds = 2.0 }
[runs.diverges]
data.synth = { clips = 10, seed = 4, clip_seconds = 2.0 }
train.lr = 1e30
train.warmup_steps = 0
train.clip_norm = 0.0
"#,
    );
    // Materialise the first world, then corrupt one of its training clips.
    let world = acdc::data::sources::ensure_synth(
        &home,
        &acdc::spec::schema::SynthData {
            clips: 10,
            seed: 3,
            clip_seconds: 2.0,
        },
    )
    .unwrap();
    let victim = std::fs::read_dir(world.join("audio/train"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&victim, b"RIFF\x00\x00garbage, not audio").unwrap();
    let o = common::acdc(&home, d.path(), &["run", spec.to_str().unwrap()]);
    // The grid completes and the summary is printed, but the invocation exits 2: scripts notice.
    assert_eq!(o.status.code(), Some(2), "{}", common::stderr(&o));
    assert!(
        common::stdout(&o).contains("2 failed") && common::stderr(&o).contains("--retry-failed"),
        "{}\n{}",
        common::stdout(&o),
        common::stderr(&o)
    );
    let store = Store::open(&home.join("acdc.db")).unwrap();
    let rows = store.experiment_runs("bad").unwrap();
    let by = |l: &str| {
        store
            .run(&rows.iter().find(|r| r.label == l).unwrap().run_id)
            .unwrap()
    };
    let broken = by("broken");
    assert_eq!(broken.status.as_str(), "failed");
    let err = broken.error.unwrap();
    let name = victim.file_name().unwrap().to_str().unwrap();
    assert!(err.contains(name), "error names the file: {err}");
    assert_eq!(by("fine").status.as_str(), "done");
    // The same broken world with the skip policy: the run completes and records what it skipped,
    // its validation set (which holds the broken clip too) skipping it as well.
    let skips = by("skips");
    assert_eq!(skips.status.as_str(), "done", "{:?}", skips.error);
    assert!(!store.step_series(&skips.id, "val_loss").unwrap().is_empty());
    let info = common::stage(&store, &skips.id, "data")
        .data()
        .cloned()
        .unwrap();
    assert_eq!(info.unreadable, 1);
    assert!(info.first_unreadable[0].contains(name), "{info:?}");
    assert!(
        common::stderr(&o).contains("skipping 1 unreadable"),
        "{}",
        common::stderr(&o)
    );
    let div = by("diverges");
    assert_eq!(div.status.as_str(), "failed");
    let err = div.error.unwrap();
    assert!(
        err.contains("non-finite") && err.contains("at step"),
        "{err}"
    );
    // The report still renders, listing the failures.
    let text = std::fs::read_to_string(d.path().join("reports/bad/README.md")).unwrap();
    assert!(text.contains("broken") && text.contains("failed"), "{text}");
    // ... and says which done run scored fewer items because it skipped audio.
    assert!(
        text.contains("## Coverage")
            && text.contains("row skips (seed 0")
            && text.contains("skipped 1 unreadable"),
        "{text}"
    );
}

#[test]
fn beam_search_evaluation_runs() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::tiny_spec(
        d.path(),
        "beam",
        "[runs.b3]\ndecode.beams = 3\ntrain.steps = 2\n",
    );
    let o = common::acdc(
        &home,
        d.path(),
        &["run", spec.to_str().unwrap(), "--no-report"],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let st = status_of(&home);
    assert_eq!(st[0].1, "done", "{st:?}");
    let store = Store::open(&home.join("acdc.db")).unwrap();
    assert!(!store
        .predictions(&st[0].0, Some("synth_test/aac"))
        .unwrap()
        .is_empty());
}

/// `train.precision = "bf16"`: the frozen LLM and encoder run in bf16 (adapter and LoRA factors in
/// f32), the run trains and evaluates, and its losses stay finite and close to the f32 run's.
#[test]
fn bf16_frozen_weights_train_and_evaluate() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::tiny_spec(
        d.path(),
        "prec",
        "[runs.f32]\ntrain.steps = 6\n[runs.bf16]\ntrain.steps = 6\ntrain.precision = \"bf16\"\n[runs.bf16lora]\ntrain.steps = 6\ntrain.precision = \"bf16\"\nllm.mode = \"lora\"\n",
    );
    let store = common::run_spec(&home, d.path(), &spec, &[]);
    let st = status_of(&home);
    assert!(st.iter().all(|s| s.1 == "done"), "{st:?}");
    let losses: Vec<Vec<f64>> = st
        .iter()
        .map(|(id, _, _)| {
            store
                .step_series(id, "loss")
                .unwrap()
                .into_iter()
                .map(|(_, v)| v)
                .collect()
        })
        .collect();
    for l in &losses {
        assert_eq!(l.len(), 6);
        assert!(l.iter().all(|v| v.is_finite()), "{l:?}");
    }
    // All three start from the same model (LoRA's B is zero) up to bf16 rounding: their first
    // losses agree within 2%, and the bf16 runs are not bit-equal to the f32 run (bf16 took effect).
    let first: Vec<f64> = losses.iter().map(|l| l[0]).collect();
    let distinct: std::collections::BTreeSet<u64> = first.iter().map(|v| v.to_bits()).collect();
    assert!(
        distinct.len() >= 2,
        "bf16 did not change the loss: {first:?}"
    );
    let (lo, hi) = first
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert!((hi - lo) / lo < 0.02, "first losses {first:?}");
}

/// Filtering that leaves no training example (every clip longer than `data.max_audio_seconds`,
/// skipped) fails the run with a message naming the emptied source.
#[test]
fn empty_training_set_after_filtering_is_named() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::tiny_spec(
        d.path(),
        "empty",
        "[runs.e]\ndata.max_audio_seconds = 0.5\ndata.missing_audio = \"skip\"\n",
    );
    let o = common::acdc(
        &home,
        d.path(),
        &["run", spec.to_str().unwrap(), "--no-report"],
    );
    // `acdc run` completes the grid and reports failed runs; the run itself is failed.
    assert!(
        common::stdout(&o).contains("1 failed"),
        "{}",
        common::stdout(&o)
    );
    let st = status_of(&home);
    assert_eq!(st[0].1, "failed", "{st:?}");
    let err = st[0].2.clone().unwrap_or_default();
    assert!(
        err.contains("no training examples") && err.contains("synth"),
        "{err}"
    );
}

/// A dataset that cannot be read before the data stage records anything (no folder given) fails
/// the run and ends the data stage as failed with the error, not left "running".
#[test]
fn an_unreadable_dataset_fails_the_data_stage() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::tiny_spec(
        d.path(),
        "noroot",
        "[runs.c]\ndata.train = [{ dataset = \"clotho\", split = \"development\" }]\n",
    );
    let store = common::run_spec_may_fail(&home, d.path(), &spec, &[]);
    let run = common::run_id(&store, "noroot", "c");
    assert_eq!(store.run(&run).unwrap().status.as_str(), "failed");
    assert_eq!(
        store.stage_status(&run, &StageName::Data).unwrap(),
        Some(StageStatus::Failed)
    );
    let err = common::stage(&store, &run, "data")
        .error
        .unwrap_or_default();
    assert!(err.contains("data.roots.clotho"), "{err}");
}

/// `train.val_every` logs the loss over `data.val` (targets built like training's) without
/// touching training: the training loss curve equals the same run's without validation.
#[test]
fn validation_loss_is_logged_and_leaves_training_alone() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::tiny_spec(
        d.path(),
        "val",
        "[runs.plain]\ntrain.steps = 4\n[runs.val]\ntrain.steps = 4\ntrain.val_every = 2\ndata.val = [{ dataset = \"synth\", split = \"test\", max_items = 5 }]\n",
    );
    let store = common::run_spec(&home, d.path(), &spec, &[]);
    let st = status_of(&home);
    assert!(st.iter().all(|s| s.1 == "done"), "{st:?}");
    type Series = Vec<(u64, f64)>;
    let series: Vec<(Series, Series)> = st
        .iter()
        .map(|(id, _, _)| {
            (
                store.step_series(id, "loss").unwrap(),
                store.step_series(id, "val_loss").unwrap(),
            )
        })
        .collect();
    let (with, without): (Vec<_>, Vec<_>) = series.iter().partition(|(_, v)| !v.is_empty());
    assert_eq!((with.len(), without.len()), (1, 1), "{series:?}");
    let (loss_v, val) = with[0];
    assert_eq!(val.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![2, 4]);
    assert!(
        val.iter().all(|(_, v)| v.is_finite() && *v > 0.0),
        "{val:?}"
    );
    assert_eq!(
        loss_v, &without[0].0,
        "validation changed the training curve"
    );
}

/// Gradient accumulation is one large batch: 2 micro-batches of 2 train like 1 batch of 4 (the
/// loss is the token mean over the whole step, not a mean of per-micro-batch means; caption
/// targets differ in length, so the two would differ).
#[test]
fn gradient_accumulation_equals_the_larger_batch() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::tiny_spec(
        d.path(),
        "accum",
        "[runs.accum]\ntargets.kind = \"caption\"\ntrain.steps = 3\ntrain.batch_size = 2\ntrain.grad_accum = 2\n\
         [runs.big]\ntargets.kind = \"caption\"\ntrain.steps = 3\ntrain.batch_size = 4\ntrain.grad_accum = 1\n",
    );
    let store = common::run_spec(&home, d.path(), &spec, &[]);
    let loss = |label: &str| {
        store
            .step_series(&common::run_id(&store, "accum", label), "loss")
            .unwrap()
    };
    let (a, b) = (loss("accum"), loss("big"));
    assert_eq!(a.len(), 3, "{a:?}");
    for ((sa, la), (sb, lb)) in a.iter().zip(&b) {
        assert_eq!(sa, sb);
        assert!(
            (la - lb).abs() <= 1e-5 * lb.abs().max(1.0),
            "step {sa}: accumulated {la} vs one batch {lb}"
        );
    }
}

/// The probe suite belongs to the synthetic world, not to a run's seed: seeds of one row answer
/// the same probes, so the row's mean ± std compares models on one test set.
#[test]
fn seeds_of_a_row_answer_the_same_probes() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::tiny_spec(
        d.path(),
        "probe_seeds",
        "eval.probes = true\neval.probe_items = 2\n\
         [sweep]\nseeds = [0, 1]\n[runs.p]\ntrain.steps = 1\n",
    );
    let store = common::run_spec(&home, d.path(), &spec, &[]);
    let st = status_of(&home);
    assert_eq!(st.len(), 2);
    let asked: Vec<Vec<(String, String)>> = st
        .iter()
        .map(|(id, _, _)| {
            store
                .predictions(id, Some("synth_test/probes"))
                .unwrap()
                .into_iter()
                .map(|p| (p.item_id, p.prompt))
                .collect()
        })
        .collect();
    assert!(!asked[0].is_empty());
    assert_eq!(asked[0], asked[1]);
}

/// Frozen-encoder outputs larger than the in-memory budget are not precomputed: the frozen
/// encoder runs inside each step on features read from the cache, and trains the same model
/// (the first loss agrees with the precomputed path's).
#[test]
fn over_the_encoded_budget_the_frozen_encoder_runs_in_step() {
    let d = tempfile::tempdir().unwrap();
    let spec = common::tiny_spec(d.path(), "budget", "[runs.r]\ntrain.steps = 2\n");
    let mut first_loss = Vec::new();
    use acdc::store::stages::AudioInputKind;
    for (budget, want) in [
        (None, AudioInputKind::Encoded),
        (Some("0"), AudioInputKind::Features),
    ] {
        let home = d.path().join(format!("home-{want:?}"));
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_acdc"));
        cmd.args(["run", spec.to_str().unwrap(), "--no-report"])
            .env("ACDC_HOME", &home)
            .env_remove("ACDC_ENCODED_MAX_GB")
            .current_dir(d.path());
        if let Some(b) = budget {
            cmd.env("ACDC_ENCODED_MAX_GB", b);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", common::stderr(&o));
        let store = Store::open(&home.join("acdc.db")).unwrap();
        let id = common::run_id(&store, "budget", "r");
        let info = common::stage(&store, &id, "train")
            .train()
            .cloned()
            .unwrap();
        assert_eq!(info.audio_input, Some(want), "{info:?}");
        first_loss.push(store.step_series(&id, "loss").unwrap()[0].1);
    }
    assert!(
        (first_loss[0] - first_loss[1]).abs() < 1e-4 * first_loss[0].abs().max(1.0),
        "{first_loss:?}"
    );
}
