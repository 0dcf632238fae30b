//! Llama-family checkpoints loaded from Hugging Face directories give transformers' logits
//! (fixtures from tools/hf_llm_fixtures.py, see tests/fixtures/hf/PROVENANCE.md): f32 llama,
//! bf16 sharded llama with llama3 rope scaling, qwen2 with q/k/v biases and tied embeddings.
//! Tolerance: 1e-4 max abs on logits (f32 compute).

use std::path::{Path, PathBuf};

use acdc::audio::npy::read_f32;
use acdc::decode::{generate, Sampling};
use acdc::model::hf::load_llama;
use acdc::model::llm::AttnInputs;
use acdc::rng::Rng;
use burn::tensor::{Device, Int, Tensor, TensorData};

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hf")
        .join(name)
}

/// A JSON array of arrays of token ids.
fn id_rows(v: &serde_json::Value) -> Vec<Vec<u32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect()
        })
        .collect()
}

fn inputs(d: &Path) -> (Vec<Vec<u32>>, Vec<Vec<bool>>) {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("inputs.json")).unwrap()).unwrap();
    let ids = id_rows(&v["ids"]);
    let mask = v["attention_mask"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() == 1)
                .collect()
        })
        .collect();
    (ids, mask)
}

fn check(name: &str) {
    let d = dir(name);
    let device = Device::flex();
    let (cfg, m) = load_llama(&d, &device).unwrap_or_else(|e| panic!("{name}: {e}"));
    let (ids, mask) = inputs(&d);
    let (b, t) = (ids.len(), ids[0].len());
    let flat: Vec<i64> = ids
        .iter()
        .flat_map(|r| r.iter().map(|&x| x as i64))
        .collect();
    let x = m.embed(Tensor::<2, Int>::from_data(
        TensorData::new(flat, [b, t]),
        &device,
    ));
    let a = AttnInputs::new(
        &acdc::model::llm::positions_from_mask(&mask),
        &mask,
        0,
        &m.inv_freq(),
        &device,
    );
    let got: Vec<f32> = m
        .forward_embeds(x, &a, None)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let (want, shape) = read_f32(&d.join("logits_positions.npy")).unwrap();
    assert_eq!(shape, vec![b, t, cfg.vocab_size]);
    let v = cfg.vocab_size;
    let mut max = 0f32;
    for (row, valid) in mask.iter().enumerate() {
        for (pos, _) in valid.iter().enumerate().filter(|(_, &ok)| ok) {
            for k in 0..v {
                let i = (row * t + pos) * v + k;
                max = max.max((got[i] - want[i]).abs());
            }
        }
    }
    eprintln!("{name}: logits max abs {max:.3e}");
    assert!(max < 1e-4, "{name}: logits differ by {max}");

    // inputs_embeds: row 0 with positions 2..5 replaced by given embeddings.
    let (emb, eshape) = read_f32(&d.join("embeds.npy")).unwrap();
    let row0: Vec<i64> = ids[0].iter().map(|&x| x as i64).collect();
    let e = m.embed(Tensor::<2, Int>::from_data(
        TensorData::new(row0, [1, t]),
        &device,
    ));
    let e = e.slice_assign(
        [0..1, 2..5, 0..eshape[1]],
        Tensor::<3>::from_data(TensorData::new(emb, [1, eshape[0], eshape[1]]), &device),
    );
    let a = AttnInputs::new(
        &[(0..t).collect()],
        &[vec![true; t]],
        0,
        &m.inv_freq(),
        &device,
    );
    let got: Vec<f32> = m
        .forward_embeds(e, &a, None)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let (want, _) = read_f32(&d.join("embeds_logits.npy")).unwrap();
    let max = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    eprintln!("{name}: inputs_embeds logits max abs {max:.3e}");
    assert!(max < 1e-4, "{name}: inputs_embeds logits differ by {max}");

    // Greedy decoding with the KV cache equals transformers' generate.
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("greedy.json")).unwrap()).unwrap();
    let want: Vec<u32> = g
        .as_array()
        .cloned()
        .or_else(|| g["new_tokens"].as_array().cloned())
        .or_else(|| g["tokens"].as_array().cloned())
        .expect("greedy tokens")
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect();
    let real: Vec<i64> = ids[0]
        .iter()
        .zip(&mask[0])
        .filter(|(_, &m)| m)
        .map(|(&x, _)| x as i64)
        .collect();
    let n = real.len();
    let prompt = m.embed(Tensor::<2, Int>::from_data(
        TensorData::new(real, [1, n]),
        &device,
    ));
    let out = generate(
        &m,
        prompt,
        &[vec![true; n]],
        &[],
        want.len(),
        &Sampling::Greedy,
        &mut [Rng::new(0)],
    );
    assert_eq!(out[0], want, "{name}: greedy tokens");
}

