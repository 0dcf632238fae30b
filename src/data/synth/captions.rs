//! The caption grammar: per-event word lists, count/loudness/order wording and sentence frames
//! that give five pairwise different captions a clip.

use super::*;

// ---------------------------------------------------------------------------------------------
// Caption grammar
// ---------------------------------------------------------------------------------------------

/// Word lists for one event type. `{adj}` marks where a loudness adjective (with its trailing
/// space) may go; `{n}` a count word.
pub(super) struct Lexicon {
    /// Subject noun phrases and whether they are plural.
    pub(super) subjects: &'static [(&'static str, bool)],
    /// Verbs as (third person singular, base, -ing).
    pub(super) verbs: &'static [(&'static str, &'static str, &'static str)],
    /// Noun phrases naming the sound, and whether they are plural.
    pub(super) nominals: &'static [(&'static str, bool)],
    /// Plural counted noun phrases (`{n}` = count word), for repeated events.
    pub(super) counted: &'static [&'static str],
    /// Short name for order questions and whether it is plural.
    pub(super) short: (&'static str, bool),
    /// Noun phrases for presence questions, and whether they are plural.
    pub(super) presence: (&'static str, bool),
    /// Count question for countable types.
    pub(super) count_q: &'static [&'static str],
    /// Descriptions of the sound that do not name the source, for identity questions.
    pub(super) describe: &'static [&'static str],
    /// Answer to identity questions.
    pub(super) identity: &'static str,
}

