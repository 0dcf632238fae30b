//! Zero-shot instruction probes on the synthetic world: instruction types the model never trains
//! on (the training QA uses other kinds and phrasings), each with an expectation a program can
//! check because the scene's ground truth (`events.jsonl`) is known:
//!
//! | kind | instruction | expected |
//! |---|---|---|
//! | `counting` | how often a countable sound occurs, as a number | its repetitions |
//! | `order` | which of two sounds starts first | the earlier one is named first |
//! | `presence` | yes or no: is a sound there (half present, half absent) | yes / no |
//! | `loudness` | which of two sounds (≥ 6 dB apart) is louder | the louder one is named first |
//! | `captioning` | a paraphrased description request | mentions of the sounds present (recall ≥ ½), no more sounds absent than present named |
//! | `absent` | a question that presumes a sound the clip does not contain | a denial |
//!
//! Sounds are named by their short names (`dog`, `siren`, …); answers are matched by keywords.

use super::{ClipRecord, EventRecord, EventType};
use crate::rng::Rng;

/// The probe kinds, in report order.
pub const PROBE_KINDS: [&str; 6] = [
    "counting",
    "order",
    "presence",
    "loudness",
    "captioning",
    "absent",
];

/// What a correct answer looks like.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// The first number in the answer.
    Number(u32),
    /// The first yes/no word.
    YesNo(bool),
    /// Of two sounds (keyword lists), the right one is mentioned and before the wrong one.
    FirstOf {
        right: Vec<&'static str>,
        wrong: Vec<&'static str>,
    },
    /// At least half of these sounds (keyword lists) are mentioned, and no more of the world's
    /// other sounds than of these.
    Mentions(Vec<Vec<&'static str>>),
    /// The answer says the sound is not there.
    Denial,
}

/// One probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeItem {
    /// `<clip stem>-<kind>`.
    pub id: String,
    /// The clip's audio, relative to the dataset root (`audio/<split>/<file name>`).
    pub file_name: String,
    pub kind: &'static str,
    pub question: String,
    pub expected: Expected,
    /// The expectation in words, for reports.
    pub expected_text: String,
}

/// Words that name a sound in an answer.
pub fn keywords(t: EventType) -> Vec<&'static str> {
    match t {
        EventType::DogBark => vec!["dog", "bark", "woof", "canine", "hound", "yelp"],
        EventType::BirdChirp => vec!["bird", "chirp", "tweet", "song"],
        EventType::Siren => vec!["siren"],
        EventType::Engine => vec!["engine", "motor", "car", "vehicle"],
        EventType::Rain => vec!["rain", "shower"],
        EventType::Bell => vec!["bell", "chime", "ring"],
        EventType::Footsteps => vec!["footstep", "step", "walk"],
        EventType::DoorKnock => vec!["knock", "door"],
        EventType::AlarmBeep => vec!["alarm", "beep"],
        EventType::Wind => vec!["wind", "gust"],
        EventType::WaterDrip => vec!["drip", "drop", "water"],
        EventType::SpeechBabble => vec![
            "speech", "talk", "voice", "people", "babble", "chatter", "convers",
        ],
    }
}

fn short(t: EventType) -> &'static str {
    super::captions::lexicon(t).short.0
}

/// `a` or `an` before `word`.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn ty(e: &EventRecord) -> Option<EventType> {
    EventType::from_name(&e.event_type)
}

/// The probes of one clip (each kind the scene allows), before sampling.
fn clip_probes(c: &ClipRecord, rng: &mut Rng) -> Vec<ProbeItem> {
    let stem = c.file_name.trim_end_matches(".wav");
    let events: Vec<(EventType, &EventRecord)> = c
        .events
        .iter()
        .filter_map(|e| ty(e).map(|t| (t, e)))
        .collect();
    let present: Vec<EventType> = events.iter().map(|(t, _)| *t).collect();
    let absent: Vec<EventType> = EventType::ALL
        .iter()
        .copied()
        .filter(|t| !present.contains(t))
        .collect();
    let item = |kind: &'static str, question: String, expected: Expected, text: String| ProbeItem {
        id: format!("{stem}-{kind}"),
        file_name: format!("audio/{}/{}", c.split, c.file_name),
        kind,
        question,
        expected,
        expected_text: text,
    };
    let mut out = Vec::new();
    if let Some((t, e)) = events.iter().find(|(t, _)| t.countable()) {
        out.push(item(
            "counting",
            format!(
                "How often can the {} be heard? Reply with a number.",
                short(*t)
            ),
            Expected::Number(e.repetitions),
            e.repetitions.to_string(),
        ));
    }
    if events.len() >= 2 {
        let (a, b) = (events[0].0, events[1].0);
        // Name the two in a random order so "the first one named" is no cue.
        let (x, y) = if rng.below(2) == 0 { (a, b) } else { (b, a) };
        out.push(item(
            "order",
            format!(
                "Which sound starts first, the {} or the {}?",
                short(x),
                short(y)
            ),
            Expected::FirstOf {
                right: keywords(a),
                wrong: keywords(b),
            },
            format!("the {}", short(a)),
        ));
        let mut pairs: Vec<(EventType, EventType)> = Vec::new();
        for (i, (ta, ea)) in events.iter().enumerate() {
            for (tb, eb) in &events[i + 1..] {
                if ea.gain_db - eb.gain_db >= 6.0 {
                    pairs.push((*ta, *tb));
                } else if eb.gain_db - ea.gain_db >= 6.0 {
                    pairs.push((*tb, *ta));
                }
            }
        }
        if let Some(&(loud, quiet)) = pairs.first() {
            let (x, y) = if rng.below(2) == 0 {
                (loud, quiet)
            } else {
                (quiet, loud)
            };
            out.push(item(
                "loudness",
                format!(
                    "Which is louder in this recording: the {} or the {}?",
                    short(x),
                    short(y)
                ),
                Expected::FirstOf {
                    right: keywords(loud),
                    wrong: keywords(quiet),
                },
                format!("the {}", short(loud)),
            ));
        }
    }
    let ask_present = absent.is_empty() || (!present.is_empty() && rng.below(2) == 0);
    let t = if ask_present {
        *rng.choose(&present)
    } else {
        *rng.choose(&absent)
    };
    out.push(item(
        "presence",
        format!(
            "Answer yes or no: does {} {} occur anywhere in this audio?",
            article(short(t)),
            short(t)
        ),
        Expected::YesNo(ask_present),
        if ask_present { "yes" } else { "no" }.into(),
    ));
    const CAPTION_REQUESTS: [&str; 4] = [
        "What can you hear in this recording?",
        "Give a short description of the sounds in this clip.",
        "Summarize this audio in a few words.",
        "Tell me which sounds this recording contains.",
    ];
    out.push(item(
        "captioning",
        CAPTION_REQUESTS[rng.below(CAPTION_REQUESTS.len())].to_string(),
        Expected::Mentions(present.iter().map(|t| keywords(*t)).collect()),
        present
            .iter()
            .map(|t| short(*t))
            .collect::<Vec<_>>()
            .join(", "),
    ));
    if !absent.is_empty() {
        let t = *rng.choose(&absent);
        out.push(item(
            "absent",
            format!("At what moment does the {} start in this clip?", short(t)),
            Expected::Denial,
            format!("there is no {}", short(t)),
        ));
    }
    out
}

