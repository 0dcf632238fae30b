//! `builtin:tiny-chat`: a Llama-architecture chat model at toy width
//! ([`crate::model::builtin_tiny_chat_llm`]) with its own byte-level BPE, pretrained on the chat
//! corpus of a held-out synthetic world ([`crate::data::synth::dialogue`]; a seed the quickstart's
//! data never uses), so that it behaves as an instruct LLM does with text about sounds:
//! - a caption alone → a conversational reply restating the whole scene it describes (its
//!   sounds, their order, counts and loudness) — the dialogue-continuation target;
//! - one or several captions of a clip followed by a question → the answer, for many phrasings
//!   of presence, count, order, loudness, onset, source and description questions (the probes'
//!   wordings stay out of the corpus, tested in `dialogue.rs`) — the ability AC/DC hopes the
//!   audio inherits, and what the `text-oracle` reference row measures.
//!
//! Built once per `$ACDC_HOME` (deterministic for the constants below), under a lock so several
//! workers can ask at once.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::batch::build_rows;
use super::schedule::lr_at;
use super::trainer::{clip_global_norm, masked_loss};
use crate::data::synth::dialogue::{corpus, Turn};
use crate::data::synth::text_world;
use crate::model::backbone::{tiny_chat_base, tiny_chat_dir, tiny_chat_weights, Backbone};
use crate::model::llm::{AttnInputs, Llama};
use crate::rng::Rng;
use crate::spec::schema::Schedule;
use crate::text::prompt::{response_ids, text_prompt};
use crate::text::TextTokenizer;

/// Held-out synthetic world the chat model learns from.
pub const CORPUS_CLIPS: usize = 600;
pub const CORPUS_SEED: u64 = 7919;
pub const STEPS: usize = 2000;
pub const BATCH: usize = 16;
pub const LR: f64 = 2e-3;
/// Size of its BPE vocabulary (specials included).
pub const VOCAB: usize = 1024;

/// The chat corpus the model learns from.
pub fn chat_corpus() -> Vec<Turn> {
    corpus(&text_world(CORPUS_CLIPS, CORPUS_SEED, 5.0), CORPUS_SEED)
}

#[derive(Debug, thiserror::Error)]
pub enum PretrainError {
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("building builtin:tiny-chat: {0}")]
    Build(String),
}

impl From<crate::once::LockError> for PretrainError {
    fn from(e: crate::once::LockError) -> Self {
        PretrainError::Io {
            path: e.path.clone(),
            message: format!("lock file for {}: {}", e.what, e.message),
        }
    }
}

/// Make sure `builtin:tiny-chat` exists under `home` (tokenizer and weights); returns the
/// weights' path. `progress(step, steps, loss)` follows the build.
pub fn ensure_tiny_chat(
    home: &Path,
    progress: &mut dyn FnMut(usize, usize, f64),
) -> Result<PathBuf, PretrainError> {
    let weights = tiny_chat_weights(home);
    if weights.exists() {
        return Ok(weights);
    }
    let dir = tiny_chat_dir(home);
    std::fs::create_dir_all(&dir).map_err(|e| PretrainError::Io {
        path: dir.clone(),
        message: e.to_string(),
    })?;
    crate::once::build_once(
        "builtin:tiny-chat's weights",
        &weights,
        &dir.join(".lock"),
        || build(&dir, &weights, progress),
    )?;
    Ok(weights)
}

fn build_err(e: impl std::fmt::Display) -> PretrainError {
    PretrainError::Build(e.to_string())
}

