//! The zero-shot probes `eval.probes = true` scores on the synthetic world: their kinds (the
//! metric names of a set's `…/probes` task), in report order, and what a constant or
//! order-blind answer scores on each. The probes themselves are drawn in
//! `data::synth::probes` and scored in `eval::probes`; the report reads these names here.

/// The probe kinds, in report order.
pub const PROBE_KINDS: [&str; 6] = [
    "counting",
    "order",
    "presence",
    "loudness",
    "captioning",
    "absent",
];

/// Probe kinds whose instruction types the synthetic question–answer pairs teach (count, order
/// and presence questions): when `data.instruct` trains on them, these probes are no longer
/// zero-shot, and the eval stage records it.
pub const TAUGHT_BY_SYNTH_QA: [&str; 3] = ["counting", "order", "presence"];

/// What a constant or order-blind answer scores on each probe kind (`None`: no such baseline).
pub fn chance(kind: &str) -> Option<f64> {
    match kind {
        "order" | "presence" | "loudness" | "absent" => Some(0.5),
        _ => None,
    }
}
