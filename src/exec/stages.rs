//! One run, stage by stage: data → targets → train → eval. Each stage is recorded in the store;
//! a completed train or eval stage is skipped when the run is executed again, and an interrupted
//! train stage resumes from its last checkpoint.

use std::path::Path;

use burn::tensor::{Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};

use crate::data::features::{AudioInput, ClipMatrices};
use crate::data::run_data::{assemble, EvalSet, RunData};
use crate::eval::external::ExternalScorers;
use crate::eval::judged_qa::aqa_averages;
use crate::eval::run::{evaluate, Answerer};
use crate::model::backbone::{build_for_run, load_encoder, Backbone};
use crate::spec::schema::Reference;
use crate::spec::RunConfig;
use crate::store::Store;
use crate::targets;
use crate::train::checkpoint::load_trainable;
use crate::train::trainer::final_weights;
use crate::train::{train, TrainJob, TrainSource};

/// A failed run's reason (stored as the run's error text).
pub type StageResult<T> = Result<T, String>;

/// The sha256 of the running acdc binary (computed once): predictions are reused only by the build
/// that decoded them. `None` when the binary cannot be read (then nothing is reused).
pub(crate) fn binary_fingerprint() -> Option<&'static str> {
    static FINGERPRINT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    FINGERPRINT
        .get_or_init(|| {
            use sha2::{Digest, Sha256};
            let bytes = std::fs::read(std::env::current_exe().ok()?).ok()?;
            Some(hex::encode(Sha256::digest(&bytes)))
        })
        .as_deref()
}

pub(crate) fn bar(len: u64, msg: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{prefix:>12} {msg:<28} [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(msg.to_string());
    pb
}

/// The `data` stage: assemble everything the run reads (one call into `data`) and record the
/// outcome; a failed assembly is recorded with what it had read up to the failure.
fn data_stage(
    store: &Store,
    run_id: &str,
    cfg: &RunConfig,
    home: &Path,
) -> StageResult<(RunData, ClipMatrices)> {
    store
        .stage_start(run_id, "data")
        .map_err(|e| e.to_string())?;
    let pb = bar(0, "audio features");
    pb.set_prefix(run_id.to_string());
    let assembled = assemble(home, cfg, &|done, total| {
        pb.set_length(total as u64);
        pb.inc(done as u64);
    });
    pb.finish_and_clear();
    match assembled {
        Ok(a) => {
            if a.info.unreadable > 0 {
                eprintln!(
                    "acdc: run {run_id}: skipping {} unreadable audio file(s) (data.missing_audio = \"skip\"); first: {}",
                    a.info.unreadable,
                    a.info.first_unreadable.join("; ")
                );
            }
            let info = serde_json::to_value(&a.info).map_err(|e| e.to_string())?;
            store
                .stage_finish(run_id, "data", true, &info)
                .map_err(|e| e.to_string())?;
            Ok((a.data, a.features))
        }
        Err(f) => {
            let error = f.error.to_string();
            let info = match f.info {
                Some(info) => serde_json::to_value(&info).map_err(|e| e.to_string())?,
                None => serde_json::json!({ "error": error }),
            };
            let _ = store.stage_finish(run_id, "data", false, &info);
            Err(error)
        }
    }
}

/// Frozen-encoder outputs are computed once and held in memory when they fit this many bytes
/// (`ACDC_ENCODED_MAX_GB` sets it in GiB); beyond it the frozen encoder runs inside each step on
/// the features read from the cache, so memory does not grow with the number of clips.
pub fn encoded_budget_bytes() -> u64 {
    std::env::var("ACDC_ENCODED_MAX_GB")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|g| g.is_finite() && *g >= 0.0)
        .map_or(8 << 30, |g| (g * (1u64 << 30) as f64) as u64)
}

