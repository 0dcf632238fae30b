//! Experiments, runs, atomic claiming with heartbeats.

use rusqlite::{params, OptionalExtension};

use super::{now_iso, unix_now, Store, StoreError};
use crate::spec::Plan;

/// A run is considered abandoned when its heartbeat count has not moved for this many seconds
/// of the would-be claimer's own clock and its worker cannot be checked (another host, or no
/// `/proc` here), or at once when its worker's pid is gone on this host.
pub const STALE_HEARTBEAT_S: u64 = 120;

/// Run status in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Pending,
    Running,
    Done,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "pending" => RunStatus::Pending,
            "running" => RunStatus::Running,
            "done" => RunStatus::Done,
            "failed" => RunStatus::Failed,
            _ => return None,
        })
    }
}

/// A run row.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub id: String,
    pub config: String,
    pub status: RunStatus,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub worker_host: Option<String>,
    pub worker_pid: Option<i64>,
    pub git_commit: Option<String>,
    pub git_dirty: Option<bool>,
    pub acdc_version: Option<String>,
    pub device: Option<String>,
    pub error: Option<String>,
}

/// One row of an experiment as stored.
#[derive(Debug, Clone)]
pub struct ExperimentRun {
    pub position: i64,
    pub label: String,
    pub name: String,
    pub point: String,
    pub seed: i64,
    pub run_id: String,
    pub init_from: Option<String>,
    pub paper: String,
    pub status: RunStatus,
}

/// Where and what is executing a run.
#[derive(Debug, Clone)]
pub struct WorkerInfo {
    pub host: String,
    pub pid: u32,
    /// When the process started (clock ticks after boot, from `/proc`), where known.
    pub started: Option<u64>,
    pub git_commit: Option<String>,
    pub git_dirty: Option<bool>,
    pub version: String,
}

