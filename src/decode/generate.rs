//! Batched autoregressive generation over a KV cache from prompt embeddings (text-only prompts
//! or prompts with audio spliced in). Prompts are left-padded; `valid` marks real positions.

use burn::tensor::{Int, Tensor, TensorData};

use super::sampling::{choose, choose_on_device, Sampling};
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
    let on_host = crate::model::device::is_host(&prompt.device());
    generate_placed(llm, prompt, valid, stops, max_new, sampling, rngs, on_host)
}

/// [`generate`] with the sampling placement chosen (see [`next_tokens_at`]).
#[allow(clippy::too_many_arguments)] // `generate`'s arguments plus the placement
fn generate_placed(
    llm: &Llama,
    prompt: Tensor<3>,
    valid: &[Vec<bool>],
    stops: &[u32],
    max_new: usize,
    sampling: &Sampling,
    rngs: &mut [Rng],
    on_host: bool,
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
    // Sized for the whole generation: the prompt and every new token (the last is not fed).
    let mut cache = KvCache::with_capacity(valid.first().map_or(0, Vec::len) + max_new);
    let a = AttnInputs::new(&positions, &key_valid, 0, &llm.inv_freq(), &device);
    let h = llm.forward_hidden(prompt, &a, Some(&mut cache));
    let t = h.dims()[1];
    let mut logits = llm.logits(h.narrow(1, t - 1, 1));
    let mut out = vec![Vec::new(); b];
    let mut done = vec![false; b];
    for _ in 0..max_new {
        let chosen = next_tokens_at(logits, sampling, rngs, &done, on_host);
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
/// draws one uniform from each unfinished row's own stream (so a row's sample does not depend on
/// its batch) and picks on the device too ([`super::sampling::choose_on_device`]) — except where
/// the device is the host's memory (the CPU backend), where reading the logits is no transfer
/// and [`super::sampling::choose`]'s f64 pass is exact. Finished rows get 0 (ignored by the
/// caller) and draw nothing. `on_host` chooses the placement (tests run both on the CPU).
fn next_tokens_at(
    logits: Tensor<3>,
    sampling: &Sampling,
    rngs: &mut [Rng],
    done: &[bool],
    on_host: bool,
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
    if !on_host {
        let u: Vec<f64> = rngs
            .iter_mut()
            .zip(done)
            .map(|(r, &d)| if d { 0.0 } else { r.next_f64() })
            .collect();
        let ids = choose_on_device(logits.squeeze_dim::<2>(1), sampling, &u);
        return ids
            .into_iter()
            .zip(done)
            .map(|(id, &d)| if d { 0 } else { id })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::llm::LlamaConfig;
    use burn::tensor::Device;

    /// Sampled generation picks the same tokens with the draw on the device as on the host, for
    /// a left-padded batch whose rows end at different steps.
    #[test]
    fn device_sampling_generates_what_host_sampling_does() {
        let device = Device::flex();
        let m = crate::model::init_seeded(&device, 5, || {
            LlamaConfig::new(50, 32, 64, 2, 4, 2)
                .with_rope_theta(10000.0)
                .init(&device)
        });
        let prompts: Vec<Vec<u32>> = vec![vec![3, 9, 12, 5], vec![7], vec![1, 2, 30, 4, 8, 22]];
        for sampling in [
            Sampling::from_temperature(1.0, 1.0),
            Sampling::from_temperature(0.8, 0.9),
            Sampling::Sample {
                temperature: 1.2,
                top_p: 1.0,
                top_k: 8,
            },
        ] {
            let run = |on_host: bool| {
                let (x, valid) = embed_padded(&m, &prompts, 0, &device);
                let mut rngs: Vec<Rng> = (0..3).map(|i| Rng::new(40 + i)).collect();
                generate_placed(&m, x, &valid, &[11, 17], 12, &sampling, &mut rngs, on_host)
            };
            let host = run(true);
            assert_eq!(run(false), host, "{sampling:?}");
            assert!(host.iter().any(|r| r.len() > 1), "{host:?}");
        }
    }

    /// A row's sampled reply does not depend on the batch it is generated in (its own RNG stream,
    /// its own padding masked out): 64 prompts at once give what two batches of 32 give.
    #[test]
    fn replies_do_not_depend_on_the_batch() {
        let device = Device::flex();
        let m = crate::model::init_seeded(&device, 9, || {
            LlamaConfig::new(50, 32, 64, 2, 4, 2)
                .with_rope_theta(10000.0)
                .init(&device)
        });
        let mut r = Rng::new(1);
        let prompts: Vec<Vec<u32>> = (0..64)
            .map(|_| (0..1 + r.below(12)).map(|_| r.below(50) as u32).collect())
            .collect();
        let sampling = Sampling::from_temperature(1.0, 1.0);
        let run = |rows: &[Vec<u32>], first: usize| {
            let (x, valid) = embed_padded(&m, rows, 0, &device);
            let mut rngs: Vec<Rng> = (0..rows.len())
                .map(|i| Rng::new(100 + (first + i) as u64))
                .collect();
            generate(&m, x, &valid, &[11], 10, &sampling, &mut rngs)
        };
        let whole = run(&prompts, 0);
        let mut halves = run(&prompts[..32], 0);
        halves.extend(run(&prompts[32..], 32));
        assert_eq!(whole, halves);
    }
}
