//! Training targets: `caption` (the ground truth) or `dialogue` (the frozen backbone's sampled
//! reply to the caption given as a user turn with no instruction). Dialogue targets are cached in
//! the store under a key of everything that determines them, so every run asking for the same
//! ones shares one generation, and a crash mid-generation keeps the finished batches.

use std::path::PathBuf;

use burn::tensor::Device;
use sha2::{Digest, Sha256};

use crate::data::{CaptionItem, QaItem};
use crate::decode::{embed_padded, generate, Sampling};
use crate::model::backbone::Backbone;
use crate::rng::Rng;
use crate::spec::schema::{TargetKind, TargetsConfig};
use crate::store::targets::CachedTarget;
use crate::store::{Store, StoreError};
use crate::text::prompt::text_prompt;

/// One training example: audio and the text the model should produce for it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetExample {
    /// `<clip id>#<caption index>`.
    pub item_id: String,
    pub clip_id: String,
    pub audio: PathBuf,
    /// Key of this clip's audio in feature tables (the audio path as text).
    pub audio_key: String,
    /// The caption this target came from.
    pub source: String,
    pub sample: u32,
    pub text: String,
    /// The instruction after the audio for this example (an instruction-tuning example's
    /// question); `None`: the run's own (none for dialogue targets, the captioning instruction
    /// for caption targets).
    pub instruction: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Backbone(String),
    #[error("caption `{item}`: {message}")]
    Tokenize { item: String, message: String },
}

/// The cache key of a dialogue target set.
pub fn dialogue_key(
    backbone: &Backbone,
    cfg: &TargetsConfig,
    seed: u64,
    items: &[CaptionItem],
) -> (String, serde_json::Value) {
    let mut h = Sha256::new();
    for it in items {
        h.update(it.id.as_bytes());
        h.update([0]);
        for c in &it.captions {
            h.update(c.as_bytes());
            h.update([1]);
        }
    }
    let spec = serde_json::json!({
        "backbone": backbone.id,
        "backbone_fingerprint": backbone.fingerprint,
        "chat": format!("{:?}", backbone.chat),
        "captions_sha256": hex::encode(h.finalize()),
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "samples_per_caption": cfg.samples_per_caption,
        "max_new_tokens": cfg.max_new_tokens,
        "seed": seed,
        "sampling_version": crate::decode::sampling::SAMPLING_VERSION,
        "llm_code_version": crate::model::llm::LLM_CODE_VERSION,
    });
    let key = hex::encode(Sha256::digest(spec.to_string().as_bytes()))[..16].to_string();
    (key, spec)
}

/// Every (clip, caption) pair as an example with the caption as its target.
pub fn caption_targets(items: &[CaptionItem]) -> Vec<TargetExample> {
    let mut out = Vec::new();
    for it in items {
        for (ci, c) in it.captions.iter().enumerate() {
            out.push(TargetExample {
                item_id: format!("{}#{ci}", it.id),
                clip_id: it.id.clone(),
                audio: it.audio.clone(),
                audio_key: it.audio.display().to_string(),
                source: c.clone(),
                sample: 0,
                text: c.clone(),
                instruction: None,
            });
        }
    }
    out
}

/// Instruction-tuning examples: each QA item's question as the instruction, its ground-truth
/// answer as the target.
pub fn qa_targets(items: &[QaItem]) -> Vec<TargetExample> {
    items
        .iter()
        .map(|it| TargetExample {
            item_id: format!("{}#qa", it.id),
            clip_id: it.id.clone(),
            audio: it.audio.clone(),
            audio_key: it.audio.display().to_string(),
            source: it.question.clone(),
            sample: 0,
            text: it.answer.clone(),
            instruction: Some(it.question.clone()),
        })
        .collect()
}

/// Progress callback: (done, total).
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize);

