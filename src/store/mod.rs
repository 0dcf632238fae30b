//! The SQLite store: every experiment, run, stage, metric, prediction, artifact and cached target.
//!
//! One file, `$ACDC_HOME/acdc.db` (default `./acdc-home/`), in WAL mode with a busy timeout so
//! several worker processes share it. The schema is versioned (`schema::MIGRATIONS`).

pub mod adhoc;
pub mod ingest;
pub mod judgments;
pub mod records;
pub mod runs;
pub mod schema;
pub mod stages;
pub mod targets;

use crate::home::{Home, RunDir};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Store errors; each names the database file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {message}", path.display())]
    Open { path: PathBuf, message: String },
    #[error("{}: {source}", path.display())]
    Sql {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{}: run `{id}` not found (run ids are 12 hex digits; `acdc ls` lists them)", path.display())]
    UnknownRun { path: PathBuf, id: String },
    #[error("{}: experiment `{name}` not found", path.display())]
    UnknownExperiment { path: PathBuf, name: String },
    #[error("{}: run `{run}`: score {task}/{metric} is {value}; scores must be finite (nothing of this batch was saved)", path.display())]
    NonFiniteScore {
        path: PathBuf,
        run: String,
        task: String,
        metric: String,
        value: f64,
    },
    #[error("{}: run `{run}` is no longer this worker's: another worker took it over (its heartbeat had gone stale); nothing more is recorded for it here", path.display())]
    ClaimLost { path: PathBuf, run: String },
    #[error("{}: run prefix `{prefix}` is ambiguous: {candidates}", path.display())]
    AmbiguousRun {
        path: PathBuf,
        prefix: String,
        candidates: String,
    },
}

/// An open store.
pub struct Store {
    pub(crate) conn: Connection,
    pub path: PathBuf,
    /// The heartbeat count this process last saw for each running run it could not check
    /// otherwise, and when (by its own clock): see [`Store::claim`].
    pub(crate) beats_seen: std::collections::HashMap<String, (i64, std::time::Instant)>,
    /// How long a run's heartbeat count must stay unchanged, by this process's clock, before
    /// the run counts as abandoned ([`runs::STALE_HEARTBEAT_S`]).
    pub stale_after: Duration,
    /// The `$ACDC_HOME` whose run folders this store's runs use: the file's folder for
    /// `acdc.db`, the home above it for a run's own store ([`Store::open_run_store`]).
    home_dir: PathBuf,
}

/// `f` again while SQLite answers "busy" (another connection holds a lock it does not wait
/// for through the busy timeout), for up to 30 s.
fn retry_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let start = std::time::Instant::now();
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && start.elapsed() < Duration::from_secs(30) =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

