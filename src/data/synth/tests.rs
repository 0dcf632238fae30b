//! Tests of the synthetic world: sounds, scenes, captions, questions and the written files.

use super::*;
use std::collections::{BTreeMap, HashSet};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("acdc_synth_{}_{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn all_files(dir: &Path, base: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all_files(&p, base, out);
        } else {
            out.insert(
                p.strip_prefix(base).unwrap().to_path_buf(),
                std::fs::read(&p).unwrap(),
            );
        }
    }
}

fn files_of(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut m = BTreeMap::new();
    all_files(dir, dir, &mut m);
    m
}

/// Minimal RFC 4180 line parser (no embedded newlines needed here).
fn parse_csv_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) => quoted = true,
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', true) => quoted = false,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

fn read_clips(dir: &Path) -> Vec<ClipRecord> {
    std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn read_qa(dir: &Path, split: &str) -> Vec<QaItem> {
    std::fs::read_to_string(dir.join(format!("qa_{split}.jsonl")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn generation_is_byte_identical_for_the_same_config() {
    let (a, b, c) = (temp_dir("det_a"), temp_dir("det_b"), temp_dir("det_c"));
    let cfg = SynthConfig {
        clips: 12,
        seed: 7,
        clip_seconds: 2.5,
        test_fraction: 0.25,
    };
    generate(&a, &cfg).unwrap();
    generate(&b, &cfg).unwrap();
    generate(
        &c,
        &SynthConfig {
            seed: 8,
            ..cfg.clone()
        },
    )
    .unwrap();
    let (fa, fb, fc) = (files_of(&a), files_of(&b), files_of(&c));
    assert!(fa.len() >= 12 + 6);
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (k, v) in &fa {
        assert!(fb[k] == *v, "{} differs between runs", k.display());
    }
    assert_ne!(fa[Path::new("events.jsonl")], fc[Path::new("events.jsonl")]);
    for d in [a, b, c] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn layout_and_counts() {
    let dir = temp_dir("layout");
    let cfg = SynthConfig::new(20, 3);
    let s = generate(&dir, &cfg).unwrap();
    assert_eq!((s.train, s.test), (16, 4));
    assert!(s.event_types.len() >= 10);
    let clips = read_clips(&dir);
    assert_eq!(clips.len(), 20);
    for (i, c) in clips.iter().enumerate() {
        assert_eq!(c.file_name, format!("synth_{i:05}.wav"));
        assert!(dir
            .join("audio")
            .join(&c.split)
            .join(&c.file_name)
            .is_file());
        assert!((1..=3).contains(&c.events.len()));
        let types: HashSet<&str> = c.events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types.len(), c.events.len(), "event types are distinct");
        for w in c.events.windows(2) {
            assert!(w[0].onset_s < w[1].onset_s, "onsets are ordered");
        }
        for e in &c.events {
            assert!(EventType::from_name(&e.event_type).is_some());
            assert!((-12.0..=0.0).contains(&e.gain_db));
            assert!(e.duration_s > 0.0 && e.onset_s + e.duration_s <= 5.0 + 1e-9);
        }
    }
    for (split, n) in [("train", 16usize), ("test", 4)] {
        let wavs = std::fs::read_dir(dir.join("audio").join(split))
            .unwrap()
            .count();
        assert_eq!(wavs, n);
        let csv = std::fs::read_to_string(dir.join(format!("captions_{split}.csv"))).unwrap();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next().unwrap(),
            "file_name,caption_1,caption_2,caption_3,caption_4,caption_5"
        );
        assert_eq!(lines.count(), n);
        let qa = read_qa(&dir, split);
        assert!(qa.len() >= 2 * n && qa.len() <= 4 * n);
        for q in &qa {
            assert!(q.audio.starts_with(&format!("audio/{split}/synth_")));
            assert!(dir.join(&q.audio).is_file());
            assert!(["presence", "count", "order", "identity"].contains(&q.kind.as_str()));
            assert!(q
                .id
                .starts_with(&q.audio[q.audio.len() - 15..q.audio.len() - 4]));
        }
    }
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("synth.json")).unwrap()).unwrap();
    assert_eq!(meta["summary"]["train"], 16);
    assert_eq!(meta["config"]["clips"], 20);
    assert_eq!(meta["config"]["test_fraction"], 0.2);
    let back: SynthConfig = serde_json::from_value(meta["config"].clone()).unwrap();
    assert_eq!(
        (back.clips, back.seed, back.clip_seconds, back.test_fraction),
        (20, 3, 5.0, 0.2)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn wav_header_is_correct() {
    let dir = temp_dir("wav");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("x.wav");
    write_wav_pcm16(&p, &[0.0, 0.5, -2.0, 2.0, f32::NAN], 16_000).unwrap();
    let b = std::fs::read(&p).unwrap();
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let u16_at = |i: usize| u16::from_le_bytes(b[i..i + 2].try_into().unwrap());
    assert_eq!(&b[0..4], b"RIFF");
    assert_eq!(u32_at(4) as usize, b.len() - 8);
    assert_eq!(&b[8..16], b"WAVEfmt ");
    assert_eq!(u32_at(16), 16);
    assert_eq!(u16_at(20), 1, "PCM");
    assert_eq!(u16_at(22), 1, "mono");
    assert_eq!(u32_at(24), 16_000);
    assert_eq!(u32_at(28), 32_000);
    assert_eq!(u16_at(32), 2);
    assert_eq!(u16_at(34), 16);
    assert_eq!(&b[36..40], b"data");
    assert_eq!(u32_at(40), 10);
    let s: Vec<i16> = (0..5)
        .map(|i| i16::from_le_bytes([b[44 + 2 * i], b[45 + 2 * i]]))
        .collect();
    assert_eq!(s, vec![0, 16384, -32767, 32767, 0]);

    // A generated clip has the configured length.
    let cfg = SynthConfig {
        clips: 2,
        seed: 1,
        clip_seconds: 1.5,
        test_fraction: 0.5,
    };
    generate(&dir, &cfg).unwrap();
    let clip = read_clips(&dir).remove(0);
    let b = std::fs::read(dir.join("audio").join(&clip.split).join(&clip.file_name)).unwrap();
    assert_eq!(
        u32::from_le_bytes(b[40..44].try_into().unwrap()),
        24_000 * 2
    );
    assert_eq!(b.len(), 44 + 48_000);
    assert!(std::fs::write(dir.join("no_such_dir/y.wav"), b"").is_err());
    let err = write_wav_pcm16(&dir.join("no_such_dir/y.wav"), &[0.0], 16_000).unwrap_err();
    assert!(err.to_string().contains("no_such_dir"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn five_distinct_captions_per_clip() {
    let dir = temp_dir("captions");
    generate(&dir, &SynthConfig::new(60, 11)).unwrap();
    let clips = read_clips(&dir);
    let mut all = HashSet::new();
    for split in ["train", "test"] {
        let csv = std::fs::read_to_string(dir.join(format!("captions_{split}.csv"))).unwrap();
        for line in csv.lines().skip(1) {
            let f = parse_csv_line(line);
            assert_eq!(f.len(), 6, "{line}");
            let caps: HashSet<String> = f[1..].iter().map(|c| caption_key(c)).collect();
            assert_eq!(caps.len(), 5, "captions not distinct: {line}");
            for c in &f[1..] {
                assert!(c.len() > 5 && !c.contains("{") && !c.contains("  "), "{c}");
                assert!(
                    !c.contains(" a a") && !c.contains(" a e") && !c.contains(" a i"),
                    "{c}"
                );
                all.insert(c.clone());
            }
            let clip = clips.iter().find(|c| c.file_name == f[0]).unwrap();
            assert_eq!(clip.split, split);
        }
    }
    assert!(all.len() > 250, "captions should be varied");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn qa_answers_match_events() {
    let dir = temp_dir("qa");
    generate(&dir, &SynthConfig::new(80, 5)).unwrap();
    let clips: BTreeMap<String, ClipRecord> = read_clips(&dir)
        .into_iter()
        .map(|c| (c.file_name.trim_end_matches(".wav").to_string(), c))
        .collect();
    let mut kinds = HashSet::new();
    let mut saw_no = false;
    for split in ["train", "test"] {
        for q in read_qa(&dir, split) {
            kinds.insert(q.kind.clone());
            let clip = &clips[q.id.split('-').next().unwrap()];
            let present: Vec<EventType> = clip
                .events
                .iter()
                .map(|e| EventType::from_name(&e.event_type).unwrap())
                .collect();
            match q.kind.as_str() {
                "presence" => {
                    let t = EventType::ALL
                        .iter()
                        .copied()
                        .find(|t| {
                            q.question
                                .contains(&format!(" {} ", lexicon(*t).presence.0))
                                || q.question
                                    .contains(&format!(" {}?", lexicon(*t).presence.0))
                        })
                        .unwrap_or_else(|| panic!("{}", q.question));
                    let want = if present.contains(&t) { "Yes." } else { "No." };
                    saw_no |= want == "No.";
                    assert_eq!(q.answer, want, "{}", q.question);
                }
                "count" => {
                    let n = match EventType::ALL
                        .iter()
                        .position(|t| lexicon(*t).count_q.contains(&q.question.as_str()))
                    {
                        Some(i) => {
                            clip.events
                                .iter()
                                .find(|e| e.event_type == EventType::ALL[i].name())
                                .unwrap()
                                .repetitions as usize
                        }
                        None => clip.events.len(),
                    };
                    assert_eq!(
                        q.answer,
                        format!("{}.", capitalise(&number_word(n))),
                        "{}",
                        q.question
                    );
                }
                "identity" => {
                    let t = present
                        .iter()
                        .find(|t| lexicon(**t).describe.iter().any(|d| q.question.contains(d)))
                        .unwrap();
                    assert_eq!(q.answer, lexicon(*t).identity);
                }
                "order" => {
                    let mut named: Vec<(usize, &EventRecord)> = clip
                        .events
                        .iter()
                        .filter_map(|e| {
                            let t = EventType::from_name(&e.event_type).unwrap();
                            q.question
                                .find(&format!("the {}", lexicon(t).short.0))
                                .map(|p| (p, e))
                        })
                        .collect();
                    assert_eq!(named.len(), 2, "{}", q.question);
                    named.sort_by_key(|(p, _)| *p);
                    let (x, y) = (named[0].1, named[1].1);
                    let (first, last) = if x.onset_s < y.onset_s {
                        (x, y)
                    } else {
                        (y, x)
                    };
                    let short = |e: &EventRecord| {
                        lexicon(EventType::from_name(&e.event_type).unwrap())
                            .short
                            .0
                    };
                    if q.question.contains("first") {
                        assert!(
                            q.answer
                                .starts_with(&capitalise(&format!("the {}", short(first)))),
                            "{q:?}"
                        );
                    } else if q.question.contains("last") {
                        assert!(
                            q.answer
                                .starts_with(&capitalise(&format!("the {}", short(last)))),
                            "{q:?}"
                        );
                    } else {
                        let want = if x.onset_s < y.onset_s {
                            "Before."
                        } else {
                            "After."
                        };
                        assert_eq!(q.answer, want, "{q:?}");
                    }
                }
                k => panic!("unknown kind {k}"),
            }
        }
    }
    assert_eq!(kinds.len(), 4);
    assert!(saw_no, "absent events are asked about");
    std::fs::remove_dir_all(dir).unwrap();
}

fn zcr(x: &[f32]) -> f64 {
    x.windows(2)
        .filter(|w| (w[0] >= 0.0) != (w[1] >= 0.0))
        .count() as f64
        / x.len() as f64
}

#[test]
fn event_signals_are_sound_and_distinct() {
    let mut z = BTreeMap::new();
    for t in EventType::ALL {
        let mut zs = 0.0;
        for seed in 0..3u64 {
            let mut rng = Rng::derive(seed, t.name());
            let (x, reps) = t.synthesize(&mut rng, 5.0);
            assert!(reps >= 1);
            assert!(!x.is_empty() && x.len() <= 80_000, "{}", t.name());
            assert!(
                x.iter().all(|v| v.is_finite() && v.abs() <= 1.0),
                "{}",
                t.name()
            );
            let rms = (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
            assert!(rms > 0.02, "{} too quiet: rms {rms}", t.name());
            zs += zcr(&x) / 3.0;
            // Short room: repetitions shrink instead of being cut off.
            let (y, r2) = t.synthesize(&mut rng, 0.3);
            assert!(y.len() <= 4800 && r2 >= 1, "{}", t.name());
        }
        z.insert(t.name(), zs);
    }
    let distinct: HashSet<i64> = z.values().map(|v| (v * 200.0).round() as i64).collect();
    assert!(
        distinct.len() >= 8,
        "zero-crossing rates too similar: {z:?}"
    );
    assert!(
        z["engine"] < z["siren"] && z["siren"] < z["bird_chirp"],
        "{z:?}"
    );
    assert!(
        z["wind"] < z["rain"] && z["door_knock"] < z["alarm_beep"],
        "{z:?}"
    );
}

#[test]
fn scenes_are_mixed_without_clipping() {
    for seed in 0..40u64 {
        let mut rng = Rng::new(seed);
        let (x, events) = render_scene(&mut rng, 5.0);
        assert_eq!(x.len(), 80_000);
        let peak = x.iter().fold(0.0f32, |p, v| p.max(v.abs()));
        assert!(peak <= MAX_PEAK + 1e-6 && peak > 0.01, "peak {peak}");
        assert!(x.iter().all(|v| v.is_finite()));
        for w in events.windows(2) {
            assert!(w[1].onset_s - w[0].onset_s >= 0.4, "{events:?}");
        }
    }
    // Very short clips still work.
    let (x, ev) = render_scene(&mut Rng::new(1), 0.2);
    assert_eq!((x.len(), ev.len()), (3200, 1));
}

#[test]
fn simultaneity_words_only_for_overlapping_events() {
    let a = SceneEvent {
        ty: EventType::DogBark,
        onset_s: 0.0,
        end_s: 0.5,
        gain_db: -6.0,
        level_db: -20.0,
        reps: 2,
        loudness: Loudness::Normal,
    };
    let b = SceneEvent {
        ty: EventType::Siren,
        onset_s: 2.0,
        end_s: 4.0,
        gain_db: -6.0,
        level_db: -20.0,
        reps: 1,
        loudness: Loudness::Normal,
    };
    let mut rng = Rng::new(3);
    let mut rng = Gen {
        rng: &mut rng,
        facts: SceneFacts::named(&[a.ty, b.ty]),
    };
    for _ in 0..300 {
        let c = frame2(&a, &b, &mut rng);
        assert!(
            !c.contains(" while ") && !c.contains(" as ") && !c.contains("joining"),
            "{c}"
        );
        assert!(
            c.find("siren").unwrap()
                > c.find("dog")
                    .or(c.find("canine"))
                    .or(c.find("hound"))
                    .unwrap_or(0)
                || c.contains("after")
                || c.contains(" and "),
            "{c}"
        );
    }
    let quiet = SceneEvent {
        level_db: -27.0,
        loudness: Loudness::Quiet,
        ..b.clone()
    };
    let loud = SceneEvent {
        level_db: -12.0,
        loudness: Loudness::Loud,
        ..a.clone()
    };
    let mut words = HashSet::new();
    for _ in 0..300 {
        let c = frame2(&loud, &quiet, &mut rng).to_lowercase();
        for w in ["loud", "faint", "distant", "quiet"] {
            if c.contains(w) {
                words.insert(w);
            }
        }
    }
    assert!(words.contains("loud") && (words.contains("faint") || words.contains("distant")));
}

#[test]
fn invalid_configs_name_the_field() {
    let dir = temp_dir("invalid");
    let base = SynthConfig::new(4, 1);
    for (cfg, field) in [
        (
            SynthConfig {
                clips: 0,
                ..base.clone()
            },
            "clips",
        ),
        (
            SynthConfig {
                clip_seconds: 0.0,
                ..base.clone()
            },
            "clip_seconds",
        ),
        (
            SynthConfig {
                clip_seconds: 61.0,
                ..base.clone()
            },
            "clip_seconds",
        ),
        (
            SynthConfig {
                test_fraction: 1.0,
                ..base.clone()
            },
            "test_fraction",
        ),
        (
            SynthConfig {
                test_fraction: -0.1,
                ..base.clone()
            },
            "test_fraction",
        ),
    ] {
        match generate(&dir, &cfg) {
            Err(e @ SynthError::InvalidConfig(_)) => {
                assert!(e.to_string().contains(field), "{e}")
            }
            other => panic!("expected InvalidConfig for {field}, got {other:?}"),
        }
    }
    assert!(!dir.exists(), "nothing is written for an invalid config");
}

#[test]
fn split_sizes_and_helpers() {
    let c = |clips, f| {
        test_count(&SynthConfig {
            clips,
            seed: 0,
            clip_seconds: 5.0,
            test_fraction: f,
        })
    };
    assert_eq!(c(1, 0.5), 0);
    assert_eq!(c(2, 0.01), 1);
    assert_eq!(c(2, 0.9), 1);
    assert_eq!(c(10, 0.0), 0);
    assert_eq!(c(200, 0.2), 40);
    assert_eq!(csv_field("a dog barks"), "a dog barks");
    assert_eq!(csv_field("a, \"b\""), "\"a, \"\"b\"\"\"");
    assert_eq!(
        tidy("A engine hums and a  alarm beeps, an dog"),
        "An engine hums and an alarm beeps, a dog"
    );
    assert_eq!(
        parse_csv_line(&format!("x,{}", csv_field("a, \"b\""))),
        vec!["x", "a, \"b\""]
    );
}

/// The loudest of several sounds is loud when another is at least 6 dB below it; that one is
/// quiet; a sound alone goes by the world's usual levels.
#[test]
fn loudness_words_follow_measured_levels() {
    use Loudness::*;
    assert_eq!(loudness_in_scene(&[-10.0, -17.0]), vec![Loud, Quiet]);
    assert_eq!(loudness_in_scene(&[-10.0, -15.0]), vec![Normal, Normal]);
    assert_eq!(
        loudness_in_scene(&[-20.0, -10.0, -12.0]),
        vec![Quiet, Loud, Normal]
    );
    // Alone: by the world's quartiles of single-sound levels (about -28.6 and -19.5 dB).
    assert_eq!(loudness_in_scene(&[-15.0]), vec![Loud]);
    assert_eq!(loudness_in_scene(&[-24.0]), vec![Normal]);
    assert_eq!(loudness_in_scene(&[-30.0]), vec![Quiet]);
}

/// What the five captions of a clip say together answers the loudness and counting probes'
/// questions: a description can carry what the probes ask (the text-oracle ceiling relies on
/// it), and never says anything false.
#[test]
fn five_captions_carry_counts_and_loudness() {
    let world = text_world(400, 21, 5.0);
    let (mut pairs, mut told, mut countable, mut counted) = (0, 0, 0, 0);
    let mut single_levels = Vec::new();
    for clip in &world {
        let u = facts::SceneFacts::union(&clip.facts);
        if let [e] = clip.events.as_slice() {
            single_levels.push(e.level_db);
        }
        for (i, a) in clip.events.iter().enumerate() {
            let ta = EventType::from_name(&a.event_type).unwrap();
            if ta.countable() {
                countable += 1;
                if u.get(ta).unwrap().count == CountFact::Exact(a.repetitions) {
                    counted += 1;
                }
            }
            for b in &clip.events[i + 1..] {
                let tb = EventType::from_name(&b.event_type).unwrap();
                let stated = u.louder(ta, tb);
                if let Some(s) = stated {
                    assert_eq!(s, a.level_db > b.level_db, "{:?}", clip.captions);
                }
                if (a.level_db - b.level_db).abs() >= 6.0 {
                    pairs += 1;
                    told += stated.is_some() as usize;
                }
            }
        }
    }
    single_levels.sort_by(f64::total_cmp);
    eprintln!(
        "loudness told {told}/{pairs}; exact counts {counted}/{countable}; single-sound levels p25 {:.1} p50 {:.1} p75 {:.1}",
        single_levels[single_levels.len() / 4],
        single_levels[single_levels.len() / 2],
        single_levels[3 * single_levels.len() / 4]
    );
    assert!(told as f64 >= 0.9 * pairs as f64, "{told}/{pairs}");
    assert!(
        counted as f64 >= 0.85 * countable as f64,
        "{counted}/{countable}"
    );
}
