//! EAT checkpoints from Hugging Face model directories (the `worstchan/EAT-*` repos' fairseq-free
//! port: `config.json` with `model_type = "eat"`, weights in `model.safetensors`).
//!
//! Key mapping (HF → acdc), applied by [`EAT_KEY_REMAP`] then burn's PyTorch adapter (Linear
//! weights `[out, in]` → `[in, out]`, LayerNorm `weight`/`bias` → `gamma`/`beta`):
//! - `model.extra_tokens [1, 1, D]` → `cls_token`
//! - `model.local_encoder.proj.{weight [D, 1, 16, 16], bias}` → `patch_embed.{weight, bias}`
//! - `model.pre_norm.{weight, bias}` → `pre_norm.{gamma, beta}`
//! - `model.blocks.N.attn.qkv.{weight [3D, D], bias}` → `blocks.N.qkv` (fused q, k, v)
//! - `model.blocks.N.attn.proj` → `blocks.N.proj`; `model.blocks.N.mlp.fc{1,2}` → `blocks.N.fc{1,2}`
//! - `model.blocks.N.norm{1,2}` → `blocks.N.norm{1,2}`
//! - ignored: `model.fixed_positional_encoder.positions` (the fixed sin-cos table, which acdc
//!   computes; they agree within 5.8e-5 for EAT-base), and the fine-tuned classifier
//!   `model.fc_norm.*` / `model.head.*`.
//!
//! Every other tensor, a missing tensor or a shape mismatch is an error naming it.

use std::path::Path;

use burn::store::{PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::{Device, FloatDType};
use serde::Deserialize;

use super::encoder::{Eat, EatConfig};
use super::hf::{load_weights, HfError};

/// Regex renames from HF keys to acdc module paths (before burn's PyTorch adapter).
pub const EAT_KEY_REMAP: &[(&str, &str)] = &[
    (r"^model\.", ""),
    (r"^extra_tokens$", "cls_token"),
    (r"^local_encoder\.proj\.", "patch_embed."),
    (r"\.attn\.(qkv|proj)\.", ".$1."),
    (r"\.mlp\.(fc1|fc2)\.", ".$1."),
];

/// Checkpoint tensors acdc has no place for, on purpose (see the module docs), after
/// [`EAT_KEY_REMAP`] (which drops the `model.` prefix).
pub const EAT_IGNORED: &[&str] = &[
    r"^fixed_positional_encoder\.positions$",
    r"^fc_norm\.(weight|bias)$",
    r"^head\.(weight|bias)$",
];

/// The EAT hyper-parameters of a checkpoint, under the HF port's `config.json` names (the fairseq
/// loader fills it from the training `cfg`).
#[derive(Debug, Default, Deserialize)]
pub struct RawEatConfig {
    pub model_type: Option<String>,
    pub embed_dim: usize,
    pub depth: usize,
    pub num_heads: usize,
    pub mlp_ratio: Option<f64>,
    pub patch_size: Option<usize>,
    pub stride: Option<usize>,
    pub mel_bins: Option<usize>,
    pub in_chans: Option<usize>,
    pub norm_eps: Option<f64>,
    pub qkv_bias: Option<bool>,
    pub layer_norm_first: Option<bool>,
    pub norm_affine: Option<bool>,
}

/// Parse an EAT `config.json`.
pub fn eat_config_from_file(path: &Path) -> Result<EatConfig, HfError> {
    let text = std::fs::read_to_string(path).map_err(|e| HfError::Io {
        path: path.into(),
        message: e.to_string(),
    })?;
    let c: RawEatConfig = serde_json::from_str(&text).map_err(|e| HfError::Config {
        path: path.into(),
        message: e.to_string(),
    })?;
    eat_config_from_raw(c, path)
}

/// Check EAT hyper-parameters against what acdc's encoder implements and build its config;
/// errors name `path`.
pub fn eat_config_from_raw(c: RawEatConfig, path: &Path) -> Result<EatConfig, HfError> {
    let bad = |m: String| HfError::Config {
        path: path.into(),
        message: m,
    };
    match c.model_type.as_deref() {
        Some("eat") | None => {}
        Some(other) => {
            return Err(bad(format!(
                "model_type `{other}` is not an EAT encoder (`eat`)"
            )))
        }
    }
    let patch = c.patch_size.unwrap_or(16);
    if c.stride.is_some_and(|s| s != patch) {
        return Err(bad(format!(
            "`stride` {:?} differs from `patch_size` {patch}; acdc's EAT uses non-overlapping patches",
            c.stride
        )));
    }
    if c.in_chans.is_some_and(|n| n != 1) {
        return Err(bad("`in_chans` must be 1 (one fbank channel)".into()));
    }
    if c.qkv_bias == Some(false) || c.norm_affine == Some(false) {
        return Err(bad(
            "`qkv_bias = false` and `norm_affine = false` are not supported".into(),
        ));
    }
    if c.layer_norm_first == Some(true) {
        return Err(bad(
            "`layer_norm_first = true` (pre-LN blocks) is not EAT's layout; acdc implements post-LN"
                .into(),
        ));
    }
    if c.embed_dim == 0
        || c.depth == 0
        || c.num_heads == 0
        || !c.embed_dim.is_multiple_of(c.num_heads)
    {
        return Err(bad(format!(
            "`embed_dim` ({}) must be a positive multiple of `num_heads` ({}), and `depth` ≥ 1",
            c.embed_dim, c.num_heads
        )));
    }
    let mel = c.mel_bins.unwrap_or(128);
    if patch == 0 || !mel.is_multiple_of(patch) || !c.embed_dim.is_multiple_of(4) {
        return Err(bad(format!(
            "`mel_bins` ({mel}) must be a multiple of `patch_size` ({patch}) and `embed_dim` of 4"
        )));
    }
    Ok(EatConfig::new(c.embed_dim, c.depth, c.num_heads)
        .with_mlp_ratio(c.mlp_ratio.unwrap_or(4.0))
        .with_patch(patch)
        .with_mel_bins(mel)
        .with_layer_norm_eps(c.norm_eps.unwrap_or(1e-6)))
}

fn store_for(file: &Path) -> SafetensorsStore {
    let mut store = SafetensorsStore::from_file(file)
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(true);
    for (from, to) in EAT_KEY_REMAP {
        store = store.with_key_remapping(*from, *to);
    }
    store
}

/// Load an EAT encoder from a Hugging Face directory onto `device` (weights in f32), read and
/// cast on the CPU first like the Llama loader.
pub fn load_eat(dir: &Path, device: &Device) -> Result<(EatConfig, Eat), HfError> {
    use burn::module::Module;
    let cpu = Device::flex();
    let cfg = eat_config_from_file(&dir.join("config.json"))?;
    let mut model = cfg.init(&cpu);
    let ignored: Vec<regex::Regex> = EAT_IGNORED
        .iter()
        .map(|r| regex::Regex::new(r).expect("valid regex"))
        .collect();
    load_weights(&mut model, dir, store_for, Some(&ignored), "encoder")?;
    let model = super::cast_floats(model, FloatDType::F32);
    if *device == cpu {
        return Ok((cfg, model));
    }
    Ok((cfg, model.to_device(device)))
}
