//! `train.gradient_checkpointing` recomputes activations in the backward pass: the loss curve and
//! the gradient norms are bit-identical on the CPU to those of a run without it (LoRA and a trainable encoder, so the
//! gradients cross every layer).

mod common;

#[test]
fn checkpointing_leaves_training_unchanged() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let spec = common::tiny_spec(
        d.path(),
        "ckpt",
        "llm.mode = \"lora\"\nencoder.trainable = true\ntargets.kind = \"caption\"\n\
         \
         [runs.plain]\ntrain.gradient_checkpointing = false\n\
         [runs.recompute]\ntrain.gradient_checkpointing = true\n",
    );
    let store = common::run_spec(&home, d.path(), &spec, &[]);
    let id = |label: &str| common::run_id(&store, "ckpt", label);
    let (a, b) = (id("plain"), id("recompute"));
    assert_ne!(a, b);
    for r in [&a, &b] {
        assert_eq!(store.run(r).unwrap().status.as_str(), "done");
    }
    let la = store.step_series(&a, "loss").unwrap();
    let lb = store.step_series(&b, "loss").unwrap();
    assert_eq!(la.len(), 6);
    assert_eq!(la.len(), lb.len());
    for ((s, x), (t, y)) in la.iter().zip(&lb) {
        assert_eq!(s, t);
        assert!(x == y, "step {s}: {x} vs {y}");
    }
    let gn = |r: &str| store.step_series(r, "grad_norm").unwrap();
    for ((_, x), (_, y)) in gn(&a).iter().zip(&gn(&b)) {
        assert!(x == y, "grad norm {x} vs {y}");
    }
}
