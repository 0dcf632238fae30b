//! Tokenizers from `tokenizer.json` (the tokenizers crate), and training the byte-level BPE of
//! `builtin:tiny` with Llama-3's special tokens.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{AddedToken, Tokenizer, TokenizerBuilder};

/// Llama-3's special tokens, in the order builtin tokenizers reserve them.
pub const LLAMA3_SPECIALS: &[&str] = &[
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|finetune_right_pad_id|>",
];

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("{}: cannot load tokenizer: {message}", path.display())]
    Load { path: PathBuf, message: String },
    #[error("{}: cannot save tokenizer: {message}", path.display())]
    Save { path: PathBuf, message: String },
    #[error("training the tokenizer failed: {0}")]
    Train(String),
    #[error("tokenizer has no `{0}` token")]
    MissingToken(String),
    #[error("tokenizing failed: {0}")]
    Encode(String),
}

/// A loaded tokenizer with the ids acdc needs.
#[derive(Clone)]
pub struct TextTokenizer {
    pub inner: Tokenizer,
    /// Id used to fill padded positions (never attended to, never a target).
    pub pad: u32,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TextTokenizer(vocab={}, pad={})",
            self.vocab_size(),
            self.pad
        )
    }
}

impl TextTokenizer {
    pub fn from_file(path: &Path) -> Result<Self, TokenizerError> {
        let inner = Tokenizer::from_file(path).map_err(|e| TokenizerError::Load {
            path: path.into(),
            message: e.to_string(),
        })?;
        let pad = [
            "<|finetune_right_pad_id|>",
            "<|end_of_text|>",
            "<|endoftext|>",
            "</s>",
            "<pad>",
        ]
        .iter()
        .find_map(|t| inner.token_to_id(t))
        .unwrap_or(0);
        Ok(Self { inner, pad })
    }

    /// Train a byte-level BPE (GPT-2/Llama-3 style pre-tokenisation) on `corpus`, with Llama-3's
    /// special tokens first in the vocabulary. Deterministic for the same corpus and size.
    pub fn train_byte_level_bpe(
        corpus: &[String],
        vocab_size: usize,
    ) -> Result<Self, TokenizerError> {
        let specials: Vec<AddedToken> = LLAMA3_SPECIALS
            .iter()
            .map(|s| AddedToken::from(s.to_string(), true))
            .collect();
        let alphabet: HashSet<char> = ByteLevel::alphabet().into_iter().collect();
        let mut trainer = BpeTrainerBuilder::new()
            .vocab_size(vocab_size)
            .min_frequency(2)
            .show_progress(false)
            .special_tokens(specials)
            .initial_alphabet(alphabet)
            .build();
        let mut tk = TokenizerBuilder::<
            BPE,
            NormalizerWrapper,
            ByteLevel,
            PostProcessorWrapper,
            ByteLevelDecoder,
        >::new()
        .with_model(BPE::default())
        .with_normalizer(None)
        .with_pre_tokenizer(Some(ByteLevel::new(false, true, true)))
        .with_post_processor(None)
        .with_decoder(Some(ByteLevelDecoder::default()))
        .build()
        .map_err(|e| TokenizerError::Train(e.to_string()))?;
        tk.train(&mut trainer, corpus.iter())
            .map_err(|e| TokenizerError::Train(e.to_string()))?;
        let inner: Tokenizer = tk.into();
        let pad = inner
            .token_to_id("<|finetune_right_pad_id|>")
            .ok_or_else(|| TokenizerError::MissingToken("<|finetune_right_pad_id|>".into()))?;
        Ok(Self { inner, pad })
    }

    pub fn save(&self, path: &Path) -> Result<(), TokenizerError> {
        self.inner
            .save(path, false)
            .map_err(|e| TokenizerError::Save {
                path: path.into(),
                message: e.to_string(),
            })
    }

    /// Ids of `text`; special tokens written in the text are recognised, none are added.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        Ok(self
            .inner
            .encode(text, false)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?
            .get_ids()
            .to_vec())
    }

    /// Text of `ids`, special tokens skipped.
    pub fn decode(&self, ids: &[u32]) -> String {
        self.inner.decode(ids, true).unwrap_or_default()
    }

    pub fn token_id(&self, token: &str) -> Result<u32, TokenizerError> {
        self.inner
            .token_to_id(token)
            .ok_or_else(|| TokenizerError::MissingToken(token.into()))
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trains_round_trips_and_keeps_specials_whole() {
        let corpus: Vec<String> = (0..50)
            .map(|i| {
                format!(
                    "a dog barks {} times while rain falls, then a bell rings",
                    i % 7
                )
            })
            .collect();
        let t = TextTokenizer::train_byte_level_bpe(&corpus, 300).unwrap();
        let t2 = TextTokenizer::train_byte_level_bpe(&corpus, 300).unwrap();
        let text = "A dog barks twice — then rain.";
        let ids = t.encode(text).unwrap();
        assert_eq!(ids, t2.encode(text).unwrap(), "deterministic training");
        assert_eq!(t.decode(&ids), text);
        let with_special = t.encode("<|eot_id|>dog").unwrap();
        assert_eq!(with_special[0], t.token_id("<|eot_id|>").unwrap());
        assert_eq!(t.token_id("<|begin_of_text|>").unwrap(), 0);
    }
}
