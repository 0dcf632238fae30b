//! `$ACDC_HOME`: every path acdc keeps under it, built here and nowhere else.
//!
//! ```text
//! $ACDC_HOME/                     (default ./acdc-home)
//!   acdc.db                       the store (SQLite, WAL)
//!   runs/<id>/config.json         a run's resolved configuration
//!   runs/<id>/checkpoints/        its training checkpoints
//!   runs/<id>/final/trainable.bpk its trained weights
//!   runs/<id>/run.db              its own store, when a cluster task ran it (`acdc ingest`)
//!   models/<name>/                the built toy models (builtin-tiny-chat-v7, …)
//!   data/<world>/                 synthetic worlds
//!   cache/features/               per-clip audio features
//!   cache/audio/<dataset>/        audio decoded from the Hugging Face hub's parquet files
//! ```

use std::path::{Path, PathBuf};

/// An acdc home directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    pub fn new(root: impl Into<PathBuf>) -> Home {
        Home { root: root.into() }
    }

    /// `$ACDC_HOME`, or `./acdc-home`.
    pub fn from_env() -> Home {
        Home::new(
            std::env::var_os("ACDC_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("acdc-home")),
        )
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store's file.
    pub fn db(&self) -> PathBuf {
        self.root.join("acdc.db")
    }

    /// A run's folder.
    pub fn run(&self, run_id: &str) -> RunDir {
        RunDir::at(self.root.join("runs").join(run_id))
    }

    /// A built model's folder (`builtin-tiny-chat-v7`, `builtin-tiny-eat-events-v1`, …).
    pub fn model_dir(&self, name: &str) -> PathBuf {
        self.root.join("models").join(name)
    }

    /// A synthetic world's folder.
    pub fn world_dir(&self, name: &str) -> PathBuf {
        self.root.join("data").join(name)
    }

    /// The per-clip audio feature cache.
    pub fn feature_cache(&self) -> PathBuf {
        self.root.join("cache").join("features")
    }

    /// Audio decoded from a hub dataset's parquet files.
    pub fn audio_cache(&self, dataset: &str) -> PathBuf {
        self.root.join("cache").join("audio").join(dataset)
    }
}

/// A run's folder under `runs/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// The run folder at `path` (what [`Home::run`] gives).
    pub fn at(path: impl Into<PathBuf>) -> RunDir {
        RunDir { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run's resolved configuration, as written when it starts.
    pub fn config(&self) -> PathBuf {
        self.path.join("config.json")
    }

    /// Its training checkpoints.
    pub fn checkpoints(&self) -> PathBuf {
        self.path.join("checkpoints")
    }

    /// Its trained weights (the trainable parameters only).
    pub fn final_weights(&self) -> PathBuf {
        self.path.join("final").join("trainable.bpk")
    }

    /// The run's own store, where a task of a cluster executor records everything about the
    /// run (SQLite, one writer; `acdc ingest` copies it into `acdc.db`).
    pub fn store(&self) -> PathBuf {
        self.path.join("run.db")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout earlier releases wrote: stores and run folders of theirs keep working.
    #[test]
    fn the_layout_is_the_released_one() {
        let h = Home::new("/h");
        assert_eq!(h.db(), Path::new("/h/acdc.db"));
        let r = h.run("abc");
        assert_eq!(r.path(), Path::new("/h/runs/abc"));
        assert_eq!(r.config(), Path::new("/h/runs/abc/config.json"));
        assert_eq!(r.checkpoints(), Path::new("/h/runs/abc/checkpoints"));
        assert_eq!(
            r.final_weights(),
            Path::new("/h/runs/abc/final/trainable.bpk")
        );
        assert_eq!(h.model_dir("m"), Path::new("/h/models/m"));
        assert_eq!(h.world_dir("w"), Path::new("/h/data/w"));
        assert_eq!(h.feature_cache(), Path::new("/h/cache/features"));
        assert_eq!(h.audio_cache("clotho"), Path::new("/h/cache/audio/clotho"));
    }
}
