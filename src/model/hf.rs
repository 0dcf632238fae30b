//! Llama-family checkpoints from Hugging Face model directories: `config.json` → [`LlamaConfig`]
//! (Llama 3 / 3.1 / 3.2 with `llama3` rope scaling under either `rope_scaling` or transformers 5's
//! `rope_parameters`; Qwen2 with q/k/v biases and tied embeddings; Mistral), and the weights
//! from `model.safetensors` or the shards a `model.safetensors.index.json` lists, f32 / bf16 / f16
//! on disk (cast to f32). A missing tensor or a shape mismatch is an error naming the tensor.
//!
//! Key mapping (HF → acdc): `model.embed_tokens.weight` → `embed_tokens.weight`;
//! `model.layers.N.self_attn.{q,k,v,o}_proj.{weight,bias}` → `layers.N.self_attn.{q,k,v,o}_proj.base.{weight,bias}`
//! (transposed to `[in, out]`); `model.layers.N.mlp.{gate,up,down}_proj.weight` → `….mlp.{…}_proj.base.weight`;
//! `model.layers.N.{input,post_attention}_layernorm.weight` and `model.norm.weight` → `….gamma`;
//! `lm_head.weight` → `lm_head.weight` (absent when embeddings are tied).

use std::path::{Path, PathBuf};

use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::{Device, FloatDType};
use serde::Deserialize;

use super::llm::{Llama, LlamaConfig, RopeScaling};

#[derive(Debug, thiserror::Error)]
pub enum HfError {
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Weights { path: PathBuf, message: String },
}

