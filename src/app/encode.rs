//! `acdc encode`: EAT encoder outputs for audio files or feature arrays, as EAT's own
//! feature-extraction script gives them — the last layer's tokens `[tokens, dim]`, CLS first.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::tensor::{Device, Tensor, TensorData};

use crate::audio::{
    decode::load_mono_16k,
    fbank::{eat_input, FbankConfig},
    npy,
};

/// Encode every input into `out_dir` (`target_frames` = 0 keeps audio at its natural length).
pub fn encode(
    home: &Path,
    encoder: &str,
    inputs: &[PathBuf],
    out_dir: &Path,
    target_frames: usize,
) -> Result<String> {
    let device = Device::flex();
    if encoder == "builtin:tiny-eat-events" {
        crate::train::pretrain_encoder::ensure_tiny_eat_events(home, &mut |_, _, _| {})?;
    }
    let (cfg, eat) = crate::model::backbone::load_encoder(encoder, home, &device)?;
    let fbank = FbankConfig::default();
    super::per_file(inputs, out_dir, |input, dest| {
        let (feats, frames) = if input.extension().is_some_and(|e| e == "npy") {
            let (x, shape) = npy::read_f32(input)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("{}", input.display()))?;
            if shape.len() != 2 || shape[1] != cfg.mel_bins {
                bail!(
                    "{}: expected a float32 [frames, {}] feature array, found shape {shape:?}",
                    input.display(),
                    cfg.mel_bins
                );
            }
            (x, shape[0])
        } else {
            let w = load_mono_16k(input)?;
            eat_input(&w, &fbank, target_frames, true)
        };
        if frames < cfg.patch {
            bail!(
                "{}: {frames} frame(s), fewer than one {}-frame patch",
                input.display(),
                cfg.patch
            );
        }
        let tokens = eat.forward(Tensor::<3>::from_data(
            TensorData::new(feats, [1, frames, cfg.mel_bins]),
            &device,
        ));
        let [_, n, d] = tokens.dims();
        npy::write_f32(dest, &crate::model::host_f32(tokens), &[n, d])
            .with_context(|| format!("{}: cannot write", dest.display()))?;
        Ok(format!("{} [{n}, {d}]", dest.display()))
    })
}
