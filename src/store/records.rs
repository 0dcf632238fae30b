//! Step metrics, evaluation scores, predictions and artifacts of runs.

use rusqlite::params;
use sha2::{Digest, Sha256};
use std::path::Path;

use super::{now_iso, Store, StoreError};

/// One evaluation score.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalScore {
    pub task: String,
    pub metric: String,
    pub value: f64,
    pub n: i64,
}

/// One item's score behind a score that is a mean over items (`evals`): the verdict of a probe
/// (1/0 under its kind), an answer's token-F1, exact match or judge rating (× 20, as
/// `judge_score`), a caption's CIDEr-D or ROUGE-L. The mean of a (task, metric)'s item scores is
/// its score (probes: `mean` is the mean over the kinds, derived from them, not stored).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ItemScore {
    pub task: String,
    pub metric: String,
    pub item_id: String,
    pub value: f64,
}

/// One stored prediction.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Prediction {
    pub task: String,
    pub item_id: String,
    pub prompt: String,
    pub output: String,
    pub references: Vec<String>,
    /// The output hit `decode.max_new_tokens` before an end of turn (false where an older
    /// release did not record it).
    pub cut_off: bool,
}

/// One recorded artifact.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Artifact {
    pub path: String,
    pub kind: String,
    pub sha256: String,
    pub bytes: i64,
}

