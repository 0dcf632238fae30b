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
/// Events at or above this gain are described as loud.
const LOUD_DB: f32 = -3.0;
/// Events at or below this gain are described as faint / distant.
const QUIET_DB: f32 = -9.0;

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
// DSP helpers
// ---------------------------------------------------------------------------------------------

fn samples_for(seconds: f32) -> usize {
    (seconds.max(0.0) * SR).round() as usize
}

fn noise(rng: &mut Rng) -> f32 {
    rng.next_f32() * 2.0 - 1.0
}

fn uni(rng: &mut Rng, lo: f32, hi: f32) -> f32 {
    rng.uniform(lo as f64, hi as f64) as f32
}

/// One-pole low-pass filter.
struct OnePole {
    a: f32,
    y: f32,
}

impl OnePole {
    fn lowpass(fc: f32) -> Self {
        let mut f = OnePole { a: 0.0, y: 0.0 };
        f.set(fc);
        f
    }
    fn set(&mut self, fc: f32) {
        self.a = 1.0 - (-TAU * fc / SR).exp();
    }
    fn process(&mut self, x: f32) -> f32 {
        self.y += self.a * (x - self.y);
        self.y
    }
}

/// RBJ biquad (transposed direct form II).
struct Biquad {
    b0: f32,
    b1: f32,
    b2: f32,
    a1: f32,
    a2: f32,
    z1: f32,
    z2: f32,
}