#[test]
fn llama_f32_matches_transformers() {
    check("llama");
}

#[test]
fn llama3_rope_scaling_bf16_sharded_matches_transformers() {
    check("llama3_scaled");
}

#[test]
fn qwen2_biases_and_tied_embeddings_match_transformers() {
    check("qwen2");
}

#[test]
fn missing_tensor_is_named() {
    let d = tempfile::tempdir().unwrap();
    // A config that asks for 3 layers against a 2-layer checkpoint.
    let cfg = std::fs::read_to_string(dir("llama").join("config.json"))
        .unwrap()
        .replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3");
    std::fs::write(d.path().join("config.json"), cfg).unwrap();
    std::fs::copy(
        dir("llama").join("model.safetensors"),
        d.path().join("model.safetensors"),
    )
    .unwrap();
    let e = load_llama(d.path(), &Device::flex())
        .expect_err("must fail")
        .to_string();
    assert!(e.contains("missing") && e.contains("layers.2"), "{e}");
    // A shape mismatch names the tensor.
    let cfg = std::fs::read_to_string(dir("llama").join("config.json"))
        .unwrap()
        .replace("\"intermediate_size\": 48", "\"intermediate_size\": 40");
    std::fs::write(d.path().join("config.json"), cfg).unwrap();
    let e = load_llama(d.path(), &Device::flex())
        .expect_err("must fail")
        .to_string();
    assert!(e.contains("mlp") || e.contains("proj"), "{e}");
}

#[test]
fn peft_lora_adapter_matches_peft() {
    let device = Device::flex();
    let (_, mut m) = load_llama(&dir("llama"), &device).unwrap();
    let cfg = acdc::model::peft::load_adapter(&mut m, &dir("llama_lora"), &device).unwrap();
    assert_eq!((cfg.r, cfg.lora_alpha), (4, 8.0));
    let (ids, _) = inputs(&dir("llama"));
    let t = ids[0].len();
    let row0: Vec<i64> = ids[0].iter().map(|&x| x as i64).collect();
    let x = m.embed(Tensor::<2, Int>::from_data(
        TensorData::new(row0, [1, t]),
        &device,
    ));
    let a = AttnInputs::new(
        &[(0..t).collect()],
        &[vec![true; t]],
        0,
        &m.inv_freq(),
        &device,
    );
    let got: Vec<f32> = m
        .forward_embeds(x, &a, None)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let (want, _) = read_f32(&dir("llama_lora").join("logits.npy")).unwrap();
    let max = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    eprintln!("peft lora logits max abs {max:.3e}");
    assert!(max < 1e-4, "{max}");
    // Our save → PEFT layout → load gives the same model again.
    let d = tempfile::tempdir().unwrap();
    acdc::model::peft::save_adapter(&m, d.path(), "llama", 8.0, 0.0).unwrap();
    let (_, mut again) = load_llama(&dir("llama"), &device).unwrap();
    acdc::model::peft::load_adapter(&mut again, d.path(), &device).unwrap();
    let x = again.embed(Tensor::<2, Int>::from_data(
        TensorData::new(ids[0].iter().map(|&x| x as i64).collect::<Vec<_>>(), [1, t]),
        &device,
    ));
    let got2: Vec<f32> = again
        .forward_embeds(x, &a, None)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(got, got2);
}