/// Run the frozen encoder over every clip once: `[tokens, d_enc]` per clip; `None` when the
/// outputs would not fit [`encoded_budget_bytes`].
pub(crate) fn encode_all(
    cfg: &RunConfig,
    home: &Path,
    feats: &ClipMatrices,
    device: &Device,
) -> StageResult<Option<ClipMatrices>> {
    let (_, enc) =
        load_encoder(&cfg.encoder.checkpoint, home, device).map_err(|e| e.to_string())?;
    let mut out = ClipMatrices::new(enc.num_tokens(feats.rows), enc.embed_dim);
    let bytes = (feats.len() * out.rows * out.dim * 4) as u64;
    if bytes > encoded_budget_bytes() {
        return Ok(None);
    }
    let keys = feats.ids();
    let pb = bar(keys.len() as u64, "encoding (frozen EAT)");
    for ids in keys.chunks(16) {
        let x = feats.batch(ids, device);
        let y: Tensor<3> = enc.forward(x);
        let v: Vec<f32> = y
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| format!("{e:?}"))?;
        let per = out.rows * out.dim;
        for (i, id) in ids.iter().enumerate() {
            out.insert(id.to_string(), v[i * per..(i + 1) * per].to_vec());
        }
        pb.inc(ids.len() as u64);
    }
    pb.finish_and_clear();
    Ok(Some(out))
}

/// Build the pretrained toy models a run names (`builtin:tiny-chat` as its backbone or its local
/// judge, `builtin:tiny-eat-events`) the first time they are asked for, with a progress bar;
/// later runs find them built.
pub(crate) fn provision_builtins(cfg: &RunConfig, home: &Path, run_id: &str) -> StageResult<()> {
    type Ensure = fn(
        &Path,
        &mut dyn FnMut(usize, usize, f64),
    ) -> Result<std::path::PathBuf, crate::train::pretrain::PretrainError>;
    let mut wanted: Vec<(&str, Ensure, std::path::PathBuf)> = Vec::new();
    let judge_model = cfg.eval.judge.strip_prefix("local:").map(str::trim);
    if cfg.backbone == "builtin:tiny-chat" || judge_model == Some("builtin:tiny-chat") {
        wanted.push((
            "builtin:tiny-chat",
            crate::train::pretrain::ensure_tiny_chat,
            crate::model::backbone::tiny_chat_weights(home),
        ));
    }
    if cfg.encoder.checkpoint == "builtin:tiny-eat-events" {
        wanted.push((
            "builtin:tiny-eat-events",
            crate::train::pretrain_encoder::ensure_tiny_eat_events,
            crate::model::backbone::tiny_eat_events_weights(home),
        ));
    }
    wanted.retain(|(_, _, weights)| !weights.exists());
    if wanted.is_empty() {
        return Ok(());
    }
    // The toy models are too small for burn to split their matrix products over cores well
    // (the encoder's build: 117 s on one thread, 100 s on two, so 200 core-seconds): built side
    // by side, each gets one thread for burn's parallel loops (the same numbers on any count of
    // threads; the chat model's build splits each batch over two threads of its own once the
    // encoder is done).
    let side_by_side = wanted.len() > 1;
    let _no_page_faults_per_step = crate::keep_freed_memory();
    let bars = indicatif::MultiProgress::new();
    std::thread::scope(|scope| {
        let builds: Vec<_> = wanted
            .into_iter()
            .map(|(name, ensure, _)| {
                let pb = bars.add(bar(0, &format!("building {name}")));
                pb.set_prefix(run_id.to_string());
                eprintln!("acdc: building {name} (once per ACDC_HOME)");
                scope.spawn(move || {
                    let build = || {
                        ensure(home, &mut |s, n, loss| {
                            pb.set_length(n as u64);
                            pb.set_position(s as u64);
                            pb.set_message(format!("building {name} {loss:.3}"));
                        })
                    };
                    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build();
                    let r = match one_thread {
                        Ok(pool) if side_by_side => pool.install(build),
                        _ => build(),
                    };
                    pb.finish_and_clear();
                    r.map(|_| ()).map_err(|e| e.to_string())
                })
            })
            .collect();
        builds
            .into_iter()
            .map(|b| {
                b.join()
                    .unwrap_or_else(|_| Err("a toy-model build panicked".into()))
            })
            .collect::<Result<Vec<()>, String>>()
    })?;
    Ok(())
}

