//! Models in burn: the Llama-family LLM, the EAT encoder, the adapter, LoRA, and their composition.

pub mod adapter;
pub mod audio_llm;
pub mod backbone;
pub mod device;
pub mod eat_checkpoint;
pub mod eat_fairseq;
pub mod encoder;
pub mod hf;
pub mod llm;
pub mod lora;
pub mod peft;

use burn::tensor::Device;

use adapter::AdapterConfig;
use audio_llm::AudioLlm;
use encoder::{Eat, EatConfig};
use llm::{Llama, LlamaConfig};

/// The `builtin:tiny` LLM architecture for a tokenizer of `vocab_size` ids.
pub fn builtin_tiny_llm(vocab_size: usize) -> LlamaConfig {
    LlamaConfig::new(vocab_size, 64, 176, 2, 4, 2).with_rope_theta(10000.0)
}

/// The `builtin:tiny-chat` LLM architecture (deeper than builtin:tiny: it must learn to answer
/// questions about described scenes in many phrasings) for a tokenizer of `vocab_size` ids. At
/// this width a CPU step costs about half of a 128-d one, and with the same build time the
/// narrower model, trained for more steps, reads descriptions better (probes 0.65 → about 0.86).
pub fn builtin_tiny_chat_llm(vocab_size: usize) -> LlamaConfig {
    LlamaConfig::new(vocab_size, 64, 176, 4, 4, 2).with_rope_theta(10000.0)
}

/// The `builtin:tiny-eat` encoder architecture (EAT at a tiny width).
pub fn builtin_tiny_eat() -> EatConfig {
    EatConfig::new(32, 2, 2)
}

/// The `builtin:tiny-eat-events` encoder architecture: EAT at toy width, wider and deeper than
/// builtin:tiny-eat (its weights are pretrained, see `train::pretrain_encoder`).
pub fn builtin_tiny_eat_events() -> EatConfig {
    EatConfig::new(64, 3, 4)
}

/// Assemble an AC/DC model from a frozen LLM and encoder, with a fresh adapter (and LoRA factors
/// when `lora` is given) initialised from `seed`.
#[allow(clippy::too_many_arguments)] // the parts of a model, each distinct
pub fn assemble(
    llm: Llama,
    encoder: Eat,
    eat: &EatConfig,
    downsample: usize,
    hidden: usize,
    lora: Option<&crate::spec::schema::LoraConfig>,
    seed: u64,
    device: &Device,
) -> AudioLlm {
    init_seeded(device, seed, || {
        let adapter = AdapterConfig::new(eat.embed_dim, llm.hidden_size())
            .with_downsample(downsample)
            .with_hidden(hidden)
            .init(device);
        let adapter = {
            burn::module::Module::visit(&adapter, &mut Materialize);
            adapter
        };
        let llm = match lora {
            Some(l) => llm.with_lora(&l.targets, l.rank, l.alpha, l.dropout, device),
            None => llm,
        };
        AudioLlm {
            encoder,
            adapter,
            llm,
        }
    })
}

struct Materialize;

impl burn::module::ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<burn::tensor::Tensor<D>>) {
        let _ = p.val();
    }
}

/// Build a module from a seeded device RNG and materialise every parameter at once. burn
/// initialises parameters lazily (at first use), so without this the values would depend on
/// whatever the RNG did before that first use — different in a resumed process.
pub fn init_seeded<M: burn::module::Module>(
    device: &Device,
    seed: u64,
    build: impl FnOnce() -> M,
) -> M {
    // The device's RNG is shared by every thread using the device: seeding and drawing happen
    // under one lock, so two models initialised at once (the toy models are built side by side)
    // each get exactly their seed's values.
    static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    device.seed(seed);
    let m = build();
    m.visit(&mut Materialize);
    m
}

struct CastFloats(burn::tensor::FloatDType);

impl burn::module::ModuleMapper for CastFloats {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<burn::tensor::Tensor<D>>,
    ) -> burn::module::Param<burn::tensor::Tensor<D>> {
        let dtype = self.0;
        param.map(|t| {
            if t.dtype() == dtype.into() {
                t
            } else {
                t.cast(dtype)
            }
        })
    }
}

/// Cast every float parameter of a module to `dtype` (weights kept in bf16 on a GPU, say).
pub fn cast_floats<M: burn::module::Module>(m: M, dtype: burn::tensor::FloatDType) -> M {
    m.map(&mut CastFloats(dtype))
}

/// `t` cast to `dtype` unless it already has it.
pub fn to_dtype<const D: usize>(
    t: burn::tensor::Tensor<D>,
    dtype: burn::tensor::DType,
) -> burn::tensor::Tensor<D> {
    if t.dtype() == dtype {
        t
    } else {
        t.cast(burn::tensor::FloatDType::from(dtype))
    }
}

/// Read a float tensor back to the host as f32, whatever its dtype on the device.
pub fn host_f32<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<f32> {
    to_dtype(t, burn::tensor::DType::F32)
        .into_data()
        .try_to_vec::<f32>()
        .expect("an f32 tensor reads back as f32")
}

/// Short sha256 over parts (identity of weights/tokenizers for caches).
pub fn fingerprint(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())[..16].to_string()
}
