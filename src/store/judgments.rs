//! The judge cache: every judgment an LLM judge gave, keyed by (judge, template hash, question,
//! reference, answer), so rerunning an evaluation or a report never asks the judge again.

use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

use super::{now_iso, Store, StoreError};

/// What a judgment is about: the key's parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JudgmentKey {
    /// Engine, model and decoding settings, e.g. `openai:llama-3-70b|chat|t=0|max=512`.
    pub judge: String,
    pub template_hash: String,
    pub question: String,
    pub reference: String,
    pub answer: String,
}

impl JudgmentKey {
    /// sha256 of the JSON list of the parts (unambiguous however the texts look).
    pub fn digest(&self) -> String {
        let parts = serde_json::json!([
            self.judge,
            self.template_hash,
            self.question,
            self.reference,
            self.answer
        ]);
        hex::encode(Sha256::digest(parts.to_string().as_bytes()))
    }
}

/// One cached judgment.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedJudgment {
    pub reply: String,
    /// The parsed rating; 0 when the reply could not be parsed.
    pub rating: f64,
    pub parsed: bool,
}

impl Store {
    /// The cached judgment for `key`, if any.
    pub fn judgment(&self, key: &JudgmentKey) -> Result<Option<CachedJudgment>, StoreError> {
        self.conn
            .query_row(
                "SELECT reply, rating, parsed FROM judgments WHERE key = ?1",
                params![key.digest()],
                |r| {
                    Ok(CachedJudgment {
                        reply: r.get(0)?,
                        rating: r.get(1)?,
                        parsed: r.get::<_, i64>(2)? != 0,
                    })
                },
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// Record judgments (one transaction: a batch is either all kept or none).
    pub fn put_judgments(
        &mut self,
        judgments: &[(JudgmentKey, CachedJudgment)],
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let now = now_iso();
            for (k, j) in judgments {
                tx.execute(
                    "INSERT OR REPLACE INTO judgments (key, judge, template_hash, question, reference, answer, reply, rating, parsed, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![
                        k.digest(),
                        k.judge,
                        k.template_hash,
                        k.question,
                        k.reference,
                        k.answer,
                        j.reply,
                        j.rating,
                        j.parsed as i64,
                        now
                    ],
                )?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_key_parts_matter() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open_home(dir.path()).unwrap();
        let k = JudgmentKey {
            judge: "openai:m".into(),
            template_hash: "abc".into(),
            question: "q".into(),
            reference: "r".into(),
            answer: "a".into(),
        };
        assert_eq!(s.judgment(&k).unwrap(), None);
        let j = CachedJudgment {
            reply: "Rating: 4".into(),
            rating: 4.0,
            parsed: true,
        };
        s.put_judgments(&[(k.clone(), j.clone())]).unwrap();
        assert_eq!(s.judgment(&k).unwrap(), Some(j));
        for other in [
            JudgmentKey {
                judge: "openai:n".into(),
                ..k.clone()
            },
            JudgmentKey {
                template_hash: "abd".into(),
                ..k.clone()
            },
            JudgmentKey {
                question: "q2".into(),
                ..k.clone()
            },
            JudgmentKey {
                reference: "r2".into(),
                ..k.clone()
            },
            JudgmentKey {
                answer: "a2".into(),
                ..k.clone()
            },
        ] {
            assert_eq!(s.judgment(&other).unwrap(), None);
        }
        // Parts that would collide if simply concatenated stay apart.
        let a = JudgmentKey {
            question: "ab".into(),
            reference: "c".into(),
            ..k.clone()
        };
        let b = JudgmentKey {
            question: "a".into(),
            reference: "bc".into(),
            ..k.clone()
        };
        assert_ne!(a.digest(), b.digest());
    }
}
