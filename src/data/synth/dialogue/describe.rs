//! How the corpus words a described scene: the clip's ground-truth description, descriptions
//! of several captions, and the conversational restatement of a bare description (the
//! dialogue-continuation target), all drawn from the facts a caption states.

use super::super::captions::{capitalise, fill_adj, lexicon, number_word, tidy};
use super::super::facts::{CountFact, EventFacts, LoudnessFact, SceneFacts};
use super::super::EventType;
use crate::rng::Rng;

/// The clip's ground-truth description: one sentence stating every fact its captions state
/// together, each sound named plainly by the name questions use ("a dog barks three times, then
/// a faint siren wails"), drawn with a stream of the world's seed and the clip's index (the
/// same for every reader). Written to `events.jsonl`; the `text-oracle` row gives it where the
/// audio would be.
pub fn ground_truth_description(facts: &[SceneFacts], seed: u64, idx: usize) -> String {
    let mut rng = Rng::derive(seed, &format!("synth-description-{idx}"));
    format!(
        "{}.",
        capitalise(&plain_scene_sentence(&SceneFacts::union(facts), &mut rng))
    )
}

/// A description of the scene stating every fact of `f`, caption style: half of the time in
/// the ground-truth description's plain names, else in the captions' words.
pub(super) fn merged_description(f: &SceneFacts, rng: &mut Rng) -> String {
    let s = if rng.below(2) == 0 {
        plain_scene_sentence(f, rng)
    } else {
        scene_sentence(f, rng)
    };
    format!("{}.", capitalise(&s))
}

/// Several captions of one clip as one text: each trimmed, capitalised and ended with a period,
/// joined by spaces (the `text-oracle` row's text for datasets with no ground-truth
/// description).
pub fn description(captions: &[String]) -> String {
    captions
        .iter()
        .map(|c| {
            let c = c.trim();
            let mut s = capitalise(c);
            if !s.ends_with(['.', '!', '?']) {
                s.push('.');
            }
            s
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn pick<'a>(rng: &mut Rng, opts: &[&'a str]) -> &'a str {
    opts[rng.below(opts.len())]
}

/// "the dog", "the dripping water": how questions and answers refer to a sound.
pub(super) fn the(t: EventType) -> String {
    format!("the {}", lexicon(t).short.0)
}

pub(super) fn count_words(c: CountFact, rng: &mut Rng) -> String {
    match c {
        CountFact::Unstated => String::new(),
        CountFact::Vague => pick(
            rng,
            &[" several times", " repeatedly", " a number of times"],
        )
        .into(),
        CountFact::Exact(1) => " once".into(),
        CountFact::Exact(2) => pick(rng, &[" twice", " two times"]).into(),
        CountFact::Exact(n) => format!(" {} times", number_word(n as usize)),
    }
}

/// One sound as a clause stating everything the facts say about it ("a loud dog barks three
/// times", "someone knocks twice in the distance").
pub(super) fn clause(e: &EventFacts, plain: bool, rng: &mut Rng) -> String {
    let lx = lexicon(e.ty);
    let (&(subj, plural), &(sg, base, _)) = if plain {
        plain_subject_verb(e.ty)
    } else {
        (rng.choose(lx.subjects), rng.choose(lx.verbs))
    };
    let verb = if plural { base } else { sg };
    let (adj, adv) = match e.loudness {
        None => ("", ""),
        Some(l) => {
            let as_adj = subj.contains("{adj}") && rng.below(2) == 0;
            match (l, as_adj) {
                (LoudnessFact::Loud, true) => (pick(rng, &["loud ", "nearby "]), ""),
                (LoudnessFact::Loud, false) => ("", pick(rng, &[" loudly", " close by"])),
                (LoudnessFact::Quiet, true) => (pick(rng, &["faint ", "distant ", "quiet "]), ""),
                (LoudnessFact::Quiet, false) => {
                    ("", pick(rng, &[" faintly", " softly", " in the distance"]))
                }
            }
        }
    };
    let count = count_words(e.count, rng);
    format!("{} {verb}{count}{adv}", fill_adj(subj, adj))
}

