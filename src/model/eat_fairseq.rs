//! EAT checkpoints in their original fairseq format (`EAT-base_epoch30_pretrain.pt`,
//! `EAT-base_epoch30_finetune_AS2M.pt`, …: a `torch.save`d dict with `cfg`, `model`, optimizer
//! state, …), read with burn's PyTorch pickle reader; no Python, fairseq or `config.json` needed.
//!
//! The hyper-parameters come from the checkpoint's own training config: `cfg.model` of a
//! pretraining checkpoint (`_name = "data2vec_multi"`), or `cfg.model.pretrained_model_args.model`
//! of a fine-tuned one (`mae_image_classification`, whose `cfg.model.norm_eps` overrides when set).
//! Architecture options acdc does not implement (prenet blocks, ALiBi, pre-LN, several extra
//! tokens, a projected patch embedding) are refused, naming the key.
//!
//! Key mapping (fairseq → acdc), applied by [`FAIRSEQ_KEY_REMAP`] then burn's PyTorch adapter:
//! - fine-tuned checkpoints: the `model.` prefix (`MaeImageClassificationModel.model`) is dropped
//! - `modality_encoders.IMAGE.extra_tokens [1, 1, D]` → `cls_token`
//! - `modality_encoders.IMAGE.local_encoder.proj.{weight, bias}` → `patch_embed.{weight, bias}`
//! - `modality_encoders.IMAGE.context_encoder.norm.{weight, bias}` → `pre_norm.{gamma, beta}`
//! - `blocks.N.attn.{qkv, proj}` → `blocks.N.{qkv, proj}`; `blocks.N.mlp.fc{1,2}` → `blocks.N.fc{1,2}`;
//!   `blocks.N.norm{1,2}` → `blocks.N.norm{1,2}`
//! - ignored ([`FAIRSEQ_IGNORED`]): the EMA teacher `_ema.*` (acdc loads the student, as fairseq's
//!   `load_model_ensemble_and_task` and EAT's feature extraction do), the pretraining CNN decoder
//!   `modality_encoders.IMAGE.decoder.*`, the fixed sin-cos table
//!   `modality_encoders.IMAGE.fixed_positional_encoder.positions` (acdc computes it), the
//!   pretraining-only `recon_proj`, `cls_proj` and `center`, and the fine-tuned classifier
//!   `fc_norm.*` / `head.*`.
//!
//! Every other tensor, a missing tensor or a shape mismatch is an error naming it.

use std::path::Path;

use burn::store::pytorch_reader::{PickleValue, PytorchReader};
use burn::store::PytorchStore;
use burn::tensor::{Device, FloatDType};

use super::eat_checkpoint::{eat_config_from_raw, RawEatConfig};
use super::encoder::{Eat, EatConfig};
use super::hf::{describe_load_error, Coverage, HfError};

/// Regex renames from fairseq keys to acdc module paths (before burn's PyTorch adapter).
pub const FAIRSEQ_KEY_REMAP: &[(&str, &str)] = &[
    (r"^model\.", ""),
    (r"^modality_encoders\.IMAGE\.extra_tokens$", "cls_token"),
    (
        r"^modality_encoders\.IMAGE\.local_encoder\.proj\.",
        "patch_embed.",
    ),
    (
        r"^modality_encoders\.IMAGE\.context_encoder\.norm\.",
        "pre_norm.",
    ),
    (r"\.attn\.(qkv|proj)\.", ".$1."),
    (r"\.mlp\.(fc1|fc2)\.", ".$1."),
];

/// Checkpoint tensors acdc has no place for, on purpose (see the module docs), after
/// [`FAIRSEQ_KEY_REMAP`].
pub const FAIRSEQ_IGNORED: &[&str] = &[
    r"^_ema\.",
    r"^modality_encoders\.IMAGE\.decoder\.",
    r"^modality_encoders\.IMAGE\.fixed_positional_encoder\.positions$",
    r"^(recon_proj|cls_proj)\.(weight|bias)$",
    r"^center$",
    r"^fc_norm\.(weight|bias)$",
    r"^head\.(weight|bias)$",
];

/// The acdc name a fairseq key loads into: [`FAIRSEQ_KEY_REMAP`] applied as burn's key remapper
/// applies it (each rule, in order, to every match).
fn remapped(key: &str) -> String {
    let mut name = key.to_string();
    for (from, to) in FAIRSEQ_KEY_REMAP {
        let re = regex::Regex::new(from).expect("valid regex");
        name = re.replace_all(&name, *to).into_owned();
    }
    name
}

/// The checkpoint key behind an acdc tensor name, among `keys`: the key that remaps to it, with
/// burn's PyTorch adapter's renaming of norm parameters (`weight` → `gamma`, `bias` → `beta`).
fn checkpoint_key<'k>(name: &str, keys: &'k [String]) -> Option<&'k String> {
    let as_torch = |suffix: &str, torch: &str| {
        name.strip_suffix(suffix)
            .map(|stem| format!("{stem}{torch}"))
    };
    let candidates: Vec<String> = std::iter::once(Some(name.to_string()))
        .chain([as_torch(".gamma", ".weight"), as_torch(".beta", ".bias")])
        .flatten()
        .collect();
    keys.iter().find(|k| candidates.contains(&remapped(k)))
}

