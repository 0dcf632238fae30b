//! Zero-shot instruction probes on the synthetic world: instruction types the audio model never
//! trains on (its targets are captions or the LLM's replies to captions; only `data.instruct`
//! adds questions, and the eval stage records when that covers probe kinds), worded unlike the
//! world's question–answer pairs (a test checks that no probe shares a four-word phrase with them
//! once sound names are masked), each with an expectation a program can check because the scene's
//! ground truth (`events.jsonl`) is known:
//!
//! | kind | instruction | expected | chance |
//! |---|---|---|---|
//! | `counting` | how often a countable sound occurs, as a number | its repetitions | — |
//! | `order` | of two sounds, which begins earlier (or, half the time, later) | that one picked | ½ |
//! | `presence` | yes or no: is a sound there (half present, half absent) | yes / no | ½ |
//! | `loudness` | of two sounds (≥ 6 dB apart in `level_db`), which is louder (or quieter) | that one picked | ½ |
//! | `captioning` | a paraphrased description request | mentions of the sounds present (recall ≥ ½), no more sounds absent than present named | — |
//! | `absent` | when a sound begins, for a sound the clip lacks (half) or has (half) | a denial of that sound / a time, undenied | ½ |
//!
//! "Chance" is what a constant or order-blind answer scores: always "no", always naming the
//! first sound asked about. Sounds are named by their short names (`dog`, `siren`, …); answers
//! are matched by keywords (`eval::probes`).

use super::{ClipRecord, EventRecord, EventType};
use crate::rng::Rng;

pub use crate::spec::probes::{chance, PROBE_KINDS, TAUGHT_BY_SYNTH_QA};

/// The property an `order` or `loudness` probe asks to pick a sound by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Comparison {
    Earlier,
    Later,
    Louder,
    Quieter,
}

