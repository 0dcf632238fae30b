//! Text: tokenizers, chat formats and prompt assembly.

pub mod chat;
pub mod prompt;
pub mod template;
pub mod tokenizer;

pub use chat::ChatFormat;
pub use tokenizer::TextTokenizer;
