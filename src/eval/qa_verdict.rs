//! Whether a free-text answer agrees with a short reference answer of the synthetic world's QA
//! pairs (`qa_{split}.jsonl`: "Yes." / "No.", a number word, "The dog comes first.", "Before.",
//! "A dog."), with the probes' verdicts (`eval::probes`): a QA set whose references all have
//! one of these forms gets an `accuracy` beside the lexical token-F1 and exact match, which
//! punish a right answer in other words ("Yes, a dog barks." against "Yes."). References of other
//! forms (AudioBench's free text) get no verdict.

use crate::data::synth::probes::{keywords, Comparison, Expected};
use crate::data::synth::EventType;

fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The sound types a text names, in the order they are first named.
fn named(text: &str) -> Vec<EventType> {
    let ws = words(text);
    let mut at: Vec<(usize, EventType)> = EventType::ALL
        .iter()
        .filter_map(|&t| {
            let keys = keywords(t);
            ws.iter()
                .position(|w| keys.iter().any(|k| w.starts_with(k)))
                .map(|i| (i, t))
        })
        .collect();
    at.sort_by_key(|(i, _)| *i);
    at.into_iter().map(|(_, t)| t).collect()
}

const NUMBERS: [&str; 13] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve",
];

/// What a correct answer to `question` looks like, from the reference's form; `None` when the
/// reference has none of the synthetic world's forms.
pub fn expectation(question: &str, reference: &str) -> Option<Expected> {
    let r = words(reference);
    let asked = named(question);
    match r.as_slice() {
        [w] if w == "yes" || w == "no" => Some(Expected::YesNo {
            yes: w == "yes",
            sound: keywords(*asked.first()?),
        }),
        [w] if NUMBERS.contains(&w.as_str()) => {
            Some(Expected::Number(NUMBERS.iter().position(|n| n == w)? as u32))
        }
        [w] if w == "before" || w == "after" => {
            // "Does X start before or after Y?": picking X as earlier (before) or later (after).
            let (x, y) = (*asked.first()?, *asked.get(1)?);
            Some(Expected::Pick {
                right: keywords(x),
                wrong: keywords(y),
                by: if w == "before" {
                    Comparison::Earlier
                } else {
                    Comparison::Later
                },
            })
        }
        _ if r.last().is_some_and(|w| w == "first" || w == "last")
            && r.iter().any(|w| w == "comes" || w == "come") =>
        {
            let right = *named(reference).first()?;
            let wrong = *asked.iter().find(|t| **t != right)?;
            Some(Expected::Pick {
                right: keywords(right),
                wrong: keywords(wrong),
                by: if r.last().is_some_and(|w| w == "first") {
                    Comparison::Earlier
                } else {
                    Comparison::Later
                },
            })
        }
        _ if r.len() <= 5 && named(reference).len() == 1 && !question.is_empty() => {
            // Identity: "A dog.", "Someone knocking on a door."
            Some(Expected::Mentions(vec![keywords(named(reference)[0])]))
        }
        _ => None,
    }
}

/// The verdict on `answer`, when the reference has a synthetic world's form.
pub fn verdict(question: &str, reference: &str, answer: &str) -> Option<bool> {
    let e = expectation(question, reference)?;
    Some(match &e {
        // "Does the dog start before or after the siren?" answered "Before." names neither
        // sound: the comparison word alone decides, as long as it does not say both.
        Expected::Pick { by, .. } if named(answer).is_empty() => {
            let ws = words(answer);
            let early = ws
                .iter()
                .any(|w| ["before", "earlier", "first"].contains(&w.as_str()));
            let late = ws
                .iter()
                .any(|w| ["after", "later", "last"].contains(&w.as_str()));
            match by {
                Comparison::Earlier => early && !late,
                _ => late && !early,
            }
        }
        _ => super::probes::check(&e, answer),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each form of the synthetic references, answered right in other words and wrong.
    #[test]
    fn verdicts_follow_the_reference() {
        let v = |q: &str, r: &str, a: &str| verdict(q, r, a);
        let q = "Is there a dog barking in the recording?";
        assert_eq!(v(q, "Yes.", "Yes, a dog barks twice."), Some(true));
        assert_eq!(v(q, "Yes.", "No, there is no dog."), Some(false));
        assert_eq!(v(q, "No.", "No."), Some(true));
        let q = "How many times does the bell ring?";
        assert_eq!(v(q, "Three.", "The bell rings three times."), Some(true));
        assert_eq!(v(q, "Three.", "Twice."), Some(false));
        let q = "Which sound comes first, the dog or the siren?";
        assert_eq!(v(q, "The siren comes first.", "The siren."), Some(true));
        assert_eq!(
            v(
                q,
                "The siren comes first.",
                "The siren comes first, before the dog."
            ),
            Some(true)
        );
        assert_eq!(v(q, "The siren comes first.", "The dog."), Some(false));
        let q = "Which sound comes last, the voices or the bell?";
        assert_eq!(v(q, "The voices come last.", "The voices."), Some(true));
        let q = "Which sound comes last, the footsteps or the bell?";
        assert_eq!(v(q, "Footsteps come last.", "The footsteps."), Some(true));
        let q = "Does the dog start before or after the siren?";
        assert_eq!(v(q, "Before.", "Before."), Some(true));
        assert_eq!(
            v(q, "Before.", "The dog starts before the siren."),
            Some(true)
        );
        assert_eq!(v(q, "Before.", "After."), Some(false));
        assert_eq!(
            v(q, "After.", "The siren starts first, then the dog."),
            Some(true)
        );
        assert_eq!(
            v(q, "After.", "The dog starts first, then the siren."),
            Some(false)
        );
        let q = "What is making the short, harsh yelping sound?";
        assert_eq!(v(q, "A dog.", "It is a dog barking."), Some(true));
        assert_eq!(v(q, "A dog.", "A siren."), Some(false));
        // Free-text references have no verdict.
        assert_eq!(
            v(
                "What is the weather like?",
                "It is raining heavily outside today.",
                "Rain."
            ),
            None
        );
    }
}
