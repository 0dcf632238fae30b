//! The generated-targets cache: replies of a backbone to captions, shared by every run that asks
//! for the same ones (same backbone, captions, sampling settings and seed).

use rusqlite::{params, OptionalExtension};

use super::{now_iso, Store, StoreError};

/// One cached target.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedTarget {
    pub item_id: String,
    pub sample: u32,
    pub source: String,
    pub text: String,
    /// The reply reached the length limit without ending.
    pub truncated: bool,
}

impl Store {
    /// Whether a target set is complete.
    pub fn target_set_complete(&self, key: &str) -> Result<bool, StoreError> {
        let v: Option<i64> = self
            .conn
            .query_row(
                "SELECT complete FROM target_sets WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        Ok(v == Some(1))
    }

    /// Create a target set record (idempotent).
    pub fn target_set_begin(&self, key: &str, spec: &serde_json::Value) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO target_sets (key, spec, complete, created_at) VALUES (?1, ?2, 0, ?3) ON CONFLICT(key) DO NOTHING",
                params![key, spec.to_string(), now_iso()],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Add generated targets to a set (a batch; partial progress survives a crash).
    pub fn put_targets(&mut self, key: &str, targets: &[CachedTarget]) -> Result<(), StoreError> {
        self.write(|tx| {
            for t in targets {
                tx.execute(
                    "INSERT OR REPLACE INTO targets (set_key, item_id, sample, source, text, truncated) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![key, t.item_id, t.sample, t.source, t.text, t.truncated],
                )?;
            }
            Ok(())
        })
    }

    pub fn target_set_finish(&self, key: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE target_sets SET complete = 1 WHERE key = ?1",
                params![key],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// All targets of a set, ordered by item and sample.
    pub fn targets(&self, key: &str) -> Result<Vec<CachedTarget>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT item_id, sample, source, text, truncated FROM targets WHERE set_key = ?1 ORDER BY item_id, sample")
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map(params![key], |r| {
                Ok(CachedTarget {
                    item_id: r.get(0)?,
                    sample: r.get(1)?,
                    source: r.get(2)?,
                    text: r.get(3)?,
                    // Rows cached before the flag existed belong to older set keys
                    // (`targets::TARGETS_FORMAT`) and are never read for a new set.
                    truncated: r.get::<_, Option<bool>>(4)?.unwrap_or(false),
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }
}
