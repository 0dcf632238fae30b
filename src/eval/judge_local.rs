//! The `local` judge engine: a Hugging Face model directory (or `builtin:` model) run by acdc's
//! own LLM code. Each judge prompt becomes the model's chat prompt (one user turn plus the
//! generation prompt, as the chat API renders it) and is decoded greedily, in batches. Its judge
//! id carries the backbone's fingerprint, so new weights (or tokenizer, or chat template) under
//! the same model name are a new judge rather than a reader of the old one's cached judgments.

use std::path::Path;

use burn::tensor::Device;

use super::judge::JudgeEngine;
use crate::decode::{embed_padded, generate, split_stop, Sampling};
use crate::model::backbone::Backbone;
use crate::model::llm::Llama;
use crate::rng::Rng;
use crate::text::prompt::text_prompt;

/// A judge model loaded for inference.
pub struct LocalJudge {
    model: String,
    backbone: Backbone,
    llm: Llama,
    device: Device,
    max_new_tokens: usize,
    batch: usize,
}

impl LocalJudge {
    /// Load `model` (a model directory, a cached Hugging Face id, or `builtin:…`) on `device`.
    /// A built-in trained model (`builtin:tiny-chat`) must have been built: exec and the `judge`
    /// command provision it before they ask for a judge.
    pub fn load(
        model: &str,
        home: &Path,
        device: Device,
        max_new_tokens: usize,
    ) -> Result<LocalJudge, String> {
        let backbone = Backbone::resolve(model, home).map_err(|e| e.to_string())?;
        let llm = backbone.load_llm(&device).map_err(|e| e.to_string())?;
        Ok(LocalJudge {
            model: model.to_string(),
            backbone,
            llm,
            device,
            max_new_tokens,
            batch: 8,
        })
    }
}

/// The judge id of `model` resolved to `backbone`: `local:<model>@<fingerprint>|greedy|max=<n>`.
fn judge_id(model: &str, backbone: &Backbone, max_new_tokens: usize) -> String {
    format!(
        "local:{model}@{}|greedy|max={max_new_tokens}",
        backbone.fingerprint
    )
}

impl JudgeEngine for LocalJudge {
    fn id(&self) -> String {
        judge_id(&self.model, &self.backbone, self.max_new_tokens)
    }

    fn replies(&self, prompts: &[String]) -> Vec<Result<String, String>> {
        let tok = &self.backbone.tokenizer;
        let mut out: Vec<Result<String, String>> = Vec::with_capacity(prompts.len());
        let mut ready: Vec<(usize, Vec<u32>)> = Vec::new();
        for (i, p) in prompts.iter().enumerate() {
            let ids = text_prompt(tok, &self.backbone.chat, p).map_err(|e| e.to_string());
            let ids = ids.and_then(|ids| {
                self.llm
                    .check_context(
                        ids.len() + self.max_new_tokens,
                        "the judge prompt plus its reply",
                    )
                    .map(|_| ids)
            });
            match ids {
                Ok(ids) => {
                    ready.push((i, ids));
                    out.push(Err(String::new()));
                }
                Err(e) => out.push(Err(e)),
            }
        }
        let stops = self.backbone.stop_ids();
        for chunk in ready.chunks(self.batch) {
            let rows: Vec<Vec<u32>> = chunk.iter().map(|(_, ids)| ids.clone()).collect();
            let (x, valid) = embed_padded(&self.llm, &rows, tok.pad, &self.device);
            let mut rngs: Vec<Rng> = (0..rows.len()).map(|_| Rng::new(0)).collect();
            let replies = generate(
                &self.llm,
                x,
                &valid,
                &stops,
                self.max_new_tokens,
                &Sampling::Greedy,
                &mut rngs,
            );
            for ((i, _), ids) in chunk.iter().zip(replies) {
                out[*i] = Ok(tok.decode(split_stop(&ids, &stops).0).trim().to_string());
            }
        }
        out
    }

    fn batch_size(&self) -> usize {
        self.batch * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Other weights under the same name and place are another judge.
    #[test]
    fn the_id_follows_the_weights() {
        let home = tempfile::tempdir().unwrap();
        let w = crate::model::backbone::tiny_chat_weights(home.path());
        std::fs::create_dir_all(w.parent().unwrap()).unwrap();
        crate::text::TextTokenizer::train_byte_level_bpe(&["a dog barks".into()], 300)
            .unwrap()
            .save(&w.with_file_name("tokenizer.json"))
            .unwrap();
        let id_with = |bytes: &[u8]| {
            std::fs::write(&w, bytes).unwrap();
            let b = Backbone::resolve("builtin:tiny-chat", home.path()).unwrap();
            let id = judge_id("builtin:tiny-chat", &b, 8);
            assert!(id.contains(&b.fingerprint), "{id}");
            id
        };
        let (a, b) = (id_with(b"weights one"), id_with(b"weights two"));
        assert_ne!(a, b);
        assert!(a.starts_with("local:builtin:tiny-chat@") && a.ends_with("|greedy|max=8"));
        assert_eq!(a, id_with(b"weights one"));
    }
}
