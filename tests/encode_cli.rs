//! `acdc encode`: EAT tokens for feature arrays and audio files, equal to the reference on the EAT
//! fixture; bad inputs are named and do not stop the others.

mod common;

use std::path::Path;

use acdc::audio::npy::{read_f32, write_f32};
use acdc::data::synth::write_wav_pcm16;

fn eat_fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eat")
}

/// From the HF directory and from the original fairseq checkpoint alike.
#[test]
fn encodes_feature_arrays_like_the_reference() {
    let f = eat_fixture();
    for encoder in [f.clone(), f.join("fairseq_pretrain.pt")] {
        encode_fixture_inputs(&encoder);
    }
}

fn encode_fixture_inputs(encoder: &Path) {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let f = eat_fixture();
    let o = common::acdc(
        d.path(),
        d.path(),
        &[
            "encode",
            "--encoder",
            encoder.to_str().unwrap(),
            f.join("input_0.npy").to_str().unwrap(),
            f.join("input_1.npy").to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    for i in 0..2 {
        let (got, gs) = read_f32(&out.join(format!("input_{i}.npy"))).unwrap();
        let (want, ws) = read_f32(&f.join(format!("output_{i}.npy"))).unwrap();
        assert_eq!(gs, ws);
        let max = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(max < 1e-4, "{}, input {i}: {max}", encoder.display());
    }
}

/// An encoder that is not there, or a bare safetensors file, is named as the encoder.
#[test]
fn bad_encoder_arguments_are_named() {
    let d = tempfile::tempdir().unwrap();
    let f = eat_fixture();
    let npy = f.join("input_0.npy");
    for (encoder, want) in [
        (
            f.join("model.safetensors").display().to_string(),
            "model directory",
        ),
        (
            "someone/EAT-nowhere".to_string(),
            "not in the Hugging Face cache",
        ),
    ] {
        let o = common::acdc(
            d.path(),
            d.path(),
            &[
                "encode",
                "--encoder",
                &encoder,
                npy.to_str().unwrap(),
                "--out-dir",
                d.path().join("out").to_str().unwrap(),
            ],
        );
        assert!(!o.status.success());
        let e = common::stderr(&o);
        assert!(
            e.contains(&format!("encoder `{encoder}`")) && e.contains(want),
            "{e}"
        );
    }
}

#[test]
fn encodes_audio_padded_or_natural_and_names_bad_inputs() {
    let d = tempfile::tempdir().unwrap();
    let wav = d.path().join("tone.wav");
    let tone: Vec<f32> = (0..16000).map(|i| 0.3 * (i as f32 * 0.2).sin()).collect();
    write_wav_pcm16(&wav, &tone, 16000).unwrap();
    let out = d.path().join("out");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "encode",
            "--encoder",
            "builtin:tiny-eat",
            wav.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        common::acdc(d.path(), d.path(), &args)
    };
    let o = run(&[]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    // 1024 frames → 64 × 8 patches + CLS.
    assert_eq!(read_f32(&out.join("tone.npy")).unwrap().1, vec![513, 32]);
    let o = run(&["--no-pad"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    // 1 s → 98 frames → 6 × 8 patches + CLS.
    assert_eq!(read_f32(&out.join("tone.npy")).unwrap().1, vec![49, 32]);

    let bad = d.path().join("wide.npy");
    write_f32(&bad, &vec![0.0; 20 * 64], &[20, 64]).unwrap();
    let short = d.path().join("short.npy");
    write_f32(&short, &vec![0.0; 8 * 128], &[8, 128]).unwrap();
    let o = run(&[bad.to_str().unwrap(), short.to_str().unwrap()]);
    assert!(!o.status.success());
    let e = common::stderr(&o);
    assert!(e.contains("wide.npy") && e.contains("[20, 64]"), "{e}");
    assert!(e.contains("short.npy") && e.contains("8 frame"), "{e}");
    assert!(e.contains("2 of 3"), "{e}");
    // The good input was still written.
    assert!(common::stdout(&o).contains("tone.npy"));

    let o = common::acdc(
        d.path(),
        d.path(),
        &[
            "encode",
            "--encoder",
            "no/such-eat",
            wav.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    assert!(
        common::stderr(&o).contains("no/such-eat"),
        "{}",
        common::stderr(&o)
    );
}
