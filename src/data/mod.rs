//! Datasets: readers, the synthetic world, dataset mixes and audio features for items.

pub mod adhoc;
pub mod aqa;
pub mod audiobench;
pub mod audiocaps;
pub mod clotho;
pub mod features;
pub mod items;
pub mod mix;
pub mod run_data;
pub mod sources;
pub mod synth;
pub mod wavcaps;

pub use items::{CaptionItem, DataError, QaItem, TargetExample};
