//! Every ablation knob changes what is trained (issue 5): the encoder joins the trained
//! parameters, LoRA factors appear, more samples per caption make more targets, temperature changes
//! the target set, a second source joins the mix, `init_from` starts from another run's weights, and
//! an instruction mix adds QA examples, and `targets.truncated` decides how cut-off replies train.

mod common;

use acdc::store::Store;

use acdc::store::stages::SourceRole;
use common::stage;

fn weights_bytes(store: &Store, run: &str) -> i64 {
    store
        .artifacts(run)
        .unwrap()
        .into_iter()
        .find(|a| a.kind == "weights")
        .map(|a| a.bytes)
        .expect("trained weights recorded")
}

#[test]
fn each_knob_changes_what_is_trained() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::tiny_spec(
        d.path(),
        "knobs",
        r#"
[runs.base]
train.steps = 2
[runs.encoder]
train.steps = 2
encoder.trainable = true
[runs.lora]
train.steps = 2
llm.mode = "lora"
[runs.samples]
train.steps = 2
targets.samples_per_caption = 2
[runs.hot]
train.steps = 2
targets.temperature = 1.3
[runs.mix]
train.steps = 2
data.train = [{ dataset = "synth", split = "train" }, { dataset = "synth", split = "test", weight = 0.5 }]
[runs.staged]
train.steps = 2
init_from = "base"
[runs.instruct]
train.steps = 2
data.instruct = [{ dataset = "synth", split = "train", weight = 1000.0 }]
[runs.cut_open]
train.steps = 2
targets.max_new_tokens = 2
[runs.cut_close]
train.steps = 2
targets.max_new_tokens = 2
targets.truncated = "close"
"#,
    );
    let o = common::acdc(
        &home,
        d.path(),
        &["run", spec.to_str().unwrap(), "--no-report"],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let store = Store::open(&home.join("acdc.db")).unwrap();
    let rows = store.experiment_runs("knobs").unwrap();
    let id = |l: &str| {
        let r = rows.iter().find(|r| r.label == l).unwrap();
        assert_eq!(r.status.as_str(), "done", "{l}");
        r.run_id.clone()
    };
    let base = id("base");
    // encoder.trainable and llm.mode = lora add parameters to what is trained and saved.
    let wb = weights_bytes(&store, &base);
    assert!(weights_bytes(&store, &id("encoder")) > wb);
    assert!(weights_bytes(&store, &id("lora")) > wb);
    // samples_per_caption: twice the examples; temperature: another target set.
    let targets = |l: &str| stage(&store, &id(l), "targets").targets().unwrap().to_vec();
    assert_eq!(
        targets("samples")[0].info.examples,
        2 * targets("base")[0].info.examples
    );
    assert_ne!(targets("hot")[0].info.set, targets("base")[0].info.set);
    // The mix has a second source.
    let mix = targets("mix");
    assert_eq!(mix.len(), 2, "{mix:?}");
    assert_eq!(mix[1].source, "synth_test");
    // init_from: the staged run starts from base's trained weights, so its first loss is base's
    // last-but-trained state, not a fresh adapter's (fresh runs with one seed share step-1 losses).
    let first = |l: &str| store.step_series(&id(l), "loss").unwrap()[0].1;
    // Equal up to float rounding: `base` reads its frozen encoder's outputs computed once for
    // every clip (batches of up to 16), `encoder` runs the encoder inside the step on the step's
    // two clips, and the two batch shapes round differently (seen: 6.7754202 vs 6.7754197).
    let (fe, fb) = (first("encoder"), first("base"));
    assert!(
        (fe - fb).abs() <= 1e-6 * fb.abs(),
        "same seed, same fresh start: {fe} vs {fb}"
    );
    assert_ne!(
        first("staged"),
        first("base"),
        "init_from did not load base's weights"
    );
    // The instruction mix adds the QA training split's question → answer examples as a source,
    // and (weighted to dominate the mix) they are what the first step trains on.
    let inst = targets("instruct");
    let qa = inst
        .iter()
        .find(|s| s.role == SourceRole::Instruct)
        .unwrap_or_else(|| panic!("no instruct source: {inst:?}"));
    assert_eq!(qa.source, "synth_train");
    assert!(qa.info.examples > 0);
    assert_ne!(
        first("instruct"),
        first("base"),
        "QA examples were not trained on"
    );
    // targets.truncated: replies cut off at max_new_tokens (most of a random model's 2-token
    // replies) train without the end-of-turn token or with it; one generation serves both
    // (`targets::tests` covers "drop").
    let cut = targets("cut_open");
    assert!(cut[0].info.truncated_replies.unwrap() > 0, "{cut:?}");
    assert_eq!(cut[0].info.set, targets("cut_close")[0].info.set);
    assert_eq!(targets("cut_close")[0].info.examples, cut[0].info.examples);
    assert_ne!(
        first("cut_open"),
        first("cut_close"),
        "the end-of-turn token after cut-off replies made no difference to the loss"
    );
    let staged = rows.iter().find(|r| r.label == "staged").unwrap();
    assert_eq!(staged.init_from.as_deref(), Some(base.as_str()));
}
