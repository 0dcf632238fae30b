//! Backbones: what a run's `backbone` key resolves to — tokenizer, chat format and LLM architecture
//! with its weights. `builtin:tiny` is a Llama-architecture model at a tiny width with fixed-seed
//! random weights and a byte-level BPE trained on the synthetic world's text (Llama-3 specials and
//! chat format), materialised once under `$ACDC_HOME/models/builtin-tiny/`.

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use super::encoder::{Eat, EatConfig};
use super::llm::{Llama, LlamaConfig};
use crate::home::Home;
use crate::text::tokenizer::TokenizerError;
use crate::text::{ChatFormat, TextTokenizer};

/// Seed of builtin:tiny's frozen weights (a backbone is one fixed model, whatever the run seed).
pub const BUILTIN_TINY_SEED: u64 = 0x7197;
/// Seed of builtin:tiny-eat's frozen weights.
pub const BUILTIN_TINY_EAT_SEED: u64 = 0xEA7;
/// Size of builtin:tiny's BPE vocabulary (specials included).
pub const BUILTIN_TINY_VOCAB: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum BackboneError {
    #[error("backbone `{id}`: {message}")]
    Unsupported { id: String, message: String },
    #[error("encoder `{id}`: {message}")]
    Encoder { id: String, message: String },
    #[error("backbone `{id}`: {source}")]
    Tokenizer { id: String, source: TokenizerError },
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// Fetching a backbone or encoder from the Hub (the message names the repo).
    #[error(transparent)]
    Hub(Box<crate::hub::HubError>),
}

/// A resolved backbone.
#[derive(Debug, Clone)]
pub struct Backbone {
    pub id: String,
    pub tokenizer: TextTokenizer,
    pub chat: ChatFormat,
    pub config: LlamaConfig,
    /// Changes whenever the weights or tokenizer would (keys the targets cache).
    pub fingerprint: String,
    /// Where the weights come from.
    pub weights: Weights,
    /// End-of-sequence ids from `generation_config.json` (empty for builtins).
    pub eos: Vec<u32>,
}

/// The `eos_token_id` (an id or a list) of a model directory's `generation_config.json`.
pub fn generation_eos(dir: &Path) -> Vec<u32> {
    let Ok(text) = std::fs::read_to_string(dir.join("generation_config.json")) else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    match &v["eos_token_id"] {
        serde_json::Value::Number(n) => n.as_u64().map(|x| vec![x as u32]).unwrap_or_default(),
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_u64().map(|x| x as u32))
            .collect(),
        _ => Vec::new(),
    }
}

impl Backbone {
    /// Ids that end a reply: the chat format's end of turn and end of text, plus the checkpoint's
    /// `generation_config.json` eos ids.
    pub fn stop_ids(&self) -> Vec<u32> {
        let mut v = crate::text::prompt::stop_ids(&self.tokenizer, &self.chat);
        for e in &self.eos {
            if !v.contains(e) {
                v.push(*e);
            }
        }
        v
    }
}

/// The source of a backbone's weights.
#[derive(Debug, Clone, PartialEq)]
pub enum Weights {
    /// The seeded initialisation is the model (`builtin:tiny`).
    Seeded,
    /// A burnpack of the whole LLM over the seeded initialisation (`builtin:tiny-chat`).
    Burnpack(PathBuf),
    /// A Hugging Face model directory (config.json + safetensors).
    HfDir(PathBuf),
}

/// Resolve a Hugging Face model id or directory to a local directory: a directory with a
/// `config.json` as given, else the Hub repository of that id through [`crate::hub`] — its cached
/// snapshot, or downloaded into the cache Python shares (`HF_HUB_CACHE` / `HF_HOME`; never with
/// `HF_HUB_OFFLINE=1`, where a missing id is an error naming it).
pub fn resolve_model_dir(id: &str) -> Result<PathBuf, BackboneError> {
    let p = PathBuf::from(id);
    if p.join("config.json").exists() {
        return Ok(p);
    }
    let unsupported = |message: String| BackboneError::Unsupported {
        id: id.into(),
        message,
    };
    if p.is_dir() {
        return Err(unsupported(format!(
            "the directory {} has no config.json (a Hugging Face model directory has)",
            p.display()
        )));
    }
    if !crate::hub::is_repo_id(id) {
        return Err(unsupported(format!(
            "no such model directory ({} has no config.json), and not a Hub repo id (`owner/name`)",
            p.display()
        )));
    }
    let dir = crate::hub::Hub::from_env()
        .snapshot(crate::hub::RepoKind::Model, id, &crate::hub::model_file)
        .map_err(|e| BackboneError::Hub(Box::new(e)))?;
    if !dir.join("config.json").exists() {
        return Err(unsupported(format!(
            "the Hub repository has no config.json (snapshot {})",
            dir.display()
        )));
    }
    Ok(dir)
}

