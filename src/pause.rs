//! Named points where acdc can be made to stop, so a test can `kill -9` it there: with
//! `ACDC_PAUSE_AT=<name>` in its environment, a process reaching that point says so on stderr
//! (`acdc: paused at <name> …`) and sleeps until it is killed. The fault tests
//! (`tests/kill_matrix.rs`) stop a fresh experiment at each point — the synthetic world's build
//! (`world`), a builtin model's build (`model-build`), target generation after its first batch
//! (`targets`), training after its first checkpoint (`train`), evaluation after its first set
//! (`eval`) and the report after its first file (`report`) — and check that the next `acdc run`
//! completes with the numbers of an uninterrupted one. Unset (always, outside those tests), a
//! point costs one environment lookup.
//!
//! A leaf module.

/// Stop here for good when `ACDC_PAUSE_AT` names `point`.
pub fn point(point: &str) {
    if std::env::var("ACDC_PAUSE_AT").is_ok_and(|v| v == point) {
        eprintln!("acdc: paused at {point} (ACDC_PAUSE_AT), until killed");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}
