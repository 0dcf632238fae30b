//! `acdc features` and the shared feature cache.

mod common;

use acdc::audio::npy::read_f32;
use acdc::data::synth::write_wav_pcm16;

fn tone(seconds: f32) -> Vec<f32> {
    (0..(16000.0 * seconds) as usize)
        .map(|i| 0.3 * (i as f32 * 0.2).sin())
        .collect()
}

#[test]
fn writes_npy_features_raw_and_padded() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("clip_a.wav");
    write_wav_pcm16(&a, &tone(1.0), 16000).unwrap();
    let out = d.path().join("out");
    let o = common::acdc(
        d.path(),
        d.path(),
        &[
            "features",
            a.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let (norm, shape) = read_f32(&out.join("clip_a.npy")).unwrap();
    assert_eq!(shape, vec![1024, 128]);
    // Padded rows are zero log-mel, normalised.
    assert!((norm[1023 * 128] - 4.268 / 9.138).abs() < 1e-6);

    let o = common::acdc(
        d.path(),
        d.path(),
        &[
            "features",
            a.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
            "--raw",
            "--no-pad",
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let (raw, shape) = read_f32(&out.join("clip_a.npy")).unwrap();
    assert_eq!(shape, vec![98, 128], "1 s at 10 ms hops with 25 ms frames");
    for (r, n) in raw.iter().zip(&norm) {
        assert!(((r + 4.268) / 9.138 - n).abs() < 1e-5);
    }
}

#[test]
fn bad_files_are_named_and_good_ones_still_written() {
    let d = tempfile::tempdir().unwrap();
    let good = d.path().join("good.wav");
    write_wav_pcm16(&good, &tone(0.5), 16000).unwrap();
    let bad = d.path().join("broken.wav");
    std::fs::write(&bad, b"RIFF....WAVEjunk").unwrap();
    let empty = d.path().join("empty.flac");
    std::fs::write(&empty, b"").unwrap();
    let out = d.path().join("out");
    let o = common::acdc(
        d.path(),
        d.path(),
        &[
            "features",
            good.to_str().unwrap(),
            bad.to_str().unwrap(),
            empty.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    let e = common::stderr(&o);
    assert!(
        e.contains("broken.wav") && e.contains("empty.flac") && e.contains("2 of 3"),
        "{e}"
    );
    assert!(out.join("good.npy").exists());
}

fn lim(target_frames: usize) -> acdc::data::features::AudioLimits {
    acdc::data::features::AudioLimits {
        target_frames,
        max_seconds: 0.0,
    }
}

#[test]
fn nan_samples_and_overlong_clips_are_refused_by_name() {
    let d = tempfile::tempdir().unwrap();
    // A float32 WAV holding a NaN.
    let mut data = Vec::new();
    for i in 0..800 {
        let v: f32 = if i == 100 { f32::NAN } else { 0.1 };
        data.extend_from_slice(&v.to_le_bytes());
    }
    let mut wav = b"RIFF".to_vec();
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&3u16.to_le_bytes()); // IEEE float
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&16000u32.to_le_bytes());
    wav.extend_from_slice(&64000u32.to_le_bytes());
    wav.extend_from_slice(&4u16.to_le_bytes());
    wav.extend_from_slice(&32u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    let nan = d.path().join("nan.wav");
    std::fs::write(&nan, wav).unwrap();
    let long = d.path().join("long.wav");
    write_wav_pcm16(&long, &tone(2.0), 16000).unwrap();
    let clips = vec![("n".to_string(), nan), ("l".to_string(), long)];
    let (ok, failures) = acdc::data::features::extract(
        &clips,
        acdc::data::features::AudioLimits {
            target_frames: 64,
            max_seconds: 1.5,
        },
        None,
        &|_| {},
    );
    assert!(ok.is_empty());
    let msgs: Vec<&String> = failures.iter().map(|(_, m)| m).collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("nan.wav") && m.contains("non-finite")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("long.wav") && m.contains("max_audio_seconds")),
        "{msgs:?}"
    );
}

#[test]
fn feature_cache_is_reused_and_survives_corruption() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a.wav");
    write_wav_pcm16(&a, &tone(0.5), 16000).unwrap();
    let clips = vec![("a".to_string(), a.clone())];
    let cache = d.path().join("cache");
    let (first, f1) = acdc::data::features::extract(&clips, lim(64), Some(&cache), &|_| {});
    assert!(f1.is_empty());
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1);
    let a1 = first.clone_batch_host(&["a"]);
    let (second, _) = acdc::data::features::extract(&clips, lim(64), Some(&cache), &|_| {});
    assert_eq!(a1, second.clone_batch_host(&["a"]));
    // Without a cache the same features are held in memory.
    let (held, _) = acdc::data::features::extract(&clips, lim(64), None, &|_| {});
    assert_eq!(a1, held.clone_batch_host(&["a"]));
    // A corrupt or truncated entry is recomputed, not trusted.
    let good = std::fs::read(&entries[0]).unwrap();
    for bad in [b"garbage".to_vec(), good[..good.len() - 4].to_vec()] {
        std::fs::write(&entries[0], bad).unwrap();
        let (again, _) = acdc::data::features::extract(&clips, lim(64), Some(&cache), &|_| {});
        assert_eq!(a1, again.clone_batch_host(&["a"]));
    }
    // Different settings, different entry.
    acdc::data::features::extract(&clips, lim(32), Some(&cache), &|_| {});
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 2);
}

/// Natural-length features (`target_frames = 0`) read from the cache are padded to the longest
/// clip at read time exactly as the in-memory ones are.
#[test]
fn cached_natural_length_features_pad_like_held_ones() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a.wav");
    let b = d.path().join("b.wav");
    write_wav_pcm16(&a, &tone(0.5), 16000).unwrap();
    write_wav_pcm16(&b, &tone(1.2), 16000).unwrap();
    let clips = vec![("a".to_string(), a), ("b".to_string(), b)];
    let cache = d.path().join("cache");
    let (cached, _) = acdc::data::features::extract(&clips, lim(0), Some(&cache), &|_| {});
    let (held, _) = acdc::data::features::extract(&clips, lim(0), None, &|_| {});
    assert_eq!((cached.rows, cached.dim), (held.rows, held.dim));
    assert!(
        cached.rows > 100,
        "padded to the longer clip: {}",
        cached.rows
    );
    assert_eq!(
        cached.clone_batch_host(&["a", "b"]),
        held.clone_batch_host(&["a", "b"])
    );
    assert_eq!(cached.ids(), vec!["a", "b"]);
}

#[test]
fn unsupported_codec_is_named() {
    // A WAV whose fmt chunk says MS-ADPCM (format 2), a codec this build does not decode.
    let d = tempfile::tempdir().unwrap();
    let mut wav = b"RIFF".to_vec();
    let data = vec![0u8; 512];
    wav.extend_from_slice(&(36 + 4 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&20u32.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes()); // MS ADPCM
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&16000u32.to_le_bytes());
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&256u16.to_le_bytes());
    wav.extend_from_slice(&4u16.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&500u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    let p = d.path().join("adpcm.wav");
    std::fs::write(&p, wav).unwrap();
    let e = acdc::audio::decode::decode_file(&p)
        .unwrap_err()
        .to_string();
    assert!(e.contains("adpcm.wav"), "{e}");
}