impl Store {
    /// Write a batch of step metrics `(step, name, value)` in one transaction (a later write of the
    /// same step and name replaces the earlier, so a resumed run does not duplicate points).
    pub fn log_steps(
        &mut self,
        run_id: &str,
        points: &[(u64, String, f64)],
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut st = tx
                .prepare_cached("INSERT OR REPLACE INTO step_metrics (run_id, step, name, value) VALUES (?1, ?2, ?3, ?4)")?;
            for (step, name, value) in points {
                st.execute(params![run_id, *step as i64, name, value])?;
            }
            Ok(())
        })
    }

    /// Drop step metrics after `step` (used when a run resumes from an earlier checkpoint).
    pub fn truncate_steps_after(&self, run_id: &str, step: u64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "DELETE FROM step_metrics WHERE run_id = ?1 AND step > ?2",
                params![run_id, step as i64],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// One metric's curve: (step, value) in step order.
    pub fn step_series(&self, run_id: &str, name: &str) -> Result<Vec<(u64, f64)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT step, value FROM step_metrics WHERE run_id = ?1 AND name = ?2 ORDER BY step")
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map(params![run_id, name], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// Record evaluation scores (replacing earlier values of the same task and metric).
    /// Record scores (replacing a run's earlier value of the same task and metric). A NaN or
    /// infinite score is refused, naming it: SQLite would store it as NULL and fail on the schema
    /// with an error that names neither.
    pub fn put_evals(&mut self, run_id: &str, scores: &[EvalScore]) -> Result<(), StoreError> {
        self.check_finite(run_id, scores)?;
        self.write(|tx| {
            for s in scores {
                tx.execute(
                    "INSERT OR REPLACE INTO evals (run_id, task, metric, value, n) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![run_id, s.task, s.metric, s.value, s.n],
                )?;
            }
            Ok(())
        })
    }

    /// Refuse a batch holding a NaN or infinite score, naming it.
    pub(crate) fn check_finite(
        &self,
        run_id: &str,
        scores: &[EvalScore],
    ) -> Result<(), StoreError> {
        match scores.iter().find(|s| !s.value.is_finite()) {
            Some(s) => Err(StoreError::NonFiniteScore {
                path: self.path.clone(),
                run: run_id.into(),
                task: s.task.clone(),
                metric: s.metric.clone(),
                value: s.value,
            }),
            None => Ok(()),
        }
    }

    /// Delete the run's scores that are not among `keep` (task, metric), and their item scores:
    /// after a complete evaluation, metrics it no longer produces (a jar taken away, a set
    /// dropped) do not linger beside the new ones. Sets scored by `acdc eval`
    /// ([`super::adhoc`]) are not the evaluation's to drop and stay, with their item scores.
    pub fn retain_evals(&mut self, run_id: &str, keep: &[EvalScore]) -> Result<(), StoreError> {
        let keep: std::collections::BTreeSet<(&str, &str)> = keep
            .iter()
            .map(|s| (s.task.as_str(), s.metric.as_str()))
            .collect();
        let adhoc = self.adhoc_sets(run_id)?;
        let old = self.evals(run_id)?;
        let old_items = self.item_score_keys(run_id)?;
        self.write(|tx| {
            for s in old.iter().filter(|s| {
                !keep.contains(&(s.task.as_str(), s.metric.as_str()))
                    && !super::adhoc::is_adhoc_task(&adhoc, &s.task)
            }) {
                tx.execute(
                    "DELETE FROM evals WHERE run_id = ?1 AND task = ?2 AND metric = ?3",
                    params![run_id, s.task, s.metric],
                )?;
            }
            for (task, metric) in old_items.iter().filter(|(t, m)| {
                !keep.contains(&(t.as_str(), m.as_str())) && !super::adhoc::is_adhoc_task(&adhoc, t)
            }) {
                tx.execute(
                    "DELETE FROM item_scores WHERE run_id = ?1 AND task = ?2 AND metric = ?3",
                    params![run_id, task, metric],
                )?;
            }
            Ok(())
        })
    }

    /// Record item scores: each (task, metric) in the batch replaces all the run's earlier item
    /// scores of that task and metric (a set that shrank leaves no stale items). A NaN or
    /// infinite value is refused, naming its item; nothing of the batch is then saved.
    pub fn put_item_scores(&mut self, run_id: &str, items: &[ItemScore]) -> Result<(), StoreError> {
        if let Some(s) = items.iter().find(|s| !s.value.is_finite()) {
            return Err(StoreError::NonFiniteScore {
                path: self.path.clone(),
                run: run_id.into(),
                task: s.task.clone(),
                metric: format!("{} (item `{}`)", s.metric, s.item_id),
                value: s.value,
            });
        }
        let keys: std::collections::BTreeSet<(&str, &str)> = items
            .iter()
            .map(|s| (s.task.as_str(), s.metric.as_str()))
            .collect();
        self.write(|tx| {
            for (task, metric) in &keys {
                tx.execute(
                    "DELETE FROM item_scores WHERE run_id = ?1 AND task = ?2 AND metric = ?3",
                    params![run_id, task, metric],
                )?;
            }
            let mut st = tx.prepare_cached(
                "INSERT OR REPLACE INTO item_scores (run_id, task, metric, item_id, value) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for s in items {
                st.execute(params![run_id, s.task, s.metric, s.item_id, s.value])?;
            }
            Ok(())
        })
    }

    /// A run's item scores, by task, metric and item id.
    pub fn item_scores(&self, run_id: &str) -> Result<Vec<ItemScore>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT task, metric, item_id, value FROM item_scores WHERE run_id = ?1 ORDER BY task, metric, item_id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map(params![run_id], |r| {
                Ok(ItemScore {
                    task: r.get(0)?,
                    metric: r.get(1)?,
                    item_id: r.get(2)?,
                    value: r.get(3)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// The (task, metric) pairs a run has item scores for.
    fn item_score_keys(&self, run_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT DISTINCT task, metric FROM item_scores WHERE run_id = ?1")
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    pub fn evals(&self, run_id: &str) -> Result<Vec<EvalScore>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT task, metric, value, n FROM evals WHERE run_id = ?1 ORDER BY task, metric",
            )
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map(params![run_id], |r| {
                Ok(EvalScore {
                    task: r.get(0)?,
                    metric: r.get(1)?,
                    value: r.get(2)?,
                    n: r.get(3)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    pub fn put_predictions(
        &mut self,
        run_id: &str,
        preds: &[Prediction],
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            for p in preds {
                tx.execute(
                    "INSERT OR REPLACE INTO predictions (run_id, task, item_id, prompt, output, refs, cut_off) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![run_id, p.task, p.item_id, p.prompt, p.output, serde_json::to_string(&p.references).unwrap_or_default(), p.cut_off],
                )?;
            }
            Ok(())
        })
    }

    /// Forget the predictions of a run's own evaluation and the item scores made from them
    /// (before it decodes afresh, or its weights are trained again); those of sets scored by
    /// `acdc eval` ([`super::adhoc`]) stay with their scores.
    pub fn delete_predictions(&self, run_id: &str) -> Result<(), StoreError> {
        let adhoc = self.adhoc_sets(run_id)?;
        let tasks: Vec<String> = {
            let mut st = self
                .conn
                .prepare(
                    "SELECT task FROM predictions WHERE run_id = ?1 \
                     UNION SELECT task FROM item_scores WHERE run_id = ?1",
                )
                .map_err(|e| self.sql(e))?;
            let rows = st
                .query_map(params![run_id], |r| r.get(0))
                .map_err(|e| self.sql(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))?
        };
        let tx = self.conn.unchecked_transaction().map_err(|e| self.sql(e))?;
        for t in tasks
            .iter()
            .filter(|t| !super::adhoc::is_adhoc_task(&adhoc, t))
        {
            tx.execute(
                "DELETE FROM predictions WHERE run_id = ?1 AND task = ?2",
                params![run_id, t],
            )
            .and_then(|_| {
                tx.execute(
                    "DELETE FROM item_scores WHERE run_id = ?1 AND task = ?2",
                    params![run_id, t],
                )
            })
            .map_err(|e| self.sql(e))?;
        }
        tx.commit().map_err(|e| self.sql(e))
    }

    pub fn predictions(
        &self,
        run_id: &str,
        task: Option<&str>,
    ) -> Result<Vec<Prediction>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT task, item_id, prompt, output, refs, cut_off FROM predictions WHERE run_id = ?1 AND (?2 IS NULL OR task = ?2)
                 ORDER BY task, item_id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map(params![run_id, task], |r| {
                let refs: String = r.get(4)?;
                Ok(Prediction {
                    task: r.get(0)?,
                    item_id: r.get(1)?,
                    prompt: r.get(2)?,
                    output: r.get(3)?,
                    references: serde_json::from_str(&refs).unwrap_or_default(),
                    cut_off: r.get::<_, Option<bool>>(5)?.unwrap_or(false),
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// Record a file produced by a run, with its hash and size.
    pub fn put_artifact(
        &self,
        run_id: &str,
        file: &Path,
        kind: &str,
    ) -> Result<Artifact, StoreError> {
        let bytes = std::fs::read(file).map_err(|e| StoreError::Open {
            path: file.to_path_buf(),
            message: format!("cannot read artifact: {e}"),
        })?;
        let art = Artifact {
            path: file.display().to_string(),
            kind: kind.into(),
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes: bytes.len() as i64,
        };
        self.conn
            .execute(
                "INSERT OR REPLACE INTO artifacts (run_id, path, kind, sha256, bytes, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![run_id, art.path, art.kind, art.sha256, art.bytes, now_iso()],
            )
            .map_err(|e| self.sql(e))?;
        Ok(art)
    }

    pub fn artifacts(&self, run_id: &str) -> Result<Vec<Artifact>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT path, kind, sha256, bytes FROM artifacts WHERE run_id = ?1 ORDER BY path",
            )
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map(params![run_id], |r| {
                Ok(Artifact {
                    path: r.get(0)?,
                    kind: r.get(1)?,
                    sha256: r.get(2)?,
                    bytes: r.get(3)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }
}
