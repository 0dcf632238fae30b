//! acdc — a research framework for audio-language models that reproduces and extends AC/DC
//! (LLM-based audio comprehension via dialogue continuation). See DESIGN.md for the architecture.

pub mod app;
pub mod audio;
pub mod cli;
pub mod data;
pub mod decode;
pub mod eval;
pub mod exec;
pub mod model;
pub mod once;
pub mod openai;
pub mod report;
pub mod rng;
pub mod spec;
pub mod store;
pub mod targets;
pub mod text;
pub mod train;

/// Every binary, test and bench linking acdc allocates through mimalloc (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
