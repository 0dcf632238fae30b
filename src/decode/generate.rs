//! Batched autoregressive generation over a KV cache from prompt embeddings (text-only prompts
//! or prompts with audio spliced in). Prompts are left-padded; `valid` marks real positions.

use burn::tensor::{Int, Tensor, TensorData};

use super::sampling::{choose, Sampling};
use crate::model::llm::{AttnInputs, KvCache, Llama};
use crate::rng::Rng;

/// Generate up to `max_new` tokens per row; a row stops at the first id in `stops`, which ends
/// its tokens: the stop that ended a row is returned, as transformers' `generate` and
/// [`super::beam`] return it (pinned by `tests/fixtures/hf/llama/greedy_eos.json`); a row without
/// one reached `max_new`. [`split_stop`] gives a reply's text tokens and whether it ended.
/// Row b draws from `rngs[b]`, so a row's output does not depend on what it is batched with.
pub fn generate(
    llm: &Llama,
    prompt: Tensor<3>,
    valid: &[Vec<bool>],
    stops: &[u32],
    max_new: usize,
    sampling: &Sampling,
    rngs: &mut [Rng],
) -> Vec<Vec<u32>> {
    assert_eq!(rngs.len(), valid.len(), "one RNG per row");
    let device = prompt.device();
    let b = valid.len();
    let mut key_valid: Vec<Vec<bool>> = valid.to_vec();
    let positions = crate::model::llm::positions_from_mask(valid);
    let mut next_pos: Vec<usize> = valid
        .iter()
        .map(|v| v.iter().filter(|&&x| x).count())
        .collect();
    let mut cache = KvCache::default();
    let a = AttnInputs::new(&positions, &key_valid, 0, &llm.inv_freq(), &device);
    let h = llm.forward_hidden(prompt, &a, Some(&mut cache));
    let t = h.dims()[1];
    let mut logits = llm.logits(h.narrow(1, t - 1, 1));
    let mut out = vec![Vec::new(); b];
    let mut done = vec![false; b];
    for _ in 0..max_new {
        let chosen = next_tokens(logits, sampling, rngs, &done);
        let mut next = Vec::with_capacity(b);
        for (row, tok) in chosen.into_iter().enumerate() {
            if done[row] {
                next.push(stops.first().copied().unwrap_or(0));
                continue;
            }
            done[row] = stops.contains(&tok);
            out[row].push(tok);
            next.push(tok);
        }
        if done.iter().all(|&d| d) {
            break;
        }
        for kv in key_valid.iter_mut() {
            kv.push(true);
        }
        let ids = Tensor::<2, Int>::from_data(
            TensorData::new(next.iter().map(|&x| x as i64).collect::<Vec<_>>(), [b, 1]),
            &device,
        );
        let pos: Vec<Vec<usize>> = next_pos.iter().map(|&p| vec![p]).collect();
        next_pos.iter_mut().for_each(|p| *p += 1);
        let a = AttnInputs::new(&pos, &key_valid, cache.len, &llm.inv_freq(), &device);
        let h = llm.forward_hidden(llm.embed(ids), &a, Some(&mut cache));
        logits = llm.logits(h);
    }
    out
}

/// Each row's next token from `[B, 1, V]` logits. Greedy takes the argmax on the device, so only
/// B ids cross to the host, not B × V logits (on a GPU that copy and its wait dominated a decode
/// step); ties go to the first index, as with [`super::sampling::argmax`] and torch. Sampling
/// reads each unfinished row's logits on the host, where its own RNG stream draws (so a row's
/// sample does not depend on its batch); finished rows get 0 (ignored by the caller).
fn next_tokens(
    logits: Tensor<3>,
    sampling: &Sampling,
    rngs: &mut [Rng],
    done: &[bool],
) -> Vec<u32> {
    let [b, _, v] = logits.dims();
    if *sampling == Sampling::Greedy {
        return logits
            .argmax(2)
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .expect("argmax ids read back as integers")
            .into_iter()
            .map(|i| i as u32)
            .collect();
    }
    let host: Vec<f32> = crate::model::host_f32(logits);
    (0..b)
        .map(|row| {
            if done[row] {
                0
            } else {
                choose(&host[row * v..(row + 1) * v], sampling, &mut rngs[row])
            }
        })
        .collect()
}

