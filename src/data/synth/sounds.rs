//! The synthetic world's sound events: DSP helpers (noise, one-pole and biquad filters, fades,
//! repetition patterns) and one procedural synthesiser per event type.

use super::*;

// ---------------------------------------------------------------------------------------------
// DSP helpers
// ---------------------------------------------------------------------------------------------

pub(super) fn samples_for(seconds: f32) -> usize {
    (seconds.max(0.0) * SR).round() as usize
}

pub(super) fn noise(rng: &mut Rng) -> f32 {
    rng.next_f32() * 2.0 - 1.0
}

pub(super) fn uni(rng: &mut Rng, lo: f32, hi: f32) -> f32 {
    rng.uniform(lo as f64, hi as f64) as f32
}

/// One-pole low-pass filter.
pub(super) struct OnePole {
    pub(super) a: f32,
    pub(super) y: f32,
}

impl OnePole {
    pub(super) fn lowpass(fc: f32) -> Self {
        let mut f = OnePole { a: 0.0, y: 0.0 };
        f.set(fc);
        f
    }
    fn set(&mut self, fc: f32) {
        self.a = 1.0 - (-TAU * fc / SR).exp();
    }
    pub(super) fn process(&mut self, x: f32) -> f32 {
        self.y += self.a * (x - self.y);
        self.y
    }
}

/// RBJ biquad (transposed direct form II).
pub(super) struct Biquad {
    pub(super) b0: f32,
    pub(super) b1: f32,
    pub(super) b2: f32,
    pub(super) a1: f32,
    pub(super) a2: f32,
    pub(super) z1: f32,
    pub(super) z2: f32,
}

impl Biquad {
    pub(super) fn new() -> Self {
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
    pub(super) fn bandpass(fc: f32, q: f32) -> Self {
        let mut f = Self::new();
        f.set_bandpass(fc, q);
        f
    }
    pub(super) fn highpass(fc: f32, q: f32) -> Self {
        let mut f = Self::new();
        let w = TAU * fc / SR;
        let (c, alpha) = (w.cos(), w.sin() / (2.0 * q));
        f.coeffs(
            [(1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0],
            [1.0 + alpha, -2.0 * c, 1.0 - alpha],
        );
        f
    }
    pub(super) fn process(&mut self, x: f32) -> f32 {
        let y = self.b0 * x + self.z1;
        self.z1 = self.b1 * x - self.a1 * y + self.z2;
        self.z2 = self.b2 * x - self.a2 * y;
        y
    }
}

/// Linear fade-in and fade-out of `ramp_s` seconds each (shortened for short buffers).
pub(super) fn fade(x: &mut [f32], ramp_s: f32) {
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
pub(super) fn pattern(
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

pub(super) fn dog_bark(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
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

pub(super) fn bird_chirp(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
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

pub(super) fn siren(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
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

pub(super) fn engine(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
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

pub(super) fn rain(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
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

pub(super) fn bell(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
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

pub(super) fn footsteps(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
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

pub(super) fn door_knock(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
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

pub(super) fn alarm_beep(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
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

pub(super) fn wind(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
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

pub(super) fn water_drip(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
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

pub(super) fn speech_babble(rng: &mut Rng, max_s: f32) -> (Vec<f32>, u32) {
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