pub(super) fn lexicon(t: EventType) -> &'static Lexicon {
    match t {
        EventType::DogBark => &Lexicon {
            subjects: &[
                ("a {adj}dog", false),
                ("a {adj}small dog", false),
                ("a {adj}large dog", false),
                ("a {adj}canine", false),
                ("a {adj}hound", false),
            ],
            verbs: &[
                ("barks", "bark", "barking"),
                ("yelps", "yelp", "yelping"),
                ("woofs", "woof", "woofing"),
            ],
            nominals: &[
                ("{adj}barking from a dog", false),
                ("the {adj}sound of a dog barking", false),
                ("a dog's {adj}barking", false),
                ("a {adj}yelping dog", false),
            ],
            counted: &[
                "{n} {adj}barks from a dog",
                "{n} {adj}woofs from a dog",
                "a dog barking {n} times",
            ],
            short: ("dog", false),
            presence: ("a dog barking", false),
            count_q: &[
                "How many times does the dog bark?",
                "How many barks can be heard?",
            ],
            describe: &[
                "the short, harsh yelping sound",
                "the gruff bursts of sound",
            ],
            identity: "A dog.",
        },
        EventType::BirdChirp => &Lexicon {
            subjects: &[
                ("a {adj}bird", false),
                ("a {adj}small bird", false),
                ("a {adj}songbird", false),
                ("{adj}birds", true),
            ],
            verbs: &[
                ("chirps", "chirp", "chirping"),
                ("tweets", "tweet", "tweeting"),
                ("sings", "sing", "singing"),
            ],
            nominals: &[
                ("{adj}birdsong", false),
                ("{adj}chirping from a bird", false),
                ("the {adj}tweeting of a bird", false),
                ("{adj}bird chirps", true),
                ("high-pitched {adj}chirps", true),
            ],
            counted: &[],
            short: ("bird", false),
            presence: ("a bird chirping", false),
            count_q: &[],
            describe: &["the high-pitched chirping", "the quick whistling sweeps"],
            identity: "A bird.",
        },
        EventType::Siren => &Lexicon {
            subjects: &[
                ("a {adj}siren", false),
                ("an {adj}emergency siren", false),
                ("a {adj}police siren", false),
                ("an {adj}ambulance siren", false),
            ],
            verbs: &[
                ("wails", "wail", "wailing"),
                ("sounds", "sound", "sounding"),
                ("blares", "blare", "blaring"),
            ],
            nominals: &[
                ("the {adj}wail of a siren", false),
                ("a {adj}siren", false),
                ("a {adj}wailing siren", false),
                ("the {adj}sound of a siren", false),
            ],
            counted: &[],
            short: ("siren", false),
            presence: ("a siren", false),
            count_q: &[],
            describe: &[
                "the rising and falling wail",
                "the tone that slowly sweeps up and down",
            ],
            identity: "A siren.",
        },
        EventType::Engine => &Lexicon {
            subjects: &[
                ("an {adj}engine", false),
                ("a {adj}motor", false),
                ("an {adj}idling engine", false),
                ("a {adj}vehicle engine", false),
            ],
            verbs: &[
                ("hums", "hum", "humming"),
                ("rumbles", "rumble", "rumbling"),
                ("runs", "run", "running"),
                ("drones", "drone", "droning"),
            ],
            nominals: &[
                ("the {adj}hum of an engine", false),
                ("a {adj}rumbling motor", false),
                ("{adj}engine noise", false),
                ("the {adj}drone of an idling engine", false),
            ],
            counted: &[],
            short: ("engine", false),
            presence: ("an engine running", false),
            count_q: &[],
            describe: &["the low, steady rumbling hum", "the deep droning sound"],
            identity: "An engine.",
        },
        EventType::Rain => &Lexicon {
            subjects: &[
                ("{adj}rain", false),
                ("a {adj}rain shower", false),
                ("{adj}raindrops", true),
            ],
            verbs: &[
                ("falls", "fall", "falling"),
                ("patters", "patter", "pattering"),
                ("pours", "pour", "pouring"),
            ],
            nominals: &[
                ("{adj}rainfall", false),
                ("the {adj}patter of rain", false),
                ("the {adj}sound of rain", false),
                ("{adj}falling rain", false),
            ],
            counted: &[],
            short: ("rain", false),
            presence: ("rain falling", false),
            count_q: &[],
            describe: &["the steady pattering hiss", "the crackling, hissing noise"],
            identity: "Rain.",
        },
        EventType::Bell => &Lexicon {
            subjects: &[
                ("a {adj}bell", false),
                ("a {adj}church bell", false),
                ("a {adj}metal bell", false),
            ],
            verbs: &[
                ("rings", "ring", "ringing"),
                ("chimes", "chime", "chiming"),
                ("tolls", "toll", "tolling"),
            ],
            nominals: &[
                ("the {adj}ringing of a bell", false),
                ("a {adj}chiming bell", false),
                ("the {adj}toll of a bell", false),
            ],
            counted: &[
                "{n} {adj}chimes of a bell",
                "{n} {adj}bell strikes",
                "a bell ringing {n} times",
            ],
            short: ("bell", false),
            presence: ("a bell ringing", false),
            count_q: &[
                "How many times does the bell ring?",
                "How many bell strikes are there?",
            ],
            describe: &[
                "the ringing metallic tone",
                "the resonant, slowly fading tone",
            ],
            identity: "A bell.",
        },
        EventType::Footsteps => &Lexicon {
            subjects: &[
                ("someone", false),
                ("a {adj}person", false),
                ("a {adj}pedestrian", false),
            ],
            verbs: &[
                ("walks", "walk", "walking"),
                ("walks by", "walk by", "walking by"),
                ("treads steadily", "tread steadily", "treading steadily"),
            ],
            nominals: &[
                ("{adj}footsteps", true),
                ("the {adj}sound of footsteps", false),
                ("someone walking", false),
                ("{adj}steady steps", true),
            ],
            counted: &[],
            short: ("footsteps", true),
            presence: ("footsteps", true),
            count_q: &[],
            describe: &["the rhythmic clicking sound", "the regular tapping sound"],
            identity: "Footsteps.",
        },
        EventType::DoorKnock => &Lexicon {
            subjects: &[
                ("someone", false),
                ("a {adj}visitor", false),
                ("a {adj}person", false),
            ],
            verbs: &[
                ("knocks on a door", "knock on a door", "knocking on a door"),
                ("knocks", "knock", "knocking"),
                ("raps on a door", "rap on a door", "rapping on a door"),
            ],
            nominals: &[
                ("{adj}knocking on a door", false),
                ("a {adj}knock at the door", false),
                ("the {adj}sound of knocking", false),
                ("{adj}door knocks", true),
            ],
            counted: &[
                "{n} {adj}knocks on a door",
                "{n} {adj}knocks",
                "someone knocking {n} times",
            ],
            short: ("knocking", false),
            presence: ("someone knocking on a door", false),
            count_q: &[
                "How many knocks can be heard?",
                "How many times does someone knock?",
            ],
            describe: &["the low thudding sound", "the dull wooden thuds"],
            identity: "Someone knocking on a door.",
        },
        EventType::AlarmBeep => &Lexicon {
            subjects: &[
                ("an {adj}alarm", false),
                ("an {adj}electronic alarm", false),
                ("a {adj}beeper", false),
                ("an {adj}alarm clock", false),
            ],
            verbs: &[
                ("beeps", "beep", "beeping"),
                ("sounds", "sound", "sounding"),
                ("goes off", "go off", "going off"),
            ],
            nominals: &[
                ("{adj}beeping from an alarm", false),
                ("an {adj}alarm beeping", false),
                ("{adj}electronic beeps", true),
                ("the {adj}beeping of an alarm", false),
            ],
            counted: &[
                "{n} {adj}beeps from an alarm",
                "{n} {adj}electronic beeps",
                "an alarm beeping {n} times",
            ],
            short: ("alarm", false),
            presence: ("an alarm beeping", false),
            count_q: &[
                "How many times does the alarm beep?",
                "How many beeps can be heard?",
            ],
            describe: &[
                "the repeated electronic beeping",
                "the shrill on-and-off tone",
            ],
            identity: "An alarm.",
        },
        EventType::Wind => &Lexicon {
            subjects: &[
                ("the {adj}wind", false),
                ("a {adj}gust of wind", false),
                ("a {adj}breeze", false),
            ],
            verbs: &[
                ("blows", "blow", "blowing"),
                ("howls", "howl", "howling"),
                ("whooshes", "whoosh", "whooshing"),
            ],
            nominals: &[
                ("{adj}wind", false),
                ("the {adj}whoosh of wind", false),
                ("a {adj}gusting wind", false),
                ("the {adj}sound of wind blowing", false),
            ],
            counted: &[],
            short: ("wind", false),
            presence: ("wind blowing", false),
            count_q: &[],
            describe: &["the slowly swelling whoosh", "the low rushing noise"],
            identity: "Wind.",
        },
        EventType::WaterDrip => &Lexicon {
            subjects: &[
                ("{adj}water", false),
                ("a {adj}tap", false),
                ("a {adj}leaky faucet", false),
            ],
            verbs: &[
                ("drips", "drip", "dripping"),
                ("plinks", "plink", "plinking"),
            ],
            nominals: &[
                ("{adj}dripping water", false),
                ("the {adj}drip of water", false),
                ("{adj}water droplets", true),
                ("a {adj}leaking tap", false),
            ],
            counted: &[
                "{n} {adj}drops of water",
                "{n} {adj}water drips",
                "water dripping {n} times",
            ],
            short: ("dripping water", false),
            presence: ("water dripping", false),
            count_q: &[
                "How many drops of water can be heard?",
                "How many times does the water drip?",
            ],
            describe: &["the small plinking sounds", "the short rising plinks"],
            identity: "Dripping water.",
        },
        EventType::SpeechBabble => &Lexicon {
            subjects: &[
                ("{adj}people", true),
                ("a {adj}couple of people", true),
                ("{adj}voices", true),
                ("two {adj}people", true),
            ],
            verbs: &[
                ("talks", "talk", "talking"),
                ("chatters", "chatter", "chattering"),
                ("murmurs", "murmur", "murmuring"),
            ],
            nominals: &[
                ("{adj}people talking", true),
                ("the {adj}murmur of voices", false),
                ("{adj}indistinct chatter", false),
                ("{adj}conversation", false),
                ("{adj}babbling voices", true),
            ],
            counted: &[],
            short: ("voices", true),
            presence: ("people talking", true),
            count_q: &[],
            describe: &["the indistinct murmuring", "the buzzing, vowel-like babble"],
            identity: "People talking.",
        },
    }
}