/// Errors name acdc's tensor names; a researcher looks for the checkpoint's. Each backquoted
/// name that came from a differently named checkpoint key gets that key beside it.
fn with_checkpoint_keys(path: &Path, message: String) -> String {
    let Ok(reader) = PytorchReader::with_top_level_key(path, "model") else {
        return message;
    };
    let keys = reader.keys();
    let re = regex::Regex::new(r"`([^`]+)`").expect("valid regex");
    re.replace_all(&message, |c: &regex::Captures<'_>| {
        match checkpoint_key(&c[1], &keys) {
            Some(k) if k != &c[1] => format!("`{}` (checkpoint key `{k}`)", &c[1]),
            _ => c[0].to_string(),
        }
    })
    .into_owned()
}

/// A dotted path into the pickled `cfg`, for reading values and naming them in errors.
struct CfgNode<'a> {
    value: &'a PickleValue,
    at: String,
}

impl<'a> CfgNode<'a> {
    fn get(&self, key: &str) -> Option<CfgNode<'a>> {
        match self.value {
            PickleValue::Dict(d) => d.get(key).map(|value| CfgNode {
                value,
                at: format!("{}.{key}", self.at),
            }),
            _ => None,
        }
    }

    fn need(&self, key: &str, path: &Path) -> Result<CfgNode<'a>, HfError> {
        self.get(key).ok_or_else(|| HfError::Config {
            path: path.into(),
            message: format!(
                "the checkpoint's training config has no `{}.{key}`",
                self.at
            ),
        })
    }

    fn wrong(&self, path: &Path, what: &str) -> HfError {
        HfError::Config {
            path: path.into(),
            message: format!("`{}` is {:?}, expected {what}", self.at, self.value),
        }
    }

    fn usize(&self, key: &str, path: &Path) -> Result<usize, HfError> {
        let n = self.need(key, path)?;
        match n.value {
            PickleValue::Int(i) if *i >= 0 => Ok(*i as usize),
            _ => Err(n.wrong(path, "a non-negative integer")),
        }
    }

    fn f64(&self, key: &str, path: &Path) -> Result<Option<f64>, HfError> {
        let Some(n) = self.get(key) else {
            return Ok(None);
        };
        match n.value {
            PickleValue::None => Ok(None),
            PickleValue::Float(f) => Ok(Some(*f)),
            PickleValue::Int(i) => Ok(Some(*i as f64)),
            _ => Err(n.wrong(path, "a number")),
        }
    }

    fn bool(&self, key: &str, path: &Path) -> Result<Option<bool>, HfError> {
        let Some(n) = self.get(key) else {
            return Ok(None);
        };
        match n.value {
            PickleValue::None => Ok(None),
            PickleValue::Bool(b) => Ok(Some(*b)),
            _ => Err(n.wrong(path, "true or false")),
        }
    }

    fn str(&self, key: &str) -> Option<&'a str> {
        match self.get(key)?.value {
            PickleValue::String(s) => Some(s.as_str()),
            _ => None,
        }
    }
}

