//! `builtin:tiny-chat`: builtin:tiny's architecture and tokenizer, pretrained on the synthetic
//! world's text as a tiny chat model, so that the quickstart shows the AC/DC phenomenon rather
//! than noise. It learns three kinds of turns, each drawn from held-out synthetic clips (a seed
//! the quickstart's data never uses):
//! - a caption alone → a conversational reply that restates the scene in other words (what an
//!   instruct LLM does with a bare caption — the dialogue-continuation target);
//! - a caption followed by a question → the answer (the ability AC/DC hopes the audio inherits);
//! - a caption followed by the captioning instruction → another caption of the clip.
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
use crate::data::synth::{text_world, ClipText};
use crate::model::backbone::{tiny_chat_weights, Backbone};
use crate::model::llm::AttnInputs;
use crate::rng::Rng;
use crate::spec::schema::Schedule;
use crate::text::prompt::{response_ids, text_prompt};

/// Held-out synthetic world the chat model learns from.
pub const CORPUS_CLIPS: usize = 600;
pub const CORPUS_SEED: u64 = 7919;
pub const STEPS: usize = 1500;
pub const BATCH: usize = 16;
pub const LR: f64 = 3e-3;
/// The captioning instruction the chat model is taught (the default of `eval.caption_instruction`).
pub const CAPTION_INSTRUCTION: &str = "Describe the audio in one sentence.";

fn lower_first(s: &str) -> String {
    let s = s.trim().trim_end_matches('.');
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The (user turn, assistant reply) pairs of the chat corpus.
pub fn dialogues(world: &[ClipText], seed: u64) -> Vec<(String, String)> {
    let mut rng = Rng::derive(seed, "tiny-chat-dialogues");
    let mut out = Vec::new();
    for clip in world {
        let n = clip.captions.len();
        if n < 2 {
            continue;
        }
        for (i, cap) in clip.captions.iter().enumerate() {
            let other = &clip.captions[(i + 1 + rng.below(n - 1)) % n];
            let para = lower_first(other);
            let reply = match rng.below(4) {
                0 => format!("It sounds like {para}."),
                1 => format!("So {para}. What would you like to know about it?"),
                2 => format!("That is a scene where {para}."),
                _ => format!("In other words, {para}."),
            };
            out.push((cap.clone(), reply));
            out.push((
                format!("{cap} {CAPTION_INSTRUCTION}"),
                other.trim().to_string(),
            ));
        }
        for (q, a) in &clip.qa {
            let cap = &clip.captions[rng.below(n)];
            out.push((format!("{cap} {q}"), a.clone()));
        }
    }
    out
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

/// Make sure `builtin:tiny-chat`'s weights exist under `home`; returns their path.
pub fn ensure_tiny_chat(
    home: &Path,
    progress: &mut dyn FnMut(usize, usize, f64),
) -> Result<PathBuf, PretrainError> {
    let weights = tiny_chat_weights(home);
    if weights.exists() {
        return Ok(weights);
    }
    let dir = weights
        .parent()
        .expect("weights live in a folder")
        .to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|e| PretrainError::Io {
        path: dir.clone(),
        message: e.to_string(),
    })?;
    crate::once::build_once(
        "builtin:tiny-chat's weights",
        &weights,
        &dir.join(".lock"),
        || build(home, &weights, progress),
    )?;
    Ok(weights)
}

fn build(
    home: &Path,
    weights: &Path,
    progress: &mut dyn FnMut(usize, usize, f64),
) -> Result<(), PretrainError> {
    let base =
        Backbone::resolve("builtin:tiny", home).map_err(|e| PretrainError::Build(e.to_string()))?;
    let tok = &base.tokenizer;
    let pairs = dialogues(&text_world(CORPUS_CLIPS, CORPUS_SEED, 5.0), CORPUS_SEED);
    let mut rows = Vec::with_capacity(pairs.len());
    for (u, a) in &pairs {
        let p = text_prompt(tok, &base.chat, u).map_err(|e| PretrainError::Build(e.to_string()))?;
        let r = response_ids(tok, &base.chat, a, true)
            .map_err(|e| PretrainError::Build(e.to_string()))?;
        rows.push((p, r));
    }
    let device = Device::flex().autodiff();
    let mut model = base
        .load_llm(&device)
        .map_err(|e| PretrainError::Build(e.to_string()))?;
    let mut optim = AdamWConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(1e-8)
        .with_weight_decay(0.01)
        .init();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut rng = Rng::derive(CORPUS_SEED, "tiny-chat-order");
    let mut cursor = order.len();
    for step in 0..STEPS {
        let mut picked = Vec::with_capacity(BATCH);
        for _ in 0..BATCH {
            if cursor == order.len() {
                rng.shuffle(&mut order);
                cursor = 0;
            }
            picked.push(rows[order[cursor]].clone());
            cursor += 1;
        }
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
        model = optim.step(lr_at(LR, Schedule::Cosine, 50, STEPS, step), model, grads);
        progress(step + 1, STEPS, lv as f64);
    }
    let tmp = weights.with_extension(format!("tmp{}", std::process::id()));
    let mut store = BurnpackStore::from_file(&tmp)
        .overwrite(true)
        .auto_extension(false);
    model
        .valid()
        .save_into(&mut store)
        .map_err(|e| PretrainError::Io {
            path: tmp.clone(),
            message: e.to_string(),
        })?;
    std::fs::rename(&tmp, weights).map_err(|e| PretrainError::Io {
        path: weights.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(())
}