pub(super) const NUMBER_WORDS: [&str; 13] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve",
];

pub(super) fn number_word(n: usize) -> String {
    NUMBER_WORDS
        .get(n)
        .map(|s| s.to_string())
        .unwrap_or_else(|| n.to_string())
}

pub(super) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The caption grammar's random source, and the facts the caption being drawn states so far
/// (recorded where the words that state them are chosen). Derefs to the [`Rng`].
pub(super) struct Gen<'a> {
    pub(super) rng: &'a mut Rng,
    pub(super) facts: SceneFacts,
}

impl std::ops::Deref for Gen<'_> {
    type Target = Rng;
    fn deref(&self) -> &Rng {
        self.rng
    }
}

impl std::ops::DerefMut for Gen<'_> {
    fn deref_mut(&mut self) -> &mut Rng {
        self.rng
    }
}

impl Gen<'_> {
    fn loudness_stated(&mut self, ev: &SceneEvent) {
        let l = match ev.loudness {
            Loudness::Loud => LoudnessFact::Loud,
            Loudness::Quiet => LoudnessFact::Quiet,
            Loudness::Normal => return,
        };
        self.facts.state_loudness(ev.ty, l);
    }
}

/// One of `opts`, uniformly.
pub(super) fn pick(rng: &mut Rng, opts: &[&'static str]) -> &'static str {
    opts[rng.below(opts.len())]
}

/// A loudness adjective (with trailing space) for `ev`, or "" — drawn with some probability.
pub(super) fn adjective(ev: &SceneEvent, rng: &mut Gen) -> &'static str {
    let w = match ev.loudness {
        Loudness::Loud if rng.below(10) < 7 => pick(rng, &["loud ", "loud ", "nearby "]),
        Loudness::Quiet if rng.below(10) < 7 => pick(rng, &["faint ", "distant ", "quiet "]),
        _ => "",
    };
    if !w.is_empty() {
        rng.loudness_stated(ev);
    }
    w
}

/// A loudness adverb (with leading space) for `ev`, or "".
pub(super) fn adverb(ev: &SceneEvent, rng: &mut Gen) -> &'static str {
    let w = match ev.loudness {
        Loudness::Loud if rng.below(10) < 7 => pick(rng, &[" loudly", " loudly", " close by"]),
        Loudness::Quiet if rng.below(10) < 7 => {
            pick(rng, &[" faintly", " in the distance", " softly"])
        }
        _ => "",
    };
    if !w.is_empty() {
        rng.loudness_stated(ev);
    }
    w
}

