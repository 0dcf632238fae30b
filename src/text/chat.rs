//! Chat formats: the built-in Llama-3 instruct format, or a backbone's own Jinja template
//! (`tokenizer_config.json`) rendered like transformers' `apply_chat_template`. Audio enters a
//! prompt through a placeholder rendered inside the user turn and cut out afterwards, so any
//! template can carry it.

use super::template::{JinjaTemplate, Message, TemplateError};

/// Stands for the audio embeddings inside a rendered prompt (a private-use character no
/// template or tokenizer gives meaning to).
pub const AUDIO_PLACEHOLDER: &str = "\u{E000}";
const REPLY_PLACEHOLDER: &str = "\u{E001}";

#[derive(Debug, Clone, PartialEq)]
pub enum ChatFormat {
    /// Meta-Llama-3-Instruct: `<|begin_of_text|><|start_header_id|>{role}<|end_header_id|>\n\n{content|trim}<|eot_id|>…`.
    Llama3,
    /// A template from the model directory.
    Jinja(JinjaTemplate),
}

impl ChatFormat {
    pub fn llama3() -> Self {
        ChatFormat::Llama3
    }

    /// Render a conversation; with `add_generation_prompt` the assistant header follows.
    pub fn render(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<String, TemplateError> {
        match self {
            ChatFormat::Llama3 => {
                let mut s = String::from("<|begin_of_text|>");
                for m in messages {
                    s.push_str(&format!(
                        "<|start_header_id|>{}<|end_header_id|>\n\n{}<|eot_id|>",
                        m.role,
                        m.content.trim()
                    ));
                }
                if add_generation_prompt {
                    s.push_str("<|start_header_id|>assistant<|end_header_id|>\n\n");
                }
                Ok(s)
            }
            ChatFormat::Jinja(t) => t.render(messages, add_generation_prompt),
        }
    }

    /// A single user turn followed by the assistant header (`add_generation_prompt = True`).
    pub fn user_prompt(&self, content: &str) -> Result<String, TemplateError> {
        self.render(&[Message::new("user", content)], true)
    }

    /// A system turn, a user turn and the assistant header.
    pub fn system_user_prompt(&self, system: &str, content: &str) -> Result<String, TemplateError> {
        self.render(
            &[
                Message::new("system", system),
                Message::new("user", content),
            ],
            true,
        )
    }

    /// The text around the audio in a user turn holding the audio followed by `after_audio`:
    /// (everything before the audio, everything after it up to and including the assistant header).
    pub fn split_user_prompt(&self, after_audio: &str) -> Result<(String, String), TemplateError> {
        let text = self.user_prompt(&format!("{AUDIO_PLACEHOLDER}{after_audio}"))?;
        let (a, b) = text.split_once(AUDIO_PLACEHOLDER).ok_or_else(|| {
            TemplateError::Render("the template dropped the user's content".into())
        })?;
        Ok((a.to_string(), b.to_string()))
    }

    /// The text that closes an assistant reply (`<|eot_id|>`, `<|im_end|>`, `</s>`, …), found by
    /// rendering a reply and reading what the template puts after it (trailing whitespace dropped).
    pub fn reply_end(&self) -> Result<String, TemplateError> {
        if *self == ChatFormat::Llama3 {
            return Ok("<|eot_id|>".into());
        }
        let user = [Message::new("user", "x")];
        let head = self.render(&user, true)?;
        let full = self.render(
            &[
                user[0].clone(),
                Message::new("assistant", REPLY_PLACEHOLDER),
            ],
            false,
        )?;
        let after = full
            .strip_prefix(head.as_str())
            .and_then(|rest| rest.split_once(REPLY_PLACEHOLDER))
            .map(|(_, after)| after.trim_end().to_string())
            .ok_or_else(|| {
                TemplateError::Render(
                    "cannot find where an assistant reply ends in this template".into(),
                )
            })?;
        Ok(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama3_user_prompt_matches_apply_chat_template() {
        // transformers' apply_chat_template for Meta-Llama-3-8B-Instruct, one user turn, add_generation_prompt=True.
        assert_eq!(
            ChatFormat::llama3().user_prompt("A dog barks.").unwrap(),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nA dog barks.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        );
        let (a, b) = ChatFormat::llama3()
            .split_user_prompt(" Describe.")
            .unwrap();
        assert_eq!(
            a,
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
        );
        assert_eq!(
            b,
            " Describe.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        );
        assert_eq!(ChatFormat::llama3().reply_end().unwrap(), "<|eot_id|>");
    }
}
