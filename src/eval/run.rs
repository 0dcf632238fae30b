//! The evaluation stage: decode every evaluation item with the trained model and score it —
//! captioning sets with BLEU-1..4, ROUGE-L and CIDEr-D (PTB-style tokenisation), QA sets with
//! token-F1 and exact match. Every prediction is returned for the store.

use burn::tensor::{Device, Tensor};

use super::caption_metrics::{score_captions, CaptionItem as ScoredCaption, CaptionTokenizer};
use super::qa_metrics::{exact_match, token_f1};
use crate::data::features::AudioInput;
use crate::data::synth::probes::{Expected, ProbeItem, PROBE_KINDS};
use crate::decode::{embed_padded, generate, generate_with_audio, split_stop, Sampling};
use crate::model::audio_llm::AudioLlm;
use crate::model::backbone::Backbone;
use crate::model::llm::Llama;
use crate::rng::Rng;
use crate::spec::RunConfig;
use crate::store::records::{EvalScore, ItemScore, Prediction};
use crate::text::prompt::{audio_prompt, AudioPrompt};

pub use crate::data::run_data::EvalSet;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("evaluation `{task}`: {message}")]
    Task { task: String, message: String },
}

/// Items decoded per forward pass.
pub const EVAL_BATCH: usize = 16;

/// Who answers an evaluation set: the trained audio model, or a reference row's backbone alone.
#[derive(Clone, Copy)]
pub enum Answerer<'a> {
    /// The run's trained model with the clips' audio.
    Audio {
        model: &'a AudioLlm,
        audio: AudioInput<'a>,
    },
    /// The backbone given each clip's description as text where the audio would be
    /// (`reference = "text-oracle"`): `texts` maps an audio key to the text.
    TextOracle {
        llm: &'a Llama,
        texts: &'a std::collections::HashMap<String, String>,
    },
    /// The backbone with nothing where the audio would be (`reference = "no-audio"`).
    NoAudio { llm: &'a Llama },
}

impl Answerer<'_> {
    fn llm(&self) -> &Llama {
        match self {
            Answerer::Audio { model, .. } => &model.llm,
            Answerer::TextOracle { llm, .. } | Answerer::NoAudio { llm } => llm,
        }
    }
}

/// One output to decode: the clip's audio key, the instruction after the audio, and the prompt
/// ids around the audio slot.
#[derive(Debug, Clone)]
pub struct Row {
    pub audio: String,
    pub instruction: Option<String>,
    pub prompt: AudioPrompt,
}

