//! Build-once artifacts shared by several processes (the synthetic world, `builtin:tiny-chat`'s
//! weights): the first process to take an OS lock on a lock file builds, the others wait, saying
//! on stderr what they wait for, and reuse the artifact when it appears. The lock is the
//! operating system's (`std::fs::File::try_lock`, `flock` on Unix): it dies with its holder, so a
//! builder killed with `kill -9` or Ctrl-C leaves nothing that blocks the next process, which
//! takes the lock at once and builds again. Lock files stay in place after use (deleting them
//! would let two processes lock two different files of one name); they hold the pid of the last
//! builder, for the waiting message.
//!
//! Publication must be atomic: `done` may exist only once the artifact is complete (the builder
//! writes under a temporary name and renames it into place), because an existing `done` is
//! trusted without taking the lock.
//!
//! A leaf module used by `data` (the synthetic world) and `train` (builtin:tiny-chat).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock file could not be created, opened or locked.
#[derive(Debug, thiserror::Error)]
#[error("{}: lock file for {what}: {message}", path.display())]
pub struct LockError {
    pub path: PathBuf,
    pub what: String,
    pub message: String,
}

/// What [`build_once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `done` was there already.
    Present,
    /// This process built it; `waited` says whether another live process held the lock first
    /// (and died or gave up without publishing).
    Built { waited: bool },
    /// Another process built it while this one waited.
    BuiltByOther,
}

/// How often a waiting process looks at the lock again, and how often it says it still waits.
const POLL: Duration = Duration::from_millis(100);
const REMIND: Duration = Duration::from_secs(30);

/// Make sure `done` exists: unless it does, take the OS lock on the file `lock` (created if
/// missing, its parent folder too) and run `build`, which must publish `done` atomically. While
/// another live process holds the lock, wait (saying so on stderr, naming `what` and the lock
/// file), then reuse its artifact — or build here if it died without publishing one.
pub fn build_once<E: From<LockError>>(
    what: &str,
    done: &Path,
    lock: &Path,
    build: impl FnOnce() -> Result<(), E>,
) -> Result<Outcome, E> {
    if done.exists() {
        return Ok(Outcome::Present);
    }
    let err = |message: String| LockError {
        path: lock.to_path_buf(),
        what: what.to_string(),
        message,
    };
    if let Some(parent) = lock.parent() {
        std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
    }
    // acdc before 0.1 locked with a directory of this name; one left by a killed build is empty.
    if lock.is_dir() {
        std::fs::remove_dir(lock).map_err(|e| {
            err(format!(
                "a directory is in the way (left by an older acdc?) and cannot be removed: {e}"
            ))
        })?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock)
        .map_err(|e| err(e.to_string()))?;
    let mut waited = false;
    let start = Instant::now();
    let mut reminded = start;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {
                let now = Instant::now();
                if !waited {
                    eprintln!(
                        "acdc: waiting for {} to finish building {what} (lock {}); it is reused when done, or built here if that process dies",
                        holder(lock),
                        lock.display()
                    );
                    waited = true;
                } else if now.duration_since(reminded) >= REMIND {
                    eprintln!(
                        "acdc: still waiting ({} s) for {} to finish building {what} (lock {})",
                        now.duration_since(start).as_secs(),
                        holder(lock),
                        lock.display()
                    );
                    reminded = now;
                }
                std::thread::sleep(POLL);
            }
            Err(TryLockError::Error(e)) => return Err(err(e.to_string()).into()),
        }
    }
    if done.exists() {
        if waited {
            eprintln!("acdc: {what}: ready (built by another process)");
        }
        return Ok(Outcome::BuiltByOther);
    }
    // Our pid, for the message of whoever waits next (best effort: the lock is what counts).
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    let result = build();
    drop(file); // releases the lock
    result.map(|()| Outcome::Built { waited })
}