/// The whole scene as one lower-case sentence without final period, stating every fact ("a"
/// before a vowel made "an", as in the captions).
pub(super) fn scene_sentence(f: &SceneFacts, rng: &mut Rng) -> String {
    tidy(&untidy_scene_sentence(f, false, rng))
}

/// [`scene_sentence`] naming each sound plainly, by the name questions use ("a dog barks").
pub(super) fn plain_scene_sentence(f: &SceneFacts, rng: &mut Rng) -> String {
    tidy(&untidy_scene_sentence(f, true, rng))
}

/// Each sound's plain subject and verb: its short name ("dog", "dripping water") in the
/// commonest wording.
pub(super) fn plain_subject_verb(
    t: EventType,
) -> (
    &'static (&'static str, bool),
    &'static (&'static str, &'static str, &'static str),
) {
    match t {
        EventType::DogBark => (&("a {adj}dog", false), &("barks", "bark", "barking")),
        EventType::BirdChirp => (&("a {adj}bird", false), &("chirps", "chirp", "chirping")),
        EventType::Siren => (&("a {adj}siren", false), &("wails", "wail", "wailing")),
        EventType::Engine => (&("an {adj}engine", false), &("hums", "hum", "humming")),
        EventType::Rain => (&("{adj}rain", false), &("falls", "fall", "falling")),
        EventType::Bell => (&("a {adj}bell", false), &("rings", "ring", "ringing")),
        EventType::Footsteps => (&("{adj}footsteps", true), &("sound", "sound", "sounding")),
        EventType::DoorKnock => (
            &("someone", false),
            &("knocks on a door", "knock on a door", "knocking on a door"),
        ),
        EventType::AlarmBeep => (&("an {adj}alarm", false), &("beeps", "beep", "beeping")),
        EventType::Wind => (&("the {adj}wind", false), &("blows", "blow", "blowing")),
        EventType::WaterDrip => (&("{adj}water", false), &("drips", "drip", "dripping")),
        EventType::SpeechBabble => (&("{adj}voices", true), &("talk", "talk", "talking")),
    }
}

pub(super) fn untidy_scene_sentence(f: &SceneFacts, plain: bool, rng: &mut Rng) -> String {
    let parts: Vec<String> = f.events.iter().map(|e| clause(e, plain, rng)).collect();
    match parts.as_slice() {
        [] => "there is only a quiet background hiss".into(),
        [a] => a.clone(),
        [a, b] if f.ordered => {
            let c = pick(
                rng,
                &[
                    ", then ",
                    " and then ",
                    ", and after that ",
                    " before ",
                    ", after which ",
                ],
            );
            format!("{a}{c}{b}")
        }
        [a, b] => {
            let c = pick(
                rng,
                &[
                    " while ",
                    " as ",
                    ", and at the same time ",
                    " and meanwhile ",
                ],
            );
            format!("{a}{c}{b}")
        }
        [a, b, c, ..] if f.ordered => match rng.below(3) {
            0 => format!("{a}, then {b}, and finally {c}"),
            1 => format!("first {a}, then {b}, and after that {c}"),
            _ => format!("{a}, after which {b}, and then {c}"),
        },
        [a, b, c, ..] => match rng.below(2) {
            0 => format!("{a} while {b} and {c}"),
            _ => format!("{a}, and at the same time {b} and {c}"),
        },
    }
}

/// A conversational reply to a bare description: it restates the whole scene.
pub fn restatement(f: &SceneFacts, rng: &mut Rng) -> String {
    let s = scene_sentence(f, rng);
    match rng.below(7) {
        0 => format!("It sounds like {s}."),
        1 => format!("So {s}. What would you like to know about it?"),
        2 => format!("That is a scene where {s}."),
        3 => format!("In other words, {s}."),
        4 => format!("I see: {s}."),
        5 => format!("Got it, {s}. Is there anything you want to ask about it?"),
        _ => format!("So what happens is that {s}."),
    }
}
