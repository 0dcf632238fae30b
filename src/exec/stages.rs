//! One run, stage by stage: data → targets → train → eval. Each stage is one function run
//! between its records in the store ([`run_stage`]: started, then done with its typed info or
//! failed with its error); a completed train or eval stage is skipped when the run is executed
//! again, and an interrupted train stage resumes from its last checkpoint.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};

use crate::data::features::{AudioInput, ClipMatrices};
use crate::data::run_data::{assemble, AssembleError, EvalSet, RunData};
use crate::eval::external::ExternalScorers;
use crate::eval::judged_qa::aqa_averages;
use crate::eval::run::{evaluate, Answerer, EvalError};
use crate::model::backbone::{build_for_run, load_encoder, Backbone, BackboneError};
use crate::model::device::DeviceError;
use crate::spec::schema::Reference;
use crate::spec::RunConfig;
use crate::store::stages::{
    EvalInfo, SourceRole, StageInfo, StageName, StageStatus, TargetKind, TargetSetInfo,
    TargetSource,
};
use crate::store::{Store, StoreError};
use crate::targets::{self, TargetsError};
use crate::train::checkpoint::{load_trainable, CheckpointError};
use crate::train::pretrain::PretrainError;
use crate::train::trainer::TrainError;
use crate::train::{train, TrainJob, TrainSource};

/// Why a stage, and so its run, failed: each module's own error, turned into text once, where
/// the run's failure is recorded (the worker).
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Backbone(#[from] BackboneError),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Data(#[from] AssembleError),
    #[error(transparent)]
    Targets(#[from] TargetsError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error(transparent)]
    Pretrain(#[from] PretrainError),
    /// METEOR, SPICE or the judge (they report in text), or the encoder's outputs.
    #[error("{0}")]
    Scoring(String),
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("a toy-model build panicked")]
    BuildPanicked,
}

pub type StageResult<T> = Result<T, StageError>;

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

/// Run `body` as stage `stage` of `run_id`: recorded as started, then as done with the info it
/// returns, or as failed with its error and whatever info it had put in `partial`.
fn run_stage<T>(
    store: &mut Store,
    run_id: &str,
    stage: StageName,
    body: impl FnOnce(&mut Store, &mut Option<StageInfo>) -> StageResult<(T, StageInfo)>,
) -> StageResult<T> {
    store.stage_start(run_id, &stage)?;
    let mut partial = None;
    match body(store, &mut partial) {
        Ok((value, info)) => {
            store.stage_done(run_id, &stage, &info)?;
            Ok(value)
        }
        Err(e) => {
            // The run's failure is what matters; a store too broken to record the stage's
            // failure says so when the worker records the run's.
            let _ = store.stage_failed(run_id, &stage, partial.as_ref(), &e.to_string());
            Err(e)
        }
    }
}

/// The `data` stage: assemble everything the run reads (one call into `data`); a failed
/// assembly is recorded with what it had read up to the failure.
fn data_stage(
    store: &mut Store,
    run_id: &str,
    cfg: &RunConfig,
    home: &Path,
) -> StageResult<(RunData, ClipMatrices)> {
    run_stage(store, run_id, StageName::Data, |_, partial| {
        let pb = bar(0, "audio features");
        pb.set_prefix(run_id.to_string());
        let assembled = assemble(home, cfg, &|done, total| {
            pb.set_length(total as u64);
            pb.inc(done as u64);
        });
        pb.finish_and_clear();
        let a = assembled.map_err(|f| {
            *partial = f.info.map(StageInfo::Data);
            f.error
        })?;
        if a.info.unreadable > 0 {
            eprintln!(
                "acdc: run {run_id}: skipping {} unreadable audio file(s) (data.missing_audio = \"skip\"); first: {}",
                a.info.unreadable,
                a.info.first_unreadable.join("; ")
            );
        }
        Ok(((a.data, a.features), StageInfo::Data(a.info)))
    })
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
    let (_, enc) = load_encoder(&cfg.encoder.checkpoint, home, device)?;
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
            .map_err(|e| StageError::Scoring(format!("the encoder's outputs: {e:?}")))?;
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
                scope.spawn(move || build_toy_model(name, ensure, home, &pb, side_by_side))
            })
            .collect();
        builds
            .into_iter()
            .map(|b| b.join().unwrap_or(Err(StageError::BuildPanicked)))
            .collect::<StageResult<Vec<()>>>()
    })?;
    Ok(())
}

