//! Checking answers to the zero-shot instruction probes (`data::synth::probes`): each kind's
//! expectation is tested on the model's free text; a probe kind's score is the share of its
//! probes answered correctly.

use crate::data::synth::probes::{Comparison, Expected};

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

fn names(w: &str, keys: &[&str]) -> bool {
    keys.iter().any(|k| w.starts_with(k))
}

/// Index of the first word starting with any of `keys`.
fn first_mention(ws: &[String], keys: &[&str]) -> Option<usize> {
    ws.iter().position(|w| names(w, keys))
}

const NUMBER_WORDS: [(&str, u32); 13] = [
    ("zero", 0),
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

/// The first number in an answer, as digits or a word ("one" after "the", "this", "that" or
/// "each" is a pronoun, not a count).
pub fn first_number(s: &str) -> Option<u32> {
    let ws = words(s);
    ws.iter().enumerate().find_map(|(i, w)| {
        if w == "one" && i > 0 && ["the", "this", "that", "each"].contains(&ws[i - 1].as_str()) {
            return None;
        }
        w.parse::<u32>()
            .ok()
            .or_else(|| NUMBER_WORDS.iter().find(|(n, _)| n == w).map(|(_, v)| *v))
    })
}

const YES: [&str; 5] = ["yes", "yeah", "yep", "indeed", "certainly"];
/// Words that open a negative answer.
const NO_START: [&str; 5] = ["no", "nope", "none", "nothing", "never"];
/// Negations that deny the noun they come before ("no bell", "isn't a bell", "can't hear any
/// bell").
const NEGATION: [&str; 16] = [
    "no", "not", "none", "never", "nothing", "isn't", "aren't", "doesn't", "don't", "didn't",
    "can't", "cannot", "wasn't", "weren't", "without", "neither",
];
/// Negated verbs that deny the noun they follow ("the bell doesn't ring", "the bell is not
/// there").
const NEGATED_VERB: [&str; 8] = [
    "isn't", "aren't", "doesn't", "don't", "didn't", "wasn't", "can't", "cannot",
];
/// Phrases that deny without naming the sound ("there is no such sound", "it does not occur").
const DENIAL_PHRASES: [&str; 10] = [
    "no such",
    "there isn't",
    "there aren't",
    "there is none",
    "does not occur",
    "doesn't occur",
    "not present",
    "not there",
    "not in this",
    "absent",
];
/// Phrases of not knowing, which are not denials ("I don't know", "not sure").
const UNSURE: [&str; 7] = [
    "don't know",
    "do not know",
    "not sure",
    "unsure",
    "can't tell",
    "cannot tell",
    "no idea",
];
/// Words that answer "at what moment".
const TIME_WORDS: [&str; 12] = [
    "second",
    "seconds",
    "start",
    "beginning",
    "begins",
    "middle",
    "end",
    "early",
    "late",
    "immediately",
    "right",
    "halfway",
];

/// Whether the mention at `i` is negated: a negation word up to three words before it, or a
/// negated verb (or "not" after "is", "are", "does", "do", "was", "can") up to three words after.
fn negated_at(ws: &[String], i: usize) -> bool {
    let before = ws[i.saturating_sub(3)..i].iter().enumerate().any(|(j, w)| {
        NEGATION.contains(&w.as_str())
            // "no doubt", "not only" do not negate what follows.
            && !matches!(
                ws.get(i.saturating_sub(3) + j + 1).map(String::as_str),
                Some("doubt" | "only")
            )
    });
    let after = (i + 1..(i + 4).min(ws.len())).any(|j| {
        NEGATED_VERB.contains(&ws[j].as_str())
            || (ws[j] == "not"
                && ["is", "are", "does", "do", "was", "can"].contains(&ws[j - 1].as_str()))
    });
    before || after
}

/// Whether the words say the answerer does not know.
fn unsure(ws: &[String]) -> bool {
    let text = ws.join(" ");
    UNSURE.iter().any(|p| text.contains(p))
}

/// Whether the answer denies the sound (`keys`): it opens with "no", negates a mention of the
/// sound, or uses a denial phrase — unless it only says it does not know.
fn denies(ws: &[String], keys: &[&str]) -> bool {
    if unsure(ws) {
        return false;
    }
    let text = ws.join(" ");
    ws.first().is_some_and(|w| NO_START.contains(&w.as_str()))
        || (0..ws.len()).any(|i| names(&ws[i], keys) && negated_at(ws, i))
        || DENIAL_PHRASES.iter().any(|p| text.contains(p))
}

/// Words between two named sounds that pick the first (`.0`) or the second (`.1`) for a
/// comparison ("the dog starts before the siren", "the bird is quieter than the water").
fn comparison_words(by: Comparison) -> (&'static [&'static str], &'static [&'static str]) {
    const EARLIER: &[&str] = &["before", "earlier", "first", "prior", "precedes"];
    const LATER: &[&str] = &["after", "later", "last", "follows"];
    const LOUDER: &[&str] = &["louder", "stronger", "over", "drowns", "dominates", "more"];
    const QUIETER: &[&str] = &["quieter", "softer", "fainter", "weaker", "less"];
    match by {
        Comparison::Earlier => (EARLIER, LATER),
        Comparison::Later => (LATER, EARLIER),
        Comparison::Louder => (LOUDER, QUIETER),
        Comparison::Quieter => (QUIETER, LOUDER),
    }
}