/// EAT's config from a fairseq checkpoint's `cfg` (see the module docs for where it is read).
pub fn fairseq_eat_config(path: &Path) -> Result<EatConfig, HfError> {
    let cfg = PytorchReader::read_pickle_data(path, Some("cfg")).map_err(|e| HfError::Config {
        path: path.into(),
        message: format!("not a fairseq checkpoint with a training config (`cfg`): {e}"),
    })?;
    let root = CfgNode {
        value: &cfg,
        at: "cfg".into(),
    };
    let model = root.need("model", path)?;
    let (d2v, eps_override) = match model.str("_name") {
        Some("data2vec_multi") => (model, None),
        name => match model.get("pretrained_model_args") {
            Some(p) if !matches!(p.value, PickleValue::None) => {
                (p.need("model", path)?, model.f64("norm_eps", path)?)
            }
            _ => {
                return Err(HfError::Config {
                    path: path.into(),
                    message: format!(
                        "`cfg.model._name` is {name:?}: neither EAT's pretraining model (`data2vec_multi`) nor a fine-tuned model with `pretrained_model_args`"
                    ),
                })
            }
        },
    };
    if let Some(name) = d2v.str("_name") {
        if name != "data2vec_multi" {
            return Err(HfError::Config {
                path: path.into(),
                message: format!("`{}._name` is `{name}`, not EAT's `data2vec_multi`", d2v.at),
            });
        }
    }
    let image = d2v.need("modalities", path)?.need("image", path)?;
    let embed_dim = d2v.usize("embed_dim", path)?;
    let refuse = |key: String, why: &str| HfError::Config {
        path: path.into(),
        message: format!("`{key}`: {why}; acdc implements EAT's layout"),
    };
    if image.usize("prenet_depth", path)? != 0 {
        return Err(refuse(
            format!("{}.prenet_depth", image.at),
            "modality prenet blocks are not supported (EAT uses 0)",
        ));
    }
    if image.usize("num_extra_tokens", path)? != 1 {
        return Err(refuse(
            format!("{}.num_extra_tokens", image.at),
            "exactly one extra (CLS) token is supported",
        ));
    }
    if image.bool("use_alibi_encoder", path)? == Some(true) {
        return Err(refuse(
            format!("{}.use_alibi_encoder", image.at),
            "ALiBi attention biases are not supported",
        ));
    }
    if image.bool("fixed_positions", path)? == Some(false) {
        return Err(refuse(
            format!("{}.fixed_positions", image.at),
            "EAT adds a fixed sin-cos positional table",
        ));
    }
    if let Some(dim) = image.get("embed_dim") {
        if image.usize("embed_dim", path)? != embed_dim {
            return Err(refuse(
                dim.at,
                "a patch embedding narrower than the model (projected by a Linear) is not supported",
            ));
        }
    }
    // EAT's `PatchEmbed_new` is built without a stride, so it strides by its default 16 whatever
    // the patch size; acdc's patches do not overlap.
    let patch = image.usize("patch_size", path)?;
    if patch != 16 {
        return Err(refuse(
            format!("{}.patch_size", image.at),
            "EAT's patch embedding strides by 16, so only 16 × 16 patches do not overlap",
        ));
    }
    if image.usize("in_chans", path)? != 1 {
        return Err(refuse(
            format!("{}.in_chans", image.at),
            "EAT reads one fbank channel (1)",
        ));
    }
    let raw = RawEatConfig {
        model_type: None,
        embed_dim,
        depth: d2v.usize("depth", path)?,
        num_heads: d2v.usize("num_heads", path)?,
        mlp_ratio: d2v.f64("mlp_ratio", path)?,
        patch_size: Some(patch),
        stride: Some(16),
        mel_bins: None,
        in_chans: Some(1),
        norm_eps: eps_override.or(d2v.f64("norm_eps", path)?),
        qkv_bias: None,
        layer_norm_first: d2v.bool("layer_norm_first", path)?,
        norm_affine: d2v.bool("norm_affine", path)?,
    };
    eat_config_from_raw(raw, path)
}

/// Load an EAT encoder (the student) from a fairseq checkpoint file onto `device`, in f32, read
/// and cast on the CPU first like the other loaders.
pub fn load_eat_fairseq(path: &Path, device: &Device) -> Result<(EatConfig, Eat), HfError> {
    use burn::module::Module;
    use burn::store::ModuleSnapshot;
    let cpu = Device::flex();
    let cfg = fairseq_eat_config(path)?;
    let mut model = cfg.init(&cpu);
    let mut store = PytorchStore::from_file(path)
        .with_top_level_key("model")
        .allow_partial(true)
        .map_indices_contiguous(false);
    for (from, to) in FAIRSEQ_KEY_REMAP {
        store = store.with_key_remapping(*from, *to);
    }
    let r = model.load_from(&mut store).map_err(|e| HfError::Weights {
        path: path.into(),
        message: with_checkpoint_keys(path, describe_load_error(&e)),
    })?;
    let ignored: Vec<regex::Regex> = FAIRSEQ_IGNORED
        .iter()
        .map(|r| regex::Regex::new(r).expect("valid regex"))
        .collect();
    let mut coverage = Coverage::default();
    coverage
        .add(&r, path, Some(&ignored), "encoder")
        .map_err(|e| match e {
            HfError::Weights { path, message } => HfError::Weights {
                message: with_checkpoint_keys(&path, message),
                path,
            },
            other => other,
        })?;
    coverage.finish(path, "encoder")?;
    let model = super::cast_floats(model, FloatDType::F32);
    if *device == cpu {
        return Ok((cfg, model));
    }
    Ok((cfg, model.to_device(device)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Error messages can name the checkpoint key behind each acdc tensor name, through the
    /// remapping and burn's norm renaming, for pretraining and fine-tuned (`model.`) layouts.
    #[test]
    fn acdc_names_lead_back_to_checkpoint_keys() {
        let keys: Vec<String> = [
            "modality_encoders.IMAGE.local_encoder.proj.weight",
            "modality_encoders.IMAGE.context_encoder.norm.weight",
            "model.blocks.3.attn.qkv.bias",
            "blocks.0.norm1.bias",
            "_ema.blocks.0.norm1.bias",
        ]
        .map(String::from)
        .to_vec();
        let key = |name: &str| checkpoint_key(name, &keys).map(String::as_str);
        assert_eq!(
            key("patch_embed.weight"),
            Some("modality_encoders.IMAGE.local_encoder.proj.weight")
        );
        assert_eq!(
            key("pre_norm.gamma"),
            Some("modality_encoders.IMAGE.context_encoder.norm.weight")
        );
        assert_eq!(
            key("blocks.3.qkv.bias"),
            Some("model.blocks.3.attn.qkv.bias")
        );
        assert_eq!(key("blocks.0.norm1.beta"), Some("blocks.0.norm1.bias"));
        assert_eq!(key("blocks.9.fc1.weight"), None);
    }
}
