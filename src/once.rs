//! Build-once artifacts shared by several worker processes: the first process to take a lock
//! directory builds, the others wait until the artifact exists. A lock older than `stale` (its
//! builder died) is broken. A leaf module used by `data` (the synthetic world) and `train`
//! (builtin:tiny-chat).

use std::path::Path;
use std::time::Duration;

/// Make sure `done` exists: build it under the lock directory `lock` unless another process does.
pub fn build_once<E>(
    done: &Path,
    lock: &Path,
    stale: Duration,
    build: impl FnOnce() -> Result<(), E>,
) -> Result<(), E> {
    if done.exists() {
        return Ok(());
    }
    loop {
        match std::fs::create_dir(lock) {
            Ok(()) => break,
            Err(_) if done.exists() => return Ok(()),
            Err(_) => {
                let age = std::fs::metadata(lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok());
                if age.map(|a| a > stale).unwrap_or(true) {
                    let _ = std::fs::remove_dir(lock);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    let result = if done.exists() { Ok(()) } else { build() };
    let _ = std::fs::remove_dir(lock);
    result
}
