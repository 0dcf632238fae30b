//! The `openai` judge engine: any OpenAI-compatible endpoint — the chat API
//! (`POST {base}/chat/completions`, the server applies the judge's chat template) or the
//! completions API (`POST {base}/completions`, the prompt sent as is). vLLM serving
//! Llama-3-70B-Instruct is the paper's setting; AudioBench sends up to 512 new tokens.
//!
//! Requests run on a bounded number of threads, each with a timeout; HTTP 429, 5xx, timeouts,
//! dropped connections and malformed replies are retried with exponential backoff (a
//! `Retry-After` in seconds is honoured, up to a minute); other HTTP errors fail at once. An empty
//! reply is retried too, but once the retries are spent it is given back as the (empty) reply,
//! which the judge rates 0 as a failure without storing it. The API
//! key is read from an environment variable and only ever sent in the `Authorization` header: it
//! is never stored, logged or put in an error message.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::judge::JudgeEngine;

/// Which endpoint of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    Chat,
    Completions,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Chat => "chat",
            Api::Completions => "completions",
        }
    }
}

/// Settings of the `openai` engine.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiConfig {
    /// e.g. `http://localhost:5000/v1`
    pub base_url: String,
    pub model: String,
    pub api: Api,
    /// The environment variable holding the API key (none set: no `Authorization` header).
    pub api_key_env: String,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Per request.
    pub timeout: Duration,
    /// Further attempts after a retryable failure.
    pub retries: u32,
    /// Wait before the first retry; doubled each time.
    pub backoff: Duration,
    pub max_tokens: usize,
    pub temperature: f64,
}

impl OpenAiConfig {
    pub fn new(base_url: &str, model: &str) -> Self {
        Self {
            base_url: base_url.to_string(),
            model: model.to_string(),
            api: Api::Chat,
            api_key_env: "OPENAI_API_KEY".into(),
            concurrency: 8,
            timeout: Duration::from_secs(120),
            retries: 4,
            backoff: Duration::from_secs(2),
            max_tokens: 512,
            temperature: 0.0,
        }
    }
}

/// A client of one OpenAI-compatible server.
pub struct OpenAiJudge {
    cfg: OpenAiConfig,
    key: Option<String>,
    agent: ureq::Agent,
}

/// One attempt's failure: whether to try again, and why.
struct Failure {
    retry: bool,
    message: String,
    wait: Option<Duration>,
    /// The server answered, with a blank reply: the reply itself once retries are spent.
    empty: bool,
}

fn snippet(body: &str) -> String {
    let s: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > 200 {
        s.chars().take(200).collect::<String>() + "…"
    } else {
        s
    }
}

impl OpenAiJudge {
    pub fn new(cfg: OpenAiConfig) -> Result<OpenAiJudge, String> {
        if !(cfg.base_url.starts_with("http://") || cfg.base_url.starts_with("https://")) {
            return Err(format!(
                "base URL `{}` must start with http:// or https://",
                cfg.base_url
            ));
        }
        if cfg.model.trim().is_empty() {
            return Err("no judge model name".into());
        }
        let key = std::env::var(&cfg.api_key_env)
            .ok()
            .filter(|k| !k.is_empty());
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(cfg.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(OpenAiJudge { cfg, key, agent })
    }

    fn url(&self) -> String {
        let base = self.cfg.base_url.trim_end_matches('/');
        match self.cfg.api {
            Api::Chat => format!("{base}/chat/completions"),
            Api::Completions => format!("{base}/completions"),
        }
    }

    fn body(&self, prompt: &str) -> serde_json::Value {
        let mut b = serde_json::json!({
            "model": self.cfg.model,
            "max_tokens": self.cfg.max_tokens,
            "temperature": self.cfg.temperature,
            "n": 1,
        });
        match self.cfg.api {
            Api::Chat => {
                b["messages"] = serde_json::json!([{"role": "user", "content": prompt}]);
            }
            Api::Completions => b["prompt"] = serde_json::json!(prompt),
        }
        b
    }

    /// Where the reply text is in a response body.
    fn field(&self) -> &'static str {
        match self.cfg.api {
            Api::Chat => "choices[0].message.content",
            Api::Completions => "choices[0].text",
        }
    }

    /// The reply text in a response body, trimmed (possibly empty).
    fn reply_of(&self, body: &str) -> Result<String, String> {
        let v: serde_json::Value = serde_json::from_str(body)
            .map_err(|e| format!("malformed response (not JSON: {e}): {}", snippet(body)))?;
        let choice = v.get("choices").and_then(|c| c.get(0));
        let text = match self.cfg.api {
            Api::Chat => choice
                .and_then(|c| c.get("message"))
                .and_then(|m| m.get("content")),
            Api::Completions => choice.and_then(|c| c.get("text")),
        };
        text.and_then(|t| t.as_str())
            .map(|t| t.trim().to_string())
            .ok_or_else(|| {
                format!(
                    "malformed response (no {}): {}",
                    self.field(),
                    snippet(body)
                )
            })
    }

