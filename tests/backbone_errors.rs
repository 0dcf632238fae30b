//! Bad backbones and adapters get errors that name the file, key or tensor (issue 4's bad-input
//! list): missing files, unknown architecture, config fields out of range, truncated or
//! oversized-header safetensors, LoRA adapters for another architecture or model, prompts longer
//! than the context, a chat template that fails to render, a dtype the device cannot compute in.

mod common;

use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A copy of the transformers Llama fixture (config + weights) in a fresh directory.
fn llama_copy(root: &Path, name: &str) -> PathBuf {
    let d = root.join(name);
    std::fs::create_dir_all(&d).unwrap();
    for f in ["config.json", "model.safetensors", "generation_config.json"] {
        std::fs::copy(fixture("hf/llama").join(f), d.join(f)).unwrap();
    }
    d
}

fn edit_config(dir: &Path, from: &str, to: &str) {
    let p = dir.join("config.json");
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "fixture config has `{from}`");
    std::fs::write(&p, text.replace(from, to)).unwrap();
}

/// Run `acdc lm logits` on `model` and return its stderr, asserting it failed.
fn logits_error(root: &Path, model: &Path, ids: &str) -> String {
    let out = root.join("x.npy");
    let o = common::acdc(
        root,
        root,
        &[
            "lm",
            "logits",
            "--model",
            model.to_str().unwrap(),
            "--ids",
            ids,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success(), "must fail: {}", common::stdout(&o));
    assert!(!out.exists(), "nothing written on failure");
    common::stderr(&o)
}

fn has_all(e: &str, parts: &[&str]) {
    for p in parts {
        assert!(e.contains(p), "`{p}` not in error: {e}");
    }
}

#[test]
fn missing_files_are_named() {
    let t = tempfile::tempdir().unwrap();
    let d = llama_copy(t.path(), "no-weights");
    std::fs::remove_file(d.join("model.safetensors")).unwrap();
    let e = logits_error(t.path(), &d, "1,2");
    has_all(&e, &["no-weights", "model.safetensors"]);

    let d = llama_copy(t.path(), "no-config");
    std::fs::remove_file(d.join("config.json")).unwrap();
    let e = logits_error(t.path(), &d, "1,2");
    has_all(&e, &["config.json"]);

    // A shard the index names but the directory lacks.
    let d = t.path().join("sharded");
    std::fs::create_dir_all(&d).unwrap();
    for f in [
        "config.json",
        "model.safetensors.index.json",
        "model-00001-of-00003.safetensors",
    ] {
        std::fs::copy(fixture("hf/llama3_scaled").join(f), d.join(f)).unwrap();
    }
    let e = logits_error(t.path(), &d, "1,2");
    has_all(&e, &["model-00002-of-00003.safetensors"]);

    // Text commands need the tokenizer.
    let d = llama_copy(t.path(), "no-tokenizer");
    let o = common::acdc(
        t.path(),
        t.path(),
        &["lm", "tokenize", "--model", d.to_str().unwrap(), "hello"],
    );
    assert!(!o.status.success());
    has_all(&common::stderr(&o), &["tokenizer.json"]);
}

#[test]
fn unknown_architecture_and_out_of_range_config() {
    let t = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "\"model_type\": \"llama\"",
            "\"model_type\": \"gpt2\"",
            &["config.json", "gpt2"],
        ),
        (
            "\"num_key_value_heads\": 2",
            "\"num_key_value_heads\": 3",
            &["config.json", "num_key_value_heads"],
        ),
        (
            "\"hidden_size\": 32",
            "\"hidden_size\": 0",
            &["config.json", "hidden_size"],
        ),
        (
            "\"rms_norm_eps\": 1e-05",
            "\"rms_norm_eps\": -1.0",
            &["config.json", "rms_norm_eps"],
        ),
        (
            "\"max_position_embeddings\": 128",
            "\"max_position_embeddings\": 0",
            &["config.json", "max_position_embeddings"],
        ),
    ];
    for (i, (from, to, want)) in cases.iter().enumerate() {
        let d = llama_copy(t.path(), &format!("cfg{i}"));
        edit_config(&d, from, to);
        let e = logits_error(t.path(), &d, "1,2");
        has_all(&e, want);
        assert!(!e.contains("panicked"), "an error, not a panic: {e}");
    }
}

