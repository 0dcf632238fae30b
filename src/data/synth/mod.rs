//! Synthetic sound-scene dataset generator (`acdc synth --out DIR --clips N --seed S`).
//!
//! # The sound world
//!
//! Every clip is a short mono recording at [`SAMPLE_RATE`] (16 kHz) made of one to three
//! *sound events* of distinct types laid over a faint background noise floor. Each event type is
//! synthesised procedurally from a deterministic [`Rng`] so it has its own acoustic signature:
//!
//! | type            | signal                                                                 |
//! |-----------------|------------------------------------------------------------------------|
//! | `dog_bark`      | harmonic bursts with a falling pitch and a formant bump (1–4 barks)     |
//! | `bird_chirp`    | fast frequency-modulated sweeps between 2.5 and 7 kHz                   |
//! | `siren`         | a tone whose pitch sweeps slowly up and down                            |
//! | `engine`        | a low fundamental with many harmonics, amplitude wobble and rumble      |
//! | `rain`          | high-passed noise sprinkled with random droplet clicks                  |
//! | `bell`          | inharmonic (Risset) partials with exponential decays (1–3 strikes)      |
//! | `footsteps`     | regular short band-passed impulses with a low thump                     |
//! | `door_knock`    | low decaying thuds in a group of 2–4                                    |
//! | `alarm_beep`    | a square-ish tone switched on and off (2–6 beeps)                       |
//! | `wind`          | low-passed noise with a slowly swelling envelope and moving cutoff      |
//! | `water_drip`    | short rising "plinks" at irregular intervals (2–6 drops)                |
//! | `speech_babble` | two glottal buzzes through moving vowel formants (people talking)       |
//!
//! Events start in a recorded, strictly increasing order of onsets (at least a fraction of a
//! second apart), have a loudness `gain_db` in [-12, 0] dB, and the mix is scaled down when its
//! peak would come near full scale. Countable events (barks, bell strikes, knocks, beeps, drops)
//! record their number of repetitions, which the captions and the question–answer pairs use.
//!
//! # What is written
//!
//! Under the output folder: `audio/{train,test}/synth_NNNNN.wav` (16-bit PCM), Clotho-style
//! `captions_{train,test}.csv` with five pairwise different captions a clip produced by a small
//! grammar (synonyms, count adverbs, order connectives, loudness words, varied sentence frames),
//! AudioBench-style `qa_{train,test}.jsonl` (presence / count / order / identity questions),
//! `events.jsonl` with the ground truth of every clip, and `synth.json` with the config and
//! summary. Everything is a pure function of the [`SynthConfig`]: the same config gives
//! byte-identical files.

use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

mod captions;
pub mod dialogue;
pub mod facts;
pub mod probes;
mod questions;
mod sounds;

use captions::*;
use facts::{CountFact, LoudnessFact, SceneFacts};
use questions::*;
use sounds::*;

/// Sample rate of every generated clip, in Hz.
pub const SAMPLE_RATE: u32 = 16_000;

const SR: f32 = SAMPLE_RATE as f32;
const TAU: f32 = std::f32::consts::TAU;
const PI: f32 = std::f32::consts::PI;

/// Peak amplitude of an event mixed at 0 dB gain.
const EVENT_PEAK: f32 = 0.5;
/// The mix is scaled down when its peak exceeds this.
const MAX_PEAK: f32 = 0.95;
/// Peak amplitude of the background noise floor (about -50 dBFS).
const NOISE_FLOOR: f32 = 0.003;
/// In a scene of several sounds, one at least this many dB below the loudest (by `level_db`) is
/// described as quiet (faint, distant), and the loudest as loud when such a quiet one is there.
/// The loudness probes ask about pairs this far apart, so a description can answer them.
const QUIET_BELOW_LOUDEST_DB: f64 = 6.0;
/// A sound alone in its clip is described as loud at or above this `level_db`…
const ALONE_LOUD_DB: f64 = -19.5;
/// …and as quiet at or below this one.
const ALONE_QUIET_DB: f64 = -28.5;

