//! Training targets: `caption` (the ground truth) or `dialogue` (the frozen backbone's sampled
//! reply to the caption given as a user turn with no instruction). Dialogue targets are cached in
//! the store under a key of everything that determines them, so every run asking for the same
//! ones shares one generation, and a crash mid-generation keeps the finished batches.

use burn::tensor::Device;
use sha2::{Digest, Sha256};

use crate::data::{CaptionItem, QaItem};
use crate::decode::{embed_padded, generate, split_stop, Sampling};
use crate::model::backbone::Backbone;
use crate::rng::Rng;
use crate::spec::schema::{TargetEngine, TargetKind, TargetsConfig, TruncatedReplies};
use crate::store::stages::{TargetKind as RecordedKind, TargetSetInfo};
use crate::store::targets::CachedTarget;
use crate::store::{Store, StoreError};
use crate::text::prompt::text_prompt;

mod openai;

/// One training example (defined in `data`, where the trainer reads it too).
pub use crate::data::TargetExample;

#[derive(Debug, thiserror::Error)]
pub enum TargetsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Backbone(#[from] crate::model::backbone::BackboneError),
    /// The `openai` engine's settings cannot work.
    #[error("targets.engine = \"openai\": {0}")]
    EngineSettings(String),
    /// The `openai` engine's server failed on an item (after its retries).
    #[error("targets.engine = \"openai\" ({url}), caption `{item}`: {message}")]
    Engine {
        url: String,
        item: String,
        message: String,
    },
    /// The `openai` engine's server could not say which models it serves.
    #[error("targets.engine = \"openai\" ({url}): {message}")]
    EngineList { url: String, message: String },
    #[error("caption `{item}`: {message}")]
    Tokenize { item: String, message: String },
    #[error("all {replies} dialogue replies reached targets.max_new_tokens = {max_new_tokens} without ending, and targets.truncated = \"drop\" leaves none to train on (raise targets.max_new_tokens, or use \"open\")")]
    AllTruncated {
        replies: usize,
        max_new_tokens: usize,
    },
}

/// Version of what a cached reply records (2: whether it was cut off at `max_new_tokens`); part
/// of the cache key, so sets cached without that flag are generated again rather than guessed.
pub const TARGETS_FORMAT: u32 = 2;

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
        "format": TARGETS_FORMAT,
    });
    let mut spec = spec;
    if cfg.engine == TargetEngine::Openai {
        // Replies from a server are another set than acdc's own decoder's, and than another
        // served model's: the set records (and its key covers) which model served them.
        spec["engine"] = serde_json::json!({
            "kind": "openai",
            "served_model": openai::served_model(cfg, backbone),
            "api": "chat",
        });
    }
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
                ends: true,
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
            ends: true,
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
) -> Result<(Vec<TargetExample>, TargetSetInfo), TargetsError> {
    let pairs = caption_targets(items);
    if cfg.kind == TargetKind::Caption {
        let n = pairs.len();
        return Ok((pairs, TargetSetInfo::given(RecordedKind::Caption, n)));
    }
    let (key, spec) = dialogue_key(backbone, cfg, seed, items);
    store.target_set_begin(&key, &spec)?;
    let mut cached: std::collections::BTreeMap<(String, u32), (String, bool)> = store
        .targets(&key)?
        .into_iter()
        .map(|t| ((t.item_id, t.sample), (t.text, t.truncated)))
        .collect();
    let reused = cached.len();
    if !store.target_set_complete(&key)? {
        let todo: Vec<(usize, u32)> = (0..pairs.len())
            .flat_map(|i| (0..cfg.samples_per_caption as u32).map(move |s| (i, s)))
            .filter(|(i, s)| !cached.contains_key(&(pairs[*i].item_id.clone(), *s)))
            .collect();
        let total = todo.len();
        let mut done = 0;
        let mut keep = |batch: Vec<CachedTarget>| -> Result<(), TargetsError> {
            store.put_targets(&key, &batch)?;
            done += batch.len();
            for t in batch {
                cached.insert((t.item_id, t.sample), (t.text, t.truncated));
            }
            progress(done, total);
            crate::pause::point("targets");
            Ok(())
        };
        match cfg.engine {
            TargetEngine::Builtin => {
                generate_builtin(backbone, cfg, seed, &pairs, &todo, device, &mut keep)?
            }
            TargetEngine::Openai => {
                let model = openai::served_model(cfg, backbone);
                openai::generate(cfg, model, seed, &pairs, &todo, &mut keep)?
            }
        }
        store.target_set_finish(&key)?;
    }
    let mut out = Vec::with_capacity(pairs.len() * cfg.samples_per_caption);
    let (mut truncated, mut empty) = (0, 0);
    for p in &pairs {
        for s in 0..cfg.samples_per_caption as u32 {
            let (text, cut) = cached
                .get(&(p.item_id.clone(), s))
                .cloned()
                .unwrap_or_default();
            truncated += cut as usize;
            empty += text.is_empty() as usize;
            if cut && cfg.truncated == TruncatedReplies::Drop {
                continue;
            }
            out.push(TargetExample {
                sample: s,
                text,
                ends: !(cut && cfg.truncated == TruncatedReplies::Open),
                ..p.clone()
            });
        }
    }
    if out.is_empty() && truncated > 0 {
        return Err(TargetsError::AllTruncated {
            replies: truncated,
            max_new_tokens: cfg.max_new_tokens,
        });
    }
    let info = TargetSetInfo {
        kind: RecordedKind::Dialogue,
        examples: out.len(),
        set: Some(key),
        reused: Some(reused),
        empty_replies: Some(empty),
        truncated_replies: Some(truncated),
        truncated_policy: Some(cfg.truncated),
    };
    Ok((out, info))
}

