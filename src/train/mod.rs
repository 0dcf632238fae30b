//! Training: batches, schedules, checkpoints and the loop.

pub mod batch;
pub mod checkpoint;
pub mod pretrain;
pub mod pretrain_encoder;
pub mod schedule;
pub mod step_bench;
pub mod trainer;
pub mod validate;

pub use trainer::{train, TrainJob, TrainOutcome, TrainSource};