/// Where `builtin:tiny-eat-events` keeps its pretrained weights (built by
/// `train::pretrain_encoder`): `builtin-tiny-eat-events-vN`, N its recipe version
/// (`spec::run_id::BUILTIN_RECIPES`, which run ids cover too). v1 is the first recipe; it lived
/// in `builtin-tiny-eat-events/` before the version entered its folder and run ids.
pub fn tiny_eat_events_weights(home: &Path) -> PathBuf {
    let version =
        crate::spec::run_id::builtin_recipe("builtin:tiny-eat-events").expect("a listed recipe");
    Home::new(home)
        .model_dir(&format!("builtin-tiny-eat-events-v{version}"))
        .join("model.bpk")
}

/// Where `builtin:tiny-chat` keeps its tokenizer and pretrained weights: `builtin-tiny-chat-vN`,
/// N its recipe version (`spec::run_id::BUILTIN_RECIPES`, which run ids cover too). v7: v6's
/// recipe with balanced order pairs in the corpus (`CorpusShape::balanced_order_pairs`), the
/// best of fifteen builds on validation worlds 1–3; v6: v5's corpus, each batch split over two
/// threads, 9 000 steps; v5: its corpus asks when a missing
/// sound begins, 14 000 steps; v3 was the first 64-d model (10 000
/// steps), v2 the 128-d one, the first lived in `builtin-tiny-chat/`; v4 (the v5 corpus at
/// 10 000 steps) was never released.
pub fn tiny_chat_dir(home: &Path) -> PathBuf {
    let version =
        crate::spec::run_id::builtin_recipe("builtin:tiny-chat").expect("a listed recipe");
    Home::new(home).model_dir(&format!("builtin-tiny-chat-v{version}"))
}

/// `builtin:tiny-chat`'s pretrained weights (written last when it is built).
pub fn tiny_chat_weights(home: &Path) -> PathBuf {
    tiny_chat_dir(home).join("model.bpk")
}

/// The untrained `builtin:tiny-chat` over its `tokenizer`: seeded weights, Llama-3 chat format.
pub fn tiny_chat_base(tokenizer: TextTokenizer) -> Backbone {
    let config = super::builtin_tiny_chat_llm(tokenizer.vocab_size());
    Backbone {
        id: "builtin:tiny-chat".into(),
        fingerprint: String::new(),
        tokenizer,
        chat: ChatFormat::llama3(),
        config,
        weights: Weights::Seeded,
        eos: Vec::new(),
    }
}