/// Build the training targets of a run (generating and caching dialogue replies as needed).
pub fn build(
    store: &mut Store,
    backbone: &Backbone,
    cfg: &TargetsConfig,
    seed: u64,
    items: &[CaptionItem],
    device: &Device,
    progress: Progress<'_>,
) -> Result<(Vec<TargetExample>, serde_json::Value), TargetsError> {
    let pairs = caption_targets(items);
    if cfg.kind == TargetKind::Caption {
        let n = pairs.len();
        return Ok((pairs, serde_json::json!({"kind": "caption", "examples": n})));
    }
    let (key, spec) = dialogue_key(backbone, cfg, seed, items);
    store.target_set_begin(&key, &spec)?;
    let mut cached: std::collections::BTreeMap<(String, u32), String> = store
        .targets(&key)?
        .into_iter()
        .map(|t| ((t.item_id, t.sample), t.text))
        .collect();
    let reused = cached.len();
    if !store.target_set_complete(&key)? {
        let todo: Vec<(usize, u32)> = (0..pairs.len())
            .flat_map(|i| (0..cfg.samples_per_caption as u32).map(move |s| (i, s)))
            .filter(|(i, s)| !cached.contains_key(&(pairs[*i].item_id.clone(), *s)))
            .collect();
        let llm = backbone
            .load_llm(device)
            .map_err(|e| TargetsError::Backbone(e.to_string()))?;
        let stops = backbone.stop_ids();
        let sampling = Sampling::from_temperature(cfg.temperature, cfg.top_p);
        let total = todo.len();
        let mut done = 0;
        const BATCH: usize = 32;
        for chunk in todo.chunks(BATCH) {
            let mut prompts = Vec::with_capacity(chunk.len());
            for (i, _) in chunk {
                let p = text_prompt(&backbone.tokenizer, &backbone.chat, &pairs[*i].source)
                    .map_err(|e| TargetsError::Tokenize {
                        item: pairs[*i].item_id.clone(),
                        message: e.to_string(),
                    })?;
                llm.check_context(
                    p.len() + cfg.max_new_tokens,
                    "the caption's chat prompt plus targets.max_new_tokens",
                )
                .map_err(|message| TargetsError::Tokenize {
                    item: pairs[*i].item_id.clone(),
                    message,
                })?;
                prompts.push(p);
            }
            let (embeds, valid) = embed_padded(&llm, &prompts, backbone.tokenizer.pad, device);
            // One RNG stream per (item, sample): replies do not depend on batching.
            let mut rngs: Vec<Rng> = chunk
                .iter()
                .map(|(i, s)| Rng::derive(seed, &format!("dialogue-{}-{s}", pairs[*i].item_id)))
                .collect();
            let replies = generate(
                &llm,
                embeds,
                &valid,
                &stops,
                cfg.max_new_tokens,
                &sampling,
                &mut rngs,
            );
            let batch: Vec<CachedTarget> = chunk
                .iter()
                .zip(replies)
                .map(|((i, s), ids)| CachedTarget {
                    item_id: pairs[*i].item_id.clone(),
                    sample: *s,
                    source: pairs[*i].source.clone(),
                    text: backbone.tokenizer.decode(&ids).trim().to_string(),
                })
                .collect();
            store.put_targets(&key, &batch)?;
            for t in batch {
                cached.insert((t.item_id, t.sample), t.text);
            }
            done += chunk.len();
            progress(done, total);
        }
        store.target_set_finish(&key)?;
    }
    let mut out = Vec::with_capacity(pairs.len() * cfg.samples_per_caption);
    for p in &pairs {
        for s in 0..cfg.samples_per_caption as u32 {
            let text = cached
                .get(&(p.item_id.clone(), s))
                .cloned()
                .unwrap_or_default();
            out.push(TargetExample {
                sample: s,
                text,
                ..p.clone()
            });
        }
    }
    let empty = out.iter().filter(|t| t.text.is_empty()).count();
    let info = serde_json::json!({
        "kind": "dialogue", "set": key, "examples": out.len(), "reused": reused, "empty_replies": empty,
    });
    Ok((out, info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::backbone::{Backbone, Weights};
    use crate::text::{ChatFormat, TextTokenizer};

    /// Everything that changes the replies changes the cache key, including how a seed becomes
    /// tokens (`SAMPLING_VERSION`), so an old cache is never mixed with new replies.
    #[test]
    fn dialogue_key_covers_what_determines_the_replies() {
        let bb = Backbone {
            id: "builtin:tiny".into(),
            tokenizer: TextTokenizer::train_byte_level_bpe(&["a b c".into()], 300).unwrap(),
            chat: ChatFormat::llama3(),
            config: crate::model::builtin_tiny_llm(64),
            fingerprint: "f".into(),
            weights: Weights::Seeded,
            eos: Vec::new(),
        };
        let items = vec![CaptionItem {
            id: "a".into(),
            audio: "a.wav".into(),
            captions: vec!["a dog barks".into()],
        }];
        let cfg = TargetsConfig::default();
        let (key, spec) = dialogue_key(&bb, &cfg, 1, &items);
        assert_eq!(
            spec["sampling_version"],
            crate::decode::sampling::SAMPLING_VERSION
        );
        assert_eq!(
            spec["llm_code_version"],
            crate::model::llm::LLM_CODE_VERSION
        );
        let hot = TargetsConfig {
            temperature: cfg.temperature + 0.5,
            ..cfg.clone()
        };
        assert_ne!(dialogue_key(&bb, &hot, 1, &items).0, key);
        assert_ne!(dialogue_key(&bb, &cfg, 2, &items).0, key);
        let mut other = items.clone();
        other[0].captions[0].push('!');
        assert_ne!(dialogue_key(&bb, &cfg, 1, &other).0, key);
        assert_eq!(dialogue_key(&bb, &cfg, 1, &items).0, key, "stable");
    }
}