/// A toy model's `ensure` function (builds it unless it is there; returns its weights' path).
type Ensure = fn(&Path, &mut dyn FnMut(usize, usize, f64)) -> Result<PathBuf, PretrainError>;

/// Build one toy model with its progress bar, on a one-thread pool for burn's parallel loops
/// when another builds beside it.
fn build_toy_model(
    name: &str,
    ensure: Ensure,
    home: &Path,
    pb: &ProgressBar,
    side_by_side: bool,
) -> StageResult<()> {
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
    r.map(|_| ()).map_err(StageError::from)
}

/// Execute every stage of one run. `init_weights` are the trained weights of its `init_from` run.
pub fn execute(
    store: &mut Store,
    run_id: &str,
    cfg: &RunConfig,
    home: &Path,
    init_weights: Option<PathBuf>,
    claim_lost: &std::sync::atomic::AtomicBool,
) -> StageResult<()> {
    let run_dir = store.run_dir(run_id);
    let io = |e: std::io::Error| StageError::Io {
        path: run_dir.path().to_path_buf(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(run_dir.path()).map_err(io)?;
    std::fs::write(run_dir.config(), crate::spec::canonical_json(cfg)).map_err(io)?;
    provision_builtins(cfg, home, run_id)?;
    let backbone = Backbone::resolve(&cfg.backbone, home)?;
    let device = crate::model::device::device_for(cfg.device)?;
    let (data, feats) = data_stage(store, run_id, cfg, home)?;
    let run = RunParts {
        run_id,
        cfg,
        home,
        backbone: &backbone,
        device: &device,
        data: &data,
    };
    let weights = run_dir.final_weights();
    if !cfg.reference.is_none() {
        // A reference row: no targets, no training; its backbone answers alone.
        return eval_stage(store, &run, AudioInput::Features(&feats), &weights);
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
    let (sources, val_sources) = targets_stage(store, &run)?;
    let trained = store.stage_status(run_id, &StageName::Train)? == Some(StageStatus::Done);
    if !trained || !weights.exists() {
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
            claim_lost: Some(claim_lost),
        };
        train_stage(store, &job)?;
    }
    eval_stage(store, &run, audio, &weights)
}

/// What every stage of a run reads.
struct RunParts<'a> {
    run_id: &'a str,
    cfg: &'a RunConfig,
    home: &'a Path,
    backbone: &'a Backbone,
    device: &'a Device,
    data: &'a RunData,
}

/// The `targets` stage: each training and validation source's targets (captions, or the
/// backbone's replies to them, generated or found in the cache), and the instruction-tuning
/// sources' ground-truth answers. Returns the training and the validation sources.
fn targets_stage(
    store: &mut Store,
    run: &RunParts<'_>,
) -> StageResult<(Vec<TrainSource>, Vec<TrainSource>)> {
    run_stage(store, run.run_id, StageName::Targets, |store, _| {
        let (mut sources, mut val_sources, mut infos) = (Vec::new(), Vec::new(), Vec::new());
        let roles = run
            .data
            .train
            .iter()
            .map(|t| (SourceRole::Train, t))
            .chain(run.data.val.iter().map(|v| (SourceRole::Val, v)));
        for (role, source) in roles {
            let pb = bar(0, &format!("targets {}", source.name));
            pb.set_prefix(run.run_id.to_string());
            let built = targets::build(
                store,
                run.backbone,
                &run.cfg.targets,
                run.cfg.seed,
                &source.items,
                run.device,
                &mut |d, t| {
                    pb.set_length(t as u64);
                    pb.set_position(d as u64);
                },
            );
            pb.finish_and_clear();
            let (examples, info) = built?;
            infos.push(TargetSource {
                source: source.name.clone(),
                role,
                info,
            });
            let src = TrainSource {
                name: source.name.clone(),
                examples,
                weight: source.weight,
            };
            match role {
                SourceRole::Val => val_sources.push(src),
                _ => sources.push(src),
            }
        }
        // Instruction-tuning sources: ground-truth answers to their questions, no generation.
        for s in &run.data.instruct {
            let examples = targets::qa_targets(&s.items);
            infos.push(TargetSource {
                source: s.name.clone(),
                role: SourceRole::Instruct,
                info: TargetSetInfo::given(TargetKind::Qa, examples.len()),
            });
            sources.push(TrainSource {
                name: s.name.clone(),
                examples,
                weight: s.weight,
            });
        }
        Ok(((sources, val_sources), StageInfo::Targets(infos)))
    })
}

/// The `train` stage: train the run's adapter (and LoRA / encoder) and publish its weights.
fn train_stage(store: &mut Store, job: &TrainJob<'_>) -> StageResult<()> {
    run_stage(store, job.run_id, StageName::Train, |store, _| {
        // New weights: nothing decoded from earlier ones may be reused.
        store.delete_predictions(job.run_id)?;
        let pb = bar(job.cfg.train.steps as u64, "training");
        pb.set_prefix(job.run_id.to_string());
        let trained = train(store, job, &mut |s, _, loss| {
            pb.set_position(s as u64);
            pb.set_message(format!("training loss {loss:.3}"));
        });
        pb.finish_and_clear();
        let outcome = trained?;
        store.put_artifact(job.run_id, &outcome.weights, "weights")?;
        Ok(((), StageInfo::Train(outcome)))
    })
}

/// The eval stage (skipped when done): decode every evaluation set with the run's trained model
/// (or, for a reference row, its backbone alone), score it, and record scores and predictions.
fn eval_stage(
    store: &mut Store,
    run: &RunParts<'_>,
    audio: AudioInput<'_>,
    weights: &Path,
) -> StageResult<()> {
    let eval = StageName::Eval;
    let previous = store.stage(run.run_id, &eval)?;
    if previous.as_ref().map(|r| r.status) == Some(StageStatus::Done) {
        return Ok(());
    }
    // An earlier attempt (failed in METEOR, SPICE or the judge, say) stored its decoded
    // predictions; when this very binary made them from this very backbone (same trained
    // weights: training did not rerun, or it would have dropped them), score those instead of
    // decoding again. Anything else an earlier attempt left is deleted before decoding, so a
    // retry never mixes outputs of two builds.
    let stamp = EvalInfo {
        decoder: binary_fingerprint().map(str::to_string),
        backbone: Some(run.backbone.fingerprint.clone()),
        ..EvalInfo::default()
    };
    let same_decoder = stamp.decoder.is_some()
        && previous
            .as_ref()
            .and_then(|r| r.eval())
            .is_some_and(|p| p.decoder == stamp.decoder && p.backbone == stamp.backbone);
    let recorded = if same_decoder {
        crate::eval::run::recorded_outputs(store.predictions(run.run_id, None)?)
    } else {
        store.delete_predictions(run.run_id)?;
        Default::default()
    };
    run_stage(store, run.run_id, eval.clone(), |store, partial| {
        // Recorded at once: whatever this attempt stores was decoded by this binary, even if
        // it dies before it can say so.
        store.stage_set_info(run.run_id, &eval, &StageInfo::Eval(stamp.clone()))?;
        *partial = Some(StageInfo::Eval(stamp.clone()));
        let info = evaluate_sets(store, run, audio, weights, &recorded, stamp)?;
        Ok(((), StageInfo::Eval(info)))
    })
}

/// Decode and score every evaluation set of the run, recording as it goes; the eval stage's
/// info (`stamp` completed).
fn evaluate_sets(
    store: &mut Store,
    run: &RunParts<'_>,
    audio: AudioInput<'_>,
    weights: &Path,
    recorded: &crate::eval::run::RecordedOutputs,
    stamp: EvalInfo,
) -> StageResult<EvalInfo> {
    let (cfg, device) = (run.cfg, run.device);
    // Who answers: the trained model, or a reference row's backbone alone.
    let built = match cfg.reference {
        Reference::None => {
            let mut m = build_for_run(cfg, run.backbone, run.home, device)?;
            load_trainable(&mut m, weights)?;
            Ok(m)
        }
        _ => Err(crate::model::cast_floats(
            run.backbone.load_llm(device)?,
            cfg.train.precision.float_dtype(),
        )),
    };
    let answerer = match (&built, cfg.reference) {
        (Ok(model), _) => Answerer::Audio { model, audio },
        (Err(llm), Reference::TextOracle) => Answerer::TextOracle {
            llm,
            texts: &run.data.texts,
        },
        (Err(llm), _) => Answerer::NoAudio { llm },
    };
    let sets = &run.data.eval;
    let total: usize = sets.iter().map(EvalSet::len).sum();
    // The judge is set up before decoding, so a bad judge setting fails fast.
    let judge_needed = sets.iter().any(|s| matches!(s, EvalSet::Aqa { .. }));
    let external = ExternalScorers::from_config(&cfg.eval, run.home, device, judge_needed)
        .map_err(StageError::Scoring)?;
    let (mut reused, mut truncated) = (0, 0);
    let pb = bar(total as u64, "evaluating");
    pb.set_prefix(run.run_id.to_string());
    let mut summary = Vec::new();
    for set in sets {
        let ev = evaluate(
            answerer,
            run.backbone,
            cfg,
            set,
            recorded,
            device,
            &mut |n| pb.inc(n as u64),
        );
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                pb.finish_and_clear();
                return Err(e.into());
            }
        };
        // Recorded before the external scorers run: one failing leaves the predictions for
        // the retry to score.
        store.put_evals(run.run_id, &ev.scores)?;
        store.put_predictions(run.run_id, &ev.predictions)?;
        store.put_item_scores(run.run_id, &ev.items)?;
        // SPIDEr needs this set's CIDEr-D.
        let known = [summary.as_slice(), &ev.scores].concat();
        let scored = external.score(store, set, &ev.predictions, &known);
        let (more, more_items) = match scored {
            Ok(s) => s,
            Err(e) => {
                pb.finish_and_clear();
                return Err(StageError::Scoring(e));
            }
        };
        store.put_evals(run.run_id, &more)?;
        store.put_item_scores(run.run_id, &more_items)?;
        crate::pause::point("eval");
        reused += ev.reused;
        truncated += ev.truncated;
        summary.extend(ev.scores);
        summary.extend(more);
    }
    pb.finish_and_clear();
    let averages = aqa_averages(&summary);
    store.put_evals(run.run_id, &averages)?;
    summary.extend(averages);
    // A complete evaluation: scores an earlier one left that this one did not produce go.
    store.retain_evals(run.run_id, &summary)?;
    let aac = sets.iter().any(|s| matches!(s, EvalSet::Aac { .. }));
    let synth_instruct = cfg.data.instruct.iter().any(|s| s.dataset == "synth");
    Ok(EvalInfo {
        scores: summary,
        reused_predictions: Some(reused),
        // Outputs scored that hit decode.max_new_tokens (cut off), reused ones included.
        truncated_outputs: Some(truncated as u64),
        judge: external.info(),
        unavailable: aac.then(|| {
            external
                .unavailable()
                .into_iter()
                .map(String::from)
                .collect()
        }),
        probes_trained: (cfg.eval.probes && synth_instruct).then(|| {
            crate::spec::probes::TAUGHT_BY_SYNTH_QA
                .iter()
                .map(|k| k.to_string())
                .collect()
        }),
        ..stamp
    })
}
