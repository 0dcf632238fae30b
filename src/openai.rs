//! A client of an OpenAI-compatible server (vLLM, `transformers serve`, …): the chat API
//! (`POST {base}/chat/completions`, the server applies the model's chat template) or the
//! completions API (`POST {base}/completions`, the prompt sent as is). The `openai` judge
//! (`eval::judge_openai`) and the `openai` target engine (`targets::openai`) use it.
//!
//! Requests run on a bounded number of threads ([`concurrently`]), each with a timeout; HTTP 429,
//! 5xx, timeouts, dropped connections and malformed replies are retried with exponential backoff
//! (a `Retry-After` in seconds is honoured, up to a minute); other HTTP errors fail at once. An
//! empty reply is retried too, but once the retries are spent it is given back as the (empty)
//! reply. The API key is read from an environment variable and only ever sent in the
//! `Authorization` header: it is never stored, logged or put in an error message.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

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
}

/// What one request asks of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub max_tokens: usize,
    pub temperature: f64,
    /// Nucleus sampling threshold (sent only when given).
    pub top_p: Option<f64>,
    /// The request's sampling seed (sent only when given; vLLM and `transformers serve` honour
    /// it per request).
    pub seed: Option<u64>,
}

/// A reply: its text (trimmed) and why the server stopped (`"stop"`, `"length"`, …, when it
/// says).
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub finish_reason: Option<String>,
}

impl Completion {
    /// Whether the server stopped at `max_tokens` rather than at the end of the reply.
    pub fn cut_off(&self) -> bool {
        self.finish_reason.as_deref() == Some("length")
    }
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
        }
    }
}

/// A client of one OpenAI-compatible server.
pub struct Client {
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

impl Client {
    pub fn new(cfg: OpenAiConfig) -> Result<Client, String> {
        if !(cfg.base_url.starts_with("http://") || cfg.base_url.starts_with("https://")) {
            return Err(format!(
                "base URL `{}` must start with http:// or https://",
                cfg.base_url
            ));
        }
        if cfg.model.trim().is_empty() {
            return Err("no served model name".into());
        }
        let key = std::env::var(&cfg.api_key_env)
            .ok()
            .filter(|k| !k.is_empty());
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(cfg.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Client { cfg, key, agent })
    }

    fn url(&self) -> String {
        let base = self.cfg.base_url.trim_end_matches('/');
        match self.cfg.api {
            Api::Chat => format!("{base}/chat/completions"),
            Api::Completions => format!("{base}/completions"),
        }
    }

    fn body(&self, prompt: &str, p: &Params) -> serde_json::Value {
        let mut b = serde_json::json!({
            "model": self.cfg.model,
            "max_tokens": p.max_tokens,
            "temperature": p.temperature,
            "n": 1,
        });
        if let Some(top_p) = p.top_p {
            b["top_p"] = serde_json::json!(top_p);
        }
        if let Some(seed) = p.seed {
            b["seed"] = serde_json::json!(seed);
        }
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

    /// The reply in a response body, its text trimmed (possibly empty).
    fn reply_of(&self, body: &str) -> Result<Completion, String> {
        let v: serde_json::Value = serde_json::from_str(body)
            .map_err(|e| format!("malformed response (not JSON: {e}): {}", snippet(body)))?;
        let choice = v.get("choices").and_then(|c| c.get(0));
        let text = match self.cfg.api {
            Api::Chat => choice
                .and_then(|c| c.get("message"))
                .and_then(|m| m.get("content")),
            Api::Completions => choice.and_then(|c| c.get("text")),
        };
        let finish_reason = choice
            .and_then(|c| c.get("finish_reason"))
            .and_then(|f| f.as_str())
            .map(str::to_string);
        text.and_then(|t| t.as_str())
            .map(|t| Completion {
                text: t.trim().to_string(),
                finish_reason,
            })
            .ok_or_else(|| {
                format!(
                    "malformed response (no {}): {}",
                    self.field(),
                    snippet(body)
                )
            })
    }

    fn attempt(&self, prompt: &str, p: &Params) -> Result<Completion, Failure> {
        let mut req = self.agent.post(self.url());
        if let Some(k) = &self.key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        let mut resp = match req.send_json(self.body(prompt, p)) {
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
                // Retried like a malformed response (perhaps a server glitch), but a model that
                // keeps saying nothing has given its reply.
                Ok(c) if c.text.is_empty() => Err(Failure {
                    retry: true,
                    message: format!(
                        "empty reply ({} is blank): {}",
                        self.field(),
                        snippet(&body)
                    ),
                    wait: None,
                    empty: true,
                }),
                Ok(c) => Ok(c),
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

    /// The model names the server lists (`GET {base}/models`, the OpenAI API's `data[].id`), or
    /// `None` when it has no such endpoint (HTTP 404/405): vLLM and `transformers serve` have it.
    pub fn served_models(&self) -> Result<Option<Vec<String>>, String> {
        let url = format!("{}/models", self.cfg.base_url.trim_end_matches('/'));
        let mut req = self.agent.get(&url);
        if let Some(k) = &self.key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        let mut resp = req.call().map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("GET {url}: reading the response: {e}"))?;
        match status {
            200..=299 => {
                let v: serde_json::Value = serde_json::from_str(&body)
                    .map_err(|e| format!("GET {url}: not JSON ({e}): {}", snippet(&body)))?;
                let names = v["data"]
                    .as_array()
                    .ok_or_else(|| format!("GET {url}: no `data` list: {}", snippet(&body)))?
                    .iter()
                    .filter_map(|m| m["id"].as_str().map(str::to_string))
                    .collect();
                Ok(Some(names))
            }
            404 | 405 => Ok(None),
            _ => Err(format!("GET {url}: HTTP {status}: {}", snippet(&body))),
        }
    }

    /// One prompt, with retries. An empty reply on the last attempt is the reply (empty text).
    pub fn complete(&self, prompt: &str, p: &Params) -> Result<Completion, String> {
        let mut delay = self.cfg.backoff;
        let attempts = self.cfg.retries + 1;
        for n in 1..=attempts {
            match self.attempt(prompt, p) {
                Ok(r) => return Ok(r),
                Err(f) if f.empty && n == attempts => {
                    tracing::warn!(
                        "request to {}: {} (after {n} attempts); taking the empty reply",
                        self.cfg.model,
                        f.message
                    );
                    return Ok(Completion {
                        text: String::new(),
                        finish_reason: None,
                    });
                }
                Err(f) if !f.retry || n == attempts => {
                    return Err(if n > 1 {
                        format!("{} (after {n} attempts)", f.message)
                    } else {
                        f.message
                    });
                }
                Err(f) => {
                    tracing::warn!(
                        "request to {} failed ({}); retrying",
                        self.cfg.model,
                        f.message
                    );
                    std::thread::sleep(f.wait.unwrap_or(delay));
                    delay *= 2;
                }
            }
        }
        unreachable!("the last attempt returns")
    }
}

/// `f` of every item, on at most `workers` threads, in the items' order.
pub fn concurrently<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let workers = workers.clamp(1, items.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= items.len() {
                    break;
                }
                let r = f(&items[i]);
                out.lock().expect("no worker panics holding it")[i] = Some(r);
            });
        }
    });
    out.into_inner()
        .expect("workers finished")
        .into_iter()
        .map(|r| r.expect("every item was taken by a worker"))
        .collect()
}
