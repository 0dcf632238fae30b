//! LoRA adapters in PEFT's format, both ways: load `adapter_config.json` (r, lora_alpha,
//! target_modules, lora_dropout) + `adapter_model.safetensors` onto a Llama-family model, and save
//! trained factors so PEFT loads ours. PEFT stores `lora_A.weight` as `[r, in]` and `lora_B.weight`
//! as `[out, r]` under `base_model.model.model.layers.N.{self_attn,mlp}.<proj>.`; acdc keeps
//! them transposed (`[in, r]`, `[r, out]`). Scale = alpha / r, as PEFT's default (no rsLoRA).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::nn::DropoutConfig;
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};

use super::llm::Llama;
use super::lora::{LoraFactors, LoraLinear};

#[derive(Debug, thiserror::Error)]
pub enum PeftError {
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },
}

/// The fields of PEFT's `adapter_config.json` acdc uses (others are kept when saving).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterConfig {
    pub r: usize,
    pub lora_alpha: f64,
    pub target_modules: Vec<String>,
    #[serde(default)]
    pub lora_dropout: f64,
    #[serde(default = "lora_type")]
    pub peft_type: String,
    #[serde(default)]
    pub use_rslora: bool,
}

fn lora_type() -> String {
    "LORA".into()
}

const PROJS: &[(&str, &str)] = &[
    ("self_attn", "q_proj"),
    ("self_attn", "k_proj"),
    ("self_attn", "v_proj"),
    ("self_attn", "o_proj"),
    ("mlp", "gate_proj"),
    ("mlp", "up_proj"),
    ("mlp", "down_proj"),
];

fn proj_mut<'a>(m: &'a mut Llama, layer: usize, proj: &str) -> &'a mut LoraLinear {
    let l = &mut m.layers[layer];
    match proj {
        "q_proj" => &mut l.self_attn.q_proj,
        "k_proj" => &mut l.self_attn.k_proj,
        "v_proj" => &mut l.self_attn.v_proj,
        "o_proj" => &mut l.self_attn.o_proj,
        "gate_proj" => &mut l.mlp.gate_proj,
        "up_proj" => &mut l.mlp.up_proj,
        _ => &mut l.mlp.down_proj,
    }
}

fn key(layer: usize, group: &str, proj: &str, ab: &str) -> String {
    format!("base_model.model.model.layers.{layer}.{group}.{proj}.lora_{ab}.weight")
}

fn to_f32(view: &TensorView<'_>, name: &str, file: &Path) -> Result<Vec<f32>, PeftError> {
    let d = view.data();
    Ok(match view.dtype() {
        Dtype::F32 => d
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::BF16 => d
            .chunks_exact(2)
            .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
            .collect(),
        Dtype::F16 => d
            .chunks_exact(2)
            .map(|c| half_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        other => {
            return Err(PeftError::Format {
                path: file.into(),
                message: format!("tensor `{name}` has dtype {other:?}; expected F32, BF16 or F16"),
            })
        }
    })
}

fn half_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as i32;
    let man = (h & 0x3ff) as u32;
    let bits = match exp {
        0 if man == 0 => sign,
        0 => {
            // Subnormal: man · 2^-24, exactly representable in f32.
            let v = man as f32 * 2f32.powi(-24);
            sign | v.to_bits()
        }
        31 => sign | 0x7f80_0000 | (man << 13),
        _ => sign | (((exp - 15 + 127) as u32) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; v.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = v[r * cols + c];
        }
    }
    out
}