/// Write `path` through a temporary file and a rename, so a reader never sees half of it.
pub(super) fn publish(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), PretrainError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    write(&tmp).map_err(|message| PretrainError::Io {
        path: tmp.clone(),
        message,
    })?;
    std::fs::rename(&tmp, path).map_err(|e| PretrainError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// One epoch of batches in a random order, each of rows of similar length (rows shuffled, then
/// sorted by length within windows of 8 batches), so little of a batch is padding.
fn length_bucketed_batches(
    rows: &[(Vec<u32>, Vec<u32>)],
    batch: usize,
    rng: &mut Rng,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    rng.shuffle(&mut order);
    let mut batches = Vec::with_capacity(rows.len() / batch + 1);
    for window in order.chunks(8 * batch) {
        let mut w = window.to_vec();
        w.sort_by_key(|&i| rows[i].0.len() + rows[i].1.len());
        batches.extend(w.chunks(batch).map(<[usize]>::to_vec));
    }
    rng.shuffle(&mut batches);
    batches
}

fn build(
    dir: &Path,
    weights: &Path,
    progress: &mut dyn FnMut(usize, usize, f64),
) -> Result<(), PretrainError> {
    let turns = chat_corpus();
    let mut texts = Vec::with_capacity(2 * turns.len());
    for t in &turns {
        texts.push(t.user());
        texts.push(t.reply.clone());
    }
    let tok = TextTokenizer::train_byte_level_bpe(&texts, VOCAB).map_err(build_err)?;
    publish(&dir.join("tokenizer.json"), |p| {
        tok.save(p).map_err(|e| e.to_string())
    })?;
    let base = tiny_chat_base(tok);
    let model = train_chat(&base, &turns, STEPS, BATCH, LR, progress)?;
    publish(weights, |p| {
        let mut store = BurnpackStore::from_file(p)
            .overwrite(true)
            .auto_extension(false);
        model.save_into(&mut store).map_err(|e| e.to_string())
    })
}

/// The chat model of `base` (its tokenizer, chat format and architecture, seeded weights)
/// trained on `turns` for `steps` steps of `batch` rows at peak learning rate `lr` (AdamW, 100
/// warm-up steps, cosine decay, global-norm clipping at 1): the inference copy.
pub fn train_chat(
    base: &Backbone,
    turns: &[Turn],
    steps: usize,
    batch: usize,
    lr: f64,
    progress: &mut dyn FnMut(usize, usize, f64),
) -> Result<Llama, PretrainError> {
    let tok = &base.tokenizer;
    let mut rows = Vec::with_capacity(turns.len());
    for t in turns {
        let p = text_prompt(tok, &base.chat, &t.user()).map_err(build_err)?;
        let r = response_ids(tok, &base.chat, &t.reply, true).map_err(build_err)?;
        rows.push((p, r));
    }
    let device = Device::flex().autodiff();
    let mut model = base.load_llm(&device).map_err(build_err)?;
    let mut optim = AdamWConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(1e-8)
        .with_weight_decay(0.01)
        .init();
    let mut rng = Rng::derive(CORPUS_SEED, "tiny-chat-order");
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for step in 0..steps {
        if batches.is_empty() {
            batches = length_bucketed_batches(&rows, batch, &mut rng);
        }
        let picked: Vec<(Vec<u32>, Vec<u32>)> = batches
            .pop()
            .expect("an epoch has batches")
            .into_iter()
            .map(|i| rows[i].clone())
            .collect();
        let b = build_rows(&picked, 0, tok.pad);
        let (bs, t) = (b.spliced.ids.len(), b.spliced.ids[0].len());
        let flat: Vec<i64> = b
            .spliced
            .ids
            .iter()
            .flat_map(|r| r.iter().map(|&x| x as i64))
            .collect();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(flat, [bs, t]), &device);
        let a = AttnInputs::new(
            &b.spliced.positions(),
            &b.spliced.valid,
            0,
            &model.inv_freq(),
            &device,
        );
        let logits = model.forward_embeds(model.embed(ids), &a, None);
        let loss = masked_loss(logits, &b, &device);
        let lv: f32 = loss.clone().into_scalar();
        let mut grads = GradientsParams::from_grads(loss.backward(), &model);
        let (_, finite) = clip_global_norm(&model, &mut grads, 1.0);
        if !lv.is_finite() || !finite {
            return Err(PretrainError::Build(format!(
                "non-finite loss at step {}",
                step + 1
            )));
        }
        model = optim.step(lr_at(lr, Schedule::Cosine, 100, steps, step), model, grads);
        progress(step + 1, steps, lv as f64);
    }
    Ok(model.valid())
}
