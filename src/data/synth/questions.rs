//! Question–answer pairs about a scene (presence, count, order, identity), AudioBench style.

use super::*;

// ---------------------------------------------------------------------------------------------
// Questions
// ---------------------------------------------------------------------------------------------

pub(super) fn presence_question(t: EventType, rng: &mut Rng) -> String {
    let (np, plural) = lexicon(t).presence;
    let n = if plural { 3 } else { 4 };
    match rng.below(n) {
        0 => format!("Can you hear {np} in this clip?"),
        1 => format!("Does the recording contain {np}?"),
        2 => format!("Can {np} be heard in the recording?"),
        _ => format!("Is there {np} in the recording?"),
    }
}

pub(super) fn the_short(t: EventType) -> (String, bool) {
    let (s, pl) = lexicon(t).short;
    (format!("the {s}"), pl)
}

/// 2–4 questions mixing kinds, answers true to `events` (sorted by onset).
pub(super) fn questions(
    events: &[SceneEvent],
    rng: &mut Rng,
) -> Vec<(String, String, &'static str)> {
    let present: Vec<EventType> = events.iter().map(|e| e.ty).collect();
    let absent: Vec<EventType> = EventType::ALL
        .iter()
        .copied()
        .filter(|t| !present.contains(t))
        .collect();
    let mut kinds: Vec<&'static str> = vec!["presence", "count", "identity"];
    if events.len() >= 2 {
        kinds.push("order");
    }
    rng.shuffle(&mut kinds);
    let want = 2 + rng.below(3);
    let mut out: Vec<(String, String, &'static str)> = Vec::new();
    let mut attempts = 0;
    while out.len() < want && attempts < 50 {
        let kind = kinds[attempts % kinds.len()];
        attempts += 1;
        let (q, a) = match kind {
            "presence" => {
                if !absent.is_empty() && (present.is_empty() || rng.below(2) == 0) {
                    (
                        presence_question(*rng.choose(&absent), rng),
                        "No.".to_string(),
                    )
                } else {
                    (
                        presence_question(*rng.choose(&present), rng),
                        "Yes.".to_string(),
                    )
                }
            }
            "count" => {
                let countable: Vec<&SceneEvent> =
                    events.iter().filter(|e| e.ty.countable()).collect();
                if !countable.is_empty() && rng.below(3) != 0 {
                    let e = *rng.choose(&countable);
                    let q = *rng.choose(lexicon(e.ty).count_q);
                    (
                        q.to_string(),
                        format!("{}.", capitalise(&number_word(e.reps as usize))),
                    )
                } else {
                    let q = *rng.choose(&[
                        "How many distinct sounds can be heard?",
                        "How many different sound events are there?",
                        "How many different kinds of sound occur in the clip?",
                    ]);
                    (
                        q.to_string(),
                        format!("{}.", capitalise(&number_word(events.len()))),
                    )
                }
            }
            "identity" => {
                let e = rng.choose(events);
                let lx = lexicon(e.ty);
                let d = *rng.choose(lx.describe);
                let q = match rng.below(3) {
                    0 => format!("What is making {d}?"),
                    1 => format!("What produces {d}?"),
                    _ => format!("What is the source of {d}?"),
                };
                (q, lx.identity.to_string())
            }
            _ => {
                let i = rng.below(events.len());
                let mut j = rng.below(events.len() - 1);
                if j >= i {
                    j += 1;
                }
                let (x, y) = (&events[i], &events[j]);
                let (xn, xpl) = the_short(x.ty);
                let (yn, _) = the_short(y.ty);
                let first_x = x.onset_s < y.onset_s;
                match rng.below(3) {
                    0 => {
                        let (f, fpl) = if first_x {
                            (xn.clone(), xpl)
                        } else {
                            the_short(y.ty)
                        };
                        (
                            format!("Which sound comes first, {xn} or {yn}?"),
                            format!(
                                "{} {} first.",
                                capitalise(&f),
                                if fpl { "come" } else { "comes" }
                            ),
                        )
                    }
                    1 => {
                        let (l, lpl) = if first_x {
                            the_short(y.ty)
                        } else {
                            (xn.clone(), xpl)
                        };
                        (
                            format!("Which sound comes last, {xn} or {yn}?"),
                            format!(
                                "{} {} last.",
                                capitalise(&l),
                                if lpl { "come" } else { "comes" }
                            ),
                        )
                    }
                    _ => (
                        format!(
                            "{} {xn} start before or after {yn}?",
                            if xpl { "Do" } else { "Does" }
                        ),
                        if first_x {
                            "Before.".to_string()
                        } else {
                            "After.".to_string()
                        },
                    ),
                }
            }
        };
        if !out.iter().any(|(oq, _, _)| *oq == q) {
            out.push((q, a, kind));
        }
    }
    out
}