#[test]
fn truncated_and_oversized_header_safetensors() {
    let t = tempfile::tempdir().unwrap();
    let d = llama_copy(t.path(), "truncated");
    let w = d.join("model.safetensors");
    let bytes = std::fs::read(&w).unwrap();
    std::fs::write(&w, &bytes[..bytes.len() / 2]).unwrap();
    let e = logits_error(t.path(), &d, "1,2");
    has_all(&e, &["model.safetensors", "truncated"]);

    // A header length larger than the file (e.g. an HTML error page saved as weights).
    let d = llama_copy(t.path(), "oversized");
    let mut junk = (1u64 << 40).to_le_bytes().to_vec();
    junk.extend_from_slice(b"{\"not\": \"weights\"}");
    std::fs::write(d.join("model.safetensors"), junk).unwrap();
    let e = logits_error(t.path(), &d, "1,2");
    has_all(&e, &["model.safetensors", "header claims"]);

    // Shorter than the length prefix.
    std::fs::write(d.join("model.safetensors"), b"<html>").unwrap();
    let e = logits_error(t.path(), &d, "1,2");
    has_all(&e, &["model.safetensors", "not a safetensors file"]);
}

fn lora_copy(root: &Path, name: &str) -> PathBuf {
    let d = root.join(name);
    std::fs::create_dir_all(&d).unwrap();
    for f in ["adapter_config.json", "adapter_model.safetensors"] {
        std::fs::copy(fixture("hf/llama_lora").join(f), d.join(f)).unwrap();
    }
    d
}