/// Execute every stage of one run. `init_weights` are the trained weights of its `init_from` run.
pub fn execute(
    store: &mut Store,
    run_id: &str,
    cfg: &RunConfig,
    home: &Path,
    init_weights: Option<std::path::PathBuf>,
) -> StageResult<()> {
    let run_dir = store.run_dir(run_id);
    std::fs::create_dir_all(&run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;
    std::fs::write(
        run_dir.join("config.json"),
        crate::spec::canonical_json(cfg),
    )
    .map_err(|e| format!("{}: {e}", run_dir.display()))?;
    provision_builtins(cfg, home, run_id)?;
    let backbone = Backbone::resolve(&cfg.backbone, home).map_err(|e| e.to_string())?;
    let device = crate::model::device::device_for(cfg.device).map_err(|e| e.to_string())?;
    let (data, feats) = data_stage(store, run_id, cfg, home)?;
    if !cfg.reference.is_none() {
        // A reference row: no targets, no training; its backbone answers alone.
        return eval_stage(
            store,
            run_id,
            cfg,
            home,
            &backbone,
            &device,
            &data,
            AudioInput::Features(&feats),
            &final_weights(&run_dir),
        );
    }
    let use_features = cfg.encoder.trainable || cfg.encoder.spec_augment;
    let encoded = if use_features {
        None
    } else {
        encode_all(cfg, home, &feats, &device)?
    };
    let audio = match &encoded {
        Some(e) => AudioInput::Encoded(e),
        None => AudioInput::Features(&feats),
    };

    // targets
    store
        .stage_start(run_id, "targets")
        .map_err(|e| e.to_string())?;
    let mut sources = Vec::new();
    let mut val_sources = Vec::new();
    let mut infos = Vec::new();
    let roles = data
        .train
        .iter()
        .map(|t| (false, t))
        .chain(data.val.iter().map(|v| (true, v)));
    for (is_val, source) in roles {
        let (name, weight, items) = (&source.name, source.weight, &source.items);
        let pb = bar(0, &format!("targets {name}"));
        pb.set_prefix(run_id.to_string());
        let r = targets::build(
            store,
            &backbone,
            &cfg.targets,
            cfg.seed,
            items,
            &device,
            &mut |d, t| {
                pb.set_length(t as u64);
                pb.set_position(d as u64);
            },
        );
        pb.finish_and_clear();
        match r {
            Ok((examples, info)) => {
                let role = if is_val { "val" } else { "train" };
                infos.push(serde_json::json!({"source": name, "role": role, "info": info}));
                let src = TrainSource {
                    name: name.clone(),
                    examples,
                    weight,
                };
                if is_val {
                    val_sources.push(src);
                } else {
                    sources.push(src);
                }
            }
            Err(e) => {
                let _ = store.stage_finish(
                    run_id,
                    "targets",
                    false,
                    &serde_json::json!({"error": e.to_string()}),
                );
                return Err(e.to_string());
            }
        }
    }
    // Instruction-tuning sources: ground-truth answers to their questions, no generation.
    for s in &data.instruct {
        let (name, weight, items) = (&s.name, s.weight, &s.items);
        let examples = targets::qa_targets(items);
        infos.push(serde_json::json!({
            "source": name, "role": "instruct",
            "info": {"kind": "qa", "examples": examples.len()},
        }));
        sources.push(TrainSource {
            name: name.clone(),
            examples,
            weight,
        });
    }
    store
        .stage_finish(run_id, "targets", true, &serde_json::json!(infos))
        .map_err(|e| e.to_string())?;

    // train
    let weights = final_weights(&run_dir);
    if store
        .stage_status(run_id, "train")
        .map_err(|e| e.to_string())?
        .as_deref()
        != Some("done")
        || !weights.exists()
    {
        store
            .stage_start(run_id, "train")
            .map_err(|e| e.to_string())?;
        // New weights: nothing decoded from earlier ones may be reused.
        store
            .delete_predictions(run_id)
            .map_err(|e| e.to_string())?;
        let pb = bar(cfg.train.steps as u64, "training");
        pb.set_prefix(run_id.to_string());
        let job = TrainJob {
            run_id,
            cfg,
            backbone: &backbone,
            sources: &sources,
            val: &val_sources,
            audio,
            run_dir: &run_dir,
            home,
            init_from: init_weights,
        };
        let r = train(store, &job, &mut |s, _, loss| {
            pb.set_position(s as u64);
            pb.set_message(format!("training loss {loss:.3}"));
        });
        pb.finish_and_clear();
        match r {
            Ok(outcome) => {
                store
                    .put_artifact(run_id, &outcome.weights, "weights")
                    .map_err(|e| e.to_string())?;
                let mut info = serde_json::to_value(&outcome).unwrap_or_default();
                // How the adapter saw the audio: precomputed frozen-encoder outputs, or the
                // encoder run inside each step (trainable, SpecAugment, or over the budget).
                info["audio_input"] = match audio {
                    AudioInput::Encoded(_) => "encoded",
                    AudioInput::Features(_) => "features",
                }
                .into();
                store
                    .stage_finish(run_id, "train", true, &info)
                    .map_err(|e| e.to_string())?;
            }
            Err(e) => {
                let _ = store.stage_finish(
                    run_id,
                    "train",
                    false,
                    &serde_json::json!({"error": e.to_string()}),
                );
                return Err(e.to_string());
            }
        }
    }

    // eval
    eval_stage(
        store, run_id, cfg, home, &backbone, &device, &data, audio, &weights,
    )
}

/// The eval stage (skipped when done): decode every evaluation set with the run's trained model
/// (or, for a reference row, its backbone alone), score it, and record scores and predictions.
#[allow(clippy::too_many_arguments)] // the parts of a run, each distinct
fn eval_stage(
    store: &mut Store,
    run_id: &str,
    cfg: &RunConfig,
    home: &Path,
    backbone: &Backbone,
    device: &Device,
    data: &RunData,
    audio: AudioInput<'_>,
    weights: &Path,
) -> StageResult<()> {
    if store
        .stage_status(run_id, "eval")
        .map_err(|e| e.to_string())?
        .as_deref()
        == Some("done")
    {
        return Ok(());
    }
    // An earlier attempt (failed in METEOR, SPICE or the judge, say) stored its decoded
    // predictions; when this very binary made them from this very backbone (same trained
    // weights: training did not rerun, or it would have dropped them), score those instead of
    // decoding again. Anything else an earlier attempt left is deleted before decoding, so a
    // retry never mixes outputs of two builds.
    let decoder = binary_fingerprint();
    let previous = store
        .stages(run_id)
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|(stage, _, _)| stage == "eval")
        .and_then(|(_, _, info)| serde_json::from_str::<serde_json::Value>(&info).ok());
    let same_decoder = decoder.is_some()
        && previous.as_ref().and_then(|v| v["decoder"].as_str()) == decoder
        && previous.as_ref().and_then(|v| v["backbone"].as_str())
            == Some(backbone.fingerprint.as_str());
    let recorded = if same_decoder {
        crate::eval::run::recorded_outputs(
            store.predictions(run_id, None).map_err(|e| e.to_string())?,
        )
    } else {
        store
            .delete_predictions(run_id)
            .map_err(|e| e.to_string())?;
        Default::default()
    };
    let stamp = serde_json::json!({"decoder": decoder, "backbone": backbone.fingerprint});
    store
        .stage_start(run_id, "eval")
        .map_err(|e| e.to_string())?;
    // Recorded at once: whatever this attempt stores was decoded by this binary, even if it
    // dies before it can say so.
    store
        .stage_set_info(run_id, "eval", &stamp)
        .map_err(|e| e.to_string())?;
    let fail = |store: &mut Store, e: String| {
        let mut info = stamp.clone();
        info["error"] = e.clone().into();
        let _ = store.stage_finish(run_id, "eval", false, &info);
        Err(e)
    };
    // Who answers: the trained model, or a reference row's backbone alone.
    let built = match cfg.reference {
        Reference::None => build_for_run(cfg, backbone, home, device)
            .map_err(|e| e.to_string())
            .and_then(|mut m| {
                load_trainable(&mut m, weights).map_err(|e| e.to_string())?;
                Ok(Ok(m))
            }),
        _ => backbone
            .load_llm(device)
            .map(|llm| {
                Err(crate::model::cast_floats(
                    llm,
                    cfg.train.precision.float_dtype(),
                ))
            })
            .map_err(|e| e.to_string()),
    };
    let built = match built {
        Ok(b) => b,
        Err(e) => return fail(store, e),
    };
    let answerer = match (&built, cfg.reference) {
        (Ok(model), _) => Answerer::Audio { model, audio },
        (Err(llm), Reference::TextOracle) => Answerer::TextOracle {
            llm,
            texts: &data.texts,
        },
        (Err(llm), _) => Answerer::NoAudio { llm },
    };
    let total: usize = data.eval.iter().map(EvalSet::len).sum();
    // The judge is set up before decoding, so a bad judge setting fails fast.
    let judge_needed = data.eval.iter().any(|s| matches!(s, EvalSet::Aqa { .. }));
    let external = match ExternalScorers::from_config(&cfg.eval, home, device, judge_needed) {
        Ok(x) => x,
        Err(e) => return fail(store, e),
    };
    let mut reused = 0;
    let mut truncated = 0;
    let pb = bar(total as u64, "evaluating");
    pb.set_prefix(run_id.to_string());
    let mut summary = Vec::new();
    for set in &data.eval {
        let scored = evaluate(answerer, backbone, cfg, set, &recorded, device, &mut |n| {
            pb.inc(n as u64)
        })
        .map_err(|e| e.to_string())
        .and_then(|ev| {
            // Recorded before the external scorers run: one failing leaves the predictions
            // for the retry to score.
            store
                .put_evals(run_id, &ev.scores)
                .map_err(|e| e.to_string())?;
            store
                .put_predictions(run_id, &ev.predictions)
                .map_err(|e| e.to_string())?;
            store
                .put_item_scores(run_id, &ev.items)
                .map_err(|e| e.to_string())?;
            // SPIDEr needs this set's CIDEr-D.
            let known = [summary.as_slice(), &ev.scores].concat();
            let (more, more_items) = external.score(store, set, &ev.predictions, &known)?;
            store.put_evals(run_id, &more).map_err(|e| e.to_string())?;
            store
                .put_item_scores(run_id, &more_items)
                .map_err(|e| e.to_string())?;
            Ok(([ev.scores, more].concat(), ev.reused, ev.truncated))
        });
        match scored {
            Ok((scores, n, cut)) => {
                reused += n;
                truncated += cut;
                summary.extend(scores);
            }
            Err(e) => {
                pb.finish_and_clear();
                return fail(store, e);
            }
        }
    }
    pb.finish_and_clear();
    let averages = aqa_averages(&summary);
    if let Err(e) = store.put_evals(run_id, &averages) {
        return fail(store, e.to_string());
    }
    summary.extend(averages);
    // A complete evaluation: scores an earlier one left that this one did not produce go.
    if let Err(e) = store.retain_evals(run_id, &summary) {
        return fail(store, e.to_string());
    }
    let mut info = serde_json::json!({
        "scores": summary,
        "reused_predictions": reused,
        // Outputs decoded in this attempt that hit decode.max_new_tokens (cut off).
        "truncated_outputs": truncated,
        "decoder": decoder,
        "backbone": backbone.fingerprint,
    });
    if let Some(j) = external.info() {
        info["judge"] = j;
    }
    if data.eval.iter().any(|s| matches!(s, EvalSet::Aac { .. })) {
        info["unavailable"] = serde_json::json!(external.unavailable());
    }
    if cfg.eval.probes && cfg.data.instruct.iter().any(|s| s.dataset == "synth") {
        info["probes_trained"] = serde_json::json!(crate::data::synth::probes::TAUGHT_BY_SYNTH_QA);
    }
    store
        .stage_finish(run_id, "eval", true, &info)
        .map_err(|e| e.to_string())?;
    Ok(())
}
