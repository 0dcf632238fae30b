//! Audio file decoding to mono `f32` waveforms (mirrors `torchaudio.load` + channel mean).
//!
//! Every container/codec enabled in the crate's symphonia features (WAV/PCM, FLAC, MP3,
//! Ogg/Vorbis) is decoded through symphonia 0.6. Integer PCM is scaled the way `torchaudio.load`
//! (normalize=True) scales it: `int16 / 32768`, `int24 / 8388608`, `int32 / 2^31`, `u8 / 128 - 1`;
//! float PCM is taken as is. Multichannel audio is folded to mono by the mean over channels
//! (what EAT's data pipeline does with `wav.mean(0)` / `sf.read(...).mean(-1)`).
//!
//! Decoding never panics on bad input: an unreadable file, an empty file, garbage bytes or a
//! truncated stream all come back as an [`AudioError`] whose message names the file. Audio that
//! is not what it claims is refused too: a WAV or FLAC file with fewer frames than its header
//! declares (cut short), NaN or infinite samples, and (at 16 kHz, [`load_mono_16k`]) a clip
//! shorter than one 25 ms analysis frame, which would be all padding.

use std::fs::File;
use std::io::Cursor;
use std::path::Path;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use super::resample::resample;

/// Sample rate every model-side consumer (EAT fbank) expects.
pub const TARGET_SAMPLE_RATE: u32 = 16_000;

/// Why a file could not be turned into a waveform. Every variant names the file (`path`).
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or read.
    #[error("cannot read audio file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The container was recognised but holds nothing we can decode (no audio track, codec not
    /// enabled, missing sample rate, ...).
    #[error("unsupported audio in {path}: {reason}")]
    Unsupported { path: String, reason: String },
    /// The bytes are not a recognisable audio stream, or the stream is corrupt.
    #[error("cannot decode audio file {path}: {reason}")]
    Decode { path: String, reason: String },
    /// The file (or decoded stream) contains zero samples.
    #[error("audio file {path} contains no samples")]
    Empty { path: String },
    /// A WAV or FLAC file whose data ends before the frames its header declares.
    #[error("audio file {path} is cut short: its header declares {declared} frames, {present} are present")]
    CutShort {
        path: String,
        declared: u64,
        present: u64,
    },
    /// A sample that is NaN or infinite (float PCM can hold them).
    #[error("audio file {path} has a non-finite sample (NaN or infinity) at frame {frame}")]
    NonFinite { path: String, frame: usize },
    /// Fewer 16 kHz samples than one 25 ms analysis frame: its features would be all padding.
    #[error("audio file {path} is {samples} samples long at 16 kHz, shorter than one 25 ms analysis frame ({MIN_SAMPLES_16K} samples)")]
    TooShort { path: String, samples: usize },
}

/// One Kaldi fbank frame at 16 kHz (25 ms): the shortest clip that has any features.
pub const MIN_SAMPLES_16K: usize = 400;

/// A mono waveform with samples in [-1, 1] (float PCM may exceed that range; it is not clipped).
#[derive(Debug, Clone, PartialEq)]
pub struct Waveform {
    /// Mono samples.
    pub samples: Vec<f32>,
    /// Samples per second.
    pub sample_rate: u32,
}

/// Decode an audio file of any enabled format into a mono waveform at its native sample rate.
///
/// The file extension is used as a probe hint only; the container is detected from its content.
pub fn decode_file(path: &Path) -> Result<Waveform, AudioError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| AudioError::Io {
        path: name.clone(),
        source,
    })?;
    let len = file
        .metadata()
        .map_err(|source| AudioError::Io {
            path: name.clone(),
            source,
        })?
        .len();
    if len == 0 {
        return Err(AudioError::Empty { path: name });
    }
    let ext = path.extension().and_then(|e| e.to_str());
    decode_source(Box::new(file), ext, &name)
}

/// Decode an in-memory encoded audio file (e.g. a parquet audio column) into a mono waveform.
///
/// `hint_ext` is an optional file-extension hint ("wav", "flac", ...); `name` identifies the
/// source in error messages.
pub fn decode_bytes(
    bytes: Vec<u8>,
    hint_ext: Option<&str>,
    name: &str,
) -> Result<Waveform, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Empty {
            path: name.to_string(),
        });
    }
    decode_source(Box::new(Cursor::new(bytes)), hint_ext, name)
}

