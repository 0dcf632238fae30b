//! Checking answers to the zero-shot instruction probes (`data::synth::probes`): each kind's
//! expectation is tested on the model's free text; a probe kind's score is the share of its
//! probes answered correctly.

use crate::data::synth::probes::Expected;

/// Lower-cased words of `s` (letters, digits and apostrophes; a typographic ’ counts as '), with
/// their order kept.
fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .replace('\u{2019}', "'")
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Index of the first word starting with any of `keys`.
fn first_mention(ws: &[String], keys: &[&str]) -> Option<usize> {
    ws.iter()
        .position(|w| keys.iter().any(|k| w.starts_with(k)))
}

const NUMBER_WORDS: [(&str, u32); 14] = [
    ("zero", 0),
    ("no", 0),
    ("once", 1),
    ("one", 1),
    ("single", 1),
    ("twice", 2),
    ("two", 2),
    ("three", 3),
    ("thrice", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
];

/// The first number in an answer, as digits or a word.
pub fn first_number(s: &str) -> Option<u32> {
    words(s).iter().find_map(|w| {
        w.parse::<u32>()
            .ok()
            .or_else(|| NUMBER_WORDS.iter().find(|(n, _)| n == w).map(|(_, v)| *v))
    })
}

const YES: [&str; 5] = ["yes", "yeah", "yep", "indeed", "certainly"];
const NO: [&str; 14] = [
    "no", "nope", "not", "isn't", "aren't", "doesn't", "don't", "didn't", "can't", "cannot",
    "never", "none", "nothing", "absent",
];
const DENIAL: [&str; 14] = [
    "no", "not", "none", "never", "nothing", "absent", "isn't", "aren't", "doesn't", "don't",
    "cannot", "can't", "without", "neither",
];

/// Whether `answer` meets `expected` (for `Mentions`: at least half of the sounds are mentioned,
/// and at least half of the sounds mentioned are there, so naming every sound does not pass).
pub fn check(expected: &Expected, answer: &str) -> bool {
    let ws = words(answer);
    match expected {
        Expected::Number(n) => first_number(answer) == Some(*n),
        Expected::YesNo(want) => {
            let yes = ws.iter().position(|w| YES.contains(&w.as_str()));
            let no = ws.iter().position(|w| NO.contains(&w.as_str()));
            let said_yes = match (yes, no) {
                (Some(y), Some(n)) => y < n,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return false,
            };
            said_yes == *want
        }
        Expected::FirstOf { right, wrong } => {
            match (first_mention(&ws, right), first_mention(&ws, wrong)) {
                (Some(r), Some(w)) => r < w,
                (Some(_), None) => true,
                _ => false,
            }
        }
        Expected::Mentions(sounds) => {
            let present = mentioned(sounds, &ws);
            !sounds.is_empty()
                && 2 * present >= sounds.len()
                && present >= absent_mentions(sounds, answer)
        }
        Expected::Denial => ws.iter().any(|w| DENIAL.contains(&w.as_str())),
    }
}

/// How many of the synthetic world's other sound types (not among `sounds`) the answer mentions.
pub fn absent_mentions(sounds: &[Vec<&'static str>], answer: &str) -> usize {
    use crate::data::synth::{probes::keywords, EventType};
    let ws = words(answer);
    EventType::ALL
        .iter()
        .map(|t| keywords(*t))
        .filter(|keys| !sounds.contains(keys))
        .filter(|keys| first_mention(&ws, keys).is_some())
        .count()
}

/// Share of `sounds` (keyword lists) the answer mentions.
pub fn recall(sounds: &[Vec<&'static str>], answer: &str) -> f64 {
    if sounds.is_empty() {
        return 0.0;
    }
    mentioned(sounds, &words(answer)) as f64 / sounds.len() as f64
}

/// How many of `sounds` (keyword lists) the words mention.
fn mentioned(sounds: &[Vec<&'static str>], ws: &[String]) -> usize {
    sounds
        .iter()
        .filter(|keys| first_mention(ws, keys).is_some())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_of(r: &'static str, w: &'static str) -> Expected {
        Expected::FirstOf {
            right: vec![r],
            wrong: vec![w],
        }
    }

    #[test]
    fn checks_each_kind() {
        assert!(check(&Expected::Number(3), "It barks 3 times."));
        assert!(check(&Expected::Number(2), "Twice, I think."));
        assert!(!check(&Expected::Number(2), "Three times."));
        assert!(!check(&Expected::Number(2), "A dog barks."));
        assert!(check(&Expected::YesNo(true), "Yes, there is a siren."));
        assert!(check(&Expected::YesNo(false), "No, I can't hear one."));
        assert!(check(&Expected::YesNo(false), "There is not a siren."));
        assert!(check(&Expected::YesNo(false), "There isn't a siren."));
        assert!(check(
            &Expected::YesNo(false),
            "There isn\u{2019}t a siren."
        ));
        assert!(!check(&Expected::YesNo(true), "There isn't a siren."));
        assert!(!check(&Expected::YesNo(true), "A siren wails."));
        assert!(check(
            &first_of("dog", "siren"),
            "The dog starts before the siren."
        ));
        assert!(!check(
            &first_of("dog", "siren"),
            "The siren, then the dog."
        ));
        assert!(check(&first_of("dog", "siren"), "Barking from a dog."));
        assert!(!check(&first_of("dog", "siren"), "Rain."));
        let m = Expected::Mentions(vec![vec!["dog", "bark"], vec!["rain"], vec!["bell"]]);
        assert!(check(&m, "Dogs barking in the rain."));
        assert!(!check(&m, "A bell rings."));
        // Naming every sound is not a description: the sounds mentioned must mostly be there.
        let dog_rain = Expected::Mentions(vec![
            crate::data::synth::probes::keywords(crate::data::synth::EventType::DogBark),
            crate::data::synth::probes::keywords(crate::data::synth::EventType::Rain),
        ]);
        assert!(check(&dog_rain, "A dog barks while rain falls."));
        assert!(check(
            &dog_rain,
            "A dog barks in the rain, and a siren wails."
        ));
        assert!(!check(
            &dog_rain,
            "A dog, rain, a siren, a bell, wind, an engine and an alarm."
        ));
        assert!((recall(&[vec!["dog"], vec!["rain"]], "a dog") - 0.5).abs() < 1e-12);
        assert!(check(&Expected::Denial, "There is no siren in this clip."));
        assert!(check(&Expected::Denial, "I can't hear any siren."));
        assert!(!check(
            &Expected::Denial,
            "The siren starts at two seconds."
        ));
        assert_eq!(first_number("about 12 knocks"), Some(12));
    }
}
