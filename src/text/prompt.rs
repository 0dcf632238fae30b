//! Prompt assembly: the backbone's chat format with audio embeddings spliced into the user turn:
//! `[prefix tokens] [audio embeddings] [optional instruction] [assistant header] [response <end>]`.

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

fn tmpl(e: super::template::TemplateError) -> TokenizerError {
    TokenizerError::Encode(e.to_string())
}

/// Build the ids around the audio slot; `instruction = None` for dialogue-continuation rows.
pub fn audio_prompt(
    tok: &TextTokenizer,
    chat: &ChatFormat,
    instruction: Option<&str>,
) -> Result<AudioPrompt, TokenizerError> {
    let after = instruction.map(|s| format!(" {s}")).unwrap_or_default();
    let (before, rest) = chat.split_user_prompt(&after).map_err(tmpl)?;
    Ok(AudioPrompt {
        prefix: tok.encode(&before)?,
        suffix: tok.encode(&rest)?,
    })
}

/// Ids of a text-only user turn plus the assistant header (how captions are put to the LLM to get
/// dialogue-continuation replies).
pub fn text_prompt(
    tok: &TextTokenizer,
    chat: &ChatFormat,
    user: &str,
) -> Result<Vec<u32>, TokenizerError> {
    tok.encode(&chat.user_prompt(user).map_err(tmpl)?)
}

/// Ids of a response (the training target), followed by the token(s) that end a reply when
/// `ends` (a reply cut off by a length limit did not end, and is not taught to).
pub fn response_ids(
    tok: &TextTokenizer,
    chat: &ChatFormat,
    text: &str,
    ends: bool,
) -> Result<Vec<u32>, TokenizerError> {
    if !ends {
        return tok.encode(text);
    }
    tok.encode(&format!("{text}{}", chat.reply_end().map_err(tmpl)?))
}

/// The ids that end a reply: the template's reply end and the common end-of-text tokens.
pub fn stop_ids(tok: &TextTokenizer, chat: &ChatFormat) -> Vec<u32> {
    let mut out = Vec::new();
    let end = chat.reply_end().unwrap_or_default();
    for t in [end.as_str(), "<|end_of_text|>", "<|endoftext|>", "</s>"] {
        if let Ok(id) = tok.token_id(t) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply that ended is followed by the reply end; one that was cut off is not.
    #[test]
    fn response_ids_end_only_replies_that_ended() {
        let tok = TextTokenizer::train_byte_level_bpe(&["a dog barks twice".into()], 300).unwrap();
        let chat = ChatFormat::llama3();
        let open = response_ids(&tok, &chat, "a dog barks", false).unwrap();
        let ended = response_ids(&tok, &chat, "a dog barks", true).unwrap();
        let eot = tok.token_id("<|eot_id|>").unwrap();
        assert_eq!(open, tok.encode("a dog barks").unwrap());
        assert_eq!(ended, [open.clone(), vec![eot]].concat());
    }
}