/// Decode a file and resample it to 16 kHz mono (torchaudio `resample` defaults) if needed; a
/// clip shorter than one 25 ms frame at 16 kHz is refused ([`AudioError::TooShort`]).
pub fn load_mono_16k(path: &Path) -> Result<Vec<f32>, AudioError> {
    long_enough(&path.display().to_string(), at_16k(decode_file(path)?))
}

/// A 16 kHz waveform of `name`, unless it is shorter than one 25 ms frame.
pub fn long_enough(name: &str, w: Vec<f32>) -> Result<Vec<f32>, AudioError> {
    if w.len() < MIN_SAMPLES_16K {
        return Err(AudioError::TooShort {
            path: name.to_string(),
            samples: w.len(),
        });
    }
    Ok(w)
}

/// A decoded waveform at 16 kHz (resampled with torchaudio's `resample` defaults if needed).
pub fn at_16k(wav: Waveform) -> Vec<f32> {
    if wav.sample_rate == TARGET_SAMPLE_RATE {
        wav.samples
    } else {
        resample(&wav.samples, wav.sample_rate, TARGET_SAMPLE_RATE)
    }
}

fn decode_err(name: &str, reason: impl std::fmt::Display) -> AudioError {
    AudioError::Decode {
        path: name.to_string(),
        reason: reason.to_string(),
    }
}

fn unsupported(name: &str, reason: impl std::fmt::Display) -> AudioError {
    AudioError::Unsupported {
        path: name.to_string(),
        reason: reason.to_string(),
    }
}

fn is_eof(err: &SymError) -> bool {
    matches!(err, SymError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof)
}

