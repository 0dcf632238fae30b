//! Try another recipe for `builtin:tiny-chat` without touching the cached one: train a chat model
//! of the given width / depth for the given steps on the toy chat corpus, then score its
//! text-oracle answers (each clip's ground-truth description as text, then the question) on the
//! probes and the QA pairs of a validation synthetic world (seed 1, not the quickstart's seed 0;
//! `ACDC_RECIPE_WORLD_SEED="1,2,3"` scores several), with the eval stage's verdicts. Prints JSON.
//!
//!   cargo run --release --example tiny_chat_recipe -- HIDDEN INTERMEDIATE LAYERS HEADS KV STEPS LR [BATCH [CLIPS]]
//!
//! e.g. `… -- 64 176 4 4 2 3000 3e-3`. The shipped recipe is `model::builtin_tiny_chat_llm` with
//! `train::pretrain::{STEPS, LR, CORPUS_SEED}`. `ACDC_CORPUS_SEED` draws another corpus world,
//! corpus and batch order (one more build of the same recipe); `ACDC_CORPUS_SHAPE` changes the
//! corpus's make-up (see below); `ACDC_RECIPE_LOAD=DIR` scores a built model instead of training
//! one (e.g. `$ACDC_HOME/models/builtin-tiny-chat-v7`, with its architecture's arguments and
//! STEPS 0). Wrong answers are printed with the description they were given.

use std::collections::BTreeMap;

use acdc::data::synth::probes::{probes, read_events};
use acdc::data::synth::{generate, SynthConfig};
use acdc::decode::{embed_padded, generate as decode, split_stop, Sampling};
use acdc::model::backbone::tiny_chat_base;
use acdc::rng::Rng;
use acdc::text::prompt::text_prompt;
use acdc::text::TextTokenizer;
use burn::tensor::Device;