impl Backbone {
    /// Resolve a backbone id. Only `builtin:tiny` is available until Hugging Face loading lands.
    pub fn resolve(id: &str, home: &Path) -> Result<Backbone, BackboneError> {
        match id {
            "builtin:tiny-chat" => {
                let built = "builtin:tiny-chat is built by `acdc run` on first use";
                let w = tiny_chat_weights(home);
                let bytes = std::fs::read(&w).map_err(|e| BackboneError::Io {
                    path: w.clone(),
                    message: format!("{e} ({built})"),
                })?;
                let tok_path = tiny_chat_dir(home).join("tokenizer.json");
                let tokenizer = TextTokenizer::from_file(&tok_path).map_err(|source| {
                    BackboneError::Tokenizer {
                        id: id.into(),
                        source,
                    }
                })?;
                use sha2::Digest;
                let sha = hex::encode(sha2::Sha256::digest(&bytes));
                let mut b = tiny_chat_base(tokenizer);
                let tok_json = b.tokenizer.inner.to_string(false).unwrap_or_default();
                b.fingerprint = crate::model::fingerprint(&[
                    id,
                    &format!("{:?}", b.config),
                    &BUILTIN_TINY_SEED.to_string(),
                    &tok_json,
                    &sha,
                ]);
                b.weights = Weights::Burnpack(w);
                Ok(b)
            }
            "builtin:tiny" => {
                let dir = Home::new(home).model_dir("builtin-tiny");
                let tok_path = dir.join("tokenizer.json");
                let tokenizer = if tok_path.exists() {
                    TextTokenizer::from_file(&tok_path).map_err(|source| {
                        BackboneError::Tokenizer {
                            id: id.into(),
                            source,
                        }
                    })?
                } else {
                    let corpus = crate::data::synth::text_corpus(400, 0, 5.0);
                    let t = TextTokenizer::train_byte_level_bpe(&corpus, BUILTIN_TINY_VOCAB)
                        .map_err(|source| BackboneError::Tokenizer {
                            id: id.into(),
                            source,
                        })?;
                    std::fs::create_dir_all(&dir).map_err(|e| BackboneError::Io {
                        path: dir.clone(),
                        message: e.to_string(),
                    })?;
                    // Write then rename, so concurrent workers never read half a file.
                    let tmp = dir.join(format!("tokenizer.json.{}", std::process::id()));
                    t.save(&tmp).map_err(|source| BackboneError::Tokenizer {
                        id: id.into(),
                        source,
                    })?;
                    crate::pause::point("model-build");
                    std::fs::rename(&tmp, &tok_path).map_err(|e| BackboneError::Io {
                        path: tok_path.clone(),
                        message: e.to_string(),
                    })?;
                    TextTokenizer::from_file(&tok_path).map_err(|source| {
                        BackboneError::Tokenizer {
                            id: id.into(),
                            source,
                        }
                    })?
                };
                let config = super::builtin_tiny_llm(tokenizer.vocab_size());
                let tok_json = tokenizer.inner.to_string(false).unwrap_or_default();
                let fingerprint = crate::model::fingerprint(&[
                    id,
                    &format!("{config:?}"),
                    &BUILTIN_TINY_SEED.to_string(),
                    &tok_json,
                ]);
                Ok(Backbone {
                    id: id.into(),
                    tokenizer,
                    chat: ChatFormat::llama3(),
                    config,
                    fingerprint,
                    weights: Weights::Seeded,
                    eos: Vec::new(),
                })
            }
            other if other.starts_with("builtin:") => Err(BackboneError::Unsupported {
                id: other.into(),
                message: "unknown builtin backbone; builtins: builtin:tiny, builtin:tiny-chat"
                    .into(),
            }),
            other => {
                let dir = resolve_model_dir(other)?;
                let tok_path = dir.join("tokenizer.json");
                let tokenizer = TextTokenizer::from_file(&tok_path).map_err(|source| {
                    BackboneError::Tokenizer {
                        id: id.into(),
                        source,
                    }
                })?;
                let config =
                    super::hf::config_from_file(&dir.join("config.json")).map_err(|e| {
                        BackboneError::Unsupported {
                            id: id.into(),
                            message: e.to_string(),
                        }
                    })?;
                let chat = match crate::text::template::JinjaTemplate::from_model_dir(&dir) {
                    Ok(Some(t)) => ChatFormat::Jinja(t),
                    Ok(None) if tokenizer.inner.token_to_id("<|start_header_id|>").is_some() => ChatFormat::llama3(),
                    Ok(None) => {
                        return Err(BackboneError::Unsupported {
                            id: id.into(),
                            message: "no chat template (tokenizer_config.json `chat_template` or chat_template.jinja) and not a Llama-3 tokenizer".into(),
                        })
                    }
                    Err(e) => return Err(BackboneError::Unsupported { id: id.into(), message: e.to_string() }),
                };
                let mut parts = vec![
                    std::fs::read_to_string(dir.join("config.json")).unwrap_or_default(),
                    std::fs::read_to_string(&tok_path).unwrap_or_default(),
                    std::fs::read_to_string(dir.join("generation_config.json")).unwrap_or_default(),
                    format!("{chat:?}"),
                ];
                for f in super::hf::weight_files(&dir).map_err(|e| BackboneError::Unsupported {
                    id: id.into(),
                    message: e.to_string(),
                })? {
                    parts.push(weight_file_identity(&f));
                }
                let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
                let fingerprint = crate::model::fingerprint(&refs);
                let eos = generation_eos(&dir);
                Ok(Backbone {
                    id: id.into(),
                    tokenizer,
                    chat,
                    config,
                    fingerprint,
                    weights: Weights::HfDir(dir),
                    eos,
                })
            }
        }
    }

