//! The `local` judge engine: a Hugging Face model directory (or `builtin:` model) run by acdc's
//! own LLM code. Each judge prompt becomes the model's chat prompt (one user turn plus the
//! generation prompt, as the chat API renders it) and is decoded greedily, in batches.

use std::path::Path;

use burn::tensor::Device;

use super::judge::JudgeEngine;
use crate::decode::{embed_padded, generate, Sampling};
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
    pub fn load(
        model: &str,
        home: &Path,
        device: Device,
        max_new_tokens: usize,
    ) -> Result<LocalJudge, String> {
        if model == "builtin:tiny-chat" {
            crate::train::pretrain::ensure_tiny_chat(home, &mut |_, _, _| {})
                .map_err(|e| e.to_string())?;
        }
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

impl JudgeEngine for LocalJudge {
    fn id(&self) -> String {
        format!("local:{}|greedy|max={}", self.model, self.max_new_tokens)
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
                out[*i] = Ok(tok.decode(&ids).trim().to_string());
            }
        }
        out
    }

    fn batch_size(&self) -> usize {
        self.batch * 4
    }
}