/// A count adverb (with leading space) true to `ev`'s repetitions, or "". Countable sounds get
/// one four times in five, an exact number seven times in ten of those from three on.
pub(super) fn count_adverb(ev: &SceneEvent, rng: &mut Gen) -> String {
    let r = ev.reps as usize;
    if ev.ty.countable() {
        if rng.below(10) >= 8 {
            return String::new();
        }
        let exact = match r {
            0 | 1 => {
                if rng.below(2) == 0 {
                    Some(" once".to_string())
                } else {
                    return String::new();
                }
            }
            2 => Some((*rng.choose(&[" twice", " two times"])).to_string()),
            _ if rng.below(10) < 7 => Some(format!(" {} times", number_word(r))),
            _ => None,
        };
        match exact {
            Some(w) => {
                rng.facts.state_count(ev.ty, CountFact::Exact(ev.reps));
                w
            }
            None => {
                rng.facts.state_count(ev.ty, CountFact::Vague);
                let opts: &[&str] = if r == 3 {
                    &[" a few times", " several times", " repeatedly"]
                } else {
                    &[" several times", " repeatedly", " many times"]
                };
                (*rng.choose(opts)).into()
            }
        }
    } else if r >= 3 && ev.ty == EventType::BirdChirp && rng.below(2) == 0 {
        rng.facts.state_count(ev.ty, CountFact::Vague);
        (*rng.choose(&[" repeatedly", " several times", " again and again"])).into()
    } else {
        String::new()
    }
}