pub(crate) fn now_iso() -> String {
    // RFC 3339 UTC from the system clock, without a date crate.
    let secs = unix_now();
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Howard Hinnant's days since 1970-01-01 → (year, month, day).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Store {
    /// Open (creating if needed) the store in `home`.
    pub fn open_home(home: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(home).map_err(|e| StoreError::Open {
            path: home.to_path_buf(),
            message: format!("cannot create ACDC_HOME directory: {e}"),
        })?;
        Self::open(&Home::new(home).db())
    }

    /// Open (creating if needed) a store file and bring its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let sql = |source| StoreError::Sql {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(sql)?;
        // The first real read tells whether this is a database at all.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| StoreError::Open {
                path: path.to_path_buf(),
                message: format!(
                    "not an acdc store (SQLite could not read it: {e}); nothing was changed"
                ),
            })?;
        // WAL for the shared store; a run's own store (`runs/<id>/run.db`) keeps a rollback
        // journal, since it may sit on a network filesystem and be read from another host, where
        // WAL's shared memory does not reach.
        let journal = if path.file_name().is_some_and(|n| n == "run.db") {
            "DELETE"
        } else {
            "WAL"
        };
        // Switching a fresh file's journal mode takes an exclusive lock that SQLite does not wait
        // for through the busy timeout: several processes opening one new store at once retry.
        retry_busy(|| conn.query_row(&format!("PRAGMA journal_mode={journal}"), [], |_| Ok(())))
            .map_err(sql)?;
        conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
            .map_err(sql)?;
        let target = schema::MIGRATIONS.len() as i64;
        if version > target {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                message: format!("schema version {version} is newer than this acdc knows ({target}); upgrade acdc"),
            });
        }
        if version < target {
            // Under the write lock, the version read again: another process opening the store
            // at the same time may have migrated it meanwhile (then there is nothing to do).
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(sql)?;
            let version: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(sql)?;
            let tables = |filter: &str| -> Result<i64, StoreError> {
                tx.query_row(
                    &format!("SELECT count(*) FROM sqlite_master WHERE type='table'{filter}"),
                    [],
                    |r| r.get(0),
                )
                .map_err(sql)
            };
            // Refuse to migrate something that was not made by acdc.
            if version > 0 && tables(" AND name='runs'")? == 0 {
                return Err(StoreError::Open {
                    path: path.to_path_buf(),
                    message: "an SQLite file that is not an acdc store".into(),
                });
            }
            if version == 0 && tables("")? > 0 {
                return Err(StoreError::Open {
                    path: path.to_path_buf(),
                    message:
                        "an SQLite file with other tables, not an acdc store; nothing was changed"
                            .into(),
                });
            }
            for (i, m) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
                tx.execute_batch(m).map_err(sql)?;
                tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                    .map_err(sql)?;
            }
            tx.commit().map_err(sql)?;
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            beats_seen: Default::default(),
            stale_after: Duration::from_secs(runs::STALE_HEARTBEAT_S),
            home_dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
        })
    }

    /// Run `write` in one transaction, committed when it succeeds (a batch is all kept or none);
    /// a SQLite error names the store file.
    pub(crate) fn write<T>(
        &mut self,
        write: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let sql = |source| StoreError::Sql {
            path: self.path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let out = write(&tx).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(out)
    }

    pub(crate) fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// A run's folder, `<home>/runs/<id>/`, with the paths in it.
    pub fn run_dir(&self, run_id: &str) -> RunDir {
        Home::new(self.home()).run(run_id)
    }

    /// The home directory whose run folders the store's runs use.
    pub fn home(&self) -> PathBuf {
        self.home_dir.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_418), (2025, 11, 26));
    }

    #[test]
    fn not_sqlite_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("acdc.db");
        std::fs::write(
            &p,
            b"this is not a database, it is a text file with results in it\n".repeat(100),
        )
        .unwrap();
        let before = std::fs::read(&p).unwrap();
        let err = Store::open(&p).err().expect("must refuse");
        let msg = err.to_string();
        assert!(
            msg.contains("acdc.db") && msg.contains("not an acdc store"),
            "{msg}"
        );
        assert_eq!(std::fs::read(&p).unwrap(), before);
    }

    #[test]
    fn migrations_apply_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("acdc.db");
        drop(Store::open(&p).unwrap());
        let s = Store::open(&p).unwrap();
        let v: i64 = s
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, schema::MIGRATIONS.len() as i64);
    }

    /// A store made before item scores (schema 3, as the previous acdc left it) opens, keeps its
    /// scores, and has no item scores and no compare list until an evaluation writes them.
    #[test]
    fn a_store_from_before_item_scores_migrates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("acdc.db");
        {
            let conn = Connection::open(&p).unwrap();
            for m in &schema::MIGRATIONS[..3] {
                conn.execute_batch(m).unwrap();
            }
            conn.execute_batch(
                "PRAGMA user_version = 3;
                 INSERT INTO experiments (name, spec_path, updated_at) VALUES ('x', 'x.toml', 'now');
                 INSERT INTO evals (run_id, task, metric, value, n) VALUES ('r1', 't/aqa', 'token_f1', 0.5, 3);",
            )
            .unwrap();
        }
        let mut s = Store::open(&p).unwrap();
        assert_eq!(s.evals("r1").unwrap().len(), 1);
        assert!(s.item_scores("r1").unwrap().is_empty());
        assert_eq!(s.experiment_compare("x").unwrap(), None);
        let item = |metric: &str, id: &str, value: f64| records::ItemScore {
            task: "t/aqa".into(),
            metric: metric.into(),
            item_id: id.into(),
            value,
        };
        s.put_item_scores("r1", &[item("token_f1", "q1", 0.5)])
            .unwrap();
        assert_eq!(s.item_scores("r1").unwrap().len(), 1);
    }

    /// Eight processes' worth of connections opening one fresh store at once: every one opens
    /// it (the migrations run once, under the write lock), none sees a half-made schema.
    #[test]
    fn a_fresh_store_opened_at_once_by_many_migrates_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("acdc.db");
        let barrier = std::sync::Barrier::new(8);
        std::thread::scope(|sc| {
            let opened: Vec<_> = (0..8)
                .map(|_| {
                    sc.spawn(|| {
                        barrier.wait();
                        Store::open(&p).map(|_| ()).map_err(|e| e.to_string())
                    })
                })
                .collect();
            for o in opened {
                o.join().unwrap().unwrap();
            }
        });
        let conn = Connection::open(&p).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, schema::MIGRATIONS.len() as i64);
    }

    /// A worker whose run another worker took over (its heartbeat gone stale) can neither beat
    /// nor record the run's end over the new owner's claim; the new owner can.
    #[test]
    fn a_lost_claim_records_nothing_over_the_new_owner() {
        use runs::{RunStatus, WorkerInfo};
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("acdc.db")).unwrap();
        s.conn
            .execute(
                "INSERT INTO runs (id, config, created_at) VALUES ('r1', '{}', 'now')",
                [],
            )
            .unwrap();
        let worker = |host: &str, pid: u32| WorkerInfo {
            host: host.into(),
            pid,
            started: None,
            git_commit: None,
            git_dirty: None,
            version: "0".into(),
        };
        s.stale_after = std::time::Duration::from_millis(300);
        let first = s.claim("r1", &worker("a", 1), false).unwrap().unwrap();
        // Another host cannot check the pid: the run is stale once its heartbeat count has not
        // moved for `stale_after` of the claimer's own clock. The wall time the worker wrote
        // plays no part (a clock an hour behind, here).
        s.conn
            .execute(
                "UPDATE runs SET heartbeat_at = heartbeat_at - 3600 WHERE id = 'r1'",
                [],
            )
            .unwrap();
        assert!(s.claim("r1", &worker("b", 2), false).unwrap().is_none());
        std::thread::sleep(std::time::Duration::from_millis(200));
        s.heartbeat(&first).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        // 400 ms since b first looked, but a beat 200 ms ago: still a's.
        assert!(s.claim("r1", &worker("b", 2), false).unwrap().is_none());
        std::thread::sleep(std::time::Duration::from_millis(400));
        let second = s.claim("r1", &worker("b", 2), false).unwrap().unwrap();
        assert_ne!(first.token, second.token);
        for e in [
            s.heartbeat(&first).unwrap_err(),
            s.finish_run(&first, Some("late failure")).unwrap_err(),
        ] {
            assert!(matches!(e, StoreError::ClaimLost { .. }), "{e}");
            assert!(e.to_string().contains("r1"), "{e}");
        }
        assert_eq!(s.run("r1").unwrap().status, RunStatus::Running);
        s.heartbeat(&second).unwrap();
        s.finish_run(&second, None).unwrap();
        let r = s.run("r1").unwrap();
        assert_eq!((r.status, r.error), (RunStatus::Done, None));
        // A finished run's claim is spent.
        assert!(s.finish_run(&second, None).is_err());
    }

    /// Item scores live and die with the scores they are behind: a new batch of a (task, metric)
    /// replaces all its items, a complete evaluation without the metric drops them, and deleting
    /// the predictions deletes them; a non-finite item is refused by name.
    #[test]
    fn item_scores_follow_their_scores() {
        use records::{EvalScore, ItemScore};
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("acdc.db")).unwrap();
        let item = |metric: &str, id: &str, value: f64| ItemScore {
            task: "t/aqa".into(),
            metric: metric.into(),
            item_id: id.into(),
            value,
        };
        let score = |metric: &str| EvalScore {
            task: "t/aqa".into(),
            metric: metric.into(),
            value: 0.5,
            n: 2,
        };
        s.put_item_scores(
            "r1",
            &[
                item("token_f1", "q1", 1.0),
                item("token_f1", "q2", 0.0),
                item("judge_score", "q1", 80.0),
            ],
        )
        .unwrap();
        s.put_item_scores("r1", &[item("token_f1", "q3", 0.25)])
            .unwrap();
        let ids = |s: &Store| -> Vec<String> {
            s.item_scores("r1")
                .unwrap()
                .into_iter()
                .map(|i| format!("{}:{}", i.metric, i.item_id))
                .collect()
        };
        assert_eq!(ids(&s), vec!["judge_score:q1", "token_f1:q3"]);
        s.retain_evals("r1", &[score("token_f1")]).unwrap();
        assert_eq!(ids(&s), vec!["token_f1:q3"]);
        let e = s
            .put_item_scores("r1", &[item("token_f1", "q9", f64::NAN)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("r1") && e.contains("q9") && e.contains("token_f1"),
            "{e}"
        );
        assert_eq!(ids(&s), vec!["token_f1:q3"]);
        s.delete_predictions("r1").unwrap();
        assert!(ids(&s).is_empty());
    }
}
