//! WAV sample formats beyond the fixtures' int16/int24/float32: 8-bit unsigned, 32-bit integer
//! and 64-bit float PCM decode to torchaudio's scaling (u8: (x − 128) / 128, i32: x / 2³¹).

use acdc::audio::decode::decode_file;

fn wav(format: u16, bits: u16, channels: u16, data: &[u8]) -> Vec<u8> {
    let block = channels * bits / 8;
    let mut w = b"RIFF".to_vec();
    w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&format.to_le_bytes());
    w.extend_from_slice(&channels.to_le_bytes());
    w.extend_from_slice(&16000u32.to_le_bytes());
    w.extend_from_slice(&(16000 * block as u32).to_le_bytes());
    w.extend_from_slice(&block.to_le_bytes());
    w.extend_from_slice(&bits.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(data);
    w
}

fn decode(bytes: Vec<u8>, name: &str) -> Vec<f32> {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    let w = decode_file(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(w.sample_rate, 16000);
    w.samples
}

#[test]
fn unsigned_8_bit() {
    let got = decode(wav(1, 8, 1, &[0, 64, 128, 192, 255]), "u8.wav");
    let want = [-1.0, -0.5, 0.0, 0.5, 127.0 / 128.0];
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-6, "{got:?}");
    }
}

#[test]
fn signed_32_bit_stereo_is_averaged() {
    let vals: [i32; 4] = [i32::MIN, 0, 1 << 30, -(1 << 30)];
    let data: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let got = decode(wav(1, 32, 2, &data), "i32.wav");
    assert_eq!(got.len(), 2);
    assert!(
        (got[0] - (-0.5)).abs() < 1e-6 && got[1].abs() < 1e-6,
        "{got:?}"
    );
}

#[test]
fn float_64_bit() {
    let vals = [0.25f64, -0.75, 1.0];
    let data: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let got = decode(wav(3, 64, 1, &data), "f64.wav");
    assert_eq!(got, vec![0.25, -0.75, 1.0]);
}