/// Replaces `{adj}`, tidying the space when the adjective would precede nothing.
pub(super) fn fill_adj(t: &str, adj: &str) -> String {
    let s = t.replace("{adj}", adj);
    s.trim_end().to_string()
}

/// "a dog barks twice loudly" — simple present clause.
pub(super) fn simple_clause(ev: &SceneEvent, rng: &mut Gen) -> String {
    let lx = lexicon(ev.ty);
    let &(subj, plural) = rng.choose(lx.subjects);
    let &(sg, base, _) = rng.choose(lx.verbs);
    let adj = if subj.contains("{adj}") && rng.below(2) == 0 {
        adjective(ev, rng)
    } else {
        ""
    };
    let before = rng.facts.clone();
    let adv = if adj.is_empty() { adverb(ev, rng) } else { "" };
    let cnt = count_adverb(ev, rng);
    let verb = if plural { base } else { sg };
    // Manner before count ("drips softly four times"); rarely both, to avoid adverb pile-ups
    // (the facts then keep only what the words still say).
    let mods = if !adv.is_empty() && !cnt.is_empty() && rng.below(2) == 0 {
        let count = rng.facts.get(ev.ty).map(|e| e.count);
        rng.facts = before;
        if rng.below(2) == 0 {
            rng.loudness_stated(ev);
            adv.to_string()
        } else {
            if let Some(c) = count {
                rng.facts.state_count(ev.ty, c);
            }
            cnt
        }
    } else {
        format!("{adv}{cnt}")
    };
    format!("{} {}{}", fill_adj(subj, adj), verb, mods)
}

/// "a dog is barking loudly" — progressive clause.
pub(super) fn progressive_clause(ev: &SceneEvent, rng: &mut Gen) -> String {
    let lx = lexicon(ev.ty);
    let &(subj, plural) = rng.choose(lx.subjects);
    let &(_, _, ing) = rng.choose(lx.verbs);
    let adj = if subj.contains("{adj}") && rng.below(2) == 0 {
        adjective(ev, rng)
    } else {
        ""
    };
    let adv = if adj.is_empty() { adverb(ev, rng) } else { "" };
    let rep = if ev.reps >= 3 && ev.ty != EventType::Footsteps && rng.below(3) == 0 {
        rng.facts.state_count(ev.ty, CountFact::Vague);
        " repeatedly"
    } else {
        ""
    };
    let aux = if plural { "are" } else { "is" };
    format!("{} {} {}{}{}", fill_adj(subj, adj), aux, ing, rep, adv)
}

pub(super) fn subject_clause(ev: &SceneEvent, rng: &mut Gen) -> String {
    if rng.below(3) == 0 {
        progressive_clause(ev, rng)
    } else {
        simple_clause(ev, rng)
    }
}

/// "barking from a dog" / "three barks from a dog" — noun phrase; returns (text, plural).
pub(super) fn nominal(ev: &SceneEvent, rng: &mut Gen) -> (String, bool) {
    let lx = lexicon(ev.ty);
    let adj = adjective(ev, rng);
    if !lx.counted.is_empty() && ev.reps >= 2 && rng.below(2) == 0 {
        let t = *rng.choose(lx.counted);
        let n = if ev.reps >= 3 && rng.below(5) == 0 {
            rng.facts.state_count(ev.ty, CountFact::Vague);
            "several".to_string()
        } else {
            rng.facts.state_count(ev.ty, CountFact::Exact(ev.reps));
            number_word(ev.reps as usize)
        };
        let starts_with_n = t.starts_with("{n}");
        return (fill_adj(&t.replace("{n}", &n), adj), starts_with_n);
    }
    let options: Vec<(&str, bool)> = lx
        .nominals
        .iter()
        .copied()
        .filter(|&(_, pl)| !(pl && ev.ty.countable() && ev.reps < 2))
        .collect();
    let &(t, plural) = rng.choose(&options);
    let mut s = fill_adj(t, adj);
    if ev.reps >= 3 && ev.ty == EventType::BirdChirp && rng.below(4) == 0 {
        rng.facts.state_count(ev.ty, CountFact::Vague);
        s.push_str(" repeating");
    }
    (s, plural)
}

