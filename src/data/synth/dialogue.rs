//! The toy chat model's corpus: what an instruct LLM does with a described scene. Everything is
//! drawn from the facts each caption states ([`SceneFacts`]), so no reply says more than the
//! text it answers:
//! - a description alone → a conversational restatement of the whole scene it describes (its
//!   sounds, their order, counts and loudness): the dialogue-continuation target;
//! - a description and a question → the answer, for many phrasings of each kind of question
//!   (presence, counts, order, loudness, onsets, sources, description requests); a question the
//!   description cannot answer gets an answer that says so;
//! - the description is one caption, or several captions of one clip ([`description`]), the
//!   form the `text-oracle` reference row gives.
//!
//! The probes' wordings (`probes.rs`) stay out: no question here shares a six-word phrase with a
//! probe once sound names are masked ([`PROBE_PHRASE_WORDS`]; drawn wordings that would are
//! drawn again, and a test checks the corpus).

use super::captions::{capitalise, fill_adj, lexicon, number_word, tidy};
use super::facts::{CountFact, EventFacts, LoudnessFact, SceneFacts};
use super::{ClipText, EventType};
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
fn merged_description(f: &SceneFacts, rng: &mut Rng) -> String {
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

fn pick<'a>(rng: &mut Rng, opts: &[&'a str]) -> &'a str {
    opts[rng.below(opts.len())]
}

/// "the dog", "the dripping water": how questions and answers refer to a sound.
fn the(t: EventType) -> String {
    format!("the {}", lexicon(t).short.0)
}