/// A generated row (greedy, sampled or a beam's) split at its end: the reply's tokens without
/// the stop id that ended it, and whether one did (false: cut off at the token limit).
pub fn split_stop<'a>(ids: &'a [u32], stops: &[u32]) -> (&'a [u32], bool) {
    match ids.split_last() {
        Some((last, reply)) if stops.contains(last) => (reply, true),
        _ => (ids, false),
    }
}

/// Left-pad token sequences to one length: (ids `[B, T]`, valid mask).
pub fn left_pad(rows: &[Vec<u32>], pad: u32) -> (Vec<Vec<u32>>, Vec<Vec<bool>>) {
    let t = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(rows.len());
    let mut valid = Vec::with_capacity(rows.len());
    for r in rows {
        let n = t - r.len();
        let mut row = vec![pad; n];
        row.extend_from_slice(r);
        let mut v = vec![false; n];
        v.extend(std::iter::repeat_n(true, r.len()));
        ids.push(row);
        valid.push(v);
    }
    (ids, valid)
}

/// Token prompts of any lengths, left-padded with `pad` and embedded: (`[B, T, D]`, valid mask).
pub fn embed_padded(
    llm: &Llama,
    rows: &[Vec<u32>],
    pad: u32,
    device: &burn::tensor::Device,
) -> (Tensor<3>, Vec<Vec<bool>>) {
    let (ids, valid) = left_pad(rows, pad);
    let (b, t) = (ids.len(), ids.first().map(Vec::len).unwrap_or(0));
    let flat: Vec<i64> = ids
        .iter()
        .flat_map(|r| r.iter().map(|&x| x as i64))
        .collect();
    let x = llm.embed(Tensor::<2, Int>::from_data(
        TensorData::new(flat, [b, t]),
        device,
    ));
    (x, valid)
}

/// Embed prompts that each hold one audio clip: row b is `prompts[b].prefix · audio[b] ·
/// prompts[b].suffix`, left-padded to one length. Returns the embeddings and the valid mask.
pub fn splice_prompts(
    model: &crate::model::audio_llm::AudioLlm,
    prompts: &[crate::text::prompt::AudioPrompt],
    audio: Tensor<3>,
    pad: u32,
) -> (Tensor<3>, Vec<Vec<bool>>) {
    let a = audio.dims()[1];
    let rows: Vec<Vec<u32>> = prompts
        .iter()
        .map(|p| {
            let mut r = p.prefix.clone();
            r.extend(std::iter::repeat_n(pad, a));
            r.extend_from_slice(&p.suffix);
            r
        })
        .collect();
    let (ids, valid) = left_pad(&rows, pad);
    let t = ids[0].len();
    let audio_at: Vec<usize> = rows
        .iter()
        .zip(prompts)
        .map(|(r, p)| t - r.len() + p.prefix.len())
        .collect();
    let batch = crate::model::audio_llm::SplicedBatch {
        ids,
        audio_at,
        valid: valid.clone(),
    };
    (model.splice(&batch, audio), valid)
}

/// Generate replies to prompts that each hold one audio clip (see [`splice_prompts`]).
#[allow(clippy::too_many_arguments)] // `generate`'s arguments plus the audio splice
pub fn generate_with_audio(
    model: &crate::model::audio_llm::AudioLlm,
    prompts: &[crate::text::prompt::AudioPrompt],
    audio: Tensor<3>,
    pad: u32,
    stops: &[u32],
    max_new: usize,
    sampling: &Sampling,
    rngs: &mut [Rng],
) -> Vec<Vec<u32>> {
    let (embeds, valid) = splice_prompts(model, prompts, audio, pad);
    generate(&model.llm, embeds, &valid, stops, max_new, sampling, rngs)
}