impl Biquad {
    fn new() -> Self {
        Biquad {
            b0: 1.0,
            b1: 0.0,
            b2: 0.0,
            a1: 0.0,
            a2: 0.0,
            z1: 0.0,
            z2: 0.0,
        }
    }
    fn coeffs(&mut self, b: [f32; 3], a: [f32; 3]) {
        self.b0 = b[0] / a[0];
        self.b1 = b[1] / a[0];
        self.b2 = b[2] / a[0];
        self.a1 = a[1] / a[0];
        self.a2 = a[2] / a[0];
    }
    /// Band-pass with 0 dB peak gain.
    fn set_bandpass(&mut self, fc: f32, q: f32) {
        let w = TAU * fc.min(SR * 0.45) / SR;
        let alpha = w.sin() / (2.0 * q);
        self.coeffs(
            [alpha, 0.0, -alpha],
            [1.0 + alpha, -2.0 * w.cos(), 1.0 - alpha],
        );
    }
    fn bandpass(fc: f32, q: f32) -> Self {
        let mut f = Self::new();
        f.set_bandpass(fc, q);
        f
    }
    fn highpass(fc: f32, q: f32) -> Self {
        let mut f = Self::new();
        let w = TAU * fc / SR;
        let (c, alpha) = (w.cos(), w.sin() / (2.0 * q));
        f.coeffs(
            [(1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0],
            [1.0 + alpha, -2.0 * c, 1.0 - alpha],
        );
        f
    }
    fn process(&mut self, x: f32) -> f32 {
        let y = self.b0 * x + self.z1;
        self.z1 = self.b1 * x - self.a1 * y + self.z2;
        self.z2 = self.b2 * x - self.a2 * y;
        y
    }
}

/// Linear fade-in and fade-out of `ramp_s` seconds each (shortened for short buffers).
fn fade(x: &mut [f32], ramp_s: f32) {
    let n = x.len();
    let r = samples_for(ramp_s).min(n / 2).max(1);
    for i in 0..r.min(n) {
        let g = i as f32 / r as f32;
        x[i] *= g;
        x[n - 1 - i] *= g;
    }
}

/// Renders `n` repetitions of an item of `len_s` seconds every `period_s` seconds, dropping
/// repetitions (and finally shortening the item) until the pattern fits `max_s`.
fn pattern(
    rng: &mut Rng,
    mut n: usize,
    len_s: f32,
    period_s: f32,
    max_s: f32,
    mut item: impl FnMut(&mut Rng, &mut [f32], usize),
) -> (Vec<f32>, u32) {
    n = n.max(1);
    let total = |n: usize| (n - 1) as f32 * period_s + len_s;
    while n > 1 && total(n) > max_s {
        n -= 1;
    }
    let len = samples_for(len_s.min(max_s)).max(1);
    let period = samples_for(period_s);
    let mut buf = vec![0.0f32; (n - 1) * period + len];
    for i in 0..n {
        let off = i * period;
        item(rng, &mut buf[off..off + len], i);
    }
    (buf, n as u32)
}

// ---------------------------------------------------------------------------------------------
// Event synthesisers (each returns un-normalised samples and repetitions)
// ---------------------------------------------------------------------------------------------

fn dog_bark(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
    let n = 1 + rng.below(4);
    let len = uni(rng, 0.13, 0.22);
    let period = len + uni(rng, 0.12, 0.28);
    let f0 = uni(rng, 380.0, 650.0);
    let formant = uni(rng, 900.0, 1500.0);
    pattern(rng, n, len, period, max_s, |rng, out, _| {
        let m = out.len();
        let fi = f0 * uni(rng, 0.93, 1.07);
        let amp = uni(rng, 0.75, 1.0);
        let mut ph = 0.0f32;
        for (t, o) in out.iter_mut().enumerate() {
            let frac = t as f32 / m as f32;
            let f = fi * (1.0 + 0.3 * (1.0 - frac));
            ph = (ph + TAU * f / SR) % TAU;
            let mut s = 0.0;
            for k in 1..=8 {
                let fk = k as f32 * f;
                if fk > 7500.0 {
                    break;
                }
                let d = (fk - formant) / 500.0;
                let w = 1.0 / (1.0 + d * d) + 0.25 / k as f32;
                s += w * (k as f32 * ph).sin();
            }
            let env = (frac * 15.0).min(1.0) * (1.0 - frac).powf(1.5);
            *o += amp * env * (s + 0.25 * noise(rng));
        }
    })
}

fn bird_chirp(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
    let n = 2 + rng.below(5);
    let len = uni(rng, 0.05, 0.12);
    let period = len + uni(rng, 0.05, 0.15);
    let (mut fs, mut fe) = (uni(rng, 2500.0, 4000.0), uni(rng, 4500.0, 7000.0));
    if rng.below(2) == 0 {
        std::mem::swap(&mut fs, &mut fe);
    }
    pattern(rng, n, len, period, max_s, |rng, out, _| {
        let m = out.len();
        let vib = uni(rng, 30.0, 60.0);
        let mut ph = 0.0f32;
        for (t, o) in out.iter_mut().enumerate() {
            let frac = t as f32 / m as f32;
            let f = fs + (fe - fs) * frac * frac + 150.0 * (TAU * vib * t as f32 / SR).sin();
            ph = (ph + TAU * f / SR) % TAU;
            let env = (PI * frac).sin().powi(2);
            *o += env * ph.sin();
        }
    })
}

fn siren(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
    let len = uni(rng, 1.5, 3.5).min(max_s);
    let fc = uni(rng, 700.0, 1000.0);
    let dev = uni(rng, 250.0, 400.0);
    let rate = uni(rng, 0.3, 0.7);
    let mut x = vec![0.0f32; samples_for(len).max(1)];
    let mut ph = 0.0f32;
    for (t, o) in x.iter_mut().enumerate() {
        let time = t as f32 / SR;
        let f = fc + dev * (TAU * rate * time - PI / 2.0).sin();
        ph = (ph + TAU * f / SR) % TAU;
        *o = ph.sin() + 0.3 * (2.0 * ph).sin() + 0.15 * (3.0 * ph).sin();
    }
    fade(&mut x, 0.08);
    (x, 1)
}

fn engine(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
    let len = uni(rng, 1.5, 4.0).min(max_s);
    let f0 = uni(rng, 40.0, 70.0);
    let wob = uni(rng, 4.0, 9.0);
    let mut lp = OnePole::lowpass(300.0);
    let mut x = vec![0.0f32; samples_for(len).max(1)];
    let mut ph = 0.0f32;
    let weights: Vec<f32> = (1..=16).map(|k| 1.0 / (k as f32).powf(0.8)).collect();
    for (t, o) in x.iter_mut().enumerate() {
        let time = t as f32 / SR;
        let f = f0 * (1.0 + 0.01 * (TAU * 0.7 * time).sin());
        ph = (ph + TAU * f / SR) % TAU;
        let mut s = 0.0;
        for (k, w) in weights.iter().enumerate() {
            s += w * ((k + 1) as f32 * ph).sin();
        }
        let am = 1.0 + 0.35 * (TAU * wob * time).sin();
        *o = am * s + 3.0 * lp.process(noise(rng));
    }
    fade(&mut x, 0.2);
    (x, 1)
}

fn rain(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
    let len = uni(rng, 1.5, 4.5).min(max_s);
    let n = samples_for(len).max(1);
    let mut hp = Biquad::highpass(uni(rng, 1200.0, 2000.0), 0.7);
    let mut lp = OnePole::lowpass(6000.0);
    let mut x: Vec<f32> = (0..n)
        .map(|_| 0.35 * lp.process(hp.process(noise(rng))))
        .collect();
    let rate = uni(rng, 25.0, 60.0);
    let drops = ((rate * len) as usize).max(1);
    for _ in 0..drops {
        let at = rng.below(n);
        let f = uni(rng, 2000.0, 5000.0);
        let amp = uni(rng, 0.2, 1.0);
        let dl = samples_for(0.006);
        for j in 0..dl.min(n - at) {
            let tt = j as f32 / SR;
            x[at + j] += amp * (TAU * f * tt).sin() * (-tt / 0.0015).exp();
        }
    }
    fade(&mut x, 0.3);
    (x, 1)
}

fn bell(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
    const RATIOS: [f32; 9] = [0.56, 0.92, 1.19, 1.71, 2.0, 2.74, 3.0, 3.76, 4.07];
    const AMPS: [f32; 9] = [1.0, 0.67, 1.0, 1.8, 2.67, 1.67, 1.46, 1.33, 1.33];
    const DECAYS: [f32; 9] = [1.0, 0.9, 0.65, 0.55, 0.325, 0.35, 0.25, 0.2, 0.15];
    let n = 1 + rng.below(3);
    let len = uni(rng, 1.0, 1.4);
    let period = uni(rng, 0.6, 0.9);
    let f0 = uni(rng, 450.0, 800.0);
    pattern(rng, n, len, period, max_s, |rng, out, _| {
        let amp = uni(rng, 0.8, 1.0);
        let m = out.len();
        for k in 0..RATIOS.len() {
            let f = f0 * RATIOS[k];
            let tau = DECAYS[k] * len / 4.0;
            let (dphi, mut ph) = (TAU * f / SR, 0.0f32);
            for (t, o) in out.iter_mut().enumerate().take(m) {
                let tt = t as f32 / SR;
                let env = (tt / 0.002).min(1.0) * (-tt / tau).exp();
                *o += amp * AMPS[k] * env * ph.sin();
                ph = (ph + dphi) % TAU;
            }
        }
    })
}

fn footsteps(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
    let n = 3 + rng.below(5);
    let period = uni(rng, 0.4, 0.6);
    let fc = uni(rng, 1500.0, 2500.0);
    pattern(rng, n, 0.06, period, max_s, |rng, out, i| {
        let mut bp = Biquad::bandpass(fc * uni(rng, 0.9, 1.1), 1.5);
        let amp = if i % 2 == 0 { 1.0 } else { 0.8 };
        for (t, o) in out.iter_mut().enumerate() {
            let tt = t as f32 / SR;
            let click = bp.process(noise(rng)) * (-tt / 0.008).exp();
            let thump = 0.3 * (TAU * 90.0 * tt).sin() * (-tt / 0.02).exp();
            *o += amp * (3.0 * click + thump);
        }
    })
}

fn door_knock(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
    let n = 2 + rng.below(3);
    let period = uni(rng, 0.14, 0.25);
    let f0 = uni(rng, 90.0, 160.0);
    pattern(rng, n, 0.12, period, max_s, |rng, out, _| {
        let mut lp = OnePole::lowpass(800.0);
        let amp = uni(rng, 0.8, 1.0);
        let mut ph = 0.0f32;
        for (t, o) in out.iter_mut().enumerate() {
            let tt = t as f32 / SR;
            let f = f0 * (0.7 + 0.3 * (-tt / 0.03).exp());
            ph = (ph + TAU * f / SR) % TAU;
            let thud = ph.sin() * (-tt / 0.025).exp();
            let click = 4.0 * lp.process(noise(rng)) * (-tt / 0.004).exp();
            *o += amp * (thud + click);
        }
    })
}

fn alarm_beep(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
    let n = 2 + rng.below(5);
    let on = uni(rng, 0.1, 0.25);
    let f = uni(rng, 900.0, 1400.0);
    pattern(rng, n, on, on * 2.0, max_s, |_, out, _| {
        let m = out.len();
        let mut ph = 0.0f32;
        for o in out.iter_mut() {
            ph = (ph + TAU * f / SR) % TAU;
            let mut s = 0.0;
            let mut k = 1;
            while k as f32 * f < 7500.0 {
                s += (k as f32 * ph).sin() / k as f32;
                k += 2;
            }
            *o += s;
        }
        fade(&mut out[..m], 0.003);
    })
}

fn wind(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
    let len = uni(rng, 2.0, 4.5).min(max_s);
    let n = samples_for(len).max(1);
    let swells = 1.0 + rng.below(2) as f32;
    let (lo, hi) = (uni(rng, 150.0, 300.0), uni(rng, 500.0, 900.0));
    let mut lp1 = OnePole::lowpass(lo);
    let mut lp2 = OnePole::lowpass(lo);
    let mut x = vec![0.0f32; n];
    for (t, o) in x.iter_mut().enumerate() {
        let s = (PI * swells * t as f32 / n as f32).sin().powi(2);
        if t % 64 == 0 {
            let fc = lo + (hi - lo) * s;
            lp1.set(fc);
            lp2.set(fc);
        }
        let y = lp2.process(lp1.process(noise(rng)));
        *o = (0.2 + 0.8 * s) * y;
    }
    fade(&mut x, 0.3);
    (x, 1)
}

fn water_drip(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
    let n = 2 + rng.below(5);
    let period = uni(rng, 0.25, 0.5);
    pattern(rng, n, 0.09, period, max_s, |rng, out, _| {
        let f0 = uni(rng, 700.0, 1200.0);
        let amp = uni(rng, 0.6, 1.0);
        let mut ph = 0.0f32;
        for (t, o) in out.iter_mut().enumerate() {
            let tt = t as f32 / SR;
            let f = f0 * (1.0 + (tt / 0.02).min(1.0));
            ph = (ph + TAU * f / SR) % TAU;
            *o += amp * ph.sin() * (tt / 0.001).min(1.0) * (-tt / 0.015).exp();
        }
    })
}

fn speech_babble(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
    const VOWELS: [(f32, f32); 7] = [
        (730.0, 1090.0),
        (270.0, 2290.0),
        (530.0, 1840.0),
        (570.0, 840.0),
        (300.0, 870.0),
        (660.0, 1720.0),
        (440.0, 1020.0),
    ];
    let len = uni(rng, 1.5, 3.5).min(max_s);
    let n = samples_for(len).max(1);
    let mut x = vec![0.0f32; n];
    for _voice in 0..2 {
        let f0 = uni(rng, 100.0, 220.0);
        let into = uni(rng, 0.5, 1.5);
        let mut f1 = Biquad::new();
        let mut f2 = Biquad::new();
        let (mut cur1, mut cur2) = (500.0f32, 1500.0f32);
        let mut ph = 0.0f32;
        let mut t = 0usize;
        while t < n {
            let syl = samples_for(uni(rng, 0.12, 0.25)).max(1);
            let pause = rng.below(5) == 0;
            let (t1, t2) = *rng.choose(&VOWELS);
            let end = (t + syl).min(n);
            for (i, xi) in x.iter_mut().enumerate().take(end).skip(t) {
                if (i - t).is_multiple_of(80) {
                    cur1 += 0.3 * (t1 - cur1);
                    cur2 += 0.3 * (t2 - cur2);
                    f1.set_bandpass(cur1, 5.0);
                    f2.set_bandpass(cur2, 8.0);
                }
                let time = i as f32 / SR;
                let f = f0 * (1.0 + 0.15 * (TAU * into * time).sin());
                ph += f / SR;
                if ph >= 1.0 {
                    ph -= 1.0;
                }
                let src = 2.0 * ph - 1.0;
                let frac = (i - t) as f32 / syl as f32;
                let env = if pause {
                    0.0
                } else {
                    (PI * frac).sin().powf(0.7)
                };
                *xi += env * (f1.process(src) + 0.6 * f2.process(src));
            }
            t = end;
        }
    }
    fade(&mut x, 0.05);
    (x, 1)
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
    reps: u32,
}

impl SceneEvent {
    fn loudness(&self) -> Loudness {
        if self.gain_db >= LOUD_DB as f64 {
            Loudness::Loud
        } else if self.gain_db <= QUIET_DB as f64 {
            Loudness::Quiet
        } else {
            Loudness::Normal
        }
    }
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
        let start_s = start as f64 / SR as f64;
        events.push(SceneEvent {
            ty,
            onset_s: round3(start_s),
            end_s: round3(start_s + len as f64 / SR as f64),
            gain_db,
            reps,
        });
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
    (mix, events)
}

// ---------------------------------------------------------------------------------------------
// Caption grammar
// ---------------------------------------------------------------------------------------------

/// Word lists for one event type. `{adj}` marks where a loudness adjective (with its trailing
/// space) may go; `{n}` a count word.
struct Lexicon {
    /// Subject noun phrases and whether they are plural.
    subjects: &'static [(&'static str, bool)],
    /// Verbs as (third person singular, base, -ing).
    verbs: &'static [(&'static str, &'static str, &'static str)],
    /// Noun phrases naming the sound, and whether they are plural.
    nominals: &'static [(&'static str, bool)],
    /// Plural counted noun phrases (`{n}` = count word), for repeated events.
    counted: &'static [&'static str],
    /// Short name for order questions and whether it is plural.
    short: (&'static str, bool),
    /// Noun phrases for presence questions, and whether they are plural.
    presence: (&'static str, bool),
    /// Count question for countable types.
    count_q: &'static [&'static str],
    /// Descriptions of the sound that do not name the source, for identity questions.
    describe: &'static [&'static str],
    /// Answer to identity questions.
    identity: &'static str,
}