#[derive(Debug, Deserialize)]
struct RawRope {
    #[serde(alias = "type")]
    rope_type: Option<String>,
    factor: Option<f64>,
    low_freq_factor: Option<f64>,
    high_freq_factor: Option<f64>,
    original_max_position_embeddings: Option<usize>,
    rope_theta: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct RawConfig {
    model_type: Option<String>,
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    rope_theta: Option<f64>,
    rms_norm_eps: Option<f64>,
    tie_word_embeddings: Option<bool>,
    attention_bias: Option<bool>,
    rope_scaling: Option<RawRope>,
    rope_parameters: Option<RawRope>,
    max_position_embeddings: Option<usize>,
}

/// Parse a `config.json` into our architecture config.
pub fn config_from_file(path: &Path) -> Result<LlamaConfig, HfError> {
    let text = std::fs::read_to_string(path).map_err(|e| HfError::Io {
        path: path.into(),
        message: e.to_string(),
    })?;
    let c: RawConfig = serde_json::from_str(&text).map_err(|e| HfError::Config {
        path: path.into(),
        message: e.to_string(),
    })?;
    let bad = |m: String| HfError::Config {
        path: path.into(),
        message: m,
    };
    let model_type = c.model_type.clone().unwrap_or_else(|| "llama".into());
    if !["llama", "qwen2", "mistral"].contains(&model_type.as_str()) {
        return Err(bad(format!("model_type `{model_type}` is not a Llama-family decoder acdc knows (llama, qwen2, mistral)")));
    }
    let rope = c.rope_parameters.as_ref().or(c.rope_scaling.as_ref());
    let theta = rope
        .and_then(|r| r.rope_theta)
        .or(c.rope_theta)
        .unwrap_or(10000.0);
    let scaling = match rope.and_then(|r| r.rope_type.as_deref()) {
        None | Some("default") => RopeScaling::None,
        Some("llama3") => {
            let r = rope.expect("checked");
            let need = |v: Option<f64>, k: &str| {
                v.ok_or_else(|| bad(format!("llama3 rope scaling needs `{k}`")))
            };
            RopeScaling::Llama3 {
                factor: need(r.factor, "factor")?,
                low_freq_factor: need(r.low_freq_factor, "low_freq_factor")?,
                high_freq_factor: need(r.high_freq_factor, "high_freq_factor")?,
                original_max_position_embeddings: r.original_max_position_embeddings.ok_or_else(
                    || bad("llama3 rope scaling needs `original_max_position_embeddings`".into()),
                )?,
            }
        }
        Some(other) => {
            return Err(bad(format!(
                "rope type `{other}` is not supported (supported: default, llama3)"
            )))
        }
    };
    let attention_bias = c.attention_bias.unwrap_or(model_type == "qwen2");
    for (key, v) in [
        ("vocab_size", c.vocab_size),
        ("hidden_size", c.hidden_size),
        ("intermediate_size", c.intermediate_size),
        ("num_hidden_layers", c.num_hidden_layers),
        ("num_attention_heads", c.num_attention_heads),
    ] {
        if v == 0 {
            return Err(bad(format!("`{key}` must be at least 1")));
        }
    }
    let kv = c.num_key_value_heads.unwrap_or(c.num_attention_heads);
    if kv == 0 || !c.num_attention_heads.is_multiple_of(kv) {
        return Err(bad(format!(
            "`num_attention_heads` ({}) must be a multiple of `num_key_value_heads` ({kv})",
            c.num_attention_heads
        )));
    }
    match c.head_dim {
        Some(d) if d == 0 || d % 2 != 0 => {
            return Err(bad(format!("`head_dim` ({d}) must be even and at least 2")))
        }
        None if !c.hidden_size.is_multiple_of(c.num_attention_heads)
            || !(c.hidden_size / c.num_attention_heads).is_multiple_of(2) =>
        {
            return Err(bad(format!(
                "`hidden_size` ({}) must split into `num_attention_heads` ({}) heads of even width",
                c.hidden_size, c.num_attention_heads
            )))
        }
        _ => {}
    }
    if !(theta.is_finite() && theta > 0.0) {
        return Err(bad(format!("`rope_theta` ({theta}) must be positive")));
    }
    if let Some(eps) = c.rms_norm_eps {
        if !(eps.is_finite() && eps > 0.0) {
            return Err(bad(format!("`rms_norm_eps` ({eps}) must be positive")));
        }
    }
    if let RopeScaling::Llama3 {
        factor,
        low_freq_factor,
        high_freq_factor,
        original_max_position_embeddings,
    } = scaling
    {
        if !(factor > 0.0 && low_freq_factor > 0.0 && high_freq_factor > low_freq_factor)
            || original_max_position_embeddings == 0
        {
            return Err(bad(format!("llama3 rope scaling needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings ≥ 1 (got {factor}, {low_freq_factor}, {high_freq_factor}, {original_max_position_embeddings})")));
        }
    }
    if c.max_position_embeddings == Some(0) {
        return Err(bad("`max_position_embeddings` must be at least 1".into()));
    }
    Ok(LlamaConfig::new(
        c.vocab_size,
        c.hidden_size,
        c.intermediate_size,
        c.num_hidden_layers,
        c.num_attention_heads,
        c.num_key_value_heads.unwrap_or(c.num_attention_heads),
    )
    .with_rope_theta(theta)
    .with_rms_norm_eps(c.rms_norm_eps.unwrap_or(1e-6))
    .with_attention_bias(attention_bias)
    .with_tie_embeddings(c.tie_word_embeddings.unwrap_or(false))
    .with_rope_scaling(scaling)
    .with_head_dim(c.head_dim)
    .with_max_positions(c.max_position_embeddings))
}

/// The weight files of a model directory: the shards of the index, or `model.safetensors`.
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>, HfError> {
    let index = dir.join("model.safetensors.index.json");
    if index.exists() {
        let text = std::fs::read_to_string(&index).map_err(|e| HfError::Io {
            path: index.clone(),
            message: e.to_string(),
        })?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| HfError::Config {
            path: index.clone(),
            message: e.to_string(),
        })?;
        let map = v["weight_map"].as_object().ok_or_else(|| HfError::Config {
            path: index.clone(),
            message: "no `weight_map` object".into(),
        })?;
        let mut files: Vec<String> = map
            .values()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect();
        files.sort();
        files.dedup();
        return Ok(files.into_iter().map(|f| dir.join(f)).collect());
    }
    let single = dir.join("model.safetensors");
    if single.exists() {
        return Ok(vec![single]);
    }
    Err(HfError::Io {
        path: dir.into(),
        message: "no model.safetensors or model.safetensors.index.json".into(),
    })
}

