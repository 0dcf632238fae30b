//! Decoding: next-token choice and batched generation over a KV cache.

pub mod beam;
pub mod generate;
pub mod sampling;

pub use generate::{
    embed_padded, generate, generate_with_audio, left_pad, splice_prompts, split_stop,
};
pub use sampling::Sampling;
