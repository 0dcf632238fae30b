//! Prompt assembly: the backbone's chat format with audio embeddings spliced into the user turn:
//! `[prefix tokens] [audio embeddings] [optional instruction] [assistant header] [response <eot>]`.

use super::chat::ChatFormat;
use super::tokenizer::{TextTokenizer, TokenizerError};

/// Token ids around the audio slot.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioPrompt {
    /// Up to and including the user header.
    pub prefix: Vec<u32>,
    /// The instruction (if any), the end of the user turn and the assistant header.
    pub suffix: Vec<u32>,
}

/// Build the ids around the audio slot; `instruction = None` for dialogue-continuation rows.
pub fn audio_prompt(tok: &TextTokenizer, chat: &ChatFormat, instruction: Option<&str>) -> Result<AudioPrompt, TokenizerError> {
    let prefix = tok.encode(&format!("{}{}", chat.bos, chat.header("user")))?;
    let instr = instruction.map(|s| format!(" {s}")).unwrap_or_default();
    let suffix = tok.encode(&format!("{instr}{}{}", chat.turn_end, chat.header("assistant")))?;
    Ok(AudioPrompt { prefix, suffix })
}

/// Ids of a text-only user turn plus the assistant header (how captions are put to the LLM to get
/// dialogue-continuation replies).
pub fn text_prompt(tok: &TextTokenizer, chat: &ChatFormat, user: &str) -> Result<Vec<u32>, TokenizerError> {
    tok.encode(&chat.user_prompt(user))
}

/// Ids of a response followed by the end-of-turn token (the training target).
pub fn response_ids(tok: &TextTokenizer, chat: &ChatFormat, text: &str) -> Result<Vec<u32>, TokenizerError> {
    tok.encode(&format!("{text}{}", chat.turn_end))
}

/// The ids that end a reply.
pub fn stop_ids(tok: &TextTokenizer, chat: &ChatFormat) -> Vec<u32> {
    let mut out = Vec::new();
    for t in [chat.turn_end.as_str(), "<|end_of_text|>"] {
        if let Ok(id) = tok.token_id(t) {
            out.push(id);
        }
    }
    out
}
