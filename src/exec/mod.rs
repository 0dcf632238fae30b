//! Executing experiments: register the grid, claim runs atomically, execute their stages in
//! dependency order with one or several worker processes on one store (or as Slurm job arrays,
//! `slurm.rs`), then render the report.

pub mod ask;
pub mod score_set;
pub mod slurm;
pub mod stages;
pub mod trained;
pub mod worker;

pub use worker::{run_experiment, RunOptions, RunSummary};