/// "another acdc process (pid N)" from the pid the holder wrote into the lock file.
fn holder(lock: &Path) -> String {
    let mut text = String::new();
    let pid = File::open(lock)
        .and_then(|mut f| f.read_to_string(&mut text))
        .ok()
        .and_then(|_| text.trim().parse::<u32>().ok());
    match pid {
        Some(p) => format!("another acdc process (pid {p})"),
        None => "another acdc process".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[derive(Debug)]
    #[allow(dead_code)] // read by the Debug of a failed unwrap
    struct TestError(String);
    impl From<LockError> for TestError {
        fn from(e: LockError) -> Self {
            TestError(e.to_string())
        }
    }

    fn publish(done: &Path) -> Result<(), TestError> {
        std::fs::write(done, "ok").map_err(|e| TestError(e.to_string()))
    }

    const CHILD_ENV: &str = "ACDC_TEST_ONCE_HOLD";

    /// Not a test of its own: the process [`a_dead_holders_lock_is_taken_at_once`] and
    /// [`a_live_holder_makes_the_second_caller_wait_then_reuse`] start (this test binary again,
    /// with `CHILD_ENV` = "<lock>|<ready marker>|<done or empty>|<hold ms>"). It takes the lock,
    /// says so through the marker, holds it, then publishes `done` (if named) and exits.
    #[test]
    #[ignore = "helper process of the lock tests"]
    fn lock_holder_child() {
        let Ok(arg) = std::env::var(CHILD_ENV) else {
            return;
        };
        let parts: Vec<&str> = arg.split('|').collect();
        let (lock, ready, done, hold) = (parts[0], parts[1], parts[2], parts[3]);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(lock)
            .unwrap();
        file.lock().unwrap();
        std::fs::write(ready, "locked").unwrap();
        std::thread::sleep(Duration::from_millis(hold.parse().unwrap()));
        if !done.is_empty() {
            std::fs::write(done, "ok").unwrap();
        }
        drop(file);
    }

    /// Start [`lock_holder_child`] and wait until it holds the lock.
    fn spawn_holder(dir: &Path, done: Option<&Path>, hold_ms: u64) -> std::process::Child {
        let ready = dir.join("ready");
        let _ = std::fs::remove_file(&ready);
        let arg = format!(
            "{}|{}|{}|{hold_ms}",
            dir.join("x.lock").display(),
            ready.display(),
            done.map(|d| d.display().to_string()).unwrap_or_default()
        );
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "once::tests::lock_holder_child",
                "--ignored",
                "--quiet",
            ])
            .env(CHILD_ENV, arg)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready.exists() {
            assert!(Instant::now() < deadline, "the lock holder never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }

    #[test]
    fn builds_once_then_finds_it_present() {
        let d = tempfile::tempdir().unwrap();
        let (done, lock) = (d.path().join("x.done"), d.path().join("sub").join("x.lock"));
        let o = build_once("x", &done, &lock, || publish(&done)).unwrap();
        assert_eq!(o, Outcome::Built { waited: false });
        let o = build_once("x", &done, &lock, || -> Result<(), TestError> {
            panic!("built twice")
        })
        .unwrap();
        assert_eq!(o, Outcome::Present);
    }

    #[test]
    fn a_dead_holders_lock_is_taken_at_once() {
        let d = tempfile::tempdir().unwrap();
        let (done, lock) = (d.path().join("x.done"), d.path().join("x.lock"));
        // A holder killed in the middle of its build (SIGKILL: nothing of it runs any more).
        let mut child = spawn_holder(d.path(), None, 600_000);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(lock.exists(), "the dead holder's lock file stays behind");
        let o = build_once("x", &done, &lock, || publish(&done)).unwrap();
        assert_eq!(o, Outcome::Built { waited: false });
        assert!(done.exists());
    }

    #[test]
    fn a_leftover_lock_directory_is_taken_at_once() {
        let d = tempfile::tempdir().unwrap();
        let (done, lock) = (d.path().join("x.done"), d.path().join("x.lock"));
        std::fs::create_dir(&lock).unwrap(); // what the directory lock of older builds left
        let o = build_once("x", &done, &lock, || publish(&done)).unwrap();
        assert_eq!(o, Outcome::Built { waited: false });
        assert!(lock.is_file());
    }

    #[test]
    fn a_live_holder_makes_the_second_caller_wait_then_reuse() {
        let d = tempfile::tempdir().unwrap();
        let (done, lock) = (d.path().join("x.done"), d.path().join("x.lock"));
        let mut child = spawn_holder(d.path(), Some(&done), 1500);
        let built_here = Arc::new(AtomicBool::new(false));
        let flag = built_here.clone();
        let o = build_once("x", &done, &lock, || {
            flag.store(true, Ordering::SeqCst);
            publish(&done)
        })
        .unwrap();
        assert_eq!(o, Outcome::BuiltByOther);
        assert!(!built_here.load(Ordering::SeqCst));
        assert!(child.wait().unwrap().success());
    }

    #[test]
    fn a_holder_that_fails_leaves_the_build_to_the_waiter() {
        let d = tempfile::tempdir().unwrap();
        let (done, lock) = (d.path().join("x.done"), d.path().join("x.lock"));
        // Holds the lock, then exits without publishing.
        let mut child = spawn_holder(d.path(), None, 800);
        let o = build_once("x", &done, &lock, || publish(&done)).unwrap();
        assert_eq!(o, Outcome::Built { waited: true });
        assert!(child.wait().unwrap().success());
    }

    #[test]
    fn two_threads_build_once() {
        let d = tempfile::tempdir().unwrap();
        let (done, lock) = (d.path().join("x.done"), d.path().join("x.lock"));
        let builds = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (done, lock, builds) = (done.clone(), lock.clone(), builds.clone());
                std::thread::spawn(move || {
                    build_once("x", &done, &lock, || {
                        builds.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(300));
                        publish(&done)
                    })
                    .unwrap()
                })
            })
            .collect();
        let outcomes: Vec<Outcome> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(builds.load(Ordering::SeqCst), 1, "{outcomes:?}");
    }
}
