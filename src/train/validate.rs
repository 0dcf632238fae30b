//! Validation loss: the training loss (same prompt, targets and masking) over held-out sets, with
//! the inference copy of the model (no dropout, no SpecAugment, no autodiff graph), every example
//! once in order. Sets are weighted by their scored tokens, as one big batch would weigh them.

use burn::module::Module;
use burn::tensor::Device;

use super::batch;
use super::batch::{masked_loss, TrainSource};
use crate::data::features::AudioInput;
use crate::model::audio_llm::AudioLlm;
use crate::text::prompt::AudioPrompt;

/// One held-out set, tokenised.
pub struct ValSet<'a> {
    pub source: &'a TrainSource,
    /// Response ids per example (end-of-turn included).
    pub responses: Vec<Vec<u32>>,
}

/// Mean per-token loss of each set and over all sets: (`[(name, loss)]`, overall).
#[allow(clippy::too_many_arguments)]
pub fn validation_loss(
    model: &AudioLlm,
    sets: &[ValSet<'_>],
    prompt: &AudioPrompt,
    audio_len: usize,
    audio: AudioInput<'_>,
    pad: u32,
    batch_size: usize,
    device: &Device,
) -> Result<(Vec<(String, f64)>, f64), String> {
    let m = model.valid();
    let mut per_set = Vec::new();
    let (mut all_sum, mut all_tokens) = (0.0f64, 0usize);
    for set in sets {
        let (mut sum, mut tokens) = (0.0f64, 0usize);
        let ex = &set.source.examples;
        for start in (0..ex.len()).step_by(batch_size.max(1)) {
            let end = (start + batch_size.max(1)).min(ex.len());
            let ids: Vec<&str> = ex[start..end]
                .iter()
                .map(|e| e.audio_key.as_str())
                .collect();
            let b = batch::build(prompt, audio_len, &set.responses[start..end], pad);
            let embeds = m
                .embed_clips(audio, &ids, device, None)
                .map_err(|id| format!("no audio features for validation clip `{id}`"))?;
            let loss: f32 = masked_loss(m.forward(&b.spliced, embeds), &b, device).into_scalar();
            sum += loss as f64 * b.scored as f64;
            tokens += b.scored;
        }
        per_set.push((set.source.name.clone(), sum / tokens.max(1) as f64));
        all_sum += sum;
        all_tokens += tokens;
    }
    Ok((per_set, all_sum / all_tokens.max(1) as f64))
}
