//! The questions of each kind the corpus asks about a described scene (presence, counts, order,
//! loudness, onsets, sources, description requests), each in many phrasings, with the answers
//! the scene's facts give.

use super::super::captions::{capitalise, lexicon, number_word};
use super::super::facts::{CountFact, EventFacts, SceneFacts};
use super::super::EventType;
use super::describe::*;
use crate::rng::Rng;

/// A description of the scene, caption style (the answer to a description request).
pub(super) fn describe_answer(f: &SceneFacts, rng: &mut Rng) -> String {
    let s = scene_sentence(f, rng);
    match rng.below(4) {
        0 | 1 => format!("{}.", capitalise(&s)),
        2 => format!("In this recording, {s}."),
        _ => format!("The recording contains this: {s}."),
    }
}

/// Requests for a description ("Describe the audio in one sentence." is the captioning
/// instruction of the eval stage).
pub(super) const DESCRIBE_REQUESTS: [&str; 18] = [
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
pub(super) fn repetition(t: EventType) -> (&'static str, &'static str, &'static str) {
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
pub(super) const FRAMES: [&str; 20] = [
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

pub(super) fn framed(core: &str, rng: &mut Rng) -> String {
    pick(rng, &FRAMES)
        .replace("{Q}", &capitalise(core))
        .replace("{q}", core)
}

pub(super) fn count_question(t: EventType, rng: &mut Rng) -> String {
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

pub(super) fn count_answer(t: EventType, c: CountFact, rng: &mut Rng) -> String {
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

pub(super) fn presence_question(t: EventType, rng: &mut Rng) -> String {
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

pub(super) fn presence_answer(t: EventType, present: bool, rng: &mut Rng) -> String {
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
pub(super) fn two_sound_question(
    x: &str,
    y: &str,
    p: &str,
    in_frames: bool,
    rng: &mut Rng,
) -> String {
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
pub(super) fn order_qa(
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
pub(super) fn loudness_qa(
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

pub(super) fn onset_question(t: EventType, rng: &mut Rng) -> String {
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
pub(super) fn onset_answer(f: &SceneFacts, t: EventType, rng: &mut Rng) -> String {
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
pub(super) fn not_there(t: EventType, rng: &mut Rng) -> String {
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
pub(super) fn missing_sound_qa(
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

pub(super) fn the_of(e: &EventFacts) -> String {
    the(e.ty)
}

pub(super) fn identity_qa(t: EventType, rng: &mut Rng) -> (String, String) {
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
pub(super) fn distinct_qa(f: &SceneFacts, rng: &mut Rng) -> (String, String) {
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
