//! Slurm's warnings to a task, as a flag the trainer reads at every step. A task of the Slurm
//! executor (`acdc slurm-task`) installs handlers for
//! - `SIGUSR1`, which its scripts ask Slurm to send before the time limit
//!   (`#SBATCH --signal=B:USR1@120`): the trainer writes a checkpoint and stops, and the task
//!   requeues itself (`scontrol requeue`), to resume from that checkpoint;
//! - `SIGTERM`, what Slurm sends a preempted or cancelled task before killing it: the trainer
//!   writes a checkpoint and stops, and the task ends (Slurm requeues a preempted `--requeue`
//!   task itself).
//!
//! Nothing else installs them: `acdc run` on one machine keeps the default actions.
//! A leaf module.

use std::sync::atomic::{AtomicU8, Ordering};

/// What Slurm asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `SIGUSR1`: the time limit is near; checkpoint and requeue.
    Requeue,
    /// `SIGTERM`: checkpoint and end.
    Terminate,
}

static REQUESTED: AtomicU8 = AtomicU8::new(0);

extern "C" fn on_usr1(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    let _ = REQUESTED.compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst);
}

extern "C" fn on_term(_: libc::c_int) {
    REQUESTED.store(2, Ordering::SeqCst);
}

/// Install the handlers (once per process; later calls change nothing).
pub fn install() {
    // SAFETY: the handlers only store to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGUSR1, on_usr1 as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t);
    }
}

/// What Slurm asked so far, if anything.
pub fn requested() -> Option<Stop> {
    match REQUESTED.load(Ordering::SeqCst) {
        1 => Some(Stop::Requeue),
        2 => Some(Stop::Terminate),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real SIGUSR1 to this process sets the flag instead of killing it.
    #[test]
    fn usr1_asks_for_a_requeue() {
        install();
        assert_eq!(requested(), None);
        // SAFETY: signalling our own process, whose handler was just installed.
        unsafe { libc::raise(libc::SIGUSR1) };
        assert_eq!(requested(), Some(Stop::Requeue));
    }
}