    fn attempt(&self, prompt: &str) -> Result<String, Failure> {
        let mut req = self.agent.post(self.url());
        if let Some(k) = &self.key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        let mut resp = match req.send_json(self.body(prompt)) {
            Ok(r) => r,
            Err(e) => {
                let retry = matches!(
                    e,
                    ureq::Error::Timeout(_)
                        | ureq::Error::Io(_)
                        | ureq::Error::ConnectionFailed
                        | ureq::Error::HostNotFound
                        | ureq::Error::Protocol(_)
                );
                let message = match e {
                    ureq::Error::Timeout(_) => {
                        format!("timed out after {:.0?}", self.cfg.timeout)
                    }
                    e => format!("request failed: {e}"),
                };
                return Err(Failure {
                    retry,
                    message,
                    wait: None,
                    empty: false,
                });
            }
        };
        let status = resp.status().as_u16();
        let wait = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(60.0)));
        let body = resp.body_mut().read_to_string().map_err(|e| Failure {
            retry: true,
            message: match e {
                ureq::Error::Timeout(_) => format!("timed out after {:.0?}", self.cfg.timeout),
                e => format!("reading the response failed: {e}"),
            },
            wait: None,
            empty: false,
        })?;
        match status {
            200..=299 => match self.reply_of(&body) {
                // Retried like a malformed response (perhaps a server glitch), but a judge that
                // keeps saying nothing has given its reply.
                Ok(text) if text.is_empty() => Err(Failure {
                    retry: true,
                    message: format!(
                        "empty reply ({} is blank): {}",
                        self.field(),
                        snippet(&body)
                    ),
                    wait: None,
                    empty: true,
                }),
                Ok(text) => Ok(text),
                Err(message) => Err(Failure {
                    retry: true,
                    message,
                    wait: None,
                    empty: false,
                }),
            },
            429 | 500..=599 => Err(Failure {
                retry: true,
                message: format!("HTTP {status}: {}", snippet(&body)),
                wait,
                empty: false,
            }),
            _ => Err(Failure {
                retry: false,
                message: format!("HTTP {status} from {}: {}", self.url(), snippet(&body)),
                wait: None,
                empty: false,
            }),
        }
    }

    /// One prompt, with retries. An empty reply on the last attempt is the reply (`Ok("")`).
    pub fn reply(&self, prompt: &str) -> Result<String, String> {
        let mut delay = self.cfg.backoff;
        let attempts = self.cfg.retries + 1;
        for n in 1..=attempts {
            match self.attempt(prompt) {
                Ok(r) => return Ok(r),
                Err(f) if f.empty && n == attempts => {
                    tracing::warn!(
                        "judge request: {} (after {n} attempts); no rating",
                        f.message
                    );
                    return Ok(String::new());
                }
                Err(f) if !f.retry || n == attempts => {
                    return Err(if n > 1 {
                        format!("{} (after {n} attempts)", f.message)
                    } else {
                        f.message
                    });
                }
                Err(f) => {
                    tracing::warn!("judge request failed ({}); retrying", f.message);
                    std::thread::sleep(f.wait.unwrap_or(delay));
                    delay *= 2;
                }
            }
        }
        unreachable!("the last attempt returns")
    }
}

impl JudgeEngine for OpenAiJudge {
    fn id(&self) -> String {
        format!(
            "openai:{}|{}|t={}|max={}",
            self.cfg.model,
            self.cfg.api.as_str(),
            self.cfg.temperature,
            self.cfg.max_tokens
        )
    }

    fn replies(&self, prompts: &[String]) -> Vec<Result<String, String>> {
        let next = AtomicUsize::new(0);
        let out: Mutex<Vec<Option<Result<String, String>>>> = Mutex::new(vec![None; prompts.len()]);
        let workers = self.cfg.concurrency.clamp(1, prompts.len().max(1));
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= prompts.len() {
                        break;
                    }
                    let r = self.reply(&prompts[i]);
                    out.lock().expect("no worker panics holding it")[i] = Some(r);
                });
            }
        });
        out.into_inner()
            .expect("workers finished")
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err("not asked".into())))
            .collect()
    }

    fn batch_size(&self) -> usize {
        self.cfg.concurrency.max(1) * 4
    }
}
