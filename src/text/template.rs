//! Chat templates from `tokenizer_config.json` (or `chat_template.jinja`), rendered with minijinja
//! the way transformers' `apply_chat_template` renders them with Jinja2: `trim_blocks` and
//! `lstrip_blocks` on, Python string methods available (`.strip()`, `.startswith()`, …),
//! `raise_exception(msg)` and `strftime_now(fmt)` as globals, and the tokenizer's special tokens
//! (`bos_token`, `eos_token`, …) in the context with `messages` and `add_generation_prompt`.

use std::path::{Path, PathBuf};

use minijinja::{Environment, ErrorKind};
use serde::Serialize;

/// One chat message.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: &str) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{}: {message}", path.display())]
    Load { path: PathBuf, message: String },
    #[error("chat template: {0}")]
    Render(String),
}

/// The date `strftime_now` gives templates (Llama 3.1–3.3 put "Today Date: …" into every
/// prompt): 26 Jul 2024, the date those templates fall back to without `strftime_now`.
/// transformers renders the real date, so its prompts change daily; acdc's do not, so the same
/// run renders the same prompts whenever it runs or resumes.
pub const TEMPLATE_DATE: (i64, u32, u32) = (2024, 7, 26);

/// A Jinja chat template with the special tokens its context needs.
#[derive(Debug, Clone, PartialEq)]
pub struct JinjaTemplate {
    pub source: String,
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
    pub pad_token: Option<String>,
    pub unk_token: Option<String>,
}

fn token_field(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Object(o) => o
            .get("content")
            .and_then(|c| c.as_str())
            .map(str::to_string),
        _ => None,
    }
}

impl JinjaTemplate {
    /// The template of a model directory: `chat_template.jinja` if present, else the
    /// `chat_template` of `tokenizer_config.json` (a string, or a list of named templates from which
    /// `default` is taken). `None` when the directory has neither.
    pub fn from_model_dir(dir: &Path) -> Result<Option<JinjaTemplate>, TemplateError> {
        let cfg_path = dir.join("tokenizer_config.json");
        let cfg: serde_json::Value = match std::fs::read_to_string(&cfg_path) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| TemplateError::Load {
                path: cfg_path.clone(),
                message: e.to_string(),
            })?,
            Err(_) => serde_json::Value::Null,
        };
        let file = dir.join("chat_template.jinja");
        let source = if file.exists() {
            Some(
                std::fs::read_to_string(&file).map_err(|e| TemplateError::Load {
                    path: file.clone(),
                    message: e.to_string(),
                })?,
            )
        } else {
            match &cfg["chat_template"] {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Array(list) => list
                    .iter()
                    .find(|t| t["name"] == "default")
                    .and_then(|t| t["template"].as_str())
                    .map(str::to_string)
                    .or_else(|| {
                        list.first()
                            .and_then(|t| t["template"].as_str())
                            .map(str::to_string)
                    }),
                _ => None,
            }
        };
        let Some(source) = source else {
            return Ok(None);
        };
        let t = JinjaTemplate {
            source,
            bos_token: token_field(&cfg["bos_token"]),
            eos_token: token_field(&cfg["eos_token"]),
            pad_token: token_field(&cfg["pad_token"]),
            unk_token: token_field(&cfg["unk_token"]),
        };
        // Fail early, naming the file, if the template does not compile.
        t.env()
            .template_from_str(&t.source)
            .map_err(|e| TemplateError::Load {
                path: cfg_path,
                message: format!("chat template does not compile: {e}"),
            })?;
        Ok(Some(t))
    }

    fn env(&self) -> Environment<'_> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |msg: String| -> Result<String, minijinja::Error> {
                Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
            },
        );
        env.add_function("strftime_now", |fmt: String| -> String {
            // A fixed "today" (see TEMPLATE_DATE), so a prompt never depends on the day it is
            // rendered: cached targets, resumed training and evaluation see the same text.
            let (y, m, d) = TEMPLATE_DATE;
            const MONTHS: [&str; 12] = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
            fmt.replace("%d", &format!("{d:02}"))
                .replace("%b", MONTHS[(m - 1) as usize])
                .replace("%Y", &y.to_string())
                .replace("%m", &format!("{m:02}"))
        });
        env
    }

    /// Render `messages`; with `add_generation_prompt` the assistant header is appended.
    pub fn render(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<String, TemplateError> {
        let env = self.env();
        let tmpl = env
            .template_from_str(&self.source)
            .map_err(|e| TemplateError::Render(e.to_string()))?;
        tmpl.render(minijinja::context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token.clone().unwrap_or_default(),
            eos_token => self.eos_token.clone().unwrap_or_default(),
            pad_token => self.pad_token.clone(),
            unk_token => self.unk_token.clone(),
            tools => minijinja::Value::from(()),
        })
        .map_err(|e| {
            TemplateError::Render(match e.detail() {
                Some(d) => format!("{} ({d})", e.kind()),
                None => e.to_string(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "Today" in a template is the fixed TEMPLATE_DATE, whatever the clock says.
    #[test]
    fn strftime_now_is_the_fixed_template_date() {
        let t = JinjaTemplate {
            source: "Today Date: {{ strftime_now('%d %b %Y') }} ({{ strftime_now('%Y-%m-%d') }})"
                .into(),
            bos_token: None,
            eos_token: None,
            pad_token: None,
            unk_token: None,
        };
        let out = t.render(&[Message::new("user", "hi")], false).unwrap();
        assert_eq!(out, "Today Date: 26 Jul 2024 (2024-07-26)");
    }
}