/// Dialogue replies for `todo` ((pair index, sample) pairs) from acdc's own decoder on
/// `device`, in batches handed to `keep` as they finish.
fn generate_builtin(
    backbone: &Backbone,
    cfg: &TargetsConfig,
    seed: u64,
    pairs: &[TargetExample],
    todo: &[(usize, u32)],
    device: &Device,
    keep: &mut dyn FnMut(Vec<CachedTarget>) -> Result<(), TargetsError>,
) -> Result<(), TargetsError> {
    let llm = backbone.load_llm(device)?;
    let stops = backbone.stop_ids();
    let sampling = Sampling::from_temperature(cfg.temperature, cfg.top_p);
    // Rows per decode batch: replies do not depend on it (`decode::generate` tests that), so it
    // is sized for throughput; a GPU decodes 64 rows in about the time of one.
    const BATCH: usize = 64;
    for chunk in todo.chunks(BATCH) {
        let mut prompts = Vec::with_capacity(chunk.len());
        for (i, _) in chunk {
            let p = text_prompt(&backbone.tokenizer, &backbone.chat, &pairs[*i].source).map_err(
                |e| TargetsError::Tokenize {
                    item: pairs[*i].item_id.clone(),
                    message: e.to_string(),
                },
            )?;
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
            .map(|(i, s)| Rng::derive(seed, &reply_stream(&pairs[*i].item_id, *s)))
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
            .map(|((i, s), ids)| {
                // A reply that did not end with a stop id was cut at max_new_tokens.
                let (reply, ended) = split_stop(&ids, &stops);
                CachedTarget {
                    item_id: pairs[*i].item_id.clone(),
                    sample: *s,
                    source: pairs[*i].source.clone(),
                    text: backbone.tokenizer.decode(reply).trim().to_string(),
                    truncated: !ended,
                }
            })
            .collect();
        keep(batch)?;
    }
    Ok(())
}

/// The name of the random stream of sample `sample` of the reply to item `item_id`.
pub(crate) fn reply_stream(item_id: &str, sample: u32) -> String {
    format!("dialogue-{item_id}-{sample}")
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

    fn three_clips() -> Vec<CaptionItem> {
        (0..3)
            .map(|i| CaptionItem {
                id: format!("clip{i}"),
                audio: format!("clip{i}.wav").into(),
                captions: vec![format!("a dog barks {i} times"), "rain falls".into()],
            })
            .collect()
    }

    /// A reply cut off at `max_new_tokens` is flagged in the cache, and trains without an
    /// end-of-turn token under the default `targets.truncated = "open"`.
    #[test]
    fn generated_replies_cut_off_are_flagged() {
        let d = tempfile::tempdir().unwrap();
        let bb = Backbone::resolve("builtin:tiny", d.path()).unwrap();
        let mut store = Store::open(&d.path().join("acdc.db")).unwrap();
        let items = three_clips();
        // A seeded random model rarely picks a stop id: most 3-token replies are cut off.
        let cfg = TargetsConfig {
            max_new_tokens: 3,
            samples_per_caption: 2,
            ..TargetsConfig::default()
        };
        let dev = Device::flex();
        let (open, info) = build(&mut store, &bb, &cfg, 5, &items, &dev, &mut |_, _| {}).unwrap();
        assert_eq!(open.len(), 12);
        let cut = info.truncated_replies.unwrap();
        assert!(cut > 0, "{info:?}");
        assert_eq!(info.truncated_policy, Some(TruncatedReplies::Open));
        assert_eq!(open.iter().filter(|e| !e.ends).count(), cut);
        let (key, _) = dialogue_key(&bb, &cfg, 5, &items);
        let cached = store.targets(&key).unwrap();
        for e in &open {
            let c = cached
                .iter()
                .find(|c| c.item_id == e.item_id && c.sample == e.sample)
                .unwrap();
            assert_eq!(c.text, e.text);
            assert_eq!(c.truncated, !e.ends, "{}#{}", e.item_id, e.sample);
        }
    }

    /// `targets.truncated` decides what a cut-off reply becomes: an example without an end
    /// (`open`), nothing (`drop`) or an example with one (`close`); the policy is not part of the
    /// cache key, so one generation serves all three. Dropping every reply is an error naming
    /// the settings.
    #[test]
    fn truncated_policy_applies_to_cached_replies() {
        let d = tempfile::tempdir().unwrap();
        let bb = Backbone::resolve("builtin:tiny", d.path()).unwrap();
        let mut store = Store::open(&d.path().join("acdc.db")).unwrap();
        let items = three_clips();
        let cfg = TargetsConfig::default();
        // A finished cache in which the replies to the first caption of each clip were cut off.
        let (key, spec) = dialogue_key(&bb, &cfg, 5, &items);
        store.target_set_begin(&key, &spec).unwrap();
        let cached: Vec<CachedTarget> = caption_targets(&items)
            .into_iter()
            .map(|e| CachedTarget {
                truncated: e.item_id.ends_with("#0"),
                text: format!("reply to {}", e.source),
                item_id: e.item_id,
                sample: 0,
                source: e.source,
            })
            .collect();
        store.put_targets(&key, &cached).unwrap();
        store.target_set_finish(&key).unwrap();
        let dev = Device::flex();
        let with = |store: &mut Store, truncated: TruncatedReplies| {
            let cfg = TargetsConfig {
                truncated,
                ..cfg.clone()
            };
            build(store, &bb, &cfg, 5, &items, &dev, &mut |_, _| {})
        };
        let (open, info) = with(&mut store, TruncatedReplies::Open).unwrap();
        assert_eq!((info.reused, info.truncated_replies), (Some(6), Some(3)));
        let ends: Vec<(String, bool)> = open.iter().map(|e| (e.item_id.clone(), e.ends)).collect();
        assert_eq!(
            ends,
            ["clip0#0", "clip0#1", "clip1#0", "clip1#1", "clip2#0", "clip2#1"]
                .iter()
                .map(|id| (id.to_string(), !id.ends_with("#0")))
                .collect::<Vec<_>>()
        );
        let (dropped, info) = with(&mut store, TruncatedReplies::Drop).unwrap();
        assert_eq!(info.examples, 3);
        assert_eq!(
            dropped,
            open.iter().filter(|e| e.ends).cloned().collect::<Vec<_>>()
        );
        let (closed, _) = with(&mut store, TruncatedReplies::Close).unwrap();
        assert_eq!(closed.len(), 6);
        assert!(closed.iter().all(|e| e.ends));
        assert_eq!(
            closed.iter().map(|e| &e.text).collect::<Vec<_>>(),
            open.iter().map(|e| &e.text).collect::<Vec<_>>()
        );

        // Every reply cut off and dropped: the settings are named.
        let all_cut: Vec<CachedTarget> = cached
            .into_iter()
            .map(|c| CachedTarget {
                truncated: true,
                ..c
            })
            .collect();
        store.put_targets(&key, &all_cut).unwrap();
        let err = with(&mut store, TruncatedReplies::Drop)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("all 6 dialogue replies")
                && err.contains("targets.max_new_tokens = 200")
                && err.contains("targets.truncated = \"drop\""),
            "{err}"
        );
    }
}