    /// The LLM with its (frozen) weights.
    pub fn load_llm(&self, device: &Device) -> Result<Llama, BackboneError> {
        if let Weights::HfDir(dir) = &self.weights {
            return super::hf::load_llama(dir, device)
                .map(|(_, m)| m)
                .map_err(|e| BackboneError::Unsupported {
                    id: self.id.clone(),
                    message: e.to_string(),
                });
        }
        let mut m = super::init_seeded(device, BUILTIN_TINY_SEED, || self.config.init(device));
        if let Weights::Burnpack(w) = &self.weights {
            use burn::store::{BurnpackStore, ModuleSnapshot};
            let mut store = BurnpackStore::from_file(w).auto_extension(false);
            let r = m.load_from(&mut store).map_err(|e| BackboneError::Io {
                path: w.clone(),
                message: e.to_string(),
            })?;
            if !r.errors.is_empty() || !r.missing.is_empty() {
                return Err(BackboneError::Io {
                    path: w.clone(),
                    message: format!(
                        "weights do not fit the model: {} error(s), {} missing tensor(s)",
                        r.errors.len(),
                        r.missing.len()
                    ),
                });
            }
        }
        Ok(m)
    }
}

/// What identifies a weight file's content without reading all of it: in the Hugging Face cache
/// the blob it links to (named by its sha256); elsewhere its name, size and a sha256 over its
/// first, middle and last MiB (two checkpoints of one shape differ there; a copy does not).
fn weight_file_identity(f: &Path) -> String {
    use sha2::{Digest, Sha256};
    use std::io::{Read, Seek, SeekFrom};
    let name = f
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    if let Ok(target) = std::fs::read_link(f) {
        if let Some(blob) = target.file_name() {
            return format!("{name}:blob:{}", blob.to_string_lossy());
        }
    }
    let Ok(mut file) = std::fs::File::open(f) else {
        return format!("{name}:unreadable");
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    const MIB: u64 = 1 << 20;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; MIB as usize];
    for at in [0, len.saturating_sub(MIB) / 2, len.saturating_sub(MIB)] {
        if file.seek(SeekFrom::Start(at)).is_ok() {
            let n = file.read(&mut buf).unwrap_or(0);
            h.update(&buf[..n]);
        }
    }
    format!("{name}:{len}:{}", hex::encode(h.finalize()))
}

/// Resolve an encoder checkpoint: (config, model). `builtin:tiny-eat`, an original fairseq EAT
/// checkpoint file (`EAT-base_epoch30_pretrain.pt`, …), or an EAT Hugging Face model directory /
/// cached id (`worstchan/EAT-base_epoch30_finetune_AS2M`, …).
pub fn load_encoder(
    id: &str,
    home: &Path,
    device: &Device,
) -> Result<(EatConfig, Eat), BackboneError> {
    let fail = |message: String| BackboneError::Encoder {
        id: id.into(),
        message,
    };
    let path = Path::new(id);
    match id {
        "builtin:tiny-eat" => {
            let cfg = super::builtin_tiny_eat();
            let m = super::init_seeded(device, BUILTIN_TINY_EAT_SEED, || cfg.init(device));
            Ok((cfg, m))
        }
        "builtin:tiny-eat-events" => {
            let cfg = super::builtin_tiny_eat_events();
            let mut m = super::init_seeded(device, BUILTIN_TINY_EAT_SEED, || cfg.init(device));
            let w = tiny_eat_events_weights(home);
            if !w.exists() {
                return Err(fail(format!(
                    "{} is missing (builtin:tiny-eat-events is built by `acdc run` on first use)",
                    w.display()
                )));
            }
            use burn::store::{BurnpackStore, ModuleSnapshot};
            let mut store = BurnpackStore::from_file(&w).auto_extension(false);
            let r = m.load_from(&mut store).map_err(|e| BackboneError::Io {
                path: w.clone(),
                message: e.to_string(),
            })?;
            if !r.errors.is_empty() || !r.missing.is_empty() {
                return Err(BackboneError::Io {
                    path: w,
                    message: format!(
                        "weights do not fit the encoder: {} error(s), {} missing tensor(s)",
                        r.errors.len(),
                        r.missing.len()
                    ),
                });
            }
            Ok((cfg, m))
        }
        other if other.starts_with("builtin:") => Err(fail(
            "unknown builtin encoder; builtins: builtin:tiny-eat, builtin:tiny-eat-events".into(),
        )),
        _ if path.extension().is_some_and(|e| e == "safetensors") && path.is_file() => Err(fail(
            "a safetensors file: give its Hugging Face model directory (with config.json) instead"
                .into(),
        )),
        // Any other file is taken for a PyTorch checkpoint (fairseq saves `.pt`, but names vary).
        _ if path.is_file() => {
            super::eat_fairseq::load_eat_fairseq(path, device).map_err(|e| {
                // The label already names the file.
                let m = e.to_string();
                fail(
                    m.strip_prefix(&format!("{id}: "))
                        .map_or(m.clone(), str::to_string),
                )
            })
        }
        other => {
            let dir = resolve_model_dir(other).map_err(|e| match e {
                BackboneError::Unsupported { message, .. } => fail(message),
                // The hub names the repo as a model; this one is an encoder.
                BackboneError::Hub(h) => {
                    let m = h.to_string();
                    fail(
                        m.strip_prefix(&format!("model `{other}`: "))
                            .map_or(m.clone(), str::to_string),
                    )
                }
                e => e,
            })?;
            super::eat_checkpoint::load_eat(&dir, device).map_err(|e| fail(e.to_string()))
        }
    }
}