fn count_words(c: CountFact, rng: &mut Rng) -> String {
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
fn clause(e: &EventFacts, plain: bool, rng: &mut Rng) -> String {
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
fn scene_sentence(f: &SceneFacts, rng: &mut Rng) -> String {
    tidy(&untidy_scene_sentence(f, false, rng))
}

/// [`scene_sentence`] naming each sound plainly, by the name questions use ("a dog barks").
fn plain_scene_sentence(f: &SceneFacts, rng: &mut Rng) -> String {
    tidy(&untidy_scene_sentence(f, true, rng))
}

/// Each sound's plain subject and verb: its short name ("dog", "dripping water") in the
/// commonest wording.
fn plain_subject_verb(
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

fn untidy_scene_sentence(f: &SceneFacts, plain: bool, rng: &mut Rng) -> String {
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

/// A description of the scene, caption style (the answer to a description request).
fn describe_answer(f: &SceneFacts, rng: &mut Rng) -> String {
    let s = scene_sentence(f, rng);
    match rng.below(4) {
        0 | 1 => format!("{}.", capitalise(&s)),
        2 => format!("In this recording, {s}."),
        _ => format!("The recording contains this: {s}."),
    }
}

/// Requests for a description ("Describe the audio in one sentence." is the captioning
/// instruction of the eval stage).
const DESCRIBE_REQUESTS: [&str; 18] = [
    "Describe the audio in one sentence.",
    "Describe what is going on in the recording.",
    "What sounds are in this clip?",
    "What is happening in the audio?",
    "Which sounds occur in the recording?",
    "List the sounds in the recording.",
    "Briefly describe the scene.",
    "What do you hear?",
    "Can you describe this audio?",
    "Summarise the recording.",
    "Sum up what the clip contains.",
    "Write a caption for this audio.",
    "What is going on here?",
    "Give me a description of the recording.",
    "Describe the sounds you hear.",
    "What does the recording sound like?",
    "Name the sounds in the clip.",
    "Tell me what the clip is about.",
];

/// The sound that makes the repetitions of a countable type, for count questions: (subject,
/// verb base, plural noun of one repetition).
fn repetition(t: EventType) -> (&'static str, &'static str, &'static str) {
    match t {
        EventType::DogBark => ("the dog", "bark", "barks"),
        EventType::Bell => ("the bell", "ring", "bell strikes"),
        EventType::DoorKnock => ("someone", "knock", "knocks"),
        EventType::AlarmBeep => ("the alarm", "beep", "beeps"),
        EventType::WaterDrip => ("the water", "drip", "drops"),
        _ => ("it", "sound", "sounds"),
    }
}

/// Frames every question about the scene can take: `{Q}` / `{q}` is the question's core with
/// or without a capital ("is there a dog barking", "how often does the dog bark"). Shared by
/// all kinds, so no frame tells the kind of question: only its words do.
const FRAMES: [&str; 20] = [
    "{Q}?",
    "{Q}?",
    "{Q}?",
    "{Q}?",
    "{Q}?",
    "Based on the description, {q}?",
    "Quick question: {q}?",
    "I wonder, {q}?",
    "Please answer this: {q}?",
    "{Q}? Answer briefly.",
    "So, {q}?",
    "Here is my question: {q}?",
    "{Q}? Keep it short.",
    "Hmm, {q}?",
    "Okay, {q}?",
    "{Q}? Thanks.",
    "I would like to know: {q}?",
    "One more thing: {q}?",
    "Tell me, {q}?",
    "Listening to this, {q}?",
];

fn framed(core: &str, rng: &mut Rng) -> String {
    pick(rng, &FRAMES)
        .replace("{Q}", &capitalise(core))
        .replace("{q}", core)
}

fn count_question(t: EventType, rng: &mut Rng) -> String {
    let (subj, verb, noun) = repetition(t);
    let the = the(t);
    let core = match rng.below(11) {
        0 => format!("how many times does {subj} {verb}"),
        1 => format!("how often does {subj} {verb}"),
        2 => format!("how often is {the} heard"),
        3 => format!("how many {noun} are there"),
        4 => format!("what is the number of {noun}"),
        5 => format!("how many {noun} does the recording have"),
        6 => format!("how many times is {the} heard"),
        7 => format!("how often do we hear {the}"),
        8 => format!("how many times can you hear {the}"),
        9 => format!("how often does {the} occur"),
        _ => format!("what number of {noun} does the clip have"),
    };
    let suffix = pick(
        rng,
        &[
            "",
            "",
            " Answer with a number.",
            " Give just the number.",
            " Reply with one number.",
            " Use a number, please.",
            " Respond with a number.",
            " Reply with a number.",
            " Give a number.",
        ],
    );
    format!("{}{suffix}", framed(&core, rng))
}

fn count_answer(t: EventType, c: CountFact, rng: &mut Rng) -> String {
    let (subj, verb, noun) = repetition(t);
    match c {
        CountFact::Exact(n) => {
            let w = number_word(n as usize);
            let times = match n {
                1 => "once".to_string(),
                2 => "twice".to_string(),
                _ => format!("{w} times"),
            };
            match rng.below(5) {
                0 => format!("{}.", capitalise(&times)),
                1 => format!("{} {verb}s {times}.", capitalise(subj)),
                2 if n > 1 => format!("There are {w} {noun}."),
                3 => format!("{n}."),
                _ => format!("{}.", capitalise(&w)),
            }
        }
        CountFact::Vague => format!(
            "{} {verb}s several times, but the description gives no exact number.",
            capitalise(subj)
        ),
        CountFact::Unstated => {
            format!("The description does not say how many times {subj} {verb}s.")
        }
    }
}

fn presence_question(t: EventType, rng: &mut Rng) -> String {
    let (p, _) = lexicon(t).presence;
    let the = the(t);
    let core = match rng.below(14) {
        0 => format!("is there {p} in the recording"),
        1 => format!("do you hear {p}"),
        2 => format!("does the clip have {p} in it"),
        3 => format!("does the recording feature {p}"),
        4 => format!("is {p} part of the scene"),
        5 => format!("can {p} be heard"),
        6 => format!("does the recording contain {p}"),
        7 => format!("does the clip include {p}"),
        8 => format!("is {p} present"),
        9 => format!("would I hear {p}"),
        10 => format!("is {the} audible"),
        11 => format!("does the scene include {p}"),
        12 => format!("does this clip contain {p}"),
        _ => format!("does this recording include {p}"),
    };
    let suffix = pick(
        rng,
        &[
            "",
            "",
            "",
            " Yes or no?",
            " Reply yes or no.",
            " Say yes or no.",
            " Answer with yes or no.",
            " Just yes or no, please.",
            " Answer yes or no.",
        ],
    );
    let prefix = pick(
        rng,
        &[
            "",
            "",
            "",
            "Yes or no: ",
            "Reply yes or no: ",
            "Answer yes or no: ",
            "Respond with yes or no: ",
            "Say yes or no: ",
        ],
    );
    if prefix.is_empty() {
        format!("{}{suffix}", framed(&core, rng))
    } else {
        format!("{prefix}{core}?")
    }
}

fn presence_answer(t: EventType, present: bool, rng: &mut Rng) -> String {
    let (p, plural) = lexicon(t).presence;
    let short = lexicon(t).short.0;
    if present {
        match rng.below(4) {
            0 => "Yes.".into(),
            1 => format!("Yes, there {} {p}.", if plural { "are" } else { "is" }),
            2 => format!("Yes, {p} can be heard."),
            _ => format!("Yes, I hear {p}."),
        }
    } else {
        match rng.below(4) {
            0 => "No.".into(),
            1 => format!("No, there is no {short}."),
            2 => format!("No, the recording has no {short} in it."),
            _ => format!("No, I do not hear any {short}."),
        }
    }
}

/// A question asking which of two sounds has property `p` ("starts earlier", "is louder"), in
/// one of frames shared by order and loudness questions; when `in_frames`, inside one of the
/// [`FRAMES`] every other question is asked in (else, one time in four, after "Based on the
/// description:").
fn two_sound_question(x: &str, y: &str, p: &str, in_frames: bool, rng: &mut Rng) -> String {
    let q = match rng.below(16) {
        0 => format!("Which {p}, {x} or {y}?"),
        1 => format!("Which one {p}, {x} or {y}?"),
        2 => format!("Which sound {p}: {x} or {y}?"),
        3 => format!("Which of the two {p}, {x} or {y}?"),
        4 => format!("{} or {y}: which {p}?", capitalise(x)),
        5 => format!("Comparing {x} to {y}, which {p}?"),
        6 => format!("Of these two sounds, {x} or {y}, which {p}?"),
        7 => format!("Tell me which {p}, {x} or {y}."),
        8 => format!("What {p}, {x} or {y}?"),
        9 => format!("Looking at {x} versus {y}, which {p}?"),
        // 10–14 are drawn but never kept: each shares "the _ and the _ which" with the order
        // probe, so `question` rejects it and draws again. (Reworded so that they are kept —
        // "Between {x} and {y}, tell me which {p}." — with balanced pairs and framed
        // comparisons, one build still ordered at chance: 0.49.)
        10 => format!("Between {x} and {y}, which {p}?"),
        11 => format!("Of {x} and {y}, which one {p}?"),
        12 => format!("Comparing {x} and {y}: which {p}?"),
        13 => format!("There are {x} and {y}. Which {p}?"),
        14 => format!("Take {x} and {y}: which one {p}?"),
        _ => format!("Is it {x} or {y} that {p}?"),
    };
    if !in_frames {
        return match rng.below(4) {
            0 => format!("Based on the description: {q}"),
            _ => q,
        };
    }
    // In the frames every other question is asked in ("Quick question: …", "… Thanks."), so
    // no opening or closing words tell a pick from a yes-or-no question: only "which" does.
    let mut core = q.trim_end_matches(['?', '.']).to_string();
    if let Some(first) = core.get(0..1) {
        let first = first.to_lowercase();
        core.replace_range(0..1, &first);
    }
    framed(&core, rng)
}

/// An order question about `x` and `y` (in the order asked), asking for the earlier one when
/// `earlier`; and the answer when the description gives the order.
fn order_qa(
    x: EventType,
    y: EventType,
    earlier: bool,
    x_first: Option<bool>,
    in_frames: bool,
    rng: &mut Rng,
) -> (String, String) {
    let (tx, ty) = (the(x), the(y));
    let yes_no = rng.below(8) == 0;
    let q = if yes_no {
        let rel = if earlier { "before" } else { "after" };
        framed(&format!("does {tx} start {rel} {ty}"), rng)
    } else {
        let p = if earlier {
            pick(
                rng,
                &[
                    "comes first",
                    "starts first",
                    "starts earlier",
                    "begins sooner",
                    "is heard first",
                    "begins first",
                    "starts sooner",
                    "comes earlier",
                    "begins earlier",
                ],
            )
        } else {
            pick(
                rng,
                &[
                    "comes last",
                    "starts last",
                    "starts later",
                    "begins afterwards",
                    "is heard second",
                    "begins last",
                    "comes in later",
                    "comes later",
                    "begins later",
                ],
            )
        };
        two_sound_question(&tx, &ty, p, in_frames, rng)
    };
    let a = match x_first {
        None => "The description does not say which of the two starts first.".to_string(),
        Some(x_first) => {
            let (first, second) = if x_first { (&tx, &ty) } else { (&ty, &tx) };
            let (right, wrong) = if earlier {
                (first, second)
            } else {
                (second, first)
            };
            if yes_no {
                let yes = (x_first && earlier) || (!x_first && !earlier);
                if earlier {
                    if yes {
                        format!("Yes, {tx} starts before {ty}.")
                    } else {
                        format!("No, {ty} starts before {tx}.")
                    }
                } else if yes {
                    format!("Yes, {tx} starts after {ty}.")
                } else {
                    format!("No, {ty} starts after {tx}.")
                }
            } else {
                match (rng.below(3), earlier) {
                    (0, _) => format!("{}.", capitalise(right)),
                    (1, true) => format!("{} starts first.", capitalise(right)),
                    (1, false) => format!("{} starts later.", capitalise(right)),
                    (_, true) => format!("{} comes first, before {wrong}.", capitalise(right)),
                    (_, false) => format!("{} comes later, after {wrong}.", capitalise(right)),
                }
            }
        }
    };
    (q, a)
}

/// A loudness question about `x` and `y`, asking for the louder one when `louder`; and the
/// answer when the description's loudness words tell.
fn loudness_qa(
    x: EventType,
    y: EventType,
    louder: bool,
    x_louder: Option<bool>,
    in_frames: bool,
    rng: &mut Rng,
) -> (String, String) {
    let (tx, ty) = (the(x), the(y));
    let yes_no = rng.below(8) == 0;
    let word = if louder { "louder" } else { "quieter" };
    let q = if yes_no {
        framed(&format!("is {tx} {word} than {ty}"), rng)
    } else {
        let p = if louder {
            pick(
                rng,
                &[
                    "is louder",
                    "sounds louder",
                    "is more prominent",
                    "stands out more",
                    "is stronger",
                    "is the louder one",
                    "comes through louder",
                ],
            )
        } else {
            pick(
                rng,
                &[
                    "is quieter",
                    "sounds quieter",
                    "is fainter",
                    "is softer",
                    "sounds softer",
                    "is less loud",
                    "is the quieter one",
                    "sounds fainter",
                ],
            )
        };
        two_sound_question(&tx, &ty, p, in_frames, rng)
    };
    let a = match x_louder {
        None => "The description does not say which of the two is louder.".to_string(),
        Some(x_louder) => {
            let (loud, quiet) = if x_louder { (&tx, &ty) } else { (&ty, &tx) };
            let (right, wrong) = if louder { (loud, quiet) } else { (quiet, loud) };
            if yes_no {
                if right == &tx {
                    format!("Yes, {tx} is {word} than {ty}.")
                } else {
                    format!("No, {ty} is {word} than {tx}.")
                }
            } else {
                match (rng.below(3), louder) {
                    (0, _) => format!("{}.", capitalise(right)),
                    (1, true) => format!("{} is louder.", capitalise(right)),
                    (1, false) => format!("{} is quieter.", capitalise(right)),
                    (_, true) => format!("{} is louder than {wrong}.", capitalise(right)),
                    (_, false) => format!("{} is fainter than {wrong}.", capitalise(right)),
                }
            }
        }
    };
    (q, a)
}

fn onset_question(t: EventType, rng: &mut Rng) -> String {
    let the = the(t);
    let core = match rng.below(12) {
        0 => format!("when does {the} start"),
        1 => format!("at what point does {the} start"),
        2 => format!("when is {the} first heard"),
        3 => format!("when do you first hear {the}"),
        4 => format!("how soon does {the} come in"),
        5 => format!("at which moment is {the} heard"),
        6 => format!("when do we hear {the} begin"),
        7 => format!("at what time does {the} appear in the recording"),
        8 => format!("at what moment is {the} first heard"),
        9 => format!("when does {the} come in"),
        10 => format!("at what time does {the} start"),
        _ => format!("when can we first hear {the}"),
    };
    framed(&core, rng)
}

/// When `t` begins, as far as the description tells (`None`: it is not in the scene).
fn onset_answer(f: &SceneFacts, t: EventType, rng: &mut Rng) -> String {
    let the = the(t);
    let Some(i) = f.events.iter().position(|e| e.ty == t) else {
        return not_there(t, rng);
    };
    if f.events.len() < 2 || !f.ordered {
        return format!(
            "{} begins at some point in the clip; the description does not say exactly when.",
            capitalise(&the)
        );
    }
    if i == 0 {
        let next = the_of(&f.events[1]);
        match rng.below(2) {
            0 => format!(
                "{} is the first sound: it begins before {next}.",
                capitalise(&the)
            ),
            _ => format!("It begins right at the start, before {next}."),
        }
    } else {
        let prev = the_of(&f.events[i - 1]);
        match rng.below(2) {
            0 => format!("{} begins after {prev}.", capitalise(&the)),
            _ => format!("It begins right after {prev}."),
        }
    }
}

/// The reply to any question about a sound the description does not mention: it is not there.
fn not_there(t: EventType, rng: &mut Rng) -> String {
    let name = lexicon(t).short.0;
    match rng.below(3) {
        0 => format!("There is no {name} in this recording."),
        1 => format!("No {name} can be heard in this clip."),
        _ => format!("I do not hear any {name} in the recording."),
    }
}

/// A count, order, loudness or onset question naming a sound the description does not mention
/// (beside one it does, for two-sound questions), answered by saying that sound is not there: an
/// instruct LLM checks that a sound is there before it counts, orders, compares or times it.
fn missing_sound_qa(
    present: &[EventType],
    absent: &[EventType],
    in_frames: bool,
    rng: &mut Rng,
) -> Option<(String, String)> {
    let t = *rng.choose(absent);
    let q = match rng.below(4) {
        0 if t.countable() => count_question(t, rng),
        0 => return None,
        3 => onset_question(t, rng),
        k => {
            let other = *rng.choose(present);
            let (x, y) = if rng.below(2) == 0 {
                (t, other)
            } else {
                (other, t)
            };
            if k == 1 {
                order_qa(x, y, rng.below(2) == 0, None, in_frames, rng).0
            } else {
                loudness_qa(x, y, rng.below(2) == 0, None, in_frames, rng).0
            }
        }
    };
    Some((q, not_there(t, rng)))
}

fn the_of(e: &EventFacts) -> String {
    the(e.ty)
}

fn identity_qa(t: EventType, rng: &mut Rng) -> (String, String) {
    let lx = lexicon(t);
    let d = *rng.choose(lx.describe);
    let q = match rng.below(6) {
        0 => format!("What is making {d}?"),
        1 => format!("What produces {d}?"),
        2 => format!("What is the source of {d}?"),
        3 => format!("Where does {d} come from?"),
        4 => format!("What causes {d}?"),
        _ => format!("Which sound source makes {d}?"),
    };
    (q, lx.identity.to_string())
}

/// How many different sounds, and the answer.
fn distinct_qa(f: &SceneFacts, rng: &mut Rng) -> (String, String) {
    let q = pick(
        rng,
        &[
            "How many different sounds are there?",
            "How many distinct sound sources does the scene have?",
            "How many kinds of sound make up this recording?",
        ],
    );
    let n = f.events.len();
    let a = match rng.below(2) {
        0 => format!("{}.", capitalise(&number_word(n))),
        _ => format!(
            "There {} {} different sound{}.",
            if n == 1 { "is" } else { "are" },
            number_word(n),
            if n == 1 { "" } else { "s" }
        ),
    };
    (q.to_string(), a)
}

/// How many consecutive words of a probe (sound names masked) a question of the corpus may
/// share with it, plus one: no question holds a probe's wording or a six-word stretch of it.
/// An instruct LLM knows the language the probes are written in ("which one is louder",
/// "yes or no"); what it must not have seen is the probes themselves. (The synthetic QA pairs,
/// which an audio model may train on through `data.instruct`, are held to four words.)
pub const PROBE_PHRASE_WORDS: usize = 6;

/// The six-word phrases of the probes' wordings (sound names masked): no question of the corpus
/// may use one.
fn probe_phrases() -> &'static std::collections::HashSet<String> {
    static PHRASES: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    PHRASES.get_or_init(|| {
        super::probes::wordings()
            .iter()
            .flat_map(|w| super::probes::n_grams(w, PROBE_PHRASE_WORDS))
            .collect()
    })
}

/// One question about a scene described by `f` (true to the clip's ground truth in `clip`),
/// with its answer from `f` alone; `None` when the drawn kind does not apply or the drawn
/// wording shares a six-word phrase with a probe.
fn question(
    f: &SceneFacts,
    clip: &ClipText,
    shape: &CorpusShape,
    rng: &mut Rng,
) -> Option<(String, String)> {
    let (q, a) = draw_question(f, clip, shape, rng)?;
    let banned = probe_phrases();
    super::probes::n_grams(&q, PROBE_PHRASE_WORDS)
        .iter()
        .all(|g| !banned.contains(g))
        .then_some((q, a))
}

fn draw_question(
    f: &SceneFacts,
    clip: &ClipText,
    shape: &CorpusShape,
    rng: &mut Rng,
) -> Option<(String, String)> {
    let missing = shape.missing_sound_questions;
    let present = f.types();
    let absent: Vec<EventType> = EventType::ALL
        .iter()
        .copied()
        .filter(|t| !present.contains(t))
        .collect();
    let level = |t: EventType| {
        clip.events
            .iter()
            .find(|e| e.event_type == t.name())
            .map(|e| e.level_db)
    };
    Some(match rng.below(18 + shape.extra_order_questions) {
        0..=2 => {
            let yes = absent.is_empty() || rng.below(2) == 0;
            let t = if yes {
                *rng.choose(&present)
            } else {
                *rng.choose(&absent)
            };
            (presence_question(t, rng), presence_answer(t, yes, rng))
        }
        3..=5 => {
            let countable: Vec<&EventFacts> =
                f.events.iter().filter(|e| e.ty.countable()).collect();
            if countable.is_empty() {
                return None;
            }
            let e = *rng.choose(&countable);
            (count_question(e.ty, rng), count_answer(e.ty, e.count, rng))
        }
        6..=8 | 18.. if present.len() >= 2 => {
            let balanced = shape.balanced_order_pairs.then(|| rng.below(2) == 0);
            let (mut x, mut y) = match balanced {
                Some(earlier) => order_pair(f, earlier, rng),
                None => two(&present, rng),
            };
            if rng.below(2) == 0 {
                std::mem::swap(&mut x, &mut y);
            }
            let earlier = balanced.unwrap_or_else(|| rng.below(2) == 0);
            let x_first = f.begins_before(x, y);
            order_qa(x, y, earlier, x_first, shape.framed_comparisons, rng)
        }
        9..=11 if present.len() >= 2 => {
            let (x, y) = two(&present, rng);
            let stated = f.louder(x, y);
            // A loudness word can mislead when the other sound's mark is missing from this
            // caption; such pairs are left out rather than taught wrong.
            if let (Some(s), Some(lx), Some(ly)) = (stated, level(x), level(y)) {
                if s != (lx > ly) {
                    return None;
                }
            }
            loudness_qa(
                x,
                y,
                rng.below(2) == 0,
                stated,
                shape.framed_comparisons,
                rng,
            )
        }
        12 | 13 => {
            let t = if absent.is_empty() || rng.below(2) == 0 {
                *rng.choose(&present)
            } else {
                *rng.choose(&absent)
            };
            (onset_question(t, rng), onset_answer(f, t, rng))
        }
        14 => {
            if rng.below(2) == 0 {
                distinct_qa(f, rng)
            } else {
                identity_qa(*rng.choose(&present), rng)
            }
        }
        15 => (
            pick(rng, &DESCRIBE_REQUESTS).to_string(),
            describe_answer(f, rng),
        ),
        16 | 17 if missing && !absent.is_empty() && !present.is_empty() => {
            return missing_sound_qa(&present, &absent, shape.framed_comparisons, rng)
        }
        _ => return None,
    })
}

/// The two sounds of an order question asking for the `earlier` (else the later) one. In a
/// scene of three or more ordered sounds, the scene's first sound (for `earlier`; its last one
/// for later) is one of the two half of the time, so "the first / last sound described" is
/// right only half of the time. Drawn uniformly it would be right for two pairs in three (and
/// always in two-sound scenes); v6, given the description as text, named the scene's last sound
/// when asked which of its first two begins later.
fn order_pair(f: &SceneFacts, earlier: bool, rng: &mut Rng) -> (EventType, EventType) {
    let present = f.types();
    if !f.ordered || present.len() < 3 {
        return two(&present, rng);
    }
    let edge = if earlier { 0 } else { present.len() - 1 };
    let with_edge = rng.below(2) == 0;
    let pairs: Vec<(usize, usize)> = (0..present.len())
        .flat_map(|i| (i + 1..present.len()).map(move |j| (i, j)))
        .filter(|&(i, j)| (i == edge || j == edge) == with_edge)
        .collect();
    let (i, j) = *rng.choose(&pairs);
    (present[i], present[j])
}

fn two(present: &[EventType], rng: &mut Rng) -> (EventType, EventType) {
    let i = rng.below(present.len());
    let mut j = rng.below(present.len() - 1);
    if j >= i {
        j += 1;
    }
    (present[i], present[j])
}

/// One conversation of the corpus: the description given, the question after it in the same
/// user turn (`None`: a bare description), the reply, and further questions about the same
/// description, each a user turn of its own, with their replies.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub context: String,
    pub question: Option<String>,
    pub reply: String,
    pub follow_ups: Vec<(String, String)>,
}

impl Turn {
    /// The first user turn as the model reads it.
    pub fn user(&self) -> String {
        match &self.question {
            Some(q) => format!("{} {q}", self.context),
            None => self.context.clone(),
        }
    }

    /// Every text of the conversation (user turns and replies), for training a tokenizer.
    pub fn texts(&self) -> Vec<String> {
        let mut out = vec![self.user(), self.reply.clone()];
        for (q, a) in &self.follow_ups {
            out.push(q.clone());
            out.push(a.clone());
        }
        out
    }

    /// Every question with its reply.
    pub fn exchanges(&self) -> impl Iterator<Item = (Option<&str>, &str)> {
        std::iter::once((self.question.as_deref(), self.reply.as_str())).chain(
            self.follow_ups
                .iter()
                .map(|(q, a)| (Some(q.as_str()), a.as_str())),
        )
    }
}

/// How much of each kind the corpus holds per clip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CorpusShape {
    /// Captions restated as a bare description's reply (the dialogue-continuation behaviour).
    pub restatements: usize,
    /// Questions about one of the clip's captions.
    pub caption_questions: usize,
    /// Questions about a description stating all that its captions state (the form of the
    /// ground-truth description the `text-oracle` row gives).
    pub merged_questions: usize,
    /// Questions asked in one conversation about one description (1: each question a
    /// conversation of its own). Several questions read the description once for all of them,
    /// but the later ones arrive without it in their user turn, unlike every probe: measured
    /// with four a conversation, the probes scored lower at equal build time (0.52 vs 0.65 at
    /// 128-d, 0.65 vs 0.76 at 64-d), so the shipped corpus asks one.
    pub per_conversation: usize,
    /// Count, order, loudness and onset questions about a sound the description does not
    /// mention (answered: it is not there), beside the presence and onset questions drawn over
    /// all sounds, which ask about a missing sound half of the time. Without the onset ones
    /// (v3), the model given the description as text denied almost no missing sound when asked
    /// when it begins (the `absent` probes: 0.375, the sounds present all timed).
    pub missing_sound_questions: bool,
    /// Order questions drawn beside the 3 in 18 of every kind's draw (0: 3 in 18; 3: 6 in 21).
    /// The shipped corpus adds none: with 3 (v6's recipe otherwise, validation world) order
    /// rose from 0.89 to 0.95 but presence fell from 0.97 to 0.80 and `absent` from 0.98 to 0.82
    /// (probe mean 0.956 → 0.900), the same trade between kinds seen from build to build.
    pub extra_order_questions: usize,
    /// Order questions in scenes of three or more ordered sounds draw their two sounds so that
    /// the scene's first (for "which is earlier") or last sound is one of them half of the time
    /// ([`order_pair`]), so naming the first or last sound described is no shortcut.
    /// Off in the shipped corpus: with it and `framed_comparisons`, four builds of v6's recipe
    /// (validation worlds 1–3) ordered at 0.49, 0.54, 0.72 and 0.96, the last denying missing
    /// sounds at 0.51 (`experiments/README.md`, "The ceiling across builds").
    pub balanced_order_pairs: bool,
    /// Order and loudness questions are asked inside the [`FRAMES`] every other question is
    /// asked in, so only "which" tells a pick from a yes-or-no question. Off in the shipped
    /// corpus (measured with `balanced_order_pairs`).
    pub framed_comparisons: bool,
}

impl Default for CorpusShape {
    fn default() -> Self {
        CorpusShape {
            restatements: 3,
            caption_questions: 10,
            merged_questions: 8,
            per_conversation: 1,
            missing_sound_questions: true,
            extra_order_questions: 0,
            balanced_order_pairs: false,
            framed_comparisons: false,
        }
    }
}

/// The chat corpus of a (held-out) synthetic world in the default [`CorpusShape`].
pub fn corpus(world: &[ClipText], seed: u64) -> Vec<Turn> {
    corpus_shaped(world, seed, CorpusShape::default())
}

/// The chat corpus of a (held-out) synthetic world: per clip, restatements of some captions, and
/// conversations of questions about one caption or about all that its captions state.
pub fn corpus_shaped(world: &[ClipText], seed: u64, shape: CorpusShape) -> Vec<Turn> {
    let mut rng = Rng::derive(seed, "tiny-chat-corpus");
    let per = shape.per_conversation.max(1);
    let mut out = Vec::new();
    for clip in world {
        let n = clip.captions.len();
        // Restatements of some of its captions (the dialogue-continuation behaviour; the
        // questions below carry the harder skills, so they get most of the turns).
        let mut idx: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut idx);
        for &i in idx.iter().take(shape.restatements) {
            out.push(Turn {
                context: clip.captions[i].clone(),
                question: None,
                reply: restatement(&clip.facts[i], &mut rng),
                follow_ups: Vec::new(),
            });
        }
        for (merged, questions) in [
            (false, shape.caption_questions),
            (true, shape.merged_questions),
        ] {
            let mut left = questions;
            while left > 0 {
                let (context, facts) = if merged {
                    // Everything the captions state, in one sentence of freshly drawn words.
                    let all = SceneFacts::union(&clip.facts);
                    (merged_description(&all, &mut rng), all)
                } else {
                    let i = rng.below(n);
                    (clip.captions[i].clone(), clip.facts[i].clone())
                };
                let want = per.min(left);
                left -= want;
                let mut asked: Vec<(String, String)> = Vec::new();
                let mut tries = 0;
                while asked.len() < want && tries < 25 * want {
                    tries += 1;
                    if let Some((q, a)) = question(&facts, clip, &shape, &mut rng) {
                        if asked.iter().all(|(seen, _)| *seen != q) {
                            asked.push((q, a));
                        }
                    }
                }
                let mut asked = asked.into_iter();
                if let Some((q, a)) = asked.next() {
                    out.push(Turn {
                        context,
                        question: Some(q),
                        reply: a,
                        follow_ups: asked.collect(),
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::synth::text_world;

    #[test]
    fn replies_state_only_what_the_description_states() {
        let world = text_world(80, 11, 5.0);
        let turns = corpus(&world, 11);
        let exchanges: usize = turns.iter().map(|t| t.exchanges().count()).sum();
        assert!(exchanges > 80 * 20, "{exchanges}");
        for t in &turns {
            assert!(!t.context.is_empty());
            for (_, reply) in t.exchanges() {
                assert!(!reply.is_empty(), "{t:?}");
                assert!(!reply.contains("{adj}") && !reply.contains("  "), "{t:?}");
            }
        }
        // A restatement names every sound of its caption and a count only when the caption
        // gives one.
        let mut rng = Rng::new(3);
        for clip in &world {
            for (c, f) in clip.captions.iter().zip(&clip.facts) {
                let r = restatement(f, &mut rng);
                for e in &f.events {
                    // By a keyword of the probes, or by one of the lexicon's subjects ("a tap").
                    let mut keys: Vec<String> = crate::data::synth::probes::keywords(e.ty)
                        .iter()
                        .map(|k| k.to_string())
                        .collect();
                    keys.extend(lexicon(e.ty).subjects.iter().map(|(s, _)| {
                        s.replace("{adj}", "")
                            .trim_start_matches("a ")
                            .trim_start_matches("an ")
                            .to_string()
                    }));
                    assert!(
                        keys.iter().any(|k| r.to_lowercase().contains(k.as_str())),
                        "{r:?} misses {:?} of {c:?}",
                        e.ty
                    );
                    if let CountFact::Exact(n) = e.count {
                        let w = match n {
                            1 => "once".to_string(),
                            2 => "tw".to_string(),
                            _ => number_word(n as usize),
                        };
                        assert!(r.contains(&w), "{r:?} lacks the count {n} of {c:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn captions_state_true_facts() {
        for clip in text_world(200, 5, 5.0) {
            for (c, f) in clip.captions.iter().zip(&clip.facts) {
                assert_eq!(f.events.len(), clip.events.len(), "{c}");
                for (e, truth) in f.events.iter().zip(&clip.events) {
                    assert_eq!(e.ty.name(), truth.event_type);
                    if let CountFact::Exact(n) = e.count {
                        assert_eq!(n, truth.repetitions, "{c}");
                        let w = match n {
                            1 => "once".to_string(),
                            2 => "tw".to_string(),
                            _ => number_word(n as usize),
                        };
                        assert!(c.to_lowercase().contains(&w), "{c} does not say {n}");
                    }
                }
            }
        }
    }

    fn phrases(s: &str) -> std::collections::BTreeSet<String> {
        super::super::probes::n_grams(s, PROBE_PHRASE_WORDS)
            .into_iter()
            .collect()
    }

    /// No question of the chat corpus shares a six-word phrase with a probe (sound names
    /// masked): the probes' wordings stay out of the toy chat model's corpus.
    #[test]
    fn probe_wordings_stay_out_of_the_corpus() {
        let dir = std::env::temp_dir().join(format!("acdc-corpus-words-{}", std::process::id()));
        let cfg = super::super::SynthConfig::new(120, 4);
        super::super::generate(&dir, &cfg).unwrap();
        let clips = super::super::probes::read_events(&dir.join("events.jsonl"), "test").unwrap();
        let probes = super::super::probes::probes(&clips, 1000, 2);
        let mut banned = std::collections::BTreeMap::new();
        for p in &probes {
            for g in phrases(&p.question) {
                banned.insert(g, p.question.clone());
            }
        }
        let turns = corpus(&text_world(150, 9, 5.0), 9);
        let mut questions = std::collections::BTreeSet::new();
        for t in &turns {
            for (q, _) in t.exchanges() {
                if let Some(q) = q {
                    questions.insert(q.to_string());
                }
            }
        }
        assert!(questions.len() > 300, "{}", questions.len());
        for q in &questions {
            for g in phrases(q) {
                assert!(
                    !banned.contains_key(&g),
                    "corpus question {q:?} shares {g:?} with probe {:?}",
                    banned[&g]
                );
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