/// Whether the answer picks `right` over `wrong`: it names only `right` (mentions under a
/// negation do not count: "not the dog — the siren"), or names both with a comparison word
/// between them that picks `right`. Naming both with no comparison (a caption listing the
/// sounds) picks neither.
fn picks(ws: &[String], right: &[&str], wrong: &[&str], by: Comparison) -> bool {
    let first = |keys: &[&str]| (0..ws.len()).find(|&i| names(&ws[i], keys) && !negated_at(ws, i));
    match (first(right), first(wrong)) {
        (Some(_), None) => true,
        (Some(r), Some(w)) => {
            let (lo, hi) = (r.min(w), r.max(w));
            let (first_has, first_lacks) = comparison_words(by);
            let between = &ws[lo + 1..hi];
            let has = between.iter().any(|w| first_has.contains(&w.as_str()));
            let lacks = between.iter().any(|w| first_lacks.contains(&w.as_str()));
            match (has, lacks) {
                (true, false) => r < w,
                (false, true) => r > w,
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whether `answer` meets `expected` (for `Mentions`: at least half of the sounds are mentioned,
/// and at least half of the sounds mentioned are there, so naming every sound does not pass).
pub fn check(expected: &Expected, answer: &str) -> bool {
    let ws = words(answer);
    match expected {
        Expected::Number(n) => first_number(answer) == Some(*n),
        Expected::YesNo { yes, sound } => {
            let yes_at = ws.iter().position(|w| YES.contains(&w.as_str()));
            let said_yes = if denies(&ws, sound) {
                // A denial, unless the answer opens with yes ("Yes, not far away").
                yes_at == Some(0)
            } else if yes_at.is_some() || first_mention(&ws, sound).is_some() {
                // An explicit yes, or a plain mention of the sound: it is there.
                true
            } else {
                return false;
            };
            said_yes == *yes
        }
        Expected::Pick { right, wrong, by } => picks(&ws, right, wrong, *by),
        Expected::Mentions(sounds) => {
            let present = mentioned(sounds, &ws);
            !sounds.is_empty()
                && 2 * present >= sounds.len()
                && present >= absent_mentions(sounds, answer)
        }
        Expected::Denial(sound) => denies(&ws, sound),
        Expected::Moment(sound) => {
            !denies(&ws, sound)
                && !unsure(&ws)
                && ws.iter().any(|w| {
                    TIME_WORDS.contains(&w.as_str()) || w.chars().any(|c| c.is_ascii_digit())
                })
        }
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
    use crate::data::synth::probes::keywords;
    use crate::data::synth::EventType;

    fn pick(r: &'static str, w: &'static str, by: Comparison) -> Expected {
        Expected::Pick {
            right: vec![r],
            wrong: vec![w],
            by,
        }
    }

    fn yes_no(yes: bool) -> Expected {
        Expected::YesNo {
            yes,
            sound: vec!["siren"],
        }
    }

    #[test]
    fn counting() {
        assert!(check(&Expected::Number(3), "It barks 3 times."));
        assert!(check(&Expected::Number(2), "Twice, I think."));
        assert!(!check(&Expected::Number(2), "Three times."));
        assert!(!check(&Expected::Number(2), "A dog barks."));
        // "No" is not a count; "the one" is a pronoun.
        assert!(check(&Expected::Number(3), "No, it rings three times."));
        assert!(check(
            &Expected::Number(3),
            "It is the one that rings three times."
        ));
        assert_eq!(first_number("about 12 knocks"), Some(12));
    }

    #[test]
    fn presence() {
        assert!(check(&yes_no(true), "Yes, there is a siren."));
        assert!(check(&yes_no(false), "No, I can't hear one."));
        assert!(check(&yes_no(false), "There is not a siren."));
        assert!(check(&yes_no(false), "There isn't a siren."));
        assert!(check(&yes_no(false), "There isn\u{2019}t a siren."));
        assert!(check(&yes_no(false), "The siren is not there."));
        assert!(!check(&yes_no(true), "There isn't a siren."));
        // A plain statement that the sound is there answers yes.
        assert!(check(&yes_no(true), "A siren wails."));
        assert!(!check(&yes_no(false), "A siren wails."));
        // "no doubt" is no denial, and a negation of another sound denies nothing.
        assert!(check(
            &yes_no(true),
            "There's no doubt, a siren is wailing."
        ));
        assert!(check(&yes_no(true), "A siren, not a bell."));
        // A description that neither names the sound nor answers says nothing either way.
        assert!(!check(&yes_no(false), "A dog barks, then rain falls."));
        assert!(!check(&yes_no(true), "A dog barks, then rain falls."));
        assert!(!check(&yes_no(false), "I don't know."));
    }

    #[test]
    fn order_and_loudness() {
        use Comparison::*;
        assert!(check(
            &pick("dog", "siren", Earlier),
            "The dog starts before the siren."
        ));
        assert!(check(&pick("dog", "siren", Earlier), "Barking from a dog."));
        assert!(!check(&pick("dog", "siren", Earlier), "Rain."));
        // The comparison word decides which of two named sounds is picked.
        assert!(check(
            &pick("bell", "siren", Earlier),
            "The siren starts after the bell."
        ));
        assert!(!check(
            &pick("siren", "bell", Earlier),
            "The siren starts after the bell."
        ));
        assert!(check(
            &pick("siren", "bell", Later),
            "The siren starts after the bell."
        ));
        assert!(check(
            &pick("water", "bird", Louder),
            "The bird is quieter than the dripping water."
        ));
        assert!(check(
            &pick("bird", "water", Quieter),
            "The bird is quieter than the dripping water."
        ));
        // A caption listing both sounds in order answers neither question.
        for by in [Earlier, Later] {
            assert!(!check(
                &pick("dog", "siren", by),
                "A dog barks, then a siren wails."
            ));
            assert!(!check(
                &pick("siren", "dog", by),
                "A dog barks, then a siren wails."
            ));
        }
        // A negated mention is not a pick.
        assert!(check(
            &pick("siren", "dog", Earlier),
            "Not the dog, the siren."
        ));
        assert!(!check(
            &pick("dog", "siren", Earlier),
            "Not the dog, the siren."
        ));
    }

    #[test]
    fn captioning() {
        let m = Expected::Mentions(vec![vec!["dog", "bark"], vec!["rain"], vec!["bell"]]);
        assert!(check(&m, "Dogs barking in the rain."));
        assert!(!check(&m, "A bell rings."));
        // Naming every sound is not a description: the sounds mentioned must mostly be there.
        let dog_rain = Expected::Mentions(vec![
            keywords(EventType::DogBark),
            keywords(EventType::Rain),
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
    }

    #[test]
    fn absent_sounds_and_their_controls() {
        let denial = Expected::Denial(vec!["siren"]);
        assert!(check(&denial, "There is no siren in this clip."));
        assert!(check(&denial, "I can't hear any siren."));
        assert!(check(&denial, "No siren can be heard."));
        assert!(check(&denial, "It does not occur in this recording."));
        assert!(!check(&denial, "The siren starts at two seconds."));
        // Not knowing, or a "not" about something else, is no denial.
        assert!(!check(&denial, "I don't know."));
        assert!(!check(&denial, "Not sure."));
        assert!(!check(&denial, "It starts at 2 s, not at the start."));
        // The control: about a sound that is there, a time and no denial.
        let moment = Expected::Moment(vec!["siren"]);
        assert!(check(&moment, "The siren starts at 2 seconds."));
        assert!(check(&moment, "Right at the beginning."));
        assert!(!check(&moment, "There is no siren."));
        assert!(!check(&moment, "No."));
        assert!(!check(&moment, "A siren."));
        assert!(!check(&moment, "I don't know when it starts."));
        // Always denying scores one half over denial + control pairs.
        let always_no = [&denial, &moment]
            .iter()
            .filter(|e| check(e, "No."))
            .count();
        assert_eq!(always_no, 1);
    }
}