/// How to generate a synthetic dataset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SynthConfig {
    /// Number of clips in total (train + test); must be at least 1.
    pub clips: usize,
    /// Seed every random choice derives from.
    pub seed: u64,
    /// Length of each clip in seconds, in (0, 60]. Default 5.0.
    pub clip_seconds: f32,
    /// Fraction of clips put into the test split, in [0, 1). Default 0.2. With `clips >= 2` and a
    /// positive fraction each split gets at least one clip; a fraction of 0 gives no test clips.
    pub test_fraction: f32,
}

impl SynthConfig {
    /// A config with `clips` clips and `seed`, 5-second clips and a 20 % test split.
    pub fn new(clips: usize, seed: u64) -> Self {
        Self {
            clips,
            seed,
            clip_seconds: 5.0,
            test_fraction: 0.2,
        }
    }

    /// Checks every field; the error names the offending field.
    pub fn validate(&self) -> Result<(), SynthError> {
        if self.clips == 0 {
            return Err(SynthError::InvalidConfig(
                "clips must be at least 1 (got 0)".into(),
            ));
        }
        if !(self.clip_seconds.is_finite() && self.clip_seconds > 0.0 && self.clip_seconds <= 60.0)
        {
            return Err(SynthError::InvalidConfig(format!(
                "clip_seconds must be in (0, 60] (got {})",
                self.clip_seconds
            )));
        }
        if !(self.test_fraction.is_finite()
            && self.test_fraction >= 0.0
            && self.test_fraction < 1.0)
        {
            return Err(SynthError::InvalidConfig(format!(
                "test_fraction must be in [0, 1) (got {})",
                self.test_fraction
            )));
        }
        Ok(())
    }
}

/// What [`generate`] produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SynthSummary {
    /// Number of training clips.
    pub train: usize,
    /// Number of test clips.
    pub test: usize,
    /// Names of all event types of the sound world (in [`EventType::ALL`] order).
    pub event_types: Vec<String>,
}

/// Errors of the synthetic data generator.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// Reading or writing a file or folder failed.
    #[error("synth: I/O error on {path}: {source}")]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Serialising a record to JSON failed.
    #[error("synth: cannot serialise JSON for {path}: {source}")]
    Json {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A [`SynthConfig`] field is out of range; the message names the field.
    #[error("synth: invalid config: {0}")]
    InvalidConfig(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

// ---------------------------------------------------------------------------------------------
// Event types
// ---------------------------------------------------------------------------------------------

/// The kinds of sound event in the synthetic world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Harmonic bark-like bursts.
    DogBark,
    /// Frequency-modulated chirps.
    BirdChirp,
    /// Slow up/down pitch sweep.
    Siren,
    /// Low harmonic hum with amplitude wobble.
    Engine,
    /// Filtered noise with droplet clicks.
    Rain,
    /// Inharmonic decaying partials.
    Bell,
    /// Regular short filtered impulses.
    Footsteps,
    /// Low thuds in a group of 2–4.
    DoorKnock,
    /// Square-ish tone switched on and off.
    AlarmBeep,
    /// Low-passed noise with slow swells.
    Wind,
    /// Rising plinks at irregular intervals.
    WaterDrip,
    /// Formant-filtered buzz of two voices.
    SpeechBabble,
}

impl EventType {
    /// Every event type, in a fixed order.
    pub const ALL: [EventType; 12] = [
        EventType::DogBark,
        EventType::BirdChirp,
        EventType::Siren,
        EventType::Engine,
        EventType::Rain,
        EventType::Bell,
        EventType::Footsteps,
        EventType::DoorKnock,
        EventType::AlarmBeep,
        EventType::Wind,
        EventType::WaterDrip,
        EventType::SpeechBabble,
    ];

    /// The snake_case name used in `events.jsonl` and [`SynthSummary::event_types`].
    pub fn name(self) -> &'static str {
        match self {
            EventType::DogBark => "dog_bark",
            EventType::BirdChirp => "bird_chirp",
            EventType::Siren => "siren",
            EventType::Engine => "engine",
            EventType::Rain => "rain",
            EventType::Bell => "bell",
            EventType::Footsteps => "footsteps",
            EventType::DoorKnock => "door_knock",
            EventType::AlarmBeep => "alarm_beep",
            EventType::Wind => "wind",
            EventType::WaterDrip => "water_drip",
            EventType::SpeechBabble => "speech_babble",
        }
    }

    /// The type with this [`name`](Self::name), if any.
    pub fn from_name(name: &str) -> Option<EventType> {
        Self::ALL.iter().copied().find(|t| t.name() == name)
    }

    /// Whether the captions and questions count this event's repetitions exactly.
    pub fn countable(self) -> bool {
        matches!(
            self,
            EventType::DogBark
                | EventType::Bell
                | EventType::DoorKnock
                | EventType::AlarmBeep
                | EventType::WaterDrip
        )
    }

    /// Synthesises one event of at most `max_seconds` at [`SAMPLE_RATE`], peak-normalised to 1.
    /// Returns the samples and the number of repetitions (barks, strikes, beeps…; 1 for
    /// continuous sounds). Repetitions are reduced, never cut off, to fit `max_seconds`.
    pub fn synthesize(self, rng: &mut Rng, max_seconds: f32) -> (Vec<f32>, u32) {
        let max_s = max_seconds.max(1.0 / SR);
        let (mut x, reps) = match self {
            EventType::DogBark => dog_bark(rng, max_s),
            EventType::BirdChirp => bird_chirp(rng, max_s),
            EventType::Siren => siren(rng, max_s),
            EventType::Engine => engine(rng, max_s),
            EventType::Rain => rain(rng, max_s),
            EventType::Bell => bell(rng, max_s),
            EventType::Footsteps => footsteps(rng, max_s),
            EventType::DoorKnock => door_knock(rng, max_s),
            EventType::AlarmBeep => alarm_beep(rng, max_s),
            EventType::Wind => wind(rng, max_s),
            EventType::WaterDrip => water_drip(rng, max_s),
            EventType::SpeechBabble => speech_babble(rng, max_s),
        };
        let cap = samples_for(max_s).max(1);
        x.truncate(cap);
        for v in x.iter_mut() {
            if !v.is_finite() {
                *v = 0.0;
            }
        }
        let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if peak > 0.0 {
            for v in x.iter_mut() {
                *v /= peak;
            }
        }
        (x, reps)
    }
}