#[test]
fn beam_search_matches_transformers_generate() {
    use acdc::decode::beam::{beam_search, BeamConfig};
    let device = Device::flex();
    let (_, m) = load_llama(&dir("llama"), &device).unwrap();
    let f: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir("llama").join("beam.json")).unwrap())
            .unwrap();
    let prompt: Vec<i64> = f["prompt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    for (i, case) in f["cases"].as_array().unwrap().iter().enumerate() {
        let kw = &case["generate_kwargs"];
        let cfg = BeamConfig {
            beams: kw["num_beams"].as_u64().unwrap() as usize,
            num_return: kw["num_return_sequences"].as_u64().unwrap() as usize,
            length_penalty: kw["length_penalty"].as_f64().unwrap(),
            early_stopping: kw["early_stopping"].as_bool().unwrap(),
            max_new: kw["max_new_tokens"].as_u64().unwrap() as usize,
        };
        let eos = vec![kw["eos_token_id"].as_u64().unwrap() as u32];
        let n = prompt.len();
        let x = m.embed(Tensor::<2, Int>::from_data(
            TensorData::new(prompt.clone(), [1, n]),
            &device,
        ));
        let got = beam_search(&m, x, &eos, &cfg);
        let want_seqs: Vec<Vec<u32>> = case["sequences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                s.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_u64().unwrap() as u32)
                    .collect()
            })
            .collect();
        let want_scores: Vec<f64> = case["sequences_scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(got.len(), want_seqs.len(), "case {i}");
        for (j, h) in got.iter().enumerate() {
            assert_eq!(h.tokens, want_seqs[j], "case {i} sequence {j}");
            assert!(
                (h.score - want_scores[j]).abs() < 1e-4,
                "case {i} score {j}: {} vs {}",
                h.score,
                want_scores[j]
            );
        }
    }
}

#[test]
fn mistral_matches_transformers() {
    check("mistral");
}

/// Greedy decoding returns the eos that ended a row, as transformers' `generate` does (and as
/// beam search does): one prompt with eos ids met at different steps, a list of eos ids, an
/// eos never met, and a left-padded batch in which only one row ends early
/// (tests/fixtures/hf/llama/greedy_eos.json, from tools/hf_greedy_eos_fixture.py). Exact tokens.
#[test]
fn greedy_returns_the_eos_that_ended_it_as_transformers_does() {
    use acdc::decode::{embed_padded, split_stop};
    let device = Device::flex();
    let (_, m) = load_llama(&dir("llama"), &device).unwrap();
    let f: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir("llama").join("greedy_eos.json")).unwrap(),
    )
    .unwrap();
    let cases = f["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let kw = &case["generate_kwargs"];
        let eos: Vec<u32> = match &kw["eos_token_id"] {
            serde_json::Value::Array(a) => a.iter().map(|x| x.as_u64().unwrap() as u32).collect(),
            x => vec![x.as_u64().unwrap() as u32],
        };
        let max_new = kw["max_new_tokens"].as_u64().unwrap() as usize;
        let prompts = id_rows(&case["prompts"]);
        let (x, valid) = embed_padded(&m, &prompts, 0, &device);
        let mut rngs: Vec<Rng> = prompts.iter().map(|_| Rng::new(0)).collect();
        let got = generate(&m, x, &valid, &eos, max_new, &Sampling::Greedy, &mut rngs);
        assert_eq!(got, id_rows(&case["new_tokens"]), "{name}");
        let ended: Vec<bool> = got.iter().map(|r| split_stop(r, &eos).1).collect();
        let want: Vec<bool> = case["ended_with_eos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_bool().unwrap())
            .collect();
        assert_eq!(ended, want, "{name}");
    }
}
