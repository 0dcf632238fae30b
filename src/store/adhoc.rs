//! Evaluation sets scored after training (`acdc eval RUN --aqa … --name SET`): a set owns the
//! run's tasks `SET/…` (its scores and predictions) and is recorded as the run's stage
//! `eval:SET`, whose info says what was scored (files, hashes, items) and how.
//!
//! Such a set belongs to no run configuration, so the run's own evaluation never produces it: a
//! complete evaluation ([`Store::retain_evals`], `acdc run --reeval`) and new decoding
//! ([`Store::delete_predictions`]) leave it alone. Only a new `acdc eval` of the same set
//! replaces it, all at once.

use rusqlite::params;

use super::records::{EvalScore, ItemScore, Prediction};
use super::stages::{info_json, AdhocInfo, StageInfo, StageName};
use super::{now_iso, Store, StoreError};

/// The set a task belongs to: what comes before its first `/` (`held/aqa` → `held`).
pub fn task_set(task: &str) -> &str {
    task.split('/').next().unwrap_or(task)
}

/// Whether `task` belongs to one of `sets` (from [`Store::adhoc_sets`]).
pub(crate) fn is_adhoc_task(sets: &[String], task: &str) -> bool {
    sets.iter().any(|s| s == task_set(task))
}

impl Store {
    /// Names of the sets `acdc eval` scored for this run.
    pub fn adhoc_sets(&self, run_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .stages(run_id)?
            .into_iter()
            .filter_map(|r| match r.stage {
                StageName::Adhoc(set) => Some(set),
                _ => None,
            })
            .collect())
    }

    /// Record a set scored by `acdc eval` in one transaction: every earlier score and prediction
    /// of the set's tasks goes, the new ones and the stage `eval:SET` (done, with `info`) are
    /// written. A refused batch (a non-finite score) changes nothing.
    pub fn replace_adhoc_set(
        &mut self,
        run_id: &str,
        set: &str,
        info: &AdhocInfo,
        scores: &[EvalScore],
        items: &[ItemScore],
        predictions: &[Prediction],
    ) -> Result<(), StoreError> {
        self.check_finite(run_id, scores)?;
        if let Some(s) = items.iter().find(|s| !s.value.is_finite()) {
            return Err(StoreError::NonFiniteScore {
                path: self.path.clone(),
                run: run_id.into(),
                task: s.task.clone(),
                metric: format!("{} (item `{}`)", s.metric, s.item_id),
                value: s.value,
            });
        }
        let like = format!("{}/%", set.replace('%', "\\%").replace('_', "\\_"));
        let stage = StageName::Adhoc(set.to_string()).key();
        let info = info_json(Some(&StageInfo::Adhoc(info.clone())), None);
        let now = now_iso();
        self.write(|tx| {
            for table in ["evals", "item_scores", "predictions"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE run_id = ?1 AND task LIKE ?2 ESCAPE '\\'"),
                    params![run_id, like],
                )?;
            }
            for s in scores {
                tx.execute(
                    "INSERT INTO evals (run_id, task, metric, value, n) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![run_id, s.task, s.metric, s.value, s.n],
                )?;
            }
            for i in items {
                tx.execute(
                    "INSERT INTO item_scores (run_id, task, metric, item_id, value) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![run_id, i.task, i.metric, i.item_id, i.value],
                )?;
            }
            for p in predictions {
                tx.execute(
                    "INSERT INTO predictions (run_id, task, item_id, prompt, output, refs) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![run_id, p.task, p.item_id, p.prompt, p.output, serde_json::to_string(&p.references).unwrap_or_default()],
                )?;
            }
            tx.execute(
                "INSERT INTO stages (run_id, stage, status, started_at, finished_at, info) VALUES (?1, ?2, 'done', ?3, ?3, ?4)
                 ON CONFLICT(run_id, stage) DO UPDATE SET status = 'done', started_at = excluded.started_at,
                 finished_at = excluded.finished_at, info = excluded.info",
                params![run_id, stage, now, info],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(task: &str, metric: &str, value: f64) -> EvalScore {
        EvalScore {
            task: task.into(),
            metric: metric.into(),
            value,
            n: 2,
        }
    }

    fn pred(task: &str, id: &str) -> Prediction {
        Prediction {
            task: task.into(),
            item_id: id.into(),
            prompt: "q".into(),
            output: "a".into(),
            references: vec!["r".into()],
            cut_off: false,
        }
    }

    fn keys(s: &Store, run: &str) -> Vec<String> {
        s.evals(run)
            .unwrap()
            .iter()
            .map(|e| format!("{}/{}", e.task, e.metric))
            .collect()
    }

    /// An ad-hoc set survives a complete evaluation (`retain_evals`) and new decoding
    /// (`delete_predictions`); a new `acdc eval` of it replaces all of it; a refused batch keeps
    /// what was recorded.
    #[test]
    fn adhoc_sets_survive_the_runs_own_evaluation() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(&d.path().join("acdc.db")).unwrap();
        let run = "abc123abc123";
        // Stages belong to a registered run.
        s.conn
            .execute(
                "INSERT INTO runs (id, config, created_at) VALUES (?1, '{}', '2026-01-01T00:00:00Z')",
                params![run],
            )
            .unwrap();
        s.put_evals(
            run,
            &[
                score("synth_test/aqa", "token_f1", 0.5),
                score("gone_test/aqa", "token_f1", 0.1),
            ],
        )
        .unwrap();
        s.put_predictions(run, &[pred("synth_test/aqa", "q1")])
            .unwrap();
        let info = AdhocInfo {
            kind: "acdc eval".into(),
            sources: [(
                "aqa".to_string(),
                crate::store::stages::SetFile {
                    file: "held.jsonl".into(),
                    sha256: "0".repeat(64),
                    items: 1,
                },
            )]
            .into(),
            ..Default::default()
        };
        s.replace_adhoc_set(
            run,
            "held",
            &info,
            &[
                score("held/aqa", "token_f1", 0.25),
                score("held/aac", "cider_d", 0.3),
            ],
            &[],
            &[pred("held/aqa", "h1"), pred("held/aac", "c1")],
        )
        .unwrap();
        // `heldx/…` is not `held`'s.
        s.put_evals(run, &[score("heldx/aqa", "token_f1", 0.9)])
            .unwrap();
        assert_eq!(s.adhoc_sets(run).unwrap(), vec!["held".to_string()]);
        let stage = s.stage(run, &StageName::Adhoc("held".into())).unwrap();
        assert_eq!(stage.as_ref().and_then(|r| r.adhoc()), Some(&info));

        // The run's own complete evaluation produced only synth_test/aqa.
        s.retain_evals(run, &[score("synth_test/aqa", "token_f1", 0.6)])
            .unwrap();
        assert_eq!(
            keys(&s, run),
            vec![
                "held/aac/cider_d",
                "held/aqa/token_f1",
                "synth_test/aqa/token_f1"
            ]
        );
        s.delete_predictions(run).unwrap();
        let preds: Vec<String> = s
            .predictions(run, None)
            .unwrap()
            .into_iter()
            .map(|p| p.task)
            .collect();
        assert_eq!(preds, vec!["held/aac", "held/aqa"]);

        // A non-finite score is refused and nothing changes.
        let e = s
            .replace_adhoc_set(
                run,
                "held",
                &info,
                &[score("held/aqa", "token_f1", f64::NAN)],
                &[],
                &[],
            )
            .unwrap_err();
        assert!(e.to_string().contains("held/aqa/token_f1"), "{e}");
        assert_eq!(keys(&s, run).len(), 3);

        // A new evaluation of the set (AQA only this time) replaces all of it, and only it
        // (`held_x/…` survives: LIKE's `_` is escaped).
        s.put_evals(run, &[score("held_x/aqa", "token_f1", 0.9)])
            .unwrap();
        s.replace_adhoc_set(
            run,
            "held",
            &info,
            &[score("held/aqa", "token_f1", 0.75)],
            &[],
            &[pred("held/aqa", "h2")],
        )
        .unwrap();
        assert_eq!(
            keys(&s, run),
            vec![
                "held/aqa/token_f1",
                "held_x/aqa/token_f1",
                "synth_test/aqa/token_f1"
            ]
        );
        let p = s.predictions(run, Some("held/aqa")).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].item_id, "h2");
        assert!(s.predictions(run, Some("held/aac")).unwrap().is_empty());
    }
}
