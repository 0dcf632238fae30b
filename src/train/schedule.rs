//! Learning-rate schedules with the semantics of transformers' `get_*_schedule_with_warmup`
//! (the scheduler steps after the optimizer, so optimizer step s uses factor λ(s), λ(0) = 0 with warm-up).

use crate::spec::schema::Schedule;

/// Learning rate used by optimizer step `step` (0-based).
pub fn lr_at(base: f64, schedule: Schedule, warmup: usize, total: usize, step: usize) -> f64 {
    let s = step as f64;
    if step < warmup {
        return base * s / (warmup.max(1) as f64);
    }
    let progress = (s - warmup as f64) / ((total.saturating_sub(warmup)).max(1) as f64);
    let factor = match schedule {
        Schedule::Constant => 1.0,
        Schedule::Linear => {
            ((total as f64 - s) / ((total.saturating_sub(warmup)).max(1) as f64)).max(0.0)
        }
        Schedule::Cosine => (0.5 * (1.0 + (std::f64::consts::PI * progress).cos())).max(0.0),
    };
    base * factor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_transformers_linear_and_cosine() {
        // get_linear_schedule_with_warmup(opt, 2, 10): lambdas for steps 0..10
        let want = [0.0, 0.5, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125];
        for (s, w) in want.iter().enumerate() {
            assert!(
                (lr_at(1.0, Schedule::Linear, 2, 10, s) - w).abs() < 1e-12,
                "step {s}"
            );
        }
        assert!((lr_at(1.0, Schedule::Cosine, 2, 10, 6) - 0.5).abs() < 1e-12);
        assert_eq!(lr_at(2.0, Schedule::Constant, 0, 10, 3), 2.0);
    }
}