/// Prompt embeddings of `rows` as `answerer` reads them: audio spliced in, the captions as text,
/// or nothing between the ids around the audio slot.
fn prompt_embeds(
    answerer: &Answerer<'_>,
    backbone: &Backbone,
    rows: &[Row],
    device: &Device,
) -> Result<(Tensor<3>, Vec<Vec<bool>>), EvalError> {
    let pad = backbone.tokenizer.pad;
    match answerer {
        Answerer::Audio { model, audio } => {
            let keys: Vec<&str> = rows.iter().map(|r| r.audio.as_str()).collect();
            let prompts: Vec<AudioPrompt> = rows.iter().map(|r| r.prompt.clone()).collect();
            let a = audio_embeds(model, *audio, &keys, device)?;
            Ok(crate::decode::splice_prompts(model, &prompts, a, pad))
        }
        Answerer::TextOracle { llm, texts } => {
            let ids = rows
                .iter()
                .map(|r| {
                    let text = texts
                        .get(&r.audio)
                        .cloned()
                        .ok_or_else(|| EvalError::Task {
                            task: "text-oracle".into(),
                            message: format!("no description known for audio {}", r.audio),
                        })?;
                    let user = match &r.instruction {
                        Some(q) => format!("{text} {q}"),
                        None => text,
                    };
                    crate::text::prompt::text_prompt(&backbone.tokenizer, &backbone.chat, &user)
                        .map_err(|e| EvalError::Task {
                            task: "text-oracle".into(),
                            message: format!("{}: {e}", r.audio),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(embed_padded(llm, &ids, pad, device))
        }
        Answerer::NoAudio { llm } => {
            let ids: Vec<Vec<u32>> = rows
                .iter()
                .map(|r| [r.prompt.prefix.as_slice(), &r.prompt.suffix].concat())
                .collect();
            Ok(embed_padded(llm, &ids, pad, device))
        }
    }
}

/// The clips' audio embeddings ([`AudioLlm::embed_clips`]).
fn audio_embeds(
    model: &AudioLlm,
    audio: AudioInput<'_>,
    keys: &[&str],
    device: &Device,
) -> Result<Tensor<3>, EvalError> {
    model
        .embed_clips(audio, keys, device, None)
        .map_err(|clip| EvalError::Task {
            task: "audio".into(),
            message: format!("no audio features for clip `{clip}`"),
        })
}

/// Decode every row with `answerer` and `cfg.decode`'s beams and length limit: each output,
/// and whether it was cut off at `decode.max_new_tokens`.
pub fn decode_all(
    answerer: &Answerer<'_>,
    backbone: &Backbone,
    cfg: &RunConfig,
    rows: &[Row],
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<(String, bool)>, EvalError> {
    let stops = backbone.stop_ids();
    if cfg.decode.beams > 1 {
        // Beam search over chunks of items: the K beams of each item run as one batch of items·K rows.
        let beam = crate::decode::beam::BeamConfig {
            beams: cfg.decode.beams,
            num_return: 1,
            length_penalty: 1.0,
            early_stopping: false,
            max_new: cfg.decode.max_new_tokens,
        };
        let per_chunk = (EVAL_BATCH / cfg.decode.beams).max(1);
        let mut out = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(per_chunk) {
            let (embeds, valid) = prompt_embeds(answerer, backbone, chunk, device)?;
            for best in crate::decode::beam::beam_search_batch(
                answerer.llm(),
                embeds,
                &valid,
                &stops,
                &beam,
            ) {
                let toks = best
                    .into_iter()
                    .next()
                    .map(|h| h.tokens)
                    .unwrap_or_default();
                let (reply, ended) = split_stop(&toks, &stops);
                out.push((backbone.tokenizer.decode(reply).trim().to_string(), !ended));
            }
            progress(chunk.len());
        }
        return Ok(out);
    }
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(EVAL_BATCH) {
        let mut rngs: Vec<Rng> = (0..chunk.len()).map(|_| Rng::new(0)).collect();
        let ids = if let Answerer::Audio { model, audio } = answerer {
            let keys: Vec<&str> = chunk.iter().map(|r| r.audio.as_str()).collect();
            let prompts: Vec<AudioPrompt> = chunk.iter().map(|r| r.prompt.clone()).collect();
            let a = audio_embeds(model, *audio, &keys, device)?;
            generate_with_audio(
                model,
                &prompts,
                a,
                backbone.tokenizer.pad,
                &stops,
                cfg.decode.max_new_tokens,
                &Sampling::Greedy,
                &mut rngs,
            )
        } else {
            let (embeds, valid) = prompt_embeds(answerer, backbone, chunk, device)?;
            generate(
                answerer.llm(),
                embeds,
                &valid,
                &stops,
                cfg.decode.max_new_tokens,
                &Sampling::Greedy,
                &mut rngs,
            )
        };
        // A row that did not end with a stop id was cut at max_new_tokens.
        out.extend(ids.iter().map(|r| {
            let (reply, ended) = split_stop(r, &stops);
            (backbone.tokenizer.decode(reply).trim().to_string(), !ended)
        }));
        progress(chunk.len());
    }
    Ok(out)
}

/// Decoding rows of questions about audio: (audio key, prompt with the question after the audio)
/// for each (item id, audio key, question); a question the template cannot take names its item.
fn question_rows<'a>(
    backbone: &Backbone,
    task: &str,
    items: impl Iterator<Item = (&'a str, String, &'a str)>,
) -> Result<Vec<Row>, EvalError> {
    items
        .map(|(id, audio, question)| {
            audio_prompt(&backbone.tokenizer, &backbone.chat, Some(question))
                .map(|prompt| Row {
                    audio,
                    instruction: Some(question.to_string()),
                    prompt,
                })
                .map_err(|e| EvalError::Task {
                    task: task.to_string(),
                    message: format!("{id}: {e}"),
                })
        })
        .collect()
}

/// Outputs an earlier attempt of the same run recorded, to score instead of decoding again:
/// `task → item id → (prompt, output, cut off)`. The caller vouches that they came from the same
/// weights and code; an item is reused only when its prompt is still the same.
pub type RecordedOutputs =
    std::collections::HashMap<String, std::collections::HashMap<String, (String, String, bool)>>;

/// Index stored predictions for [`evaluate`].
pub fn recorded_outputs(preds: Vec<Prediction>) -> RecordedOutputs {
    let mut out = RecordedOutputs::new();
    for p in preds {
        out.entry(p.task)
            .or_default()
            .insert(p.item_id, (p.prompt, p.output, p.cut_off));
    }
    out
}

/// One evaluation set's scores, the item scores behind those that are means over items,
/// predictions, and how many outputs were reused rather than decoded.
#[derive(Debug)]
pub struct SetEvaluation {
    pub scores: Vec<EvalScore>,
    /// Per item: CIDEr-D and ROUGE-L of captions, token-F1 and exact match of answers, each
    /// probe's verdict (1/0 under its kind) and `captioning_recall`.
    pub items: Vec<ItemScore>,
    pub predictions: Vec<Prediction>,
    pub reused: usize,
    /// Outputs scored that hit `decode.max_new_tokens` before an end of turn (cut off), whether
    /// decoded here or recorded by an earlier attempt.
    pub truncated: usize,
}

/// What decoding an evaluation set needs, and the outputs already recorded for this run.
struct SetDecoder<'a> {
    answerer: Answerer<'a>,
    backbone: &'a Backbone,
    cfg: &'a RunConfig,
    recorded: &'a RecordedOutputs,
    device: &'a Device,
    reused: std::cell::Cell<usize>,
    /// Item id → whether its output was cut off (recorded or decoded), for the predictions.
    cut_off: std::cell::RefCell<std::collections::HashMap<String, bool>>,
}

impl SetDecoder<'_> {
    /// The output of every row (`keys` parallel to `rows`: item id and the prompt a prediction
    /// records): recorded ones as recorded, the rest decoded with [`decode_all`].
    fn outputs(
        &self,
        task: &str,
        keys: &[(&str, &str)],
        rows: &[Row],
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<String>, EvalError> {
        let recorded = self.recorded.get(task);
        let known = |(id, prompt): (&str, &str)| {
            recorded
                .and_then(|r| r.get(id))
                .filter(|(p, _, _)| p == prompt)
                .map(|(_, o, cut)| (o, *cut))
        };
        let todo: Vec<usize> = (0..rows.len())
            .filter(|&i| known(keys[i]).is_none())
            .collect();
        self.reused.set(self.reused.get() + rows.len() - todo.len());
        progress(rows.len() - todo.len());
        let sub: Vec<Row> = todo.iter().map(|&i| rows[i].clone()).collect();
        let decoded = if sub.is_empty() {
            Vec::new()
        } else {
            decode_all(
                &self.answerer,
                self.backbone,
                self.cfg,
                &sub,
                self.device,
                progress,
            )?
        };
        let mut cut_off = self.cut_off.borrow_mut();
        let mut out: Vec<String> = Vec::with_capacity(keys.len());
        for k in keys {
            let (o, cut) = known(*k).map_or((String::new(), false), |(o, c)| (o.clone(), c));
            cut_off.insert(k.0.to_string(), cut);
            out.push(o);
        }
        for (i, (o, cut)) in todo.into_iter().zip(decoded) {
            cut_off.insert(keys[i].0.to_string(), cut);
            out[i] = o;
        }
        Ok(out)
    }
}

/// Evaluate one set: its scores and predictions. Items with an output in `recorded` (under the
/// same prompt) are scored from it without decoding.
pub fn evaluate(
    answerer: Answerer<'_>,
    backbone: &Backbone,
    cfg: &RunConfig,
    set: &EvalSet,
    recorded: &RecordedOutputs,
    device: &Device,
    progress: &mut dyn FnMut(usize),
) -> Result<SetEvaluation, EvalError> {
    let tok = &backbone.tokenizer;
    let decoder = SetDecoder {
        answerer,
        backbone,
        cfg,
        recorded,
        device,
        reused: std::cell::Cell::new(0),
        cut_off: Default::default(),
    };
    let (scores, items, predictions) = match set {
        EvalSet::Aac { name, items } => {
            let task = format!("{name}/aac");
            let prompt = audio_prompt(tok, &backbone.chat, Some(&cfg.eval.caption_instruction))
                .map_err(|e| EvalError::Task {
                    task: task.clone(),
                    message: e.to_string(),
                })?;
            let rows: Vec<Row> = items
                .iter()
                .map(|it| Row {
                    audio: it.audio.display().to_string(),
                    instruction: Some(cfg.eval.caption_instruction.clone()),
                    prompt: prompt.clone(),
                })
                .collect();
            let keys: Vec<(&str, &str)> = items
                .iter()
                .map(|it| (it.id.as_str(), cfg.eval.caption_instruction.as_str()))
                .collect();
            let outputs = decoder.outputs(&task, &keys, &rows, progress)?;
            let scored: Vec<ScoredCaption> = items
                .iter()
                .zip(&outputs)
                .map(|(it, o)| ScoredCaption {
                    id: it.id.clone(),
                    candidate: o.clone(),
                    references: it.captions.clone(),
                })
                .collect();
            let s = score_captions(&scored, CaptionTokenizer::Ptb);
            let n = items.len() as i64;
            let scores: Vec<EvalScore> = s
                .corpus
                .iter()
                .map(|(m, v)| EvalScore {
                    task: task.clone(),
                    metric: m.clone(),
                    value: *v,
                    n,
                })
                .collect();
            // The corpus CIDEr-D and ROUGE-L are the means of these (BLEU's is not: it sums counts).
            let per_item = s
                .items
                .iter()
                .flat_map(|it| {
                    ["cider_d", "rouge_l"].into_iter().filter_map(|m| {
                        it.scores.get(m).map(|v| ItemScore {
                            task: task.clone(),
                            metric: m.to_string(),
                            item_id: it.id.clone(),
                            value: *v,
                        })
                    })
                })
                .collect();
            let preds = items
                .iter()
                .zip(outputs)
                .map(|(it, o)| Prediction {
                    task: task.clone(),
                    item_id: it.id.clone(),
                    prompt: cfg.eval.caption_instruction.clone(),
                    output: o,
                    references: it.captions.clone(),
                    cut_off: false,
                })
                .collect();
            (scores, per_item, preds)
        }
        EvalSet::Aqa { name, items } => {
            let task = format!("{name}/aqa");
            let rows = question_rows(
                backbone,
                &task,
                items.iter().map(|it| {
                    (
                        it.id.as_str(),
                        it.audio.display().to_string(),
                        it.question.as_str(),
                    )
                }),
            )?;
            let keys: Vec<(&str, &str)> = items
                .iter()
                .map(|it| (it.id.as_str(), it.question.as_str()))
                .collect();
            let outputs = decoder.outputs(&task, &keys, &rows, progress)?;
            let n = items.len().max(1) as f64;
            let mut f1 = 0.0;
            let mut em = 0.0;
            let mut verdicts = Vec::with_capacity(items.len());
            let mut preds = Vec::with_capacity(items.len());
            let mut per_item = Vec::with_capacity(2 * items.len());
            for (it, o) in items.iter().zip(outputs) {
                let refs = vec![it.answer.clone()];
                let (f, e) = (token_f1(&o, &refs), exact_match(&o, &refs));
                f1 += f;
                em += e;
                for (metric, value) in [("token_f1", f), ("exact_match", e)] {
                    per_item.push(ItemScore {
                        task: task.clone(),
                        metric: metric.into(),
                        item_id: it.id.clone(),
                        value,
                    });
                }
                verdicts.push(super::qa_verdict::verdict(&it.question, &it.answer, &o));
                preds.push(Prediction {
                    task: task.clone(),
                    item_id: it.id.clone(),
                    prompt: it.question.clone(),
                    output: o,
                    references: refs,
                    cut_off: false,
                });
            }
            let cnt = items.len() as i64;
            let mut scores = vec![
                EvalScore {
                    task: task.clone(),
                    metric: "token_f1".into(),
                    value: f1 / n,
                    n: cnt,
                },
                EvalScore {
                    task: task.clone(),
                    metric: "exact_match".into(),
                    value: em / n,
                    n: cnt,
                },
            ];
            // Verdicts where every reference has a synthetic world's form (`qa_verdict`).
            if let Some(ok) = verdicts
                .iter()
                .copied()
                .collect::<Option<Vec<bool>>>()
                .filter(|v| !v.is_empty())
            {
                scores.push(EvalScore {
                    task: task.clone(),
                    metric: "accuracy".into(),
                    value: ok.iter().filter(|v| **v).count() as f64 / n,
                    n: cnt,
                });
                for (it, v) in items.iter().zip(ok) {
                    per_item.push(ItemScore {
                        task: task.clone(),
                        metric: "accuracy".into(),
                        item_id: it.id.clone(),
                        value: v as u8 as f64,
                    });
                }
            }
            (scores, per_item, preds)
        }
        EvalSet::Probes { name, root, items } => {
            let task = format!("{name}/probes");
            let rows = question_rows(
                backbone,
                &task,
                items.iter().map(|it| {
                    let audio = root.join(&it.file_name).display().to_string();
                    (it.id.as_str(), audio, it.question.as_str())
                }),
            )?;
            let keys: Vec<(&str, &str)> = items
                .iter()
                .map(|it| (it.id.as_str(), it.question.as_str()))
                .collect();
            let outputs = decoder.outputs(&task, &keys, &rows, progress)?;
            score_probes(&task, items, outputs)
        }
    };
    let cut_off = decoder.cut_off.into_inner();
    let mut predictions: Vec<Prediction> = predictions;
    for p in &mut predictions {
        p.cut_off = cut_off.get(&p.item_id).copied().unwrap_or(false);
    }
    Ok(SetEvaluation {
        scores,
        items,
        truncated: predictions.iter().filter(|p| p.cut_off).count(),
        predictions,
        reused: decoder.reused.get(),
    })
}

/// Per-kind accuracy of probe answers (`<kind>` metrics, plus `captioning_recall` and `mean`, the
/// unweighted mean over the kinds present), each probe's verdict (1/0 under its kind) and
/// recall, and every answer with its expectation and verdict.
fn score_probes(
    task: &str,
    items: &[ProbeItem],
    outputs: Vec<String>,
) -> (Vec<EvalScore>, Vec<ItemScore>, Vec<Prediction>) {
    let mut right: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    let mut recall = (0.0, 0usize);
    let mut preds = Vec::with_capacity(items.len());
    let mut per_item = Vec::with_capacity(items.len());
    let item = |metric: &str, id: &str, value: f64| ItemScore {
        task: task.to_string(),
        metric: metric.to_string(),
        item_id: id.to_string(),
        value,
    };
    for (it, o) in items.iter().zip(outputs) {
        let ok = super::probes::check(&it.expected, &o);
        let e = right.entry(it.kind).or_default();
        e.0 += ok as usize;
        e.1 += 1;
        per_item.push(item(it.kind, &it.id, if ok { 1.0 } else { 0.0 }));
        if let Expected::Mentions(sounds) = &it.expected {
            let r = super::probes::recall(sounds, &o);
            recall.0 += r;
            recall.1 += 1;
            per_item.push(item("captioning_recall", &it.id, r));
        }
        preds.push(Prediction {
            task: task.to_string(),
            item_id: it.id.clone(),
            prompt: it.question.clone(),
            output: o,
            references: vec![
                format!("expected: {}", it.expected_text),
                format!("verdict: {}", if ok { "correct" } else { "wrong" }),
            ],
            cut_off: false,
        });
    }
    let score = |metric: &str, value: f64, n: usize| EvalScore {
        task: task.to_string(),
        metric: metric.to_string(),
        value,
        n: n as i64,
    };
    let mut scores = Vec::new();
    for kind in PROBE_KINDS {
        if let Some(&(ok, n)) = right.get(kind) {
            scores.push(score(kind, ok as f64 / n as f64, n));
        }
    }
    if recall.1 > 0 {
        scores.push(score(
            "captioning_recall",
            recall.0 / recall.1 as f64,
            recall.1,
        ));
    }
    if !right.is_empty() {
        let mean = scores
            .iter()
            .filter(|s| PROBE_KINDS.contains(&s.metric.as_str()))
            .map(|s| s.value)
            .sum::<f64>()
            / right.len() as f64;
        scores.push(score("mean", mean, items.len()));
    }
    (scores, per_item, preds)
}
