//! Run stores and their ingestion. A task of a cluster executor (`acdc run --executor slurm`)
//! executes one run against that run's own store, `runs/<id>/run.db` in the shared home, and
//! writes nothing else but the run's folder (and the build-once models and worlds every run
//! shares): no two hosts ever write one SQLite file, which SQLite does not support on network
//! filesystems. `acdc ingest` (also run by `acdc run` and `acdc report`) copies what those stores
//! hold into `acdc.db`: the run's row, stage records, step metrics, scores, item scores,
//! predictions and artifacts, replacing what an earlier ingestion copied (so it is idempotent
//! and a rerun task's newer records win), plus the dialogue-target sets and judgments it made,
//! which are shared by key and only added.

use std::path::{Path, PathBuf};

use super::{Store, StoreError};
use crate::home::Home;

/// Tables keyed by run whose rows a run store's ingestion replaces.
const RUN_TABLES: &[&str] = &[
    "stages",
    "step_metrics",
    "evals",
    "item_scores",
    "predictions",
    "artifacts",
];

/// Tables shared by key (cached dialogue targets, judge replies): rows are only added.
const SHARED_TABLES: &[&str] = &["target_sets", "targets", "judgments"];

/// What one ingestion copied.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Ingested {
    pub run_id: String,
    pub status: String,
    pub rows: usize,
}

impl Store {
    /// Open (creating if needed) the own store of run `run_id` under `home`, for a task that
    /// executes it there; its run folders are `home`'s.
    pub fn open_run_store(home: &Path, run_id: &str) -> Result<Store, StoreError> {
        let dir = Home::new(home).run(run_id);
        std::fs::create_dir_all(dir.path()).map_err(|e| StoreError::Open {
            path: dir.path().to_path_buf(),
            message: format!("cannot create the run folder: {e}"),
        })?;
        let mut store = Store::open(&dir.store())?;
        store.home_dir = home.to_path_buf();
        Ok(store)
    }

    /// Copy what the run store at `src` holds about `run_id` into this store (see the module
    /// docs). The run must be registered here (its row exists); its status, times, worker and
    /// error are taken from `src`.
    pub fn ingest_run_store(&mut self, src: &Path, run_id: &str) -> Result<Ingested, StoreError> {
        // Brought to this build's schema first, so both sides have the same columns.
        let status: String = {
            let s = Store::open(src)?;
            s.run(run_id)?.status.as_str().to_string()
        };
        let src_s = src.display().to_string();
        let rows = self.write(|tx| {
            tx.execute("ATTACH DATABASE ?1 AS src", [&src_s])?;
            let mut rows = 0;
            let copy = |sql: &str| tx.execute(sql, [run_id]);
            rows += copy("INSERT OR REPLACE INTO main.runs SELECT * FROM src.runs WHERE id = ?1")?;
            for t in RUN_TABLES {
                copy(&format!("DELETE FROM main.{t} WHERE run_id = ?1"))?;
                rows += copy(&format!(
                    "INSERT INTO main.{t} SELECT * FROM src.{t} WHERE run_id = ?1"
                ))?;
            }
            for t in SHARED_TABLES {
                rows += tx.execute(
                    &format!("INSERT OR IGNORE INTO main.{t} SELECT * FROM src.{t}"),
                    [],
                )?;
            }
            Ok(rows)
        });
        // Detached whatever happened (a failed transaction leaves it attached).
        let _ = self.conn.execute("DETACH DATABASE src", []);
        Ok(Ingested {
            run_id: run_id.to_string(),
            status,
            rows: rows?,
        })
    }

    /// Ingest the run store of every run of `run_ids` that has one under this store's home.
    pub fn ingest_runs(&mut self, run_ids: &[String]) -> Result<Vec<Ingested>, StoreError> {
        let home = self.home();
        let mut out = Vec::new();
        for id in run_ids {
            let src: PathBuf = Home::new(&home).run(id).store();
            if src.exists() {
                out.push(self.ingest_run_store(&src, id)?);
            }
        }
        Ok(out)
    }
}