/// Read a PEFT adapter directory and attach its factors to `model` (frozen, for inference or as a
/// starting point). Every LoRA pair the config's target modules imply must be present.
pub fn load_adapter(
    model: &mut Llama,
    dir: &Path,
    device: &Device,
) -> Result<AdapterConfig, PeftError> {
    let cfg_path = dir.join("adapter_config.json");
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| PeftError::Io {
        path: cfg_path.clone(),
        message: e.to_string(),
    })?;
    let cfg: AdapterConfig = serde_json::from_str(&text).map_err(|e| PeftError::Format {
        path: cfg_path.clone(),
        message: e.to_string(),
    })?;
    if cfg.peft_type != "LORA" {
        return Err(PeftError::Format {
            path: cfg_path,
            message: format!("peft_type `{}` is not LORA", cfg.peft_type),
        });
    }
    if cfg.use_rslora {
        return Err(PeftError::Format {
            path: cfg_path,
            message: "use_rslora = true is not supported (scale alpha/sqrt(r))".into(),
        });
    }
    if let Some(t) = cfg
        .target_modules
        .iter()
        .find(|t| !PROJS.iter().any(|(_, p)| p == t))
    {
        return Err(PeftError::Format {
            path: cfg_path,
            message: format!(
                "target module `{t}` is not a projection of a Llama-family decoder (known: {}); is this an adapter for another architecture?",
                PROJS.iter().map(|(_, p)| *p).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let file = dir.join("adapter_model.safetensors");
    let bytes = std::fs::read(&file).map_err(|e| PeftError::Io {
        path: file.clone(),
        message: e.to_string(),
    })?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| PeftError::Format {
        path: file.clone(),
        message: e.to_string(),
    })?;
    if cfg.r == 0 {
        return Err(PeftError::Format {
            path: cfg_path,
            message: "`r` must be at least 1".into(),
        });
    }
    let expected: std::collections::BTreeSet<String> = (0..model.layers.len())
        .flat_map(|l| {
            PROJS
                .iter()
                .filter(|(_, p)| cfg.target_modules.iter().any(|t| t == p))
                .flat_map(move |(g, p)| [key(l, g, p, "A"), key(l, g, p, "B")])
        })
        .collect();
    let mut extra: Vec<String> = st
        .names()
        .into_iter()
        .filter(|n| !expected.contains(*n))
        .map(str::to_string)
        .collect();
    if !extra.is_empty() {
        extra.sort();
        return Err(PeftError::Format {
            path: file.clone(),
            message: format!(
                "{} tensor(s) have no place in this {}-layer model (an adapter for another model or architecture?), first: `{}`",
                extra.len(),
                model.layers.len(),
                extra[0]
            ),
        });
    }
    let scale = cfg.lora_alpha / cfg.r as f64;
    for layer in 0..model.layers.len() {
        for (group, proj) in PROJS {
            if !cfg.target_modules.iter().any(|t| t == proj) {
                continue;
            }
            let (ka, kb) = (key(layer, group, proj, "A"), key(layer, group, proj, "B"));
            let get = |k: &str| {
                st.tensor(k).map_err(|_| PeftError::Format {
                    path: file.clone(),
                    message: format!("missing tensor `{k}`"),
                })
            };
            let (a, b) = (get(&ka)?, get(&kb)?);
            let target = proj_mut(model, layer, proj);
            let [d_in, d_out] = target.base.weight.dims();
            if a.shape() != [cfg.r, d_in] || b.shape() != [d_out, cfg.r] {
                return Err(PeftError::Format {
                    path: file.clone(),
                    message: format!("`{ka}` is {:?} and `{kb}` is {:?}; expected [{}, {d_in}] and [{d_out}, {}]", a.shape(), b.shape(), cfg.r, cfg.r),
                });
            }
            let at = transpose(&to_f32(&a, &ka, &file)?, cfg.r, d_in);
            let bt = transpose(&to_f32(&b, &kb, &file)?, d_out, cfg.r);
            target.lora = Some(LoraFactors {
                lora_a: Param::from_tensor(Tensor::from_data(
                    TensorData::new(at, [d_in, cfg.r]),
                    device,
                )),
                lora_b: Param::from_tensor(Tensor::from_data(
                    TensorData::new(bt, [cfg.r, d_out]),
                    device,
                )),
                dropout: DropoutConfig::new(cfg.lora_dropout).init(),
                scale,
            });
        }
    }
    Ok(cfg)
}

/// Save the LoRA factors of `model` in PEFT's format (`adapter_config.json` +
/// `adapter_model.safetensors`, float32) so PEFT's `PeftModel.from_pretrained` loads them.
pub fn save_adapter(
    model: &Llama,
    dir: &Path,
    base_model: &str,
    alpha: f64,
    dropout: f64,
) -> Result<AdapterConfig, PeftError> {
    std::fs::create_dir_all(dir).map_err(|e| PeftError::Io {
        path: dir.into(),
        message: e.to_string(),
    })?;
    let mut tensors: BTreeMap<String, (Vec<usize>, Vec<u8>)> = BTreeMap::new();
    let mut targets = std::collections::BTreeSet::new();
    let mut rank = 0;
    for (layer, l) in model.layers.iter().enumerate() {
        let all: [(&str, &str, &LoraLinear); 7] = [
            ("self_attn", "q_proj", &l.self_attn.q_proj),
            ("self_attn", "k_proj", &l.self_attn.k_proj),
            ("self_attn", "v_proj", &l.self_attn.v_proj),
            ("self_attn", "o_proj", &l.self_attn.o_proj),
            ("mlp", "gate_proj", &l.mlp.gate_proj),
            ("mlp", "up_proj", &l.mlp.up_proj),
            ("mlp", "down_proj", &l.mlp.down_proj),
        ];
        for (group, proj, p) in all {
            let Some(f) = &p.lora else { continue };
            targets.insert(proj.to_string());
            let [d_in, r] = f.lora_a.dims();
            let [_, d_out] = f.lora_b.dims();
            rank = r;
            let a: Vec<f32> = f
                .lora_a
                .val()
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| PeftError::Format {
                    path: dir.into(),
                    message: format!("{e:?}"),
                })?;
            let b: Vec<f32> = f
                .lora_b
                .val()
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| PeftError::Format {
                    path: dir.into(),
                    message: format!("{e:?}"),
                })?;
            let bytes = |v: Vec<f32>| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
            tensors.insert(
                key(layer, group, proj, "A"),
                (vec![r, d_in], bytes(transpose(&a, d_in, r))),
            );
            tensors.insert(
                key(layer, group, proj, "B"),
                (vec![d_out, r], bytes(transpose(&b, r, d_out))),
            );
        }
    }
    let file = dir.join("adapter_model.safetensors");
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(k, (shape, data))| {
            (
                k.clone(),
                TensorView::new(Dtype::F32, shape.clone(), data).expect("consistent shape"),
            )
        })
        .collect();
    let meta: std::collections::HashMap<String, String> =
        [("format".to_string(), "pt".to_string())]
            .into_iter()
            .collect();
    let buf = safetensors::tensor::serialize(views, Some(meta)).map_err(|e| PeftError::Format {
        path: file.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&file, buf).map_err(|e| PeftError::Io {
        path: file.clone(),
        message: e.to_string(),
    })?;
    let cfg = AdapterConfig {
        r: rank,
        lora_alpha: alpha,
        target_modules: targets.into_iter().collect(),
        lora_dropout: dropout,
        peft_type: "LORA".into(),
        use_rslora: false,
    };
    let mut json = serde_json::to_value(&cfg).expect("config serialises");
    json["base_model_name_or_path"] = serde_json::Value::String(base_model.into());
    json["task_type"] = serde_json::Value::String("CAUSAL_LM".into());
    json["bias"] = serde_json::Value::String("none".into());
    json["fan_in_fan_out"] = serde_json::Value::Bool(false);
    json["inference_mode"] = serde_json::Value::Bool(true);
    let cfg_path = dir.join("adapter_config.json");
    std::fs::write(
        &cfg_path,
        serde_json::to_string_pretty(&json).expect("json"),
    )
    .map_err(|e| PeftError::Io {
        path: cfg_path,
        message: e.to_string(),
    })?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_round_trips() {
        let device = Device::flex();
        let cfg = crate::model::builtin_tiny_llm(40);
        let base = crate::model::init_seeded(&device, 1, || cfg.init(&device));
        device.seed(5);
        let mut with =
            base.clone()
                .with_lora(&["q_proj".into(), "v_proj".into()], 4, 8.0, 0.0, &device);
        // Give B non-zero values so the adapter matters.
        for l in with.layers.iter_mut() {
            if let Some(f) = l.self_attn.q_proj.lora.as_mut() {
                f.lora_b = Param::from_tensor(Tensor::random(
                    [4, 64],
                    burn::tensor::Distribution::Uniform(-0.5, 0.5),
                    &device,
                ));
            }
        }
        let d = tempfile::tempdir().unwrap();
        let saved = save_adapter(&with, d.path(), "builtin:tiny", 8.0, 0.0).unwrap();
        assert_eq!(saved.target_modules, vec!["q_proj", "v_proj"]);
        let mut loaded = base.clone();
        load_adapter(&mut loaded, d.path(), &device).unwrap();
        let x = Tensor::<3>::ones([1, 3, 64], &device);
        let a: Vec<f32> = with.layers[0]
            .self_attn
            .q_proj
            .forward(x.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let b: Vec<f32> = loaded.layers[0]
            .self_attn
            .q_proj
            .forward(x.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let plain: Vec<f32> = base.layers[0]
            .self_attn
            .q_proj
            .forward(x)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(a, b);
        assert_ne!(a, plain);
    }

    #[test]
    fn half_floats_convert() {
        assert_eq!(half_to_f32(0x3c00), 1.0);
        assert_eq!(half_to_f32(0xc000), -2.0);
        assert_eq!(half_to_f32(0x0001), 5.960_464_5e-8);
    }
}