/// The whole AC/DC model of a run on `device`: frozen backbone and encoder (in `train.precision`),
/// fresh adapter (and LoRA factors in `lora` mode) initialised from the run's seed, in f32.
pub fn build_for_run(
    cfg: &crate::spec::RunConfig,
    backbone: &Backbone,
    home: &Path,
    device: &Device,
) -> Result<super::audio_llm::AudioLlm, BackboneError> {
    let frozen = cfg.train.precision.float_dtype();
    if !device.supports_dtype(frozen) {
        return Err(BackboneError::Unsupported {
            id: cfg.backbone.clone(),
            message: format!(
                "train.precision = {:?}: this device cannot compute in {frozen:?} (burn's wgpu backends have no bf16 arithmetic; use \"f16\" there)",
                cfg.train.precision
            ),
        });
    }
    let llm = super::cast_floats(backbone.load_llm(device)?, frozen);
    let (eat_cfg, encoder) = load_encoder(&cfg.encoder.checkpoint, home, device)?;
    let encoder = if cfg.encoder.trainable {
        encoder
    } else {
        super::cast_floats(encoder, frozen)
    };
    let lora = (cfg.llm.mode == crate::spec::schema::LlmMode::Lora).then_some(&cfg.llm.lora);
    Ok(super::assemble(
        llm,
        encoder,
        &eat_cfg,
        cfg.adapter.downsample,
        cfg.adapter.hidden,
        lora,
        cfg.seed,
        device,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Same-shape checkpoints with other weights differ; a copy of one does not.
    #[test]
    fn weight_identity_sees_content_not_location() {
        let d = tempfile::tempdir().unwrap();
        let write = |dir: &str, at: usize| {
            let mut bytes = vec![7u8; 3 << 20];
            bytes[at] = 1;
            std::fs::create_dir_all(d.path().join(dir)).unwrap();
            let p = d.path().join(dir).join("model.safetensors");
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let a = write("a", 10);
        std::fs::create_dir(d.path().join("copy")).unwrap();
        let copy = d.path().join("copy/model.safetensors");
        std::fs::copy(&a, &copy).unwrap();
        assert_eq!(weight_file_identity(&a), weight_file_identity(&copy));
        let b2 = write("b", (3 << 20) - 5);
        assert_ne!(weight_file_identity(&a), weight_file_identity(&b2));
    }

    /// The frozen LLM that writes dialogue targets (inference device) is the one that is trained
    /// against (autodiff device), whatever the RNG did before.
    #[test]
    fn builtin_weights_are_fixed_across_devices_and_rng_history() {
        let cfg = crate::model::builtin_tiny_llm(64);
        let bb = Backbone {
            id: "builtin:tiny".into(),
            tokenizer: TextTokenizer::train_byte_level_bpe(&["a b c".into()], 300).unwrap(),
            chat: ChatFormat::llama3(),
            config: cfg,
            fingerprint: String::new(),
            weights: Weights::Seeded,
            eos: Vec::new(),
        };
        let a = Device::flex();
        let w1: Vec<f32> = bb.load_llm(&a).unwrap().layers[1]
            .mlp
            .up_proj
            .base
            .weight
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let b = Device::flex().autodiff();
        b.seed(12345);
        let _ = burn::tensor::Tensor::<1>::random([10], burn::tensor::Distribution::Default, &b);
        let w2: Vec<f32> = bb.load_llm(&b).unwrap().layers[1]
            .mlp
            .up_proj
            .base
            .weight
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(w1, w2);
    }
}