impl WorkerInfo {
    /// This process.
    pub fn current() -> WorkerInfo {
        let (git_commit, git_dirty) = git_state();
        WorkerInfo {
            host: hostname(),
            pid: std::process::id(),
            started: process_started(std::process::id() as i64),
            git_commit,
            git_dirty,
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// This machine's host name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

fn git_state() -> (Option<String>, Option<bool>) {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = run(&["rev-parse", "HEAD"]);
    let dirty = commit
        .as_ref()
        .and_then(|_| run(&["status", "--porcelain", "--untracked-files=no"]))
        .map(|s| !s.is_empty());
    (commit, dirty)
}

/// A run as `acdc ls` lists it: the run, and its experiment row when listed by experiment.
#[derive(Debug, Clone)]
pub struct ListedRun {
    pub row: Option<ExperimentRun>,
    pub run: RunRecord,
}

/// An experiment as registered.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentRecord {
    pub description: String,
    pub spec_path: String,
    /// The dotted keys that vary between its rows.
    pub varying: Vec<String>,
}

/// A worker's hold on a running run, from [`Store::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub run_id: String,
    /// Unique to this claim: a later claim of the run by anyone gets another.
    pub token: String,
}

/// A token no other claim has: this worker's host and pid, the time, and a process-wide count.
fn claim_token(me: &WorkerInfo) -> String {
    use sha2::{Digest, Sha256};
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = format!("{}|{}|{nanos}|{n}", me.host, me.pid);
    hex::encode(&Sha256::digest(seed.as_bytes())[..12])
}

/// Whether this host has a `/proc` that lists processes (Linux); elsewhere a worker's pid
/// cannot be checked and its heartbeat decides.
fn proc_available() -> bool {
    std::path::Path::new("/proc/self").exists()
}

/// A process's state letter and start time (clock ticks after boot) from `/proc/<pid>/stat`.
fn proc_stat(pid: i64) -> Option<(char, u64)> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`: the name may hold spaces and parentheses; fields follow the
    // last `)`, the state first, the start time 20th after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let started = fields.get(19)?.parse().ok()?;
    Some((state, started))
}

/// When process `pid` started, from `/proc` (None where unknown).
fn process_started(pid: i64) -> Option<u64> {
    proc_stat(pid).map(|(_, s)| s)
}

/// Whether the worker process `pid` started at `started` still runs on this host: not gone,
/// not a zombie (killed and not yet reaped, as an OOM-killed worker child is), and not another
/// process that was given the same pid later.
fn process_alive(pid: i64, started: Option<u64>) -> bool {
    match proc_stat(pid) {
        None => false,
        Some(('Z' | 'X', _)) => false,
        Some((_, now)) => started.is_none_or(|s| s == now),
    }
}

fn row_to_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    let status: String = r.get(2)?;
    Ok(RunRecord {
        id: r.get(0)?,
        config: r.get(1)?,
        status: RunStatus::parse(&status).unwrap_or(RunStatus::Failed),
        created_at: r.get(3)?,
        started_at: r.get(4)?,
        finished_at: r.get(5)?,
        worker_host: r.get(6)?,
        worker_pid: r.get(7)?,
        git_commit: r.get(8)?,
        git_dirty: r.get::<_, Option<i64>>(9)?.map(|v| v != 0),
        acdc_version: r.get(10)?,
        device: r.get(11)?,
        error: r.get(12)?,
    })
}

const RUN_COLS: &str =
    "id, config, status, created_at, started_at, finished_at, worker_host, worker_pid, git_commit, git_dirty, acdc_version, device, error";

impl Store {
    /// Record an experiment's plan: the experiment, its rows and their runs (a run that exists
    /// already — from this or any other experiment — is reused, never reset; a run not yet done
    /// takes the plan's machine settings, which its execution will use).
    pub fn register_plan(&mut self, plan: &Plan, spec_path: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let now = now_iso();
            tx.execute(
                "INSERT INTO experiments (name, description, spec_path, varying, updated_at, compare) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(name) DO UPDATE SET description = excluded.description, spec_path = excluded.spec_path,
                   varying = excluded.varying, updated_at = excluded.updated_at, compare = excluded.compare",
                params![
                    plan.experiment,
                    plan.description,
                    spec_path,
                    serde_json::to_string(&plan.varying).unwrap_or_default(),
                    now,
                    plan.compare.as_ref().map(|c| serde_json::to_string(c).unwrap_or_default()),
                ],
            )?;
            tx.execute(
                "DELETE FROM experiment_runs WHERE experiment = ?1",
                params![plan.experiment],
            )?;
            for (pos, r) in plan.runs.iter().enumerate() {
                let config = crate::spec::canonical_json(&r.config);
                tx.execute(
                    "INSERT INTO runs (id, config, status, created_at, device) VALUES (?1, ?2, 'pending', ?3, ?4)
                     ON CONFLICT(id) DO UPDATE SET config = excluded.config WHERE runs.status != 'done'",
                    params![r.run_id, config, now, r.config.device.as_str()],
                )?;
                let point: serde_json::Map<String, serde_json::Value> = r
                    .point
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
                        )
                    })
                    .collect();
                tx.execute(
                    "INSERT OR REPLACE INTO experiment_runs (experiment, position, label, name, point, seed, run_id, init_from, paper)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        plan.experiment,
                        pos as i64,
                        r.label,
                        r.name(),
                        serde_json::Value::Object(point).to_string(),
                        r.seed as i64,
                        r.run_id,
                        r.config.init_from,
                        serde_json::to_string(&r.paper).unwrap_or_else(|_| "{}".into()),
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// Atomically claim `run_id` for this worker if it is pending, (optionally) failed, or running
    /// under a dead worker. Returns the claim when it succeeded: heartbeats and the run's end are
    /// recorded only under it ([`Store::heartbeat`], [`Store::finish_run`]).
    pub fn claim(
        &mut self,
        run_id: &str,
        me: &WorkerInfo,
        retry_failed: bool,
    ) -> Result<Option<Claim>, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sql {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        // (status, worker host, worker pid, heartbeat count, worker start time)
        type Holder = (String, Option<String>, Option<i64>, i64, Option<i64>);
        let row: Option<Holder> = tx
            .query_row(
                "SELECT status, worker_host, worker_pid, beat_seq, worker_started FROM runs WHERE id = ?1",
                params![run_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(sql)?;
        let Some((status, host, pid, beats, started)) = row else {
            return Err(StoreError::UnknownRun {
                path,
                id: run_id.into(),
            });
        };
        let claimable = match status.as_str() {
            "pending" => true,
            "failed" => retry_failed,
            "running" => {
                let same_host = host.as_deref() == Some(me.host.as_str());
                // This host's /proc tells whether the worker's pid is gone; elsewhere (another
                // host, or no /proc here) only the heartbeat count can.
                let checkable = same_host && pid.is_some() && proc_available();
                let dead = match pid {
                    Some(p) if checkable => {
                        p != me.pid as i64 && !process_alive(p, started.map(|s| s as u64))
                    }
                    _ => false,
                };
                let now = std::time::Instant::now();
                let seen = self
                    .beats_seen
                    .entry(run_id.to_string())
                    .or_insert((beats, now));
                if seen.0 != beats {
                    *seen = (beats, now);
                }
                let stale = now.duration_since(seen.1) > self.stale_after;
                dead || (!checkable && stale)
            }
            _ => false,
        };
        if !claimable {
            return Ok(None);
        }
        let claim = Claim {
            run_id: run_id.to_string(),
            token: claim_token(me),
        };
        tx.execute(
            "UPDATE runs SET status = 'running', started_at = ?2, finished_at = NULL, heartbeat_at = ?3, worker_host = ?4,
               worker_pid = ?5, git_commit = ?6, git_dirty = ?7, acdc_version = ?8, error = NULL, claim_token = ?9,
               beat_seq = beat_seq + 1, worker_started = ?10 WHERE id = ?1",
            params![run_id, now_iso(), unix_now(), me.host, me.pid as i64, me.git_commit, me.git_dirty.map(|d| d as i64), me.version, claim.token, me.started.map(|s| s as i64)],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(Some(claim))
    }

    /// Make a failed run pending again (`acdc run --retry-failed`, before any worker starts).
    /// Returns whether it was failed.
    pub fn reset_failed(&mut self, run_id: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE runs SET status = 'pending', finished_at = NULL WHERE id = ?1 AND status = 'failed'",
                params![run_id],
            )
            .map(|n| n > 0)
        })
    }

    /// Make a run left `running` pending again, its records kept (the stages resume from them):
    /// for a cluster task on the run's own store, where only one task holds the run at a time,
    /// so a `running` row there is the claim of a task that was killed or preempted. Returns
    /// whether there was one.
    pub fn release_claim_of_dead_task(&mut self, run_id: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE runs SET status = 'pending', claim_token = NULL WHERE id = ?1 AND status = 'running'",
                params![run_id],
            )
            .map(|n| n > 0)
        })
    }

    /// Make a done run pending again with only its eval stage to do (`acdc run --reeval`): its
    /// data, targets and trained weights stay; its scores stay until the new evaluation replaces
    /// them; the eval stage keeps its info, so the same build rescores the predictions it already
    /// decoded instead of decoding again. Returns whether the run was done (others are untouched).
    pub fn reopen_for_eval(&mut self, run_id: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE runs SET status = 'pending', finished_at = NULL WHERE id = ?1 AND status = 'done'",
                params![run_id],
            )?;
            if n > 0 {
                tx.execute(
                    "UPDATE stages SET status = 'failed' WHERE run_id = ?1 AND stage = 'eval'",
                    params![run_id],
                )?;
            }
            Ok(n > 0)
        })
    }

    /// Refresh a running run's heartbeat; [`StoreError::ClaimLost`] when `claim` no longer
    /// holds the run (another worker took it over).
    pub fn heartbeat(&self, claim: &Claim) -> Result<(), StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE runs SET heartbeat_at = ?3, beat_seq = beat_seq + 1
                 WHERE id = ?1 AND status = 'running' AND claim_token = ?2",
                params![claim.run_id, claim.token, unix_now()],
            )
            .map_err(|e| self.sql(e))?;
        self.held(claim, n)
    }

    /// Mark a run done or failed, if `claim` still holds it ([`StoreError::ClaimLost`] and no
    /// change otherwise: the worker that took it over records its end).
    pub fn finish_run(&self, claim: &Claim, error: Option<&str>) -> Result<(), StoreError> {
        let status = if error.is_some() { "failed" } else { "done" };
        let n = self
            .conn
            .execute(
                "UPDATE runs SET status = ?3, finished_at = ?4, error = ?5, claim_token = NULL
                 WHERE id = ?1 AND status = 'running' AND claim_token = ?2",
                params![claim.run_id, claim.token, status, now_iso(), error],
            )
            .map_err(|e| self.sql(e))?;
        self.held(claim, n)
    }

    fn held(&self, claim: &Claim, updated: usize) -> Result<(), StoreError> {
        if updated == 0 {
            return Err(StoreError::ClaimLost {
                path: self.path.clone(),
                run: claim.run_id.clone(),
            });
        }
        Ok(())
    }

    pub fn run(&self, run_id: &str) -> Result<RunRecord, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {RUN_COLS} FROM runs WHERE id = ?1"),
                params![run_id],
                row_to_run,
            )
            .optional()
            .map_err(|e| self.sql(e))?
            .ok_or_else(|| StoreError::UnknownRun {
                path: self.path.clone(),
                id: run_id.into(),
            })
    }

    /// Resolve a run id or a unique prefix of one.
    pub fn resolve_run(&self, prefix: &str) -> Result<String, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT id FROM runs WHERE id LIKE ?1 || '%' ORDER BY id LIMIT 6")
            .map_err(|e| self.sql(e))?;
        let ids: Vec<String> = st
            .query_map(params![prefix], |r| r.get(0))
            .map_err(|e| self.sql(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql(e))?;
        match ids.len() {
            0 => Err(StoreError::UnknownRun {
                path: self.path.clone(),
                id: prefix.into(),
            }),
            1 => Ok(ids[0].clone()),
            _ if ids.iter().any(|i| i == prefix) => Ok(prefix.into()),
            _ => Err(StoreError::AmbiguousRun {
                path: self.path.clone(),
                prefix: prefix.into(),
                candidates: ids.join(", "),
            }),
        }
    }

    /// All runs, optionally of one experiment and/or status, in experiment order.
    pub fn list_runs(
        &self,
        experiment: Option<&str>,
        status: Option<RunStatus>,
    ) -> Result<Vec<ListedRun>, StoreError> {
        let mut out = Vec::new();
        match experiment {
            Some(e) => {
                for er in self.experiment_runs(e)? {
                    let run = self.run(&er.run_id)?;
                    if status.map(|s| s == run.status).unwrap_or(true) {
                        out.push(ListedRun { row: Some(er), run });
                    }
                }
            }
            None => {
                let mut st = self
                    .conn
                    .prepare(&format!(
                        "SELECT {RUN_COLS} FROM runs ORDER BY created_at, id"
                    ))
                    .map_err(|e| self.sql(e))?;
                let rows = st.query_map([], row_to_run).map_err(|e| self.sql(e))?;
                for r in rows {
                    let r = r.map_err(|e| self.sql(e))?;
                    if status.map(|s| s == r.status).unwrap_or(true) {
                        out.push(ListedRun { row: None, run: r });
                    }
                }
            }
        }
        Ok(out)
    }

    /// The rows of an experiment in plan order.
    pub fn experiment_runs(&self, experiment: &str) -> Result<Vec<ExperimentRun>, StoreError> {
        let exists: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM experiments WHERE name = ?1",
                params![experiment],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))?;
        if exists == 0 {
            return Err(StoreError::UnknownExperiment {
                path: self.path.clone(),
                name: experiment.into(),
            });
        }
        let mut st = self
            .conn
            .prepare(
                "SELECT e.position, e.label, e.name, e.point, e.seed, e.run_id, e.init_from, e.paper, r.status
                 FROM experiment_runs e JOIN runs r ON r.id = e.run_id WHERE e.experiment = ?1 ORDER BY e.position",
            )
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map(params![experiment], |r| {
                let status: String = r.get(8)?;
                Ok(ExperimentRun {
                    position: r.get(0)?,
                    label: r.get(1)?,
                    name: r.get(2)?,
                    point: r.get(3)?,
                    seed: r.get(4)?,
                    run_id: r.get(5)?,
                    init_from: r.get(6)?,
                    paper: r.get(7)?,
                    status: RunStatus::parse(&status).unwrap_or(RunStatus::Failed),
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// An experiment's description, spec path and varying keys.
    pub fn experiment(&self, name: &str) -> Result<ExperimentRecord, StoreError> {
        self.conn
            .query_row(
                "SELECT description, spec_path, varying FROM experiments WHERE name = ?1",
                params![name],
                |r| {
                    let v: String = r.get(2)?;
                    Ok(ExperimentRecord {
                        description: r.get(0)?,
                        spec_path: r.get(1)?,
                        varying: serde_json::from_str(&v).unwrap_or_default(),
                    })
                },
            )
            .optional()
            .map_err(|e| self.sql(e))?
            .ok_or_else(|| StoreError::UnknownExperiment {
                path: self.path.clone(),
                name: name.into(),
            })
    }

    /// The pairs of rows (A, B) the experiment's spec names for comparison; `None` when it names
    /// none (the report infers them) or the experiment was registered before specs could.
    pub fn experiment_compare(
        &self,
        name: &str,
    ) -> Result<Option<Vec<(String, String)>>, StoreError> {
        let v: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT compare FROM experiments WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        match v {
            None => Err(StoreError::UnknownExperiment {
                path: self.path.clone(),
                name: name.into(),
            }),
            Some(v) => Ok(v.and_then(|s| serde_json::from_str(&s).ok())),
        }
    }

    /// Names of all experiments.
    pub fn experiments(&self) -> Result<Vec<String>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT name FROM experiments ORDER BY name")
            .map_err(|e| self.sql(e))?;
        let rows = st.query_map([], |r| r.get(0)).map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker that was killed but not yet reaped (a zombie, as an OOM-killed child of
    /// `--workers N` is) counts as dead, and so does another process given the worker's pid
    /// later (its start time differs); a running one with its own start time is alive.
    #[test]
    fn zombies_and_reused_pids_are_not_live_workers() {
        if !proc_available() {
            return; // no /proc: liveness is the heartbeat's to judge
        }
        let me = std::process::id() as i64;
        let started = process_started(me).expect("this process's start time");
        assert!(process_alive(me, Some(started)));
        assert!(process_alive(me, None));
        assert!(!process_alive(me, Some(started + 1)), "a reused pid");
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i64;
        // Not waited for: once it exits it stays a zombie.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while proc_stat(pid).map(|(s, _)| s) != Some('Z') {
            assert!(
                std::time::Instant::now() < deadline,
                "the child never exited"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
        assert!(!process_alive(pid, None), "a zombie looked alive");
        drop(child);
        assert!(!process_alive(-1, None) && !process_alive(0, None));
    }
}