// ---------------------------------------------------------------------------------------------
// Scenes
// ---------------------------------------------------------------------------------------------

/// One event of a clip, as written to `events.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Event type name (see [`EventType::name`]).
    #[serde(rename = "type")]
    pub event_type: String,
    /// Start time in seconds (millisecond resolution).
    pub onset_s: f64,
    /// Length in seconds (millisecond resolution).
    pub duration_s: f64,
    /// Loudness relative to a full-level event, in dB (in [-12, 0]).
    pub gain_db: f64,
    /// How loud the event is in the mix: the loudest 100 ms RMS of its own signal (hop 50 ms),
    /// in dB relative to full scale, before the mix is scaled down (which scales every event
    /// alike). Unlike `gain_db` this compares sounds of different crest factors: a square-wave
    /// beep and peak-normalised rain at the same gain differ by about 10 dB.
    pub level_db: f64,
    /// Number of repetitions (barks, strikes, knocks, beeps, drops, chirps, steps); 1 for
    /// continuous sounds.
    pub repetitions: u32,
}

/// Ground truth of one clip, one line of `events.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipRecord {
    /// The wav file name, e.g. `synth_00003.wav`.
    pub file_name: String,
    /// `train` or `test`.
    pub split: String,
    /// Events in order of onset.
    pub events: Vec<EventRecord>,
    /// One sentence stating everything the clip's five captions state together (their facts'
    /// union, in the caption grammar's words): the clip's ground-truth description, which the
    /// `text-oracle` reference row gives where the audio would be.
    #[serde(default)]
    pub description: String,
}

/// One question–answer pair, one line of `qa_{split}.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QaItem {
    /// `synth_NNNNN-qK`.
    pub id: String,
    /// Path of the wav file relative to the dataset root.
    pub audio: String,
    /// The question.
    pub question: String,
    /// The reference answer.
    pub answer: String,
    /// `presence`, `count`, `order` or `identity`.
    pub kind: String,
}