fn lexicon(t: EventType) -> &'static Lexicon {
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

const NUMBER_WORDS: [&str; 13] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve",
];

fn number_word(n: usize) -> String {
    NUMBER_WORDS
        .get(n)
        .map(|s| s.to_string())
        .unwrap_or_else(|| n.to_string())
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A loudness adjective (with trailing space) for `ev`, or "" — drawn with some probability.
/// One of `opts`, uniformly.
fn pick(rng: &mut Rng, opts: &[&'static str]) -> &'static str {
    opts[rng.below(opts.len())]
}

fn adjective(ev: &SceneEvent, rng: &mut Rng) -> &'static str {
    match ev.loudness() {
        Loudness::Loud if rng.below(10) < 7 => pick(rng, &["loud ", "loud ", "nearby "]),
        Loudness::Quiet if rng.below(10) < 7 => pick(rng, &["faint ", "distant ", "quiet "]),
        _ => "",
    }
}

/// A loudness adverb (with leading space) for `ev`, or "".
fn adverb(ev: &SceneEvent, rng: &mut Rng) -> &'static str {
    match ev.loudness() {
        Loudness::Loud if rng.below(10) < 7 => pick(rng, &[" loudly", " loudly", " close by"]),
        Loudness::Quiet if rng.below(10) < 7 => {
            pick(rng, &[" faintly", " in the distance", " softly"])
        }
        _ => "",
    }
}

/// A count adverb (with leading space) true to `ev`'s repetitions, or "".
fn count_adverb(ev: &SceneEvent, rng: &mut Rng) -> String {
    let r = ev.reps as usize;
    if ev.ty.countable() {
        if rng.below(10) >= 7 {
            return String::new();
        }
        match r {
            0 | 1 => {
                if rng.below(2) == 0 {
                    " once".into()
                } else {
                    String::new()
                }
            }
            2 => (*rng.choose(&[" twice", " two times"])).into(),
            3 => (*rng.choose(&[
                " three times",
                " a few times",
                " several times",
                " repeatedly",
            ]))
            .into(),
            _ => {
                let opts = [
                    format!(" {} times", number_word(r)),
                    " several times".into(),
                    " repeatedly".into(),
                    " many times".into(),
                ];
                rng.choose(&opts).clone()
            }
        }
    } else if r >= 3 && ev.ty == EventType::BirdChirp && rng.below(2) == 0 {
        (*rng.choose(&[" repeatedly", " several times", " again and again"])).into()
    } else {
        String::new()
    }
}

/// Replaces `{adj}`, tidying the space when the adjective would precede nothing.
fn fill_adj(t: &str, adj: &str) -> String {
    let s = t.replace("{adj}", adj);
    s.trim_end().to_string()
}

/// "a dog barks twice loudly" — simple present clause.
fn simple_clause(ev: &SceneEvent, rng: &mut Rng) -> String {
    let lx = lexicon(ev.ty);
    let &(subj, plural) = rng.choose(lx.subjects);
    let &(sg, base, _) = rng.choose(lx.verbs);
    let adj = if subj.contains("{adj}") && rng.below(2) == 0 {
        adjective(ev, rng)
    } else {
        ""
    };
    let adv = if adj.is_empty() { adverb(ev, rng) } else { "" };
    let cnt = count_adverb(ev, rng);
    let verb = if plural { base } else { sg };
    // Manner before count ("drips softly four times"); rarely both, to avoid adverb pile-ups.
    let mods = if !adv.is_empty() && !cnt.is_empty() && rng.below(2) == 0 {
        if rng.below(2) == 0 {
            adv.to_string()
        } else {
            cnt
        }
    } else {
        format!("{adv}{cnt}")
    };
    format!("{} {}{}", fill_adj(subj, adj), verb, mods)
}

/// "a dog is barking loudly" — progressive clause.
fn progressive_clause(ev: &SceneEvent, rng: &mut Rng) -> String {
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
        " repeatedly"
    } else {
        ""
    };
    let aux = if plural { "are" } else { "is" };
    format!("{} {} {}{}{}", fill_adj(subj, adj), aux, ing, rep, adv)
}