pub(super) fn nom(ev: &SceneEvent, rng: &mut Gen) -> String {
    nominal(ev, rng).0
}

pub(super) fn overlaps(a: &SceneEvent, b: &SceneEvent) -> bool {
    a.onset_s < b.end_s && b.onset_s < a.end_s
}

/// A caption for one event.
pub(super) fn frame1(a: &SceneEvent, rng: &mut Gen) -> String {
    match rng.below(9) {
        0 | 1 => simple_clause(a, rng),
        2 => progressive_clause(a, rng),
        3 => format!("{} can be heard", nom(a, rng)),
        4 => format!("you can hear {}", nom(a, rng)),
        5 => format!("the recording captures {}", nom(a, rng)),
        6 => format!("{} in an otherwise quiet setting", nom(a, rng)),
        7 => format!("in this clip, {}", subject_clause(a, rng)),
        _ => {
            let (n, pl) = nominal(a, rng);
            format!("there {} {}", if pl { "are" } else { "is" }, n)
        }
    }
}

/// A caption for two events, `a` starting before `b`.
pub(super) fn frame2(a: &SceneEvent, b: &SceneEvent, rng: &mut Gen) -> String {
    let ov = overlaps(a, b);
    let pause = b.onset_s - a.end_s > 0.3;
    loop {
        let k = rng.below(17);
        // Frames that join the sounds without saying which comes first.
        rng.facts.ordered = !matches!(k, 8 | 9 | 11..=14);
        let s = match k {
            0 => format!("{}, followed by {}", subject_clause(a, rng), nom(b, rng)),
            1 => format!("{}, followed by {}", nom(a, rng), nom(b, rng)),
            2 => format!("{}, then {}", subject_clause(a, rng), simple_clause(b, rng)),
            3 => format!(
                "{} and then {}",
                simple_clause(a, rng),
                simple_clause(b, rng)
            ),
            4 => format!("{} before {}", simple_clause(a, rng), simple_clause(b, rng)),
            5 => format!(
                "{}, after which {}",
                simple_clause(a, rng),
                simple_clause(b, rng)
            ),
            6 => format!("{} can be heard after {}", nom(b, rng), nom(a, rng)),
            7 => format!(
                "first {}, then {}",
                simple_clause(a, rng),
                simple_clause(b, rng)
            ),
            8 => format!("{} and {}", subject_clause(a, rng), subject_clause(b, rng)),
            9 => format!("{} and {} can be heard", nom(a, rng), nom(b, rng)),
            10 => {
                let (n, pl) = nominal(a, rng);
                format!(
                    "{} {} followed by {}",
                    n,
                    if pl { "are" } else { "is" },
                    nom(b, rng)
                )
            }
            11 if ov => format!(
                "{} while {}",
                simple_clause(b, rng),
                progressive_clause(a, rng)
            ),
            12 if ov => format!(
                "{} as {}",
                simple_clause(b, rng),
                progressive_clause(a, rng)
            ),
            13 if ov => {
                let (bg, fg) = if a.level_db <= b.level_db {
                    (a, b)
                } else {
                    (b, a)
                };
                format!(
                    "in the background {} while {}",
                    progressive_clause(bg, rng),
                    simple_clause(fg, rng)
                )
            }
            14 if ov => format!("{}, with {} joining in", nom(a, rng), nom(b, rng)),
            15 if pause => format!(
                "{}, and after a pause {}",
                simple_clause(a, rng),
                simple_clause(b, rng)
            ),
            16 => {
                let (n, pl) = nominal(a, rng);
                format!(
                    "{} {}, and then {}",
                    n,
                    if pl { "start" } else { "starts" },
                    simple_clause(b, rng)
                )
            }
            _ => continue,
        };
        return s;
    }
}