/// Largest safetensors header accepted (the safetensors crate's own limit).
const MAX_HEADER: u64 = 100_000_000;

/// Check a safetensors file's framing before handing it to the loader: the header length fits the
/// file, the header is JSON, and every tensor's data lies inside the file. A truncated download or
/// a file that is not safetensors at all fails here with its path and what is wrong.
pub fn check_safetensors(path: &Path) -> Result<(), HfError> {
    use std::io::Read;
    let bad = |m: String| HfError::Weights {
        path: path.into(),
        message: m,
    };
    let mut f = std::fs::File::open(path).map_err(|e| HfError::Io {
        path: path.into(),
        message: e.to_string(),
    })?;
    let file_len = f
        .metadata()
        .map_err(|e| HfError::Io {
            path: path.into(),
            message: e.to_string(),
        })?
        .len();
    let mut len8 = [0u8; 8];
    f.read_exact(&mut len8).map_err(|_| {
        bad(format!(
            "not a safetensors file: {file_len} bytes, shorter than the 8-byte header length"
        ))
    })?;
    let n = u64::from_le_bytes(len8);
    if n > MAX_HEADER || n > file_len - 8 {
        return Err(bad(format!(
            "not a safetensors file or truncated: the header claims {n} bytes but the file has {} after the length",
            file_len - 8
        )));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header)
        .map_err(|e| bad(format!("reading the header: {e}")))?;
    let v: serde_json::Value = serde_json::from_slice(&header)
        .map_err(|e| bad(format!("the safetensors header is not JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad("the safetensors header is not a JSON object".into()))?;
    let data_len = file_len - 8 - n;
    let mut need = 0u64;
    let mut widest = String::new();
    for (name, t) in obj {
        if name == "__metadata__" {
            continue;
        }
        let end = t["data_offsets"][1]
            .as_u64()
            .ok_or_else(|| bad(format!("tensor `{name}` has no data_offsets")))?;
        if end > need {
            need = end;
            widest = name.clone();
        }
    }
    if need > data_len {
        return Err(bad(format!(
            "truncated: tensor `{widest}` ends at byte {need} of the data but the file holds {data_len} bytes of data"
        )));
    }
    Ok(())
}

/// burn-store's load error, shortened: a shape mismatch list becomes its count and its first entry
/// (tensor path, expected and found shapes).
pub fn describe_load_error(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    // The safetensors store prints `ApplyError`s with Debug, the PyTorch store with Display.
    let re = regex::Regex::new(
        r#"ShapeMismatch \{ path: "([^"]+)", expected: Shape \{ dims: (\[[^\]]*\]) \}, found: Shape \{ dims: (\[[^\]]*\]) \} \}|Shape mismatch for '([^']+)': expected Shape \{ dims: (\[[^\]]*\]) \}, found Shape \{ dims: (\[[^\]]*\]) \}"#,
    )
    .expect("valid regex");
    let all: Vec<[String; 3]> = re
        .captures_iter(&text)
        .map(|c| {
            let g = |a: usize, b: usize| c.get(a).or(c.get(b)).map_or("", |m| m.as_str());
            [
                g(1, 4).to_string(),
                g(2, 5).to_string(),
                g(3, 6).to_string(),
            ]
        })
        .collect();
    // The PyTorch store's summary lists only the first ten errors; its header counts them all.
    let total = regex::Regex::new(r"! Errors:\s+(\d+) errors")
        .expect("valid regex")
        .captures(&text)
        .and_then(|c| c[1].parse::<usize>().ok())
        .unwrap_or(all.len());
    match all.first() {
        Some(c) => format!(
            "{} tensor(s) do not fit the model; first: `{}` is {} in the checkpoint but the config needs {}",
            total,
            c[0],
            c[2],
            c[1]
        ),
        None => text,
    }
}

fn store_for(file: &Path) -> SafetensorsStore {
    SafetensorsStore::from_file(file)
        .with_from_adapter(PyTorchToBurnAdapter)
        .with_key_remapping(r"^model\.", "")
        .with_key_remapping(
            r"\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)\.(weight|bias)$",
            ".$1.base.$2",
        )
        .allow_partial(true)
}

/// Load a Llama-family model from a Hugging Face directory onto `device` (weights in f32).
/// Checkpoints are read and cast on the CPU, then moved: a bf16 file must not reach a device
/// without bf16 kernels (burn's wgpu backends).
pub fn load_llama(dir: &Path, device: &Device) -> Result<(LlamaConfig, Llama), HfError> {
    use burn::module::Module;
    let (cfg, model) = load_llama_on(dir, &Device::flex())?;
    if *device == Device::flex() {
        return Ok((cfg, model));
    }
    Ok((cfg, model.to_device(device)))
}

fn load_llama_on(dir: &Path, device: &Device) -> Result<(LlamaConfig, Llama), HfError> {
    let cfg = config_from_file(&dir.join("config.json"))?;
    let mut model = cfg.init(device);
    // Tensors a Llama has no place for (old checkpoints' rotary `inv_freq`, say) are left alone.
    load_weights(&mut model, dir, store_for, None, "model")?;
    Ok((cfg, super::cast_floats(model, FloatDType::F32)))
}

/// Load every weight file of `dir` into `model` through `store_for`'s key mapping: framing checked
/// first, shape mismatches and missing tensors named. With `unused_ok`, a checkpoint tensor left
/// unused is an error unless one of those regexes (over mapped names) matches it. `what` names the
/// model in messages.
pub fn load_weights<M: ModuleSnapshot>(
    model: &mut M,
    dir: &Path,
    store_for: impl Fn(&Path) -> SafetensorsStore,
    unused_ok: Option<&[regex::Regex]>,
    what: &str,
) -> Result<(), HfError> {
    let mut coverage = Coverage::default();
    for file in weight_files(dir)? {
        check_safetensors(&file)?;
        let mut store = store_for(&file);
        let r = model.load_from(&mut store).map_err(|e| HfError::Weights {
            path: file.clone(),
            message: describe_load_error(&e),
        })?;
        coverage.add(&r, &file, unused_ok, what)?;
    }
    coverage.finish(dir, what)
}

/// What the stores of one checkpoint gave a module: the parameters filled, and those asked for.
#[derive(Default)]
pub struct Coverage {
    applied: std::collections::BTreeSet<String>,
    wanted: std::collections::BTreeSet<String>,
}

impl Coverage {
    /// Take one store's result: a tensor that does not fit is an error, and so is a tensor with no
    /// place in the module unless it matches `unused_ok` (`None`: unused tensors are not checked).
    pub fn add(
        &mut self,
        r: &burn::store::ApplyResult,
        file: &Path,
        unused_ok: Option<&[regex::Regex]>,
        what: &str,
    ) -> Result<(), HfError> {
        if let Some(e) = r.errors.first() {
            return Err(HfError::Weights {
                path: file.into(),
                message: format!(
                    "{} tensor(s) do not fit the {what}; first: {e}",
                    r.errors.len()
                ),
            });
        }
        if let Some(ok) = unused_ok {
            let unexpected: Vec<&String> = r
                .unused
                .iter()
                .filter(|k| !ok.iter().any(|re| re.is_match(k)))
                .collect();
            if let Some(k) = unexpected.first() {
                return Err(HfError::Weights {
                    path: file.into(),
                    message: format!(
                        "{} tensor(s) have no place in the {what}, first: `{k}` (a checkpoint of another architecture?)",
                        unexpected.len()
                    ),
                });
            }
        }
        self.applied.extend(r.applied.iter().cloned());
        self.wanted.extend(r.applied.iter().cloned());
        self.wanted.extend(r.missing.iter().map(|(p, _)| p.clone()));
        Ok(())
    }

    /// Every parameter the module asked for was filled by some store, or the first few are named.
    pub fn finish(&self, path: &Path, what: &str) -> Result<(), HfError> {
        let missing: Vec<&String> = self
            .wanted
            .iter()
            .filter(|p| !self.applied.contains(*p))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(HfError::Weights {
            path: path.into(),
            message: format!(
                "{} {what} tensor(s) missing from the checkpoint, first: {}",
                missing.len(),
                missing
                    .iter()
                    .take(5)
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }
}