/// Up to `per_kind` probes of each kind over `clips` (seeded choice of clips per kind).
pub fn probes(clips: &[ClipRecord], per_kind: usize, seed: u64) -> Vec<ProbeItem> {
    let mut rng = Rng::derive(seed, "probes");
    let all: Vec<ProbeItem> = clips
        .iter()
        .flat_map(|c| clip_probes(c, &mut rng))
        .collect();
    let mut out = Vec::new();
    for kind in PROBE_KINDS {
        let mut of_kind: Vec<ProbeItem> = all.iter().filter(|p| p.kind == kind).cloned().collect();
        rng.shuffle(&mut of_kind);
        of_kind.truncate(per_kind);
        of_kind.sort_by(|a, b| a.id.cmp(&b.id));
        out.extend(of_kind);
    }
    out
}

/// The clips of `split` in a synthetic dataset's `events.jsonl`.
pub fn read_events(path: &std::path::Path, split: &str) -> Result<Vec<ClipRecord>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let c: ClipRecord = serde_json::from_str(line)
            .map_err(|e| format!("{}: line {}: {e}", path.display(), i + 1))?;
        if c.split == split {
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: &str, onset: f64, gain: f64, reps: u32) -> EventRecord {
        EventRecord {
            event_type: t.into(),
            onset_s: onset,
            duration_s: 1.0,
            gain_db: gain,
            repetitions: reps,
        }
    }

    #[test]
    fn expectations_follow_the_scene() {
        let c = ClipRecord {
            file_name: "synth_00009.wav".into(),
            split: "test".into(),
            events: vec![ev("dog_bark", 0.5, 0.0, 3), ev("siren", 2.0, -9.0, 1)],
        };
        let ps = clip_probes(&c, &mut Rng::new(0));
        let get = |k: &str| ps.iter().find(|p| p.kind == k).unwrap();
        assert_eq!(get("counting").expected, Expected::Number(3));
        assert!(get("counting").question.contains("dog"));
        let dog = keywords(EventType::DogBark);
        let siren = keywords(EventType::Siren);
        assert_eq!(
            get("order").expected,
            Expected::FirstOf {
                right: dog.clone(),
                wrong: siren.clone()
            }
        );
        assert_eq!(
            get("loudness").expected,
            Expected::FirstOf {
                right: dog,
                wrong: siren
            }
        );
        assert_eq!(get("captioning").expected_text, "dog, siren");
        assert_eq!(get("absent").expected, Expected::Denial);
        assert!(
            !get("absent").question.contains("dog") && !get("absent").question.contains("siren")
        );
        assert_eq!(get("order").file_name, "audio/test/synth_00009.wav");
        assert_eq!(get("order").id, "synth_00009-order");
        // No loudness probe when the sounds are within 6 dB.
        let close = ClipRecord {
            events: vec![ev("dog_bark", 0.5, 0.0, 3), ev("siren", 2.0, -3.0, 1)],
            ..c.clone()
        };
        assert!(clip_probes(&close, &mut Rng::new(0))
            .iter()
            .all(|p| p.kind != "loudness"));
        // At most `per_kind` of each kind, deterministically.
        let clips: Vec<ClipRecord> = (0..5)
            .map(|i| ClipRecord {
                file_name: format!("synth_{i:05}.wav"),
                ..c.clone()
            })
            .collect();
        let a = probes(&clips, 2, 7);
        assert_eq!(a.len(), 2 * PROBE_KINDS.len());
        assert_eq!(a, probes(&clips, 2, 7));
    }
}