/// A caption for three events in onset order.
pub(super) fn frame3(a: &SceneEvent, b: &SceneEvent, c: &SceneEvent, rng: &mut Gen) -> String {
    loop {
        let k = rng.below(7);
        // The background frame leaves the order open; frames built on frame2 take its word.
        rng.facts.ordered = k != 6;
        let s = match k {
            0 | 1 => {
                let head = frame2(a, b, rng);
                match rng.below(4) {
                    0 => format!("{head}, followed by {}", nom(c, rng)),
                    1 => format!("{head}, then {}", simple_clause(c, rng)),
                    2 => format!("{head}, and finally {}", simple_clause(c, rng)),
                    _ => format!("{head}, after which {}", simple_clause(c, rng)),
                }
            }
            2 => format!(
                "first {}, then {}, and finally {}",
                simple_clause(a, rng),
                simple_clause(b, rng),
                simple_clause(c, rng)
            ),
            3 => format!(
                "{}, {} and {} can be heard in that order",
                nom(a, rng),
                nom(b, rng),
                nom(c, rng)
            ),
            4 => format!("{}, {}, and then {}", nom(a, rng), nom(b, rng), nom(c, rng)),
            5 => format!(
                "{} before {}, after which {}",
                simple_clause(a, rng),
                simple_clause(b, rng),
                simple_clause(c, rng)
            ),
            _ => {
                // A background event overlapping both others.
                let evs = [a, b, c];
                let bgs: Vec<usize> = (0..3)
                    .filter(|&i| (0..3).filter(|&j| j != i).all(|j| overlaps(evs[i], evs[j])))
                    .collect();
                if bgs.is_empty() {
                    continue;
                }
                let i = *rng.choose(&bgs);
                let others: Vec<&SceneEvent> = (0..3).filter(|&j| j != i).map(|j| evs[j]).collect();
                format!(
                    "in the background {} while {}, then {}",
                    progressive_clause(evs[i], rng),
                    simple_clause(others[0], rng),
                    simple_clause(others[1], rng)
                )
            }
        };
        return s;
    }
}

/// Fixes "a" before a vowel ("a engine" → "an engine") and collapses repeated spaces.
pub(super) fn tidy(s: &str) -> String {
    let words: Vec<&str> = s.split_whitespace().collect();
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let next_vowel = words
            .get(i + 1)
            .and_then(|n| n.chars().next())
            .is_some_and(|c| "aeioAEIO".contains(c));
        let w = match *w {
            "a" | "an" if next_vowel => "an",
            "A" | "An" if next_vowel => "An",
            "an" => "a",
            "An" => "A",
            other => other,
        };
        out.push(w);
    }
    out.join(" ")
}

pub(super) fn caption_key(s: &str) -> String {
    s.trim_end_matches('.').to_lowercase()
}

/// Five pairwise different captions true to `events` (sorted by onset), each with the facts it
/// states.
pub(super) fn captions(events: &[SceneEvent], rng: &mut Rng) -> Vec<(String, SceneFacts)> {
    let types: Vec<EventType> = events.iter().map(|e| e.ty).collect();
    let mut out: Vec<(String, SceneFacts)> = Vec::with_capacity(5);
    let mut keys: Vec<String> = Vec::with_capacity(5);
    let mut tries = 0;
    while out.len() < 5 {
        tries += 1;
        let rng = &mut Gen {
            rng: &mut *rng,
            facts: SceneFacts::named(&types),
        };
        let raw = match events {
            [a] => frame1(a, rng),
            [a, b] => frame2(a, b, rng),
            [a, b, c, ..] => frame3(a, b, c, rng),
            [] => "a quiet background hiss".to_string(),
        };
        let mut s = tidy(&raw);
        if tries > 200 {
            // Practically unreachable; keeps the loop total.
            s = format!("{s} (take {})", out.len() + 1);
        }
        if rng.below(10) < 8 {
            s = capitalise(&s);
        }
        if rng.below(10) < 7 {
            s.push('.');
        }
        let key = caption_key(&s);
        if !keys.contains(&key) {
            keys.push(key);
            out.push((s, rng.facts.clone()));
        }
    }
    out
}