#[derive(Debug, Clone)]
struct SceneEvent {
    ty: EventType,
    onset_s: f64,
    end_s: f64,
    gain_db: f64,
    level_db: f64,
    reps: u32,
    /// How the captions may describe its loudness ([`loudness_in_scene`]).
    loudness: Loudness,
}

/// How loud each sound of a scene is described (levels in onset order): relative to the
/// loudest when there are several, by the world's usual levels when it is alone.
fn loudness_in_scene(levels: &[f64]) -> Vec<Loudness> {
    if let [l] = levels {
        return vec![if *l >= ALONE_LOUD_DB {
            Loudness::Loud
        } else if *l <= ALONE_QUIET_DB {
            Loudness::Quiet
        } else {
            Loudness::Normal
        }];
    }
    let max = levels.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let quiet = |l: f64| l <= max - QUIET_BELOW_LOUDEST_DB;
    let any_quiet = levels.iter().any(|&l| quiet(l));
    levels
        .iter()
        .map(|&l| {
            if quiet(l) {
                Loudness::Quiet
            } else if l == max && any_quiet {
                Loudness::Loud
            } else {
                Loudness::Normal
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loudness {
    Loud,
    Normal,
    Quiet,
}

/// Rounds to `1 / per_unit` steps, dividing last so the shortest decimal form stays short.
fn round_to(x: f64, per_unit: f64) -> f64 {
    (x * per_unit).round() / per_unit
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Draws the events of one clip and renders its audio.
fn render_scene(rng: &mut Rng, clip_seconds: f32) -> (Vec<f32>, Vec<SceneEvent>) {
    let (mix, events, _) = render_scene_parts(rng, clip_seconds);
    (mix, events)
}

/// [`render_scene`], also returning each event's own signal as mixed (start sample, samples at
/// its gain, before the mix is scaled down).
fn render_scene_parts(
    rng: &mut Rng,
    clip_seconds: f32,
) -> (Vec<f32>, Vec<SceneEvent>, Vec<(usize, Vec<f32>)>) {
    let n = samples_for(clip_seconds).max(1);
    let clip = clip_seconds as f64;
    let max_k = ((clip / 1.0).floor() as usize).clamp(1, 3);
    let k = 1 + rng.below(max_k);
    let mut types = EventType::ALL.to_vec();
    rng.shuffle(&mut types);
    types.truncate(k);

    // Onsets: sorted uniforms in a window of 60 % of the clip, pushed apart by a minimum gap.
    let window = 0.6 * clip;
    let min_gap = (0.5f64).min(window / (2.0 * k as f64));
    let mut u: Vec<f64> = (0..k).map(|_| rng.next_f64()).collect();
    u.sort_by(|a, b| a.total_cmp(b));
    let slack = (window - (k - 1) as f64 * min_gap).max(0.0);
    let onsets: Vec<f64> = u
        .iter()
        .enumerate()
        .map(|(i, v)| round_to(v * slack + i as f64 * min_gap, 1000.0))
        .collect();

    let mut mix = vec![0.0f32; n];
    let mut events = Vec::with_capacity(k);
    let mut parts = Vec::with_capacity(k);
    for (ty, onset) in types.into_iter().zip(onsets) {
        let gain_db = round_to(rng.uniform(-12.0, 0.0), 10.0);
        let start = ((onset * SR as f64).round() as usize).min(n - 1);
        let room = (n - start) as f32 / SR;
        let (x, reps) = ty.synthesize(rng, room);
        let g = EVENT_PEAK * 10f32.powf(gain_db as f32 / 20.0);
        let len = x.len().min(n - start);
        for (m, v) in mix[start..start + len].iter_mut().zip(&x) {
            *m += g * v;
        }
        parts.push((start, x[..len].iter().map(|v| g * v).collect()));
        let start_s = start as f64 / SR as f64;
        events.push(SceneEvent {
            ty,
            onset_s: round3(start_s),
            end_s: round3(start_s + len as f64 / SR as f64),
            gain_db,
            level_db: round_to(short_term_level_db(&x[..len], g), 10.0),
            reps,
            loudness: Loudness::Normal,
        });
    }
    let levels: Vec<f64> = events.iter().map(|e| e.level_db).collect();
    for (e, l) in events.iter_mut().zip(loudness_in_scene(&levels)) {
        e.loudness = l;
    }
    // Background noise floor (gently low-passed).
    let mut lp = OnePole::lowpass(3000.0);
    for m in mix.iter_mut() {
        *m += NOISE_FLOOR * 2.0 * lp.process(noise(rng));
    }
    let peak = mix.iter().fold(0.0f32, |p, v| p.max(v.abs()));
    if peak > MAX_PEAK {
        let s = MAX_PEAK / peak;
        for m in mix.iter_mut() {
            *m *= s;
        }
    }
    (mix, events, parts)
}

/// One clip of a synthetic world rendered in memory (as [`generate`] renders clip `idx` for
/// `seed`), with frame-level ground truth for pretraining an encoder.
#[derive(Debug, Clone)]
pub struct LabelledClip {
    /// Mono samples at [`SAMPLE_RATE`].
    pub samples: Vec<f32>,
    pub events: Vec<EventRecord>,
    /// For each window of the hop asked for, and each event type (in [`EventType::ALL`]
    /// order): the RMS level of that type's own signal in the window, in dBFS before the mix is
    /// scaled down (the convention of `level_db`); -120 where the type is silent or absent.
    pub levels: Vec<[f32; 12]>,
}

/// Clip `idx` of the world of `seed` with its window levels (windows of `hop_s` seconds from
/// the start, as many as cover the clip).
pub fn labelled_clip(seed: u64, idx: usize, clip_seconds: f32, hop_s: f32) -> LabelledClip {
    let mut rng = Rng::derive(seed, &format!("synth-audio-{idx}"));
    let (samples, events, parts) = render_scene_parts(&mut rng, clip_seconds);
    let hop = ((hop_s * SR) as usize).max(1);
    let windows = samples.len().div_ceil(hop);
    let mut levels = vec![[-120.0f32; 12]; windows];
    for (e, (start, x)) in events.iter().zip(&parts) {
        let k = EventType::ALL
            .iter()
            .position(|t| *t == e.ty)
            .expect("a known type");
        for (w, row) in levels.iter_mut().enumerate() {
            let (lo, hi) = (w * hop, (w + 1) * hop);
            let (a, b) = (lo.max(*start), hi.min(start + x.len()));
            if a >= b {
                continue;
            }
            let ms = x[a - start..b - start]
                .iter()
                .map(|v| (*v as f64).powi(2))
                .sum::<f64>()
                / hop as f64;
            if ms > 0.0 {
                row[k] = ((10.0 * ms.log10()) as f32).max(-120.0);
            }
        }
    }
    LabelledClip {
        samples,
        events: events.iter().map(SceneEvent::record).collect(),
        levels,
    }
}

/// The loudest 100 ms RMS (hop 50 ms) of `x` scaled by `gain`, in dBFS (-120 for silence); a
/// signal shorter than a window is measured whole.
fn short_term_level_db(x: &[f32], gain: f32) -> f64 {
    let win = (0.1 * SR) as usize;
    let hop = (0.05 * SR) as usize;
    let mut best = 0.0f64;
    let mut start = 0;
    loop {
        let w = &x[start..(start + win).min(x.len())];
        if !w.is_empty() {
            let ms = w.iter().map(|v| (*v as f64) * (*v as f64)).sum::<f64>() / w.len() as f64;
            best = best.max(ms);
        }
        if start + win >= x.len() {
            break;
        }
        start += hop;
    }
    let rms = best.sqrt() * gain as f64;
    if rms > 0.0 {
        (20.0 * rms.log10()).max(-120.0)
    } else {
        -120.0
    }
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/// Writes `samples` as a mono 16-bit PCM RIFF/WAVE file, clipping to [-1, 1] (NaN → 0).
pub fn write_wav_pcm16(path: &Path, samples: &[f32], sample_rate: u32) -> Result<(), SynthError> {
    let data_len = (samples.len() * 2) as u32;
    let mut bytes = Vec::with_capacity(44 + samples.len() * 2);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
    bytes.extend_from_slice(b"WAVE");
    bytes.extend_from_slice(b"fmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&sample_rate.to_le_bytes());
    bytes.extend_from_slice(&(sample_rate * 2).to_le_bytes()); // byte rate
    bytes.extend_from_slice(&2u16.to_le_bytes()); // block align
    bytes.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    for &s in samples {
        let v = if s.is_finite() {
            s.clamp(-1.0, 1.0)
        } else {
            0.0
        };
        bytes.extend_from_slice(&((v * 32767.0).round() as i16).to_le_bytes());
    }
    std::fs::write(path, &bytes).map_err(io_err(path))
}

/// Quotes a CSV field when it holds a comma, quote or line break (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

struct Out {
    path: PathBuf,
    w: BufWriter<File>,
}

impl Out {
    fn create(path: PathBuf) -> Result<Self, SynthError> {
        let f = File::create(&path).map_err(io_err(&path))?;
        Ok(Out {
            w: BufWriter::new(f),
            path,
        })
    }
    fn line(&mut self, s: &str) -> Result<(), SynthError> {
        self.w
            .write_all(s.as_bytes())
            .and_then(|_| self.w.write_all(b"\n"))
            .map_err(io_err(&self.path))
    }
    fn json<T: Serialize>(&mut self, v: &T) -> Result<(), SynthError> {
        let s = serde_json::to_string(v).map_err(|source| SynthError::Json {
            path: self.path.clone(),
            source,
        })?;
        self.line(&s)
    }
    fn finish(mut self) -> Result<(), SynthError> {
        self.w.flush().map_err(io_err(&self.path))
    }
}

/// Number of test clips for a config.
fn test_count(cfg: &SynthConfig) -> usize {
    if cfg.clips < 2 || cfg.test_fraction <= 0.0 {
        return 0;
    }
    ((cfg.clips as f64 * cfg.test_fraction as f64).round() as usize).clamp(1, cfg.clips - 1)
}

/// The wav file name of clip `index`.
pub fn clip_file_name(index: usize) -> String {
    format!("synth_{index:05}.wav")
}

/// Generates the dataset described by `cfg` under `out` (created if missing; existing files of
/// the same names are overwritten). See the module documentation for the layout.
pub fn generate(out: &Path, cfg: &SynthConfig) -> Result<SynthSummary, SynthError> {
    cfg.validate()?;
    let n_test = test_count(cfg);
    let mut order: Vec<usize> = (0..cfg.clips).collect();
    Rng::derive(cfg.seed, "synth-split").shuffle(&mut order);
    let mut is_test = vec![false; cfg.clips];
    for &i in &order[..n_test] {
        is_test[i] = true;
    }

    for split in ["train", "test"] {
        let dir = out.join("audio").join(split);
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    }
    let header = "file_name,caption_1,caption_2,caption_3,caption_4,caption_5";
    let mut cap_train = Out::create(out.join("captions_train.csv"))?;
    let mut cap_test = Out::create(out.join("captions_test.csv"))?;
    cap_train.line(header)?;
    cap_test.line(header)?;
    let mut qa_train = Out::create(out.join("qa_train.jsonl"))?;
    let mut qa_test = Out::create(out.join("qa_test.jsonl"))?;
    let mut events_out = Out::create(out.join("events.jsonl"))?;

    for (idx, &test_clip) in is_test.iter().enumerate() {
        if idx == cfg.clips / 2 {
            crate::pause::point("world");
        }
        let split = if test_clip { "test" } else { "train" };
        let file_name = clip_file_name(idx);
        let rel_audio = format!("audio/{split}/{file_name}");
        let mut audio_rng = Rng::derive(cfg.seed, &format!("synth-audio-{idx}"));
        let (samples, events) = render_scene(&mut audio_rng, cfg.clip_seconds);
        write_wav_pcm16(
            &out.join("audio").join(split).join(&file_name),
            &samples,
            SAMPLE_RATE,
        )?;

        let mut cap_rng = Rng::derive(cfg.seed, &format!("synth-captions-{idx}"));
        let (caps, facts): (Vec<String>, Vec<SceneFacts>) =
            captions(&events, &mut cap_rng).into_iter().unzip();
        let description = dialogue::ground_truth_description(&facts, cfg.seed, idx);
        let mut row = csv_field(&file_name);
        for c in &caps {
            let _ = write!(row, ",{}", csv_field(c));
        }
        let (cap_out, qa_out) = if test_clip {
            (&mut cap_test, &mut qa_test)
        } else {
            (&mut cap_train, &mut qa_train)
        };
        cap_out.line(&row)?;

        let mut qa_rng = Rng::derive(cfg.seed, &format!("synth-qa-{idx}"));
        let stem = file_name.trim_end_matches(".wav");
        for (k, (question, answer, kind)) in questions(&events, &mut qa_rng).into_iter().enumerate()
        {
            qa_out.json(&QaItem {
                id: format!("{stem}-q{k}"),
                audio: rel_audio.clone(),
                question,
                answer,
                kind: kind.to_string(),
            })?;
        }

        events_out.json(&ClipRecord {
            file_name: file_name.clone(),
            split: split.to_string(),
            events: events.iter().map(SceneEvent::record).collect(),
            description,
        })?;
    }
    for o in [cap_train, cap_test, qa_train, qa_test, events_out] {
        o.finish()?;
    }

    let summary = SynthSummary {
        train: cfg.clips - n_test,
        test: n_test,
        event_types: EventType::ALL
            .iter()
            .map(|t| t.name().to_string())
            .collect(),
    };
    let meta_path = out.join("synth.json");
    // f32 fields go through their shortest decimal form so 0.2 is written as 0.2.
    let short = |x: f32| x.to_string().parse::<f64>().unwrap_or(x as f64);
    let meta = serde_json::json!({
        "config": {
            "clips": cfg.clips,
            "seed": cfg.seed,
            "clip_seconds": short(cfg.clip_seconds),
            "test_fraction": short(cfg.test_fraction),
        },
        "summary": summary,
        "sample_rate": SAMPLE_RATE,
    });
    let text = serde_json::to_string_pretty(&meta).map_err(|source| SynthError::Json {
        path: meta_path.clone(),
        source,
    })?;
    std::fs::write(&meta_path, text + "\n").map_err(io_err(&meta_path))?;
    Ok(summary)
}

#[cfg(test)]
mod tests;

/// The text of one synthetic clip: its five captions with the facts each states, its questions
/// with answers, and the ground truth they describe.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipText {
    pub captions: Vec<String>,
    pub facts: Vec<SceneFacts>,
    pub qa: Vec<(String, String)>,
    pub events: Vec<EventRecord>,
}

impl SceneEvent {
    fn record(&self) -> EventRecord {
        EventRecord {
            event_type: self.ty.name().to_string(),
            onset_s: self.onset_s,
            duration_s: round3(self.end_s - self.onset_s),
            gain_db: self.gain_db,
            level_db: self.level_db,
            repetitions: self.reps,
        }
    }
}

/// The text of the synthetic world — every caption, question and answer of `clips` scenes drawn
/// exactly as [`generate`] draws them for `seed` — without writing audio.
pub fn text_world(clips: usize, seed: u64, clip_seconds: f32) -> Vec<ClipText> {
    (0..clips)
        .map(|idx| {
            let mut audio_rng = Rng::derive(seed, &format!("synth-audio-{idx}"));
            let (_, events) = render_scene(&mut audio_rng, clip_seconds);
            let mut cap_rng = Rng::derive(seed, &format!("synth-captions-{idx}"));
            let (captions, facts) = captions(&events, &mut cap_rng).into_iter().unzip();
            let mut qa_rng = Rng::derive(seed, &format!("synth-qa-{idx}"));
            let qa = questions(&events, &mut qa_rng)
                .into_iter()
                .map(|(q, a, _)| (q, a))
                .collect();
            ClipText {
                captions,
                facts,
                qa,
                events: events.iter().map(SceneEvent::record).collect(),
            }
        })
        .collect()
}

/// All of [`text_world`] as a flat list of sentences. `builtin:tiny` trains its tokenizer on this.
pub fn text_corpus(clips: usize, seed: u64, clip_seconds: f32) -> Vec<String> {
    let mut out = Vec::new();
    for c in text_world(clips, seed, clip_seconds) {
        out.extend(c.captions);
        for (q, a) in c.qa {
            out.push(q);
            out.push(a);
        }
    }
    out
}
