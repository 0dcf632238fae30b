//! `train.gradient_checkpointing` recomputes activations in the backward pass: the loss curve and
//! the gradient norms are bit-identical on the CPU to those of a run without it (LoRA and a trainable encoder, so the
//! gradients cross every layer).

mod common;

#[test]
fn checkpointing_leaves_training_unchanged() {
    let d = tempfile::tempdir().unwrap();
    let spec = common::tiny_spec(
        d.path(),
        "ckpt",
        "llm.mode = \"lora\"\nencoder.trainable = true\ntargets.kind = \"caption\"\n[runs.r]\n",
    );
    // The same row trained without and with checkpointing, in two stores: one run id (the
    // setting changes memory, not results: issue 17 item 7), the same numbers.
    let (plain, recompute) = (d.path().join("plain"), d.path().join("recompute"));
    let a_store = common::run_spec(&plain, d.path(), &spec, &[]);
    let b_store = common::run_spec(
        &recompute,
        d.path(),
        &spec,
        &["--set", "train.gradient_checkpointing=true"],
    );
    let (a, b) = (
        common::run_id(&a_store, "ckpt", "r"),
        common::run_id(&b_store, "ckpt", "r"),
    );
    assert_eq!(a, b, "gradient checkpointing is not part of the run id");
    let cfg: serde_json::Value = serde_json::from_str(&b_store.run(&b).unwrap().config).unwrap();
    assert_eq!(
        cfg["train"]["gradient_checkpointing"], true,
        "but it is stored and used"
    );
    for (s, r) in [(&a_store, &a), (&b_store, &b)] {
        assert_eq!(s.run(r).unwrap().status.as_str(), "done");
    }
    let la = a_store.step_series(&a, "loss").unwrap();
    let lb = b_store.step_series(&b, "loss").unwrap();
    assert_eq!(la.len(), 6);
    assert_eq!(la.len(), lb.len());
    for ((s, x), (t, y)) in la.iter().zip(&lb) {
        assert_eq!(s, t);
        assert!(x == y, "step {s}: {x} vs {y}");
    }
    let gn = |st: &acdc::store::Store, r: &str| st.step_series(r, "grad_norm").unwrap();
    for ((_, x), (_, y)) in gn(&a_store, &a).iter().zip(&gn(&b_store, &b)) {
        assert!(x == y, "grad norm {x} vs {y}");
    }
}
