//! acdc — a research framework for audio-language models that reproduces and extends AC/DC
//! (LLM-based audio comprehension via dialogue continuation). The map is `ARCHITECTURE.md` at the
//! repository's root; in short, modules depend downward only:
//!
//! - [`cli`], [`app`]: command-line definitions and one handler per command family;
//! - [`exec`]: registers grids, claims runs, runs their stages (data → targets → train → eval);
//! - [`targets`], [`train`], [`eval`], [`report`]: dialogue targets, the training loop, scoring,
//!   reports from the store;
//! - [`model`], [`decode`], [`data`], [`text`], [`audio`]: models, generation, datasets and the
//!   synthetic world, tokenizers and chat formats, the audio front end;
//! - [`spec`], [`store`], [`once`], [`rng`], [`openai`]: leaves — specs and run ids, the SQLite
//!   store, build-once locks, seeded random streams, the client of OpenAI-compatible servers.

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
