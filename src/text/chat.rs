//! Chat formats. The Llama-3 instruct format is built in; other backbones' templates
//! (`tokenizer_config.json` rendered with minijinja) plug in behind the same type.

/// Pieces of a chat format, as text (special tokens written out).
#[derive(Debug, Clone, PartialEq)]
pub struct ChatFormat {
    /// Text at the very start of a conversation.
    pub bos: String,
    /// Text before a role's content; `{role}` is replaced by the role name.
    pub turn_start: String,
    /// Text closing a turn (also the token the model emits to end its reply).
    pub turn_end: String,
}

impl ChatFormat {
    /// Llama-3 / 3.1 / 3.2 instruct: `<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n…<|eot_id|>`.
    pub fn llama3() -> Self {
        Self {
            bos: "<|begin_of_text|>".into(),
            turn_start: "<|start_header_id|>{role}<|end_header_id|>\n\n".into(),
            turn_end: "<|eot_id|>".into(),
        }
    }

    pub fn header(&self, role: &str) -> String {
        self.turn_start.replace("{role}", role)
    }

    /// A single user turn followed by the assistant header (`add_generation_prompt = True`).
    pub fn user_prompt(&self, content: &str) -> String {
        format!("{}{}{}{}{}", self.bos, self.header("user"), content, self.turn_end, self.header("assistant"))
    }

    /// A system turn, a user turn and the assistant header.
    pub fn system_user_prompt(&self, system: &str, content: &str) -> String {
        format!(
            "{}{}{}{}{}{}{}{}",
            self.bos,
            self.header("system"),
            system,
            self.turn_end,
            self.header("user"),
            content,
            self.turn_end,
            self.header("assistant")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama3_user_prompt_matches_apply_chat_template() {
        // transformers' apply_chat_template for Meta-Llama-3-8B-Instruct, one user turn, add_generation_prompt=True.
        assert_eq!(
            ChatFormat::llama3().user_prompt("A dog barks."),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nA dog barks.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        );
    }
}