fn generate_with_lora(root: &Path, lora: &Path) -> String {
    let o = common::acdc(
        root,
        root,
        &[
            "lm",
            "generate",
            "--model",
            fixture("hf/llama").to_str().unwrap(),
            "--ids",
            "1,2,3",
            "--max-new-tokens",
            "2",
            "--lora",
            lora.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success(), "must fail: {}", common::stdout(&o));
    common::stderr(&o)
}

#[test]
fn lora_for_another_architecture_or_model() {
    let t = tempfile::tempdir().unwrap();
    // GPT-2 style target modules.
    let d = lora_copy(t.path(), "gpt2-targets");
    let p = d.join("adapter_config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    cfg["target_modules"] = serde_json::json!(["c_attn", "c_proj"]);
    std::fs::write(&p, cfg.to_string()).unwrap();
    has_all(
        &generate_with_lora(t.path(), &d),
        &["adapter_config.json", "c_attn", "another architecture"],
    );

    // An adapter trained on a deeper model: tensors for layer 5 have no place here.
    let d = lora_copy(t.path(), "deeper");
    let f = d.join("adapter_model.safetensors");
    let bytes = std::fs::read(&f).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut views: Vec<(String, safetensors::tensor::TensorView<'_>)> = st
        .tensors()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let extra: Vec<(String, safetensors::tensor::TensorView<'_>)> = views
        .iter()
        .filter(|(k, _)| k.contains("layers.1."))
        .map(|(k, v)| (k.replace("layers.1.", "layers.5."), v.clone()))
        .collect();
    views.extend(extra);
    let out = safetensors::tensor::serialize(views, None).unwrap();
    std::fs::write(&f, out).unwrap();
    has_all(
        &generate_with_lora(t.path(), &d),
        &["adapter_model.safetensors", "layers.5", "no place"],
    );

    // Factors of another width (hidden 64 instead of 32): the shapes are named.
    let d = lora_copy(t.path(), "wider");
    let f = d.join("adapter_model.safetensors");
    let bytes = std::fs::read(&f).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (k, v) in st.tensors() {
        let mut shape = v.shape().to_vec();
        let mut data = v.data().to_vec();
        if k.contains("lora_A") {
            shape[1] *= 2;
            data = data.repeat(2);
        }
        owned.push((k.to_string(), shape, data));
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = owned
        .iter()
        .map(|(k, s, d)| {
            (
                k.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d)
                    .unwrap(),
            )
        })
        .collect();
    std::fs::write(&f, safetensors::tensor::serialize(views, None).unwrap()).unwrap();
    has_all(
        &generate_with_lora(t.path(), &d),
        &["adapter_model.safetensors", "lora_A", "expected"],
    );
}

#[test]
fn prompt_longer_than_context_and_invalid_ids() {
    let t = tempfile::tempdir().unwrap();
    let model = fixture("hf/llama");
    // The fixture's max_position_embeddings is 128.
    let long: Vec<String> = (0..129).map(|i| (i % 90 + 1).to_string()).collect();
    let e = logits_error(t.path(), &model, &long.join(","));
    has_all(&e, &["129", "context is 128"]);
    let o = common::acdc(
        t.path(),
        t.path(),
        &[
            "lm",
            "generate",
            "--model",
            model.to_str().unwrap(),
            "--ids",
            "1,2,3",
            "--max-new-tokens",
            "200",
        ],
    );
    assert!(!o.status.success());
    has_all(
        &common::stderr(&o),
        &["203", "context is 128", "--max-new-tokens"],
    );
    let e = logits_error(t.path(), &model, "1,x");
    has_all(&e, &["--ids", "`x`"]);
    let e = logits_error(t.path(), &model, "1,96");
    has_all(&e, &["96", "vocabulary"]);
}

#[test]
fn template_that_fails_to_render() {
    let t = tempfile::tempdir().unwrap();
    let d = llama_copy(t.path(), "bad-template");
    std::fs::copy(
        fixture("chat/llama3/tokenizer.json"),
        d.join("tokenizer.json"),
    )
    .unwrap();
    let p = d.join("tokenizer_config.json");
    let mut cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("chat/llama3/tokenizer_config.json")).unwrap(),
    )
    .unwrap();
    // Renders only with a system turn, as some templates insist on one.
    cfg["chat_template"] = serde_json::json!(
        "{% if messages[0]['role'] != 'system' %}{{ raise_exception('a system message is required') }}{% endif %}{{ messages[0]['content'] }}"
    );
    std::fs::write(&p, cfg.to_string()).unwrap();
    let o = common::acdc(
        t.path(),
        t.path(),
        &[
            "lm",
            "template",
            "--model",
            d.to_str().unwrap(),
            "--user",
            "Hi",
        ],
    );
    assert!(!o.status.success(), "{}", common::stdout(&o));
    has_all(&common::stderr(&o), &["a system message is required"]);

    // A template with a syntax error is refused when the backbone is resolved.
    cfg["chat_template"] = serde_json::json!("{% for m in messages %}{{ m.content }}");
    std::fs::write(&p, cfg.to_string()).unwrap();
    let o = common::acdc(
        t.path(),
        t.path(),
        &[
            "lm",
            "template",
            "--model",
            d.to_str().unwrap(),
            "--user",
            "Hi",
        ],
    );
    assert!(!o.status.success(), "{}", common::stdout(&o));
    let e = common::stderr(&o);
    assert!(e.contains("template") && !e.contains("panicked"), "{e}");
}

#[test]
fn dtype_and_device_options_are_checked() {
    let t = tempfile::tempdir().unwrap();
    let o = common::acdc(
        t.path(),
        t.path(),
        &["lm", "bench", "--model", "builtin:tiny", "--dtype", "f8"],
    );
    assert!(!o.status.success());
    has_all(&common::stderr(&o), &["--dtype", "f8"]);
    let o = common::acdc(
        t.path(),
        t.path(),
        &["lm", "bench", "--model", "builtin:tiny", "--device", "tpu"],
    );
    assert!(!o.status.success());
    has_all(&common::stderr(&o), &["--device", "tpu"]);
}
