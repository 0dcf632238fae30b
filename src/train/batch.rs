//! Training batches: `[prefix] [audio slot] [suffix] [response <eot>]`, right-padded, with the
//! loss on the response tokens (and the end-of-turn token) only; the sources batches are drawn
//! from and the loss over a batch's scored positions.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::data::TargetExample;
use crate::model::audio_llm::SplicedBatch;
use crate::text::prompt::AudioPrompt;

/// A batch ready for the model.
#[derive(Debug, Clone)]
pub struct TrainBatch {
    pub spliced: SplicedBatch,
    /// Next-token target at each position (pad where not scored).
    pub targets: Vec<Vec<u32>>,
    /// 1.0 where the position's next token is scored.
    pub mask: Vec<Vec<f32>>,
    /// Scored tokens in the batch.
    pub scored: usize,
}

/// Longest response kept (tokens, end-of-turn included).
pub const MAX_RESPONSE_TOKENS: usize = 512;

/// Build a batch from responses (already tokenised, end-of-turn included), all with one prompt.
pub fn build(
    prompt: &AudioPrompt,
    audio_len: usize,
    responses: &[Vec<u32>],
    pad: u32,
) -> TrainBatch {
    build_prompted(&vec![prompt; responses.len()], audio_len, responses, pad)
}

/// Build a batch where row b has its own prompt `prompts[b]` (e.g. instruction-tuning rows with
/// their question beside dialogue rows with none); each row's audio starts after its prefix.
pub fn build_prompted(
    prompts: &[&AudioPrompt],
    audio_len: usize,
    responses: &[Vec<u32>],
    pad: u32,
) -> TrainBatch {
    let rows: Vec<(Vec<u32>, Vec<u32>)> = prompts
        .iter()
        .zip(responses)
        .map(|(p, r)| {
            let mut head = p.prefix.clone();
            head.extend(std::iter::repeat_n(pad, audio_len));
            head.extend_from_slice(&p.suffix);
            (head, r.clone())
        })
        .collect();
    let mut b = build_rows(&rows, 0, pad);
    b.spliced.audio_at = prompts.iter().map(|p| p.prefix.len()).collect();
    b
}

/// Build a batch of (prompt, response) rows, each with its own prompt; the loss covers each
/// response. `audio_at` is where audio embeddings go (ignored by text-only callers).
pub fn build_rows(rows: &[(Vec<u32>, Vec<u32>)], audio_at: usize, pad: u32) -> TrainBatch {
    let heads: Vec<usize> = rows.iter().map(|(p, _)| p.len()).collect();
    let rows: Vec<Vec<u32>> = rows
        .iter()
        .map(|(p, r)| {
            let mut ids = p.clone();
            ids.extend_from_slice(&r[..r.len().min(MAX_RESPONSE_TOKENS)]);
            ids
        })
        .collect();
    let t = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut ids = Vec::new();
    let mut valid = Vec::new();
    let mut targets = Vec::new();
    let mut mask = Vec::new();
    let mut scored = 0;
    for (r, head) in rows.into_iter().zip(heads) {
        let n = r.len();
        let mut tg = vec![pad; t];
        let mut m = vec![0.0f32; t];
        // Position p predicts token p + 1; response tokens sit at head..n.
        for p in head.saturating_sub(1)..n - 1 {
            tg[p] = r[p + 1];
            m[p] = 1.0;
            scored += 1;
        }
        let mut row = r;
        row.resize(t, pad);
        let mut v = vec![true; n];
        v.resize(t, false);
        ids.push(row);
        valid.push(v);
        targets.push(tg);
        mask.push(m);
    }
    let audio_at = vec![audio_at; ids.len()];
    TrainBatch {
        spliced: SplicedBatch {
            ids,
            audio_at,
            valid,
        },
        targets,
        mask,
        scored,
    }
}

/// One weighted source of training examples.
#[derive(Debug, Clone)]
pub struct TrainSource {
    pub name: String,
    pub examples: Vec<TargetExample>,
    pub weight: f64,
}

/// Mean cross-entropy over the scored positions. `[B,T,V]` logits → scalar.
pub fn masked_loss(logits: Tensor<3>, b: &TrainBatch, device: &Device) -> Tensor<1> {
    masked_loss_over(logits, b, device, b.scored)
}

/// Summed cross-entropy over the batch's scored positions divided by `scored`: the scored tokens
/// of the whole optimizer step, so that micro-batches of a gradient-accumulation step add up to
/// the token mean over all of them (as one large batch, and transformers' `num_items_in_batch`).
pub fn masked_loss_over(
    logits: Tensor<3>,
    b: &TrainBatch,
    device: &Device,
    scored: usize,
) -> Tensor<1> {
    let [bs, t, _] = logits.dims();
    // The loss is taken in f32 whatever dtype the frozen LLM computes in.
    let logits = crate::model::to_dtype(logits, burn::tensor::DType::F32);
    let tg: Vec<i64> = b
        .targets
        .iter()
        .flat_map(|r| r.iter().map(|&x| x as i64))
        .collect();
    let tg = Tensor::<3, Int>::from_data(TensorData::new(tg, [bs, t, 1]), device);
    let mask: Vec<f32> = b.mask.iter().flatten().copied().collect();
    let mask = Tensor::<2>::from_data(TensorData::new(mask, [bs, t]), device);
    let picked: Tensor<2> = log_softmax(logits, 2).gather(2, tg).squeeze_dim(2);
    (picked * mask).sum().neg().div_scalar(scored.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_covers_exactly_the_response() {
        let p = AudioPrompt {
            prefix: vec![1, 2],
            suffix: vec![3],
        };
        let b = build(&p, 2, &[vec![7, 8, 9], vec![7]], 0);
        // row 0: [1 2 0 0 3 7 8 9]; position 4 (the `3`) predicts 7 … position 6 predicts 9.
        assert_eq!(b.spliced.ids[0], vec![1, 2, 0, 0, 3, 7, 8, 9]);
        assert_eq!(b.mask[0], vec![0., 0., 0., 0., 1., 1., 1., 0.]);
        assert_eq!(&b.targets[0][4..7], &[7, 8, 9]);
        assert_eq!(b.mask[1], vec![0., 0., 0., 0., 1., 0., 0., 0.]);
        assert_eq!(
            b.spliced.valid[1],
            vec![true, true, true, true, true, true, false, false]
        );
        assert_eq!(b.scored, 4);
    }

    #[test]
    fn rows_with_their_own_prompts() {
        let dialogue = AudioPrompt {
            prefix: vec![1, 2],
            suffix: vec![3],
        };
        let qa = AudioPrompt {
            prefix: vec![1, 2],
            suffix: vec![5, 6, 3],
        };
        let b = build_prompted(&[&dialogue, &qa], 1, &[vec![7, 8], vec![9]], 0);
        assert_eq!(b.spliced.ids[0], vec![1, 2, 0, 3, 7, 8, 0]);
        assert_eq!(b.spliced.ids[1], vec![1, 2, 0, 5, 6, 3, 9]);
        assert_eq!(b.spliced.audio_at, vec![2, 2]);
        // The loss covers each row's own response only.
        assert_eq!(b.mask[0], vec![0., 0., 0., 1., 1., 0., 0.]);
        assert_eq!(b.mask[1], vec![0., 0., 0., 0., 0., 1., 0.]);
        assert_eq!(b.targets[1][5], 9);
        assert_eq!(b.scored, 3);
    }
}
