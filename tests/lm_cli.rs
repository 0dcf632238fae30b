//! `acdc lm` against the transformers fixtures and the builtin backbone.

mod common;

use std::path::Path;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hf")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn logits_and_greedy_generate_match_transformers() {
    let d = tempfile::tempdir().unwrap();
    let model = fixture("qwen2");
    let row0 = |name: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(Path::new(&fixture(name)).join("inputs.json")).unwrap(),
        )
        .unwrap();
        v["ids"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let ids = &row0("qwen2");
    let out = d.path().join("l.npy");
    let o = common::acdc(
        d.path(),
        d.path(),
        &[
            "lm",
            "logits",
            "--model",
            &model,
            "--ids",
            ids,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let (got, shape) = acdc::audio::npy::read_f32(&out).unwrap();
    assert_eq!(shape, vec![9, 96]);
    let (want, _) = acdc::audio::npy::read_f32(
        Path::new(&fixture("qwen2"))
            .join("logits_positions.npy")
            .as_path(),
    )
    .unwrap();
    let max = got
        .iter()
        .zip(&want[..9 * 96])
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(max < 1e-4, "{max}");

    let o = common::acdc(
        d.path(),
        d.path(),
        &[
            "lm",
            "generate",
            "--model",
            &fixture("llama"),
            "--ids",
            &row0("llama"),
            "--max-new-tokens",
            "8",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let got: Vec<u64> = v["sequences"][0]["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    let g: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(&fixture("llama")).join("greedy.json")).unwrap(),
    )
    .unwrap();
    let want: Vec<u64> = g["new_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    assert_eq!(got, want);
}

#[test]
fn tokenizer_template_and_bad_input() {
    let d = tempfile::tempdir().unwrap();
    let o = common::acdc(
        d.path(),
        d.path(),
        &[
            "lm",
            "tokenize",
            "--model",
            "builtin:tiny",
            "A dog barks.",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!v["ids"].as_array().unwrap().is_empty());
    let o = common::acdc(
        d.path(),
        d.path(),
        &[
            "lm",
            "template",
            "--model",
            "builtin:tiny",
            "--user",
            "Hi",
            "--system",
            "Be brief.",
        ],
    );
    assert_eq!(
        common::stdout(&o),
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    );
    let o = common::acdc(
        d.path(),
        d.path(),
        &[
            "lm",
            "logits",
            "--model",
            &fixture("llama"),
            "--ids",
            "1,999",
            "--out",
            "x.npy",
        ],
    );
    assert!(!o.status.success());
    assert!(
        common::stderr(&o).contains("999") && common::stderr(&o).contains("vocabulary"),
        "{}",
        common::stderr(&o)
    );
    let o = common::acdc(
        d.path(),
        d.path(),
        &[
            "lm",
            "generate",
            "--model",
            "no/such-model-here",
            "--ids",
            "1",
        ],
    );
    assert!(!o.status.success());
    assert!(
        common::stderr(&o).contains("no/such-model-here"),
        "{}",
        common::stderr(&o)
    );
}

/// `lm bench` measures every (batch, beams) case and reports the distance of a bf16 copy of the
/// weights from the float32 run (measured on this fixture: max |diff| 0.063 at max |logit| 3.9,
/// relative 1.6e-2; the bound below leaves 2x room).
#[test]
fn bench_rows_and_bf16_distance() {
    let d = tempfile::tempdir().unwrap();
    let o = common::acdc(
        d.path(),
        d.path(),
        &[
            "lm",
            "bench",
            "--model",
            &fixture("llama3_scaled"),
            "--batch",
            "1,2",
            "--beams",
            "1,2",
            "--prompt-len",
            "6",
            "--new-tokens",
            "3",
            "--repeats",
            "1",
            "--check-cpu",
            "16",
            "--dtype",
            "bf16",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v["rows"].as_array().unwrap();
    let cases: Vec<(u64, u64)> = rows
        .iter()
        .map(|r| (r["batch"].as_u64().unwrap(), r["beams"].as_u64().unwrap()))
        .collect();
    assert_eq!(cases, vec![(1, 1), (1, 2), (2, 1), (2, 2)]);
    for r in rows {
        assert!(r["prefill_tok_s"].as_f64().unwrap() > 0.0);
        assert!(r["decode_tok_s"].as_f64().unwrap() > 0.0);
    }
    let c = &v["check"];
    assert_eq!(c["positions"], 16);
    let rel = c["rel_diff"].as_f64().unwrap();
    assert!(
        rel > 0.0 && rel < 3.2e-2,
        "bf16 relative logit distance {rel}"
    );
    assert!(c["argmax_agree"].as_f64().unwrap() >= 0.85, "{c}");
}

/// `acdc lm bench-train`: the adapter step on a frozen backbone in f32 and bf16 — the adapter
/// learns (its loss falls over three steps) and the step is timed.
#[test]
fn bench_train_times_a_learning_adapter_step() {
    let d = tempfile::tempdir().unwrap();
    for dtype in ["f32", "bf16"] {
        let o = common::acdc(
            d.path(),
            d.path(),
            &[
                "lm",
                "bench-train",
                "--model",
                &fixture("llama"),
                "--dtype",
                dtype,
                "--steps",
                "3",
                "--warmup",
                "1",
            ],
        );
        assert!(o.status.success(), "{}", common::stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["steps"], 3);
        assert_eq!(v["batch"], 8);
        assert!(v["ms_per_step"].as_f64().unwrap() > 0.0, "{v}");
        assert!(
            v["last_loss"].as_f64().unwrap() < v["first_loss"].as_f64().unwrap(),
            "{dtype}: {v}"
        );
    }
}
