//! The AC/DC model: encoder → adapter → embeddings spliced into the LLM's prompt.

use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};

use super::adapter::Adapter;
use super::encoder::Eat;
use super::llm::{AttnInputs, KvCache, Llama};
use crate::data::features::AudioInput;

#[derive(Module, Debug)]
pub struct AudioLlm {
    pub encoder: Eat,
    pub adapter: Adapter,
    pub llm: Llama,
}

/// A batch of token sequences with audio slots.
///
/// Row b holds `ids[b]` (already padded to one length; the ids at audio positions are ignored),
/// its audio embeddings start at `audio_at[b]`, and `valid[b]` marks real (non-pad) positions.
#[derive(Debug, Clone)]
pub struct SplicedBatch {
    pub ids: Vec<Vec<u32>>,
    pub audio_at: Vec<usize>,
    pub valid: Vec<Vec<bool>>,
}

impl SplicedBatch {
    /// Rotary positions: count of valid tokens before each position (pads take 0).
    pub fn positions(&self) -> Vec<Vec<usize>> {
        super::llm::positions_from_mask(&self.valid)
    }
}

impl AudioLlm {
    /// Audio embeddings for encoder outputs `[B, N, d_enc]` → `[B, N/k, d_llm]`.
    pub fn project(&self, encoded: Tensor<3>) -> Tensor<3> {
        self.adapter.forward(encoded)
    }

    /// Audio embeddings straight from normalised fbank features `[B, frames, mel]`.
    pub fn embed_audio(&self, feats: Tensor<3>) -> Tensor<3> {
        self.adapter.forward(self.encoder.forward(feats))
    }

    /// The audio embeddings of clips `keys` of `audio` (the one audio-embedding step of training,
    /// validation and evaluation): frozen-encoder outputs projected by the adapter, or features
    /// run through the encoder first. `augment` edits each clip's feature rows (`[frames · mel]`)
    /// before the encoder reads them (training's SpecAugment; ignored for encoder outputs).
    /// Err names the first clip `audio` lacks.
    pub fn embed_clips(
        &self,
        audio: AudioInput<'_>,
        keys: &[&str],
        device: &burn::tensor::Device,
        augment: Option<&mut dyn FnMut(&mut [f32])>,
    ) -> Result<Tensor<3>, String> {
        let clips = audio.clips();
        if let Some(k) = keys.iter().find(|k| !clips.contains(k)) {
            return Err(k.to_string());
        }
        Ok(match audio {
            AudioInput::Encoded(m) => self.project(m.batch(keys, device)),
            AudioInput::Features(m) => {
                let mut x = m.clone_batch_host(keys);
                if let Some(edit) = augment {
                    x.chunks_mut(m.rows * m.dim).for_each(edit);
                }
                self.embed_audio(Tensor::from_data(
                    TensorData::new(x, [keys.len(), m.rows, m.dim]),
                    device,
                ))
            }
        })
    }

    /// Input embeddings for a batch: token embeddings with the audio rows spliced in.
    pub fn splice(&self, batch: &SplicedBatch, audio: Tensor<3>) -> Tensor<3> {
        let device = audio.device();
        let b = batch.ids.len();
        let t = batch.ids[0].len();
        let flat: Vec<i64> = batch
            .ids
            .iter()
            .flat_map(|r| r.iter().map(|&x| x as i64))
            .collect();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(flat, [b, t]), &device);
        let mut x = self.llm.embed(ids);
        // The adapter's output joins the LLM's embeddings in the LLM's dtype (bf16 frozen weights).
        let audio = super::to_dtype(audio, x.dtype());
        let [_, a, d] = audio.dims();
        for (row, &at) in batch.audio_at.iter().enumerate() {
            let slice = audio.clone().narrow(0, row, 1);
            x = x.slice_assign([row..row + 1, at..at + a, 0..d], slice);
        }
        x
    }

    /// Logits `[B, T, vocab]` for a spliced batch (training and scoring).
    pub fn forward(&self, batch: &SplicedBatch, audio: Tensor<3>) -> Tensor<3> {
        let device = audio.device();
        let x = self.splice(batch, audio);
        let a = AttnInputs::new(
            &batch.positions(),
            &batch.valid,
            0,
            &self.llm.inv_freq(),
            &device,
        );
        self.llm.forward_embeds(x, &a, None)
    }

    /// Prefill a KV cache with a spliced prompt; returns the last position's logits `[B, vocab]`.
    pub fn prefill(
        &self,
        batch: &SplicedBatch,
        audio: Tensor<3>,
        cache: &mut KvCache,
    ) -> Tensor<2> {
        let device = audio.device();
        let x = self.splice(batch, audio);
        let a = AttnInputs::new(
            &batch.positions(),
            &batch.valid,
            0,
            &self.llm.inv_freq(),
            &device,
        );
        let h = self.llm.forward_hidden(x, &a, Some(cache));
        let t = h.dims()[1];
        self.llm.logits(h.narrow(1, t - 1, 1)).squeeze_dim(1)
    }
}