fn main() {
    // As the shipped build does (exec's provisioning): no page faults per step.
    let _keep = acdc::keep_freed_memory();
    let a: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| a[i].parse::<f64>().expect("numeric arguments");
    let batch = a
        .get(7)
        .map_or(acdc::train::pretrain::BATCH, |b| b.parse().unwrap());
    let (hidden, inter, layers, heads, kv, steps, lr) = (
        num(0) as usize,
        num(1) as usize,
        num(2) as usize,
        num(3) as usize,
        num(4) as usize,
        num(5) as usize,
        num(6),
    );
    let t0 = std::time::Instant::now();
    let corpus_clips = a
        .get(8)
        .map_or(acdc::train::pretrain::CORPUS_CLIPS, |c| c.parse().unwrap());
    // ACDC_CORPUS_SHAPE="RESTATEMENTS,CAPTION_QUESTIONS,MERGED_QUESTIONS,PER_CONVERSATION[,MISSING[,EXTRA_ORDER[,BALANCED_ORDER_PAIRS[,FRAMED_COMPARISONS]]]]"
    // (flags 0 or 1)
    let mut shape = acdc::data::synth::dialogue::CorpusShape::default();
    if let Ok(v) = std::env::var("ACDC_CORPUS_SHAPE") {
        let n: Vec<usize> = v.split(',').map(|x| x.trim().parse().unwrap()).collect();
        shape.restatements = n[0];
        shape.caption_questions = n[1];
        shape.merged_questions = n[2];
        shape.per_conversation = n[3];
        shape.missing_sound_questions = n.get(4).is_none_or(|m| *m != 0);
        shape.extra_order_questions = n.get(5).copied().unwrap_or(0);
        shape.balanced_order_pairs = n.get(6).is_some_and(|b| *b != 0);
        shape.framed_comparisons = n.get(7).is_some_and(|b| *b != 0);
    }
    // ACDC_CORPUS_SEED: another draw of the corpus world, its questions and the batch order.
    let seed = std::env::var("ACDC_CORPUS_SEED").map_or(acdc::train::pretrain::CORPUS_SEED, |s| {
        s.parse().expect("ACDC_CORPUS_SEED: an integer")
    });
    let turns = acdc::train::pretrain::chat_corpus_of(corpus_clips, shape, seed);
    let texts: Vec<String> = turns.iter().flat_map(|t| t.texts()).collect();
    // ACDC_RECIPE_LOAD=DIR: score a built model (its tokenizer.json and model.bpk, e.g.
    // `$ACDC_HOME/models/builtin-tiny-chat-v7`) instead of training one; HIDDEN.. must match it.
    let load = std::env::var_os("ACDC_RECIPE_LOAD").map(std::path::PathBuf::from);
    let tok = match &load {
        Some(dir) => TextTokenizer::from_file(&dir.join("tokenizer.json")).unwrap(),
        None => TextTokenizer::train_byte_level_bpe(&texts, acdc::train::pretrain::VOCAB).unwrap(),
    };
    let mut base = tiny_chat_base(tok);
    base.config = acdc::model::llm::LlamaConfig::new(
        base.tokenizer.vocab_size(),
        hidden,
        inter,
        layers,
        heads,
        kv,
    )
    .with_rope_theta(10000.0);
    let corpus_s = t0.elapsed().as_secs_f64();
    let t1 = std::time::Instant::now();
    let mut last = 0.0;
    // ACDC_RECIPE_AVERAGE=DECAY: return the moving average of the weights (Polyak averaging).
    let average = std::env::var("ACDC_RECIPE_AVERAGE").ok().map(|d| {
        d.parse::<f64>()
            .expect("ACDC_RECIPE_AVERAGE: a decay such as 0.999")
    });
    let models = if let Some(dir) = &load {
        let mut b = base.clone();
        b.weights = acdc::model::backbone::Weights::Burnpack(dir.join("model.bpk"));
        acdc::train::pretrain::ChatModels {
            last: b.load_llm(&Device::flex()).unwrap(),
            average: None,
        }
    } else {
        let how = acdc::train::pretrain::ChatTraining {
            steps,
            batch,
            lr,
            seed,
            average,
        };
        acdc::train::pretrain::train_chat(&base, &turns, &how, &mut |s, n, l| {
            last = l;
            if s % 250 == 0 || s == n {
                eprintln!(
                    "step {s}/{n} loss {l:.3} ({:.0} s)",
                    t1.elapsed().as_secs_f64()
                );
            }
        })
        .unwrap()
    };
    let train_s = t1.elapsed().as_secs_f64();

    // Scored on validation worlds (seed 1 unless ACDC_RECIPE_WORLD_SEED lists others, e.g.
    // "1,2,3"), never on the quickstart's (seed 0), so choosing a recipe never looks at the
    // quickstart's probes. One JSON line per world and weights.
    let world_seeds: Vec<u64> = std::env::var("ACDC_RECIPE_WORLD_SEED").map_or(vec![1], |s| {
        s.split(',')
            .map(|x| {
                x.trim()
                    .parse()
                    .expect("ACDC_RECIPE_WORLD_SEED: integers, comma-separated")
            })
            .collect()
    });
    for world_seed in world_seeds {
        let dir =
            std::env::temp_dir().join(format!("acdc-recipe-{}-{world_seed}", std::process::id()));
        generate(&dir, &SynthConfig::new(300, world_seed)).unwrap();
        let clips = read_events(&dir.join("events.jsonl"), "test").unwrap();
        let items = probes(&clips, 60, 0);
        // The text-oracle's text: each clip's ground-truth description (events.jsonl).
        let descriptions: std::collections::HashMap<String, String> = clips
            .iter()
            .map(|c| (format!("audio/test/{}", c.file_name), c.description.clone()))
            .collect();
        let text_of = |file: &str| descriptions[file].clone();
        let device = Device::flex();
        let stops = base.stop_ids();
        // The last weights, and their moving average when ACDC_RECIPE_AVERAGE asked for it: one
        // JSON line each, scored on the same items.
        let scored = [
            ("last", Some(&models.last)),
            ("average", models.average.as_ref()),
        ];
        for (weights, llm) in scored {
            let Some(llm) = llm else { continue };
            // Greedy answers (48 tokens at most) to a chunk of prompts, as text.
            let answers = |llm: &acdc::model::llm::Llama, prompts: &[Vec<u32>]| -> Vec<String> {
                let (embeds, valid) = embed_padded(llm, prompts, base.tokenizer.pad, &device);
                let mut rngs: Vec<Rng> = (0..prompts.len()).map(|_| Rng::new(0)).collect();
                decode(
                    llm,
                    embeds,
                    &valid,
                    &stops,
                    48,
                    &Sampling::Greedy,
                    &mut rngs,
                )
                .iter()
                .map(|ids| base.tokenizer.decode(split_stop(ids, &stops).0))
                .collect()
            };
            let mut right: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
            let mut examples = Vec::new();
            for chunk in items.chunks(16) {
                let prompts: Vec<Vec<u32>> = chunk
                    .iter()
                    .map(|p| {
                        let user = format!("{} {}", text_of(&p.file_name), p.question);
                        text_prompt(&base.tokenizer, &base.chat, &user).unwrap()
                    })
                    .collect();
                let out = answers(llm, &prompts);
                for (p, answer) in chunk.iter().zip(out) {
                    let ok = acdc::eval::probes::check(&p.expected, &answer);
                    let e = right.entry(p.kind).or_default();
                    e.0 += ok as usize;
                    e.1 += 1;
                    if !ok && examples.len() < 40 {
                        examples.push(format!(
                            "{} | {} | {} → {}",
                            p.kind,
                            text_of(&p.file_name),
                            p.question,
                            answer.trim()
                        ));
                    }
                }
            }
            // The synthetic QA pairs, by the same verdicts the eval stage's `accuracy` uses.
            let qa = acdc::data::aqa::read_qa_jsonl(&dir.join("qa_test.jsonl")).unwrap();
            let (mut qa_ok, mut qa_n) = (0usize, 0usize);
            for chunk in qa.chunks(16) {
                let prompts: Vec<Vec<u32>> = chunk
                    .iter()
                    .map(|it| {
                        let file = it.audio.strip_prefix(&dir).unwrap().display().to_string();
                        let user = format!("{} {}", text_of(&file), it.question);
                        text_prompt(&base.tokenizer, &base.chat, &user).unwrap()
                    })
                    .collect();
                let out = answers(llm, &prompts);
                for (it, answer) in chunk.iter().zip(out) {
                    if let Some(ok) =
                        acdc::eval::qa_verdict::verdict(&it.question, &it.answer, &answer)
                    {
                        qa_ok += ok as usize;
                        qa_n += 1;
                        if !ok && examples.len() < 60 {
                            examples.push(format!(
                                "qa | {} → {} (ref {})",
                                it.question,
                                answer.trim(),
                                it.answer
                            ));
                        }
                    }
                }
            }
            let per_kind: BTreeMap<&str, f64> = right
                .iter()
                .map(|(k, (ok, n))| (*k, *ok as f64 / *n as f64))
                .collect();
            let mean = per_kind.values().sum::<f64>() / per_kind.len() as f64;
            println!(
                "{}",
                serde_json::json!({
                    "recipe": {"hidden": hidden, "intermediate": inter, "layers": layers, "heads": heads,
                               "kv_heads": kv, "steps": steps, "corpus_seed": seed, "lr": lr, "batch": batch, "clips": corpus_clips, "shape": format!("{shape:?}"), "average": average},
                    "world_seed": world_seed, "turns": turns.len(), "corpus_s": corpus_s, "train_s": train_s, "final_loss": last,
                    "weights": weights, "probe_mean": mean, "per_kind": per_kind,
                    "synth_qa_accuracy": qa_ok as f64 / qa_n.max(1) as f64, "synth_qa_items": qa_n,
                    "wrong_examples": examples,
                })
            );
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
