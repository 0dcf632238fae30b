//! The `openai` judge engine: any OpenAI-compatible endpoint through [`crate::openai::Client`]
//! (the chat or the completions API; retries, backoff, bounded concurrency and the API key's
//! handling are the client's). vLLM serving Llama-3-70B-Instruct is the paper's setting;
//! AudioBench sends up to 512 new tokens. A judge that keeps replying nothing has given its
//! reply: it is rated 0 as a failure, not stored.

use crate::openai::{concurrently, Client, Params};
pub use crate::openai::{Api, OpenAiConfig};

use super::judge::JudgeEngine;

pub struct OpenAiJudge {
    client: Client,
    cfg: OpenAiConfig,
    params: Params,
}

impl OpenAiJudge {
    /// A judge on the server of `cfg`, answering with at most `max_tokens` tokens at
    /// `temperature`.
    pub fn new(cfg: OpenAiConfig, max_tokens: usize, temperature: f64) -> Result<Self, String> {
        Ok(OpenAiJudge {
            client: Client::new(cfg.clone())?,
            cfg,
            params: Params {
                max_tokens,
                temperature,
                top_p: None,
                seed: None,
            },
        })
    }
}

impl JudgeEngine for OpenAiJudge {
    fn id(&self) -> String {
        format!(
            "openai:{}|{}|t={}|max={}",
            self.cfg.model,
            self.cfg.api.as_str(),
            self.params.temperature,
            self.params.max_tokens
        )
    }

    fn replies(&self, prompts: &[String]) -> Vec<Result<String, String>> {
        concurrently(prompts, self.cfg.concurrency, |p| {
            self.client.complete(p, &self.params).map(|c| c.text)
        })
    }

    fn batch_size(&self) -> usize {
        self.cfg.concurrency.max(1) * 4
    }
}