fn subject_clause(ev: &SceneEvent, rng: &mut Rng) -> String {
    if rng.below(3) == 0 {
        progressive_clause(ev, rng)
    } else {
        simple_clause(ev, rng)
    }
}

/// "barking from a dog" / "three barks from a dog" — noun phrase; returns (text, plural).
fn nominal(ev: &SceneEvent, rng: &mut Rng) -> (String, bool) {
    let lx = lexicon(ev.ty);
    let adj = adjective(ev, rng);
    if !lx.counted.is_empty() && ev.reps >= 2 && rng.below(2) == 0 {
        let t = *rng.choose(lx.counted);
        let n = if ev.reps >= 3 && rng.below(3) == 0 {
            "several".to_string()
        } else {
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
        s.push_str(" repeating");
    }
    (s, plural)
}

fn nom(ev: &SceneEvent, rng: &mut Rng) -> String {
    nominal(ev, rng).0
}

fn overlaps(a: &SceneEvent, b: &SceneEvent) -> bool {
    a.onset_s < b.end_s && b.onset_s < a.end_s
}

/// A caption for one event.
fn frame1(a: &SceneEvent, rng: &mut Rng) -> String {
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
fn frame2(a: &SceneEvent, b: &SceneEvent, rng: &mut Rng) -> String {
    let ov = overlaps(a, b);
    let pause = b.onset_s - a.end_s > 0.3;
    loop {
        let s = match rng.below(17) {
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
                let (bg, fg) = if a.gain_db <= b.gain_db {
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
fn frame3(a: &SceneEvent, b: &SceneEvent, c: &SceneEvent, rng: &mut Rng) -> String {
    loop {
        let s = match rng.below(7) {
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
fn tidy(s: &str) -> String {
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

fn caption_key(s: &str) -> String {
    s.trim_end_matches('.').to_lowercase()
}

/// Five pairwise different captions true to `events` (sorted by onset).
fn captions(events: &[SceneEvent], rng: &mut Rng) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(5);
    let mut keys: Vec<String> = Vec::with_capacity(5);
    let mut tries = 0;
    while out.len() < 5 {
        tries += 1;
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
            out.push(s);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Questions
// ---------------------------------------------------------------------------------------------

fn presence_question(t: EventType, rng: &mut Rng) -> String {
    let (np, plural) = lexicon(t).presence;
    let n = if plural { 3 } else { 4 };
    match rng.below(n) {
        0 => format!("Can you hear {np} in this clip?"),
        1 => format!("Does the recording contain {np}?"),
        2 => format!("Can {np} be heard in the recording?"),
        _ => format!("Is there {np} in the recording?"),
    }
}

fn the_short(t: EventType) -> (String, bool) {
    let (s, pl) = lexicon(t).short;
    (format!("the {s}"), pl)
}

/// 2–4 questions mixing kinds, answers true to `events` (sorted by onset).
fn questions(events: &[SceneEvent], rng: &mut Rng) -> Vec<(String, String, &'static str)> {
    let present: Vec<EventType> = events.iter().map(|e| e.ty).collect();
    let absent: Vec<EventType> = EventType::ALL
        .iter()
        .copied()
        .filter(|t| !present.contains(t))
        .collect();
    let mut kinds: Vec<&'static str> = vec!["presence", "count", "identity"];
    if events.len() >= 2 {
        kinds.push("order");
    }
    rng.shuffle(&mut kinds);
    let want = 2 + rng.below(3);
    let mut out: Vec<(String, String, &'static str)> = Vec::new();
    let mut attempts = 0;
    while out.len() < want && attempts < 50 {
        let kind = kinds[attempts % kinds.len()];
        attempts += 1;
        let (q, a) = match kind {
            "presence" => {
                if !absent.is_empty() && (present.is_empty() || rng.below(2) == 0) {
                    (
                        presence_question(*rng.choose(&absent), rng),
                        "No.".to_string(),
                    )
                } else {
                    (
                        presence_question(*rng.choose(&present), rng),
                        "Yes.".to_string(),
                    )
                }
            }
            "count" => {
                let countable: Vec<&SceneEvent> =
                    events.iter().filter(|e| e.ty.countable()).collect();
                if !countable.is_empty() && rng.below(3) != 0 {
                    let e = *rng.choose(&countable);
                    let q = *rng.choose(lexicon(e.ty).count_q);
                    (
                        q.to_string(),
                        format!("{}.", capitalise(&number_word(e.reps as usize))),
                    )
                } else {
                    let q = *rng.choose(&[
                        "How many distinct sounds can be heard?",
                        "How many different sound events are there?",
                        "How many different kinds of sound occur in the clip?",
                    ]);
                    (
                        q.to_string(),
                        format!("{}.", capitalise(&number_word(events.len()))),
                    )
                }
            }
            "identity" => {
                let e = rng.choose(events);
                let lx = lexicon(e.ty);
                let d = *rng.choose(lx.describe);
                let q = match rng.below(3) {
                    0 => format!("What is making {d}?"),
                    1 => format!("What produces {d}?"),
                    _ => format!("What is the source of {d}?"),
                };
                (q, lx.identity.to_string())
            }
            _ => {
                let i = rng.below(events.len());
                let mut j = rng.below(events.len() - 1);
                if j >= i {
                    j += 1;
                }
                let (x, y) = (&events[i], &events[j]);
                let (xn, xpl) = the_short(x.ty);
                let (yn, _) = the_short(y.ty);
                let first_x = x.onset_s < y.onset_s;
                match rng.below(3) {
                    0 => {
                        let (f, fpl) = if first_x {
                            (xn.clone(), xpl)
                        } else {
                            the_short(y.ty)
                        };
                        (
                            format!("Which sound comes first, {xn} or {yn}?"),
                            format!(
                                "{} {} first.",
                                capitalise(&f),
                                if fpl { "come" } else { "comes" }
                            ),
                        )
                    }
                    1 => {
                        let (l, lpl) = if first_x {
                            the_short(y.ty)
                        } else {
                            (xn.clone(), xpl)
                        };
                        (
                            format!("Which sound comes last, {xn} or {yn}?"),
                            format!(
                                "{} {} last.",
                                capitalise(&l),
                                if lpl { "come" } else { "comes" }
                            ),
                        )
                    }
                    _ => (
                        format!(
                            "{} {xn} start before or after {yn}?",
                            if xpl { "Do" } else { "Does" }
                        ),
                        if first_x {
                            "Before.".to_string()
                        } else {
                            "After.".to_string()
                        },
                    ),
                }
            }
        };
        if !out.iter().any(|(oq, _, _)| *oq == q) {
            out.push((q, a, kind));
        }
    }
    out
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
        let caps = captions(&events, &mut cap_rng);
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
            events: events
                .iter()
                .map(|e| EventRecord {
                    event_type: e.ty.name().to_string(),
                    onset_s: e.onset_s,
                    duration_s: round3(e.end_s - e.onset_s),
                    gain_db: e.gain_db,
                    repetitions: e.reps,
                })
                .collect(),
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
mod tests {
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
            serde_json::from_str(&std::fs::read_to_string(dir.join("synth.json")).unwrap())
                .unwrap();
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
                let rms =
                    (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
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
            reps: 2,
        };
        let b = SceneEvent {
            ty: EventType::Siren,
            onset_s: 2.0,
            end_s: 4.0,
            gain_db: -6.0,
            reps: 1,
        };
        let mut rng = Rng::new(3);
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
            gain_db: -11.0,
            ..b.clone()
        };
        let loud = SceneEvent {
            gain_db: -1.0,
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
}

/// The text of one synthetic clip: its five captions and its questions with answers.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipText {
    pub captions: Vec<String>,
    pub qa: Vec<(String, String)>,
}

/// The text of the synthetic world — every caption, question and answer of `clips` scenes drawn
/// exactly as [`generate`] draws them for `seed` — without writing audio.
pub fn text_world(clips: usize, seed: u64, clip_seconds: f32) -> Vec<ClipText> {
    (0..clips)
        .map(|idx| {
            let mut audio_rng = Rng::derive(seed, &format!("synth-audio-{idx}"));
            let (_, events) = render_scene(&mut audio_rng, clip_seconds);
            let mut cap_rng = Rng::derive(seed, &format!("synth-captions-{idx}"));
            let captions = captions(&events, &mut cap_rng);
            let mut qa_rng = Rng::derive(seed, &format!("synth-qa-{idx}"));
            let qa = questions(&events, &mut qa_rng)
                .into_iter()
                .map(|(q, a, _)| (q, a))
                .collect();
            ClipText { captions, qa }
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