/// What a correct answer looks like. Sounds are given as keyword lists ([`keywords`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// The first number in the answer.
    Number(u32),
    /// Whether `sound` is there: an explicit yes or no, a denial of the sound, or (for yes) a
    /// plain mention of it.
    YesNo { yes: bool, sound: Vec<&'static str> },
    /// Of two sounds, `right` is the one with the property asked about: named alone, or named
    /// with a comparison word that picks it.
    Pick {
        right: Vec<&'static str>,
        wrong: Vec<&'static str>,
        by: Comparison,
    },
    /// At least half of these sounds are mentioned, and no more of the world's other sounds
    /// than of these.
    Mentions(Vec<Vec<&'static str>>),
    /// The answer says this sound is not there.
    Denial(Vec<&'static str>),
    /// The answer gives a time (a number or a word such as "start") and does not deny the sound.
    Moment(Vec<&'static str>),
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

/// The probes' wordings: `{a}` / `{b}` are sounds, `{w}` the comparison word.
const COUNTING_Q: &str = "How often can the {a} be heard? Reply with a number.";
const ORDER_Q: &str = "Of the {a} and the {b}, which one begins {w}?";
const ORDER_WORDS: [&str; 2] = ["earlier", "later"];
const PRESENCE_Q: &str = "Answer yes or no: does this audio include {a}?";
const LOUDNESS_Q: &str = "Comparing the {a} with the {b}, which one is {w}?";
const LOUDNESS_WORDS: [&str; 2] = ["louder", "quieter"];
const CAPTION_REQUESTS: [&str; 4] = [
    "What can you hear in this recording?",
    "Give a short description of the sounds in this clip.",
    "Summarize this audio in a few words.",
    "Tell me which sounds this recording contains.",
];
const ABSENT_Q: &str = "At what moment does the {a} begin in this clip?";

fn fill(template: &str, a: &str, b: &str, w: &str) -> String {
    template
        .replace("{a}", a)
        .replace("{b}", b)
        .replace("{w}", w)
}

/// Every probe question with its sounds left as `_` (for keeping these wordings out of training
/// text: `dialogue.rs` and the tests compare four-word phrases against them).
pub fn wordings() -> Vec<String> {
    let mut out = vec![
        fill(COUNTING_Q, "_", "_", ""),
        fill(PRESENCE_Q, "_", "_", ""),
        fill(ABSENT_Q, "_", "_", ""),
    ];
    for w in ORDER_WORDS {
        out.push(fill(ORDER_Q, "_", "_", w));
    }
    for w in LOUDNESS_WORDS {
        out.push(fill(LOUDNESS_Q, "_", "_", w));
    }
    out.extend(CAPTION_REQUESTS.iter().map(|s| s.to_string()));
    out
}

/// Lower-cased words of `s` with every sound's names replaced by `_`, so phrases compare as
/// templates ("the dog barks" and "the siren wails" share "the _").
pub(super) fn masked_words(s: &str) -> Vec<String> {
    let mut t = s.to_lowercase();
    let mut names: Vec<&str> = EventType::ALL
        .iter()
        .flat_map(|e| {
            let lx = super::captions::lexicon(*e);
            [lx.presence.0, lx.short.0]
        })
        .collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for n in names {
        t = t.replace(n, " _ ");
    }
    t.split(|c: char| !c.is_alphanumeric() && c != '_' && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The `n`-word phrases of `s` (sound names masked).
pub(super) fn n_grams(s: &str, n: usize) -> Vec<String> {
    masked_words(s).windows(n).map(|w| w.join(" ")).collect()
}

fn short(t: EventType) -> &'static str {
    super::captions::lexicon(t).short.0
}

/// The presence noun phrase of `t` (`a dog barking`, `footsteps`, …).
fn presence(t: EventType) -> &'static str {
    super::captions::lexicon(t).presence.0
}

fn ty(e: &EventRecord) -> Option<EventType> {
    EventType::from_name(&e.event_type)
}

/// The two sounds in a random order, so "the first one named" is no cue.
fn shuffled(a: EventType, b: EventType, rng: &mut Rng) -> (EventType, EventType) {
    if rng.below(2) == 0 {
        (a, b)
    } else {
        (b, a)
    }
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
            fill(COUNTING_Q, short(*t), "", ""),
            Expected::Number(e.repetitions),
            e.repetitions.to_string(),
        ));
    }
    if events.len() >= 2 {
        // Events are in onset order: the first begins earlier.
        let (early, late) = (events[0].0, events[1].0);
        let (x, y) = shuffled(early, late, rng);
        let (by, right, wrong, word) = if rng.below(2) == 0 {
            (Comparison::Earlier, early, late, "earlier")
        } else {
            (Comparison::Later, late, early, "later")
        };
        out.push(item(
            "order",
            fill(ORDER_Q, short(x), short(y), word),
            Expected::Pick {
                right: keywords(right),
                wrong: keywords(wrong),
                by,
            },
            format!("the {}", short(right)),
        ));
        let mut pairs: Vec<(EventType, EventType)> = Vec::new();
        for (i, (ta, ea)) in events.iter().enumerate() {
            for (tb, eb) in &events[i + 1..] {
                if ea.level_db - eb.level_db >= 6.0 {
                    pairs.push((*ta, *tb));
                } else if eb.level_db - ea.level_db >= 6.0 {
                    pairs.push((*tb, *ta));
                }
            }
        }
        if let Some(&(loud, quiet)) = pairs.first() {
            let (x, y) = shuffled(loud, quiet, rng);
            let (by, right, wrong, word) = if rng.below(2) == 0 {
                (Comparison::Louder, loud, quiet, "louder")
            } else {
                (Comparison::Quieter, quiet, loud, "quieter")
            };
            out.push(item(
                "loudness",
                fill(LOUDNESS_Q, short(x), short(y), word),
                Expected::Pick {
                    right: keywords(right),
                    wrong: keywords(wrong),
                    by,
                },
                format!("the {}", short(right)),
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
        fill(PRESENCE_Q, presence(t), "", ""),
        Expected::YesNo {
            yes: ask_present,
            sound: keywords(t),
        },
        if ask_present { "yes" } else { "no" }.into(),
    ));
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
    // Half the time about a sound that is there, so that always denying scores one half.
    let ask_absent = !absent.is_empty() && (present.is_empty() || rng.below(2) == 0);
    if ask_absent || !present.is_empty() {
        let (t, expected, text) = if ask_absent {
            let t = *rng.choose(&absent);
            (
                t,
                Expected::Denial(keywords(t)),
                format!("there is no {}", short(t)),
            )
        } else {
            let (t, e) = events[rng.below(events.len())];
            (
                t,
                Expected::Moment(keywords(t)),
                format!("a time (it begins at {:.1} s)", e.onset_s),
            )
        };
        out.push(item(
            "absent",
            fill(ABSENT_Q, short(t), "", ""),
            expected,
            text,
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

    fn ev(t: &str, onset: f64, level: f64, reps: u32) -> EventRecord {
        EventRecord {
            event_type: t.into(),
            onset_s: onset,
            duration_s: 1.0,
            gain_db: 0.0,
            level_db: level,
            repetitions: reps,
        }
    }

    fn clip(events: Vec<EventRecord>) -> ClipRecord {
        ClipRecord {
            file_name: "synth_00009.wav".into(),
            split: "test".into(),
            events,
            description: String::new(),
        }
    }

    #[test]
    fn expectations_follow_the_scene() {
        let c = clip(vec![
            ev("dog_bark", 0.5, -10.0, 3),
            ev("siren", 2.0, -19.0, 1),
        ]);
        let dog = keywords(EventType::DogBark);
        let siren = keywords(EventType::Siren);
        let mut asked = std::collections::BTreeSet::new();
        for seed in 0..40 {
            let ps = clip_probes(&c, &mut Rng::new(seed));
            let get = |k: &str| ps.iter().find(|p| p.kind == k).unwrap();
            assert_eq!(get("counting").expected, Expected::Number(3));
            assert!(get("counting").question.contains("dog"));
            let Expected::Pick { right, wrong, by } = &get("order").expected else {
                panic!("order is a pick")
            };
            // The dog begins earlier; the siren later.
            let (r, w) = if *by == Comparison::Earlier {
                (&dog, &siren)
            } else {
                (&siren, &dog)
            };
            assert_eq!((right, wrong), (r, w), "{:?}", get("order").question);
            assert!(get("order").question.contains(match by {
                Comparison::Earlier => "earlier",
                _ => "later",
            }));
            let Expected::Pick { right, by, .. } = &get("loudness").expected else {
                panic!("loudness is a pick")
            };
            assert_eq!(
                right,
                if *by == Comparison::Louder {
                    &dog
                } else {
                    &siren
                }
            );
            assert_eq!(get("captioning").expected_text, "dog, siren");
            match &get("absent").expected {
                Expected::Denial(k) => {
                    assert!(*k != dog && *k != siren);
                    assert!(get("absent").expected_text.starts_with("there is no"));
                }
                Expected::Moment(k) => assert!(*k == dog || *k == siren),
                e => panic!("absent: {e:?}"),
            }
            asked.insert((
                format!("{:?}", std::mem::discriminant(&get("absent").expected)),
                *by,
            ));
            assert_eq!(get("order").file_name, "audio/test/synth_00009.wav");
            assert_eq!(get("order").id, "synth_00009-order");
        }
        // Both directions of each comparison, and both sides of the absent probe, get asked.
        assert_eq!(asked.len(), 4, "{asked:?}");
        // No loudness probe when the sounds' levels are within 6 dB (gain does not matter).
        let close = clip(vec![
            ev("dog_bark", 0.5, -10.0, 3),
            ev("siren", 2.0, -14.0, 1),
        ]);
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

    /// The probes are worded unlike every question of the world's question–answer pairs (which
    /// `builtin:tiny-chat` pretrains on and `data.instruct` can train on): no four-word phrase in
    /// common once sound names are masked. The levels of a generated world also give loudness
    /// probes, and they are the ones the ground truth says.
    #[test]
    fn probes_are_worded_unlike_the_training_questions() {
        let dir = std::env::temp_dir().join(format!("acdc-probe-words-{}", std::process::id()));
        let cfg = super::super::SynthConfig::new(60, 3);
        super::super::generate(&dir, &cfg).unwrap();
        let clips = read_events(&dir.join("events.jsonl"), "test").unwrap();
        let mut questions = std::collections::BTreeSet::new();
        for c in super::super::text_world(60, 3, cfg.clip_seconds) {
            for (q, _) in c.qa {
                questions.extend(n_grams(&q, 4));
            }
        }
        assert!(questions.len() > 50, "the QA questions were read");
        let ps = probes(&clips, 100, 1);
        for kind in PROBE_KINDS {
            assert!(ps.iter().any(|p| p.kind == kind), "no {kind} probe");
        }
        for p in &ps {
            for g in n_grams(&p.question, 4) {
                assert!(
                    !questions.contains(&g),
                    "probe {:?} shares {g:?} with a training question",
                    p.question
                );
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