fn decode_source(
    source: Box<dyn MediaSource>,
    hint_ext: Option<&str>,
    name: &str,
) -> Result<Waveform, AudioError> {
    let mss = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = hint_ext {
        hint.with_extension(ext);
    }
    let mut format: Box<dyn FormatReader> = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymError::IoError(ref io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                decode_err(
                    name,
                    format!("truncated or unrecognised audio container ({e})"),
                )
            }
            other => decode_err(
                name,
                format!("unrecognised or corrupt audio container ({other})"),
            ),
        })?;

    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| unsupported(name, "no audio track"))?;
    let track_id = track.id;
    // What the header declares, where it is exact (a WAV's data chunk, FLAC's STREAMINFO); an
    // MP3's or Vorbis' count is an estimate.
    let exact = matches!(format.format_info().short_name, "wave" | "flac");
    let declared = track.num_frames.filter(|_| exact);
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| unsupported(name, "audio track has no audio codec parameters"))?
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| unsupported(name, format!("no decoder for codec ({e})")))?;

    let mut sample_rate: Option<u32> = params.sample_rate;
    let mut mono: Vec<f32> = Vec::new();
    let mut planes: Vec<Vec<f32>> = Vec::new();
    let mut decode_failures = 0usize;
    let mut last_failure = String::new();
    let mut packets = 0usize;

    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A truncated final chunk: keep what was decoded so far (as ffmpeg/libsndfile do).
            Err(ref e) if is_eof(e) => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => return Err(decode_err(name, e)),
        };
        if packet.track_id != track_id {
            continue;
        }
        packets += 1;
        match decoder.decode(&packet) {
            Ok(buf) => {
                if buf.frames() == 0 {
                    continue;
                }
                let rate = buf.spec().rate();
                match sample_rate {
                    None => sample_rate = Some(rate),
                    Some(r) if r != rate && rate != 0 => {
                        return Err(unsupported(
                            name,
                            format!("sample rate changes mid-stream ({r} -> {rate})"),
                        ))
                    }
                    _ => {}
                }
                buf.copy_to_vecs_planar::<f32>(&mut planes);
                let n_ch = planes.len();
                if n_ch == 0 {
                    continue;
                }
                let frames = planes[0].len();
                if n_ch == 1 {
                    mono.extend_from_slice(&planes[0]);
                } else {
                    // Mean over channels: sum in channel order, then divide (torch's `mean(0)`).
                    let n = n_ch as f32;
                    mono.reserve(frames);
                    for i in 0..frames {
                        let mut s = 0.0f32;
                        for p in planes.iter() {
                            s += p[i];
                        }
                        mono.push(s / n);
                    }
                }
            }
            // A corrupt packet (common in damaged MP3s): skip it, like the symphonia examples.
            Err(SymError::DecodeError(msg)) => {
                decode_failures += 1;
                last_failure = msg.to_string();
            }
            Err(ref e) if is_eof(e) => break,
            Err(e) => return Err(decode_err(name, e)),
        }
    }

    if mono.is_empty() {
        if decode_failures > 0 {
            return Err(decode_err(
                name,
                format!("all {decode_failures} of {packets} packets failed to decode (last: {last_failure})"),
            ));
        }
        return Err(AudioError::Empty {
            path: name.to_string(),
        });
    }
    let sample_rate = match sample_rate {
        Some(r) if r > 0 => r,
        _ => return Err(unsupported(name, "stream does not declare a sample rate")),
    };
    if let Some(declared) = declared {
        if (mono.len() as u64) < declared {
            return Err(AudioError::CutShort {
                path: name.to_string(),
                declared,
                present: mono.len() as u64,
            });
        }
    }
    if let Some(frame) = mono.iter().position(|s| !s.is_finite()) {
        return Err(AudioError::NonFinite {
            path: name.to_string(),
            frame,
        });
    }
    Ok(Waveform {
        samples: mono,
        sample_rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static COUNTER: AtomicUsize = AtomicUsize::new(0);

    /// A fresh file path in the system temp dir (unique per process and call).
    fn temp_path(stem: &str, ext: &str) -> PathBuf {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("acdc_audio_test_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(format!("{stem}_{n}.{ext}"))
    }

    /// Minimal RIFF/WAVE writer. `format_tag` 1 = PCM int, 3 = IEEE float.
    fn wav_bytes(format_tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let block_align = channels * bits / 8;
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF");
        v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        v.extend_from_slice(b"WAVE");
        v.extend_from_slice(b"fmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&format_tag.to_le_bytes());
        v.extend_from_slice(&channels.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        v.extend_from_slice(&(rate * block_align as u32).to_le_bytes());
        v.extend_from_slice(&block_align.to_le_bytes());
        v.extend_from_slice(&bits.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    fn i16_data(samples: &[i16]) -> Vec<u8> {
        samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    #[test]
    fn int16_mono_scaled_like_torchaudio() {
        let samples: Vec<i16> = vec![0, 16384, -16384, 32767, -32768, 1, -1, 1000];
        let path = temp_path("mono16", "wav");
        std::fs::write(&path, wav_bytes(1, 1, 16000, 16, &i16_data(&samples))).unwrap();
        let w = decode_file(&path).unwrap();
        assert_eq!(w.sample_rate, 16000);
        assert_eq!(w.samples.len(), samples.len());
        for (a, b) in w.samples.iter().zip(samples.iter()) {
            assert_eq!(*a, *b as f32 / 32768.0);
        }
        // At 16 kHz nothing is resampled; load_mono_16k refuses these 8 samples (shorter than
        // one 25 ms frame).
        assert_eq!(at_16k(w.clone()), w.samples);
        assert!(matches!(
            load_mono_16k(&path),
            Err(AudioError::TooShort { samples: 8, .. })
        ));
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn int16_stereo_is_channel_mean() {
        // Interleaved L,R frames.
        let frames: Vec<(i16, i16)> =
            vec![(1000, 3000), (-32768, 32767), (0, 200), (16384, -16384)];
        let inter: Vec<i16> = frames.iter().flat_map(|&(l, r)| [l, r]).collect();
        let path = temp_path("stereo16", "wav");
        std::fs::write(&path, wav_bytes(1, 2, 22050, 16, &i16_data(&inter))).unwrap();
        let w = decode_file(&path).unwrap();
        assert_eq!(w.sample_rate, 22050);
        assert_eq!(w.samples.len(), frames.len());
        for (got, &(l, r)) in w.samples.iter().zip(frames.iter()) {
            let want = (l as f32 / 32768.0 + r as f32 / 32768.0) * 0.5;
            assert!((got - want).abs() < 1e-7, "{got} vs {want}");
        }
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn float32_wav_and_bytes() {
        let samples: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.01).sin() * 0.7).collect();
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let bytes = wav_bytes(3, 1, 48000, 32, &data);
        let path = temp_path("float32", "wav");
        std::fs::write(&path, &bytes).unwrap();
        let w = decode_file(&path).unwrap();
        assert_eq!(w.sample_rate, 48000);
        assert_eq!(w.samples, samples);
        let wb = decode_bytes(bytes, Some("wav"), "column[3]").unwrap();
        assert_eq!(wb, w);
        // Resampled to 16 kHz: ceil(16000 * 1000 / 48000) = 334 samples.
        assert_eq!(at_16k(w).len(), 334);
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn garbage_is_decode_error_naming_file() {
        let path = temp_path("garbage_input", "wav");
        let junk: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        std::fs::write(&path, &junk).unwrap();
        let err = decode_file(&path).unwrap_err();
        assert!(matches!(err, AudioError::Decode { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("garbage_input"), "{msg}");
        // In-memory too, without a hint.
        let err = decode_bytes(junk, None, "row-17").unwrap_err();
        assert!(err.to_string().contains("row-17"), "{err}");
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn empty_and_missing_files_name_the_file() {
        let path = temp_path("empty_input", "wav");
        std::fs::write(&path, b"").unwrap();
        let err = decode_file(&path).unwrap_err();
        assert!(matches!(err, AudioError::Empty { .. }), "{err:?}");
        assert!(err.to_string().contains("empty_input"));
        std::fs::remove_file(&path).ok();

        let missing = temp_path("missing_input", "wav");
        let err = decode_file(&missing).unwrap_err();
        assert!(matches!(err, AudioError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("missing_input"));

        let err = decode_bytes(Vec::new(), Some("flac"), "blob").unwrap_err();
        assert!(matches!(err, AudioError::Empty { .. }));
    }

    #[test]
    fn wav_with_zero_samples_is_empty() {
        let path = temp_path("zero_samples", "wav");
        std::fs::write(&path, wav_bytes(1, 1, 16000, 16, &[])).unwrap();
        let err = decode_file(&path).unwrap_err();
        assert!(err.to_string().contains("zero_samples"), "{err}");
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn truncated_files_do_not_panic() {
        let samples: Vec<i16> = (0..2000).map(|i| (i * 7 % 3000) as i16).collect();
        let full = wav_bytes(1, 1, 16000, 16, &i16_data(&samples));
        for cut in [4usize, 12, 20, 30, 43, 44, 45, 101, 1001] {
            let path = temp_path("truncated", "wav");
            std::fs::write(&path, &full[..cut]).unwrap();
            // Cut in the header: unreadable; cut in the data: refused as cut short, saying
            // how many frames the header declares.
            match decode_file(&path) {
                Ok(w) => panic!("{cut} bytes decoded to {} samples", w.samples.len()),
                // 45 bytes hold half a sample: nothing decodes.
                Err(e) if cut > 46 => assert!(
                    e.to_string().contains("cut short")
                        && e.to_string().contains("declares 2000 frames"),
                    "{e}"
                ),
                Err(e) => assert!(
                    e.to_string().contains("truncated") || e.to_string().contains("no samples"),
                    "{e}"
                ),
            }
            std::fs::remove_file(&path).ok();
        }
        // Truncated header alone: must be an error.
        let err = decode_bytes(full[..20].to_vec(), Some("wav"), "short.wav").unwrap_err();
        assert!(err.to_string().contains("short.wav"));
    }

    /// Audio that is not what it claims, each refused naming the file and what is wrong: a float
    /// WAV of NaN samples, a data chunk cut short of what the header declares, a clip shorter
    /// than one 25 ms frame.
    #[test]
    fn audio_that_is_not_what_it_claims_is_refused() {
        let nan: Vec<u8> = (0..1600).flat_map(|_| f32::NAN.to_le_bytes()).collect();
        let path = temp_path("nan", "wav");
        std::fs::write(&path, wav_bytes(3, 1, 16000, 32, &nan)).unwrap();
        let e = load_mono_16k(&path).unwrap_err().to_string();
        assert!(
            e.contains(&path.display().to_string()) && e.contains("non-finite"),
            "{e}"
        );

        // The header declares 16000 frames; 8 are present.
        let mut cut = wav_bytes(1, 1, 16000, 16, &i16_data(&[100; 16000]));
        cut.truncate(44 + 16);
        let path = temp_path("cut", "wav");
        std::fs::write(&path, &cut).unwrap();
        let e = load_mono_16k(&path).unwrap_err().to_string();
        assert!(
            e.contains(&path.display().to_string())
                && e.contains("declares 16000 frames, 8 are present"),
            "{e}"
        );

        let path = temp_path("short", "wav");
        std::fs::write(&path, wav_bytes(1, 1, 16000, 16, &i16_data(&[100; 399]))).unwrap();
        let e = load_mono_16k(&path).unwrap_err().to_string();
        assert!(
            e.contains(&path.display().to_string()) && e.contains("shorter than one 25 ms"),
            "{e}"
        );
        // One frame is enough.
        std::fs::write(&path, wav_bytes(1, 1, 16000, 16, &i16_data(&[100; 400]))).unwrap();
        assert_eq!(load_mono_16k(&path).unwrap().len(), 400);
    }
}
