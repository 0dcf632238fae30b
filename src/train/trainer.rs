//! The training loop: adapter (and LoRA factors, and the encoder when `encoder.trainable`) trained
//! with AdamW on response tokens, warm-up + decay schedule, gradient accumulation, global-norm
//! clipping as `torch.nn.utils.clip_grad_norm_`, step metrics into the store, and resumable
//! checkpoints. Dropout randomness is re-seeded from (seed, step) each step, so a resumed run
//! follows the same trajectory as an uninterrupted one.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};

use super::batch;
pub use super::batch::{masked_loss, masked_loss_over, TrainSource};
use super::checkpoint::{self, LoopState};
use super::schedule::lr_at;
use crate::audio::specaugment::SpecAugment;
use crate::data::features::AudioInput;
use crate::data::mix::{Mix, MixCursor};
use crate::home::RunDir;
use crate::model::audio_llm::AudioLlm;
use crate::model::backbone::{build_for_run, Backbone, BackboneError};
use crate::rng::Rng;
use crate::spec::schema::{NanPolicy, TargetKind};
use crate::spec::RunConfig;
use crate::store::stages::AudioInputKind;
/// What training returns: the `train` stage's record.
pub use crate::store::stages::TrainInfo as TrainOutcome;
use crate::store::{Store, StoreError};
use crate::text::prompt::{audio_prompt, response_ids, AudioPrompt};

pub struct TrainJob<'a> {
    pub run_id: &'a str,
    pub cfg: &'a RunConfig,
    pub backbone: &'a Backbone,
    pub sources: &'a [TrainSource],
    /// Held-out sets for the validation loss (`train.val_every`).
    pub val: &'a [TrainSource],
    pub audio: AudioInput<'a>,
    pub run_dir: &'a RunDir,
    /// `$ACDC_HOME` (where builtin models live).
    pub home: &'a Path,
    /// Trained weights of the `init_from` run.
    pub init_from: Option<PathBuf>,
    /// Set when the worker's claim on the run was lost (another worker took it over): training
    /// stops at the next step.
    pub claim_lost: Option<&'a std::sync::atomic::AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("non-finite {what} at step {step} (train.nan_policy = \"fail\")")]
    NonFinite { step: usize, what: String },
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Model(#[from] BackboneError),
    #[error(transparent)]
    Device(#[from] crate::model::device::DeviceError),
    /// A training or validation source's examples cannot be trained on (none left, a clip
    /// without audio, a target or prompt the tokenizer or chat format refuses).
    #[error("{0}")]
    Data(String),
    /// `train.*` settings that cannot work (learning rates, `no_decay` patterns).
    #[error("{0}")]
    Settings(String),
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("run {0}: another worker took it over; training stopped here")]
    ClaimLost(String),
    /// Slurm signalled the task (`preempt`): a checkpoint was written at `step`.
    #[error("stopped by Slurm's signal after step {step}, at a checkpoint it resumes from")]
    Preempted { step: usize },
}

/// AdamW with PyTorch's defaults (β 0.9/0.999, ε 1e-8, decoupled decay), the parameters whose
/// paths match any of `no_decay` (regexes) in a group without weight decay.
pub fn adamw(weight_decay: f64, no_decay: &[String]) -> Result<ModuleOptimizer, String> {
    let base = || {
        AdamWConfig::new()
            .with_beta_1(0.9)
            .with_beta_2(0.999)
            .with_epsilon(1e-8)
    };
    let mut optim = base().with_weight_decay(weight_decay as f32).init();
    if !no_decay.is_empty() && weight_decay != 0.0 {
        let group = burn::module::ParamGroup::from_any_regexes(no_decay.to_vec())
            .map_err(|e| format!("train.no_decay: {e:?}"))?;
        optim = optim.with_group(group, base().with_weight_decay(0.0).build(), None);
    }
    Ok(optim)
}

/// The learning rates of one optimizer step: `lr` (the schedule's value) for every parameter, and,
/// when the encoder trains with a rate of its own, `lr · encoder_lr / base_lr` for the encoder's
/// parameters (the same schedule applied to its base rate, as PyTorch param groups under one
/// LambdaLR do).
pub fn step_lrs(
    lr: f64,
    base_lr: f64,
    encoder_lr: Option<f64>,
) -> Result<burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate, String> {
    use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrSchedulerConfig;
    use burn::optim::lr_scheduler::LrSchedulerConfig;
    let mut cfg = ModuleLrSchedulerConfig::new(LrSchedulerConfig::Constant(lr));
    if let Some(enc) = encoder_lr.filter(|&e| e > 0.0 && e != base_lr) {
        let scaled = if base_lr > 0.0 {
            lr * enc / base_lr
        } else {
            enc
        };
        let group = burn::module::ParamGroup::from_any_regexes(vec![r"^encoder\.".to_string()])
            .map_err(|e| format!("encoder parameter group: {e:?}"))?;
        cfg = cfg.with_group(group, LrSchedulerConfig::Constant(scaled));
    }
    Ok(cfg.init()?.step())
}

/// The process's peak resident memory in MiB (Linux `VmHWM`; None elsewhere). Device memory on a
/// GPU is not visible through burn; `tools/gpu_check_train.sh` samples nvidia-smi for it.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Mark the trainable parameters (adapter, LoRA factors, encoder if asked); freeze the rest.
pub fn mark_trainable(m: AudioLlm, encoder_trainable: bool) -> AudioLlm {
    let mut m = m.no_grad();
    m.adapter = m.adapter.set_require_grad(true);
    if encoder_trainable {
        m.encoder = m.encoder.set_require_grad(true);
    }
    for l in m.llm.layers.iter_mut() {
        let a = &mut l.self_attn;
        for p in [
            &mut a.q_proj,
            &mut a.k_proj,
            &mut a.v_proj,
            &mut a.o_proj,
            &mut l.mlp.gate_proj,
            &mut l.mlp.up_proj,
            &mut l.mlp.down_proj,
        ] {
            p.lora = p.lora.take().map(|f| f.set_require_grad(true));
        }
    }
    m
}

/// Global-norm clipping as `torch.nn.utils.clip_grad_norm_` over every gradient of `module`:
/// returns (total norm before clipping, whether every gradient is finite).
pub fn clip_global_norm<M: Module>(
    module: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> (f64, bool) {
    let mut norm = GradNorm {
        grads,
        sq: 0.0,
        finite: true,
    };
    module.visit(&mut norm);
    let (total, finite) = (norm.sq.sqrt(), norm.finite && norm.sq.is_finite());
    if finite && max_norm > 0.0 {
        let coef = max_norm / (total + 1e-6);
        if coef < 1.0 {
            module.visit(&mut GradScale {
                grads,
                factor: coef,
            });
        }
    }
    (total, finite)
}

struct GradNorm<'a> {
    grads: &'a GradientsParams,
    sq: f64,
    finite: bool,
}

impl ModuleVisitor for GradNorm<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(p.id) {
            let v: f32 = g.square().sum().into_scalar();
            if !v.is_finite() {
                self.finite = false;
            }
            self.sq += v as f64;
        }
    }
}

struct GradScale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleVisitor for GradScale<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(p.id) {
            self.grads.register::<D>(p.id, g.mul_scalar(self.factor));
        }
    }
}

/// Response ids of every example of a source (end-of-turn included where the reply ended).
fn tokenize_targets(backbone: &Backbone, s: &TrainSource) -> Result<Vec<Vec<u32>>, TrainError> {
    s.examples
        .iter()
        .map(|e| {
            response_ids(&backbone.tokenizer, &backbone.chat, &e.text, e.ends)
                .map_err(|err| TrainError::Data(format!("{}: {err}", e.item_id)))
        })
        .collect()
}

fn prompt_for(job: &TrainJob<'_>) -> Result<AudioPrompt, TrainError> {
    let instruction = match job.cfg.targets.kind {
        TargetKind::Dialogue => None,
        TargetKind::Caption => Some(job.cfg.targets.caption_instruction.as_str()),
    };
    audio_prompt(&job.backbone.tokenizer, &job.backbone.chat, instruction)
        .map_err(|e| TrainError::Data(e.to_string()))
}

/// Train (or resume) a run. `progress(step, total, loss)` is called after each step.
pub fn train(
    store: &mut Store,
    job: &TrainJob<'_>,
    progress: &mut dyn FnMut(usize, usize, f64),
) -> Result<TrainOutcome, TrainError> {
    let cfg = job.cfg;
    let tc = &cfg.train;
    let device = crate::model::device::train_device_for(cfg.device, tc.gradient_checkpointing)?;
    let infer_device = crate::model::device::device_for(cfg.device)?;
    let regex = checkpoint::trainable_regex(cfg.encoder.trainable);
    let ckpt_dir = job.run_dir.checkpoints();
    let Resumed {
        mut model,
        mut optim,
        mut state,
        from: resumed_from,
    } = start_or_resume(store, job, &ckpt_dir, &device)?;
    let data = StepData::prepare(job, &model)?;
    let mut pending: Vec<(u64, String, f64)> = Vec::new();
    while state.step < tc.steps {
        let t0 = Instant::now();
        device.seed(
            cfg.seed
                .wrapping_mul(1_000_003)
                .wrapping_add(state.step as u64),
        );
        let micro = data.draw(job, &mut state.cursor)?;
        let (mut grads, loss_sum, tokens) =
            data.gradients(&model, &micro, job, &device, &mut state.aug_rng)?;
        let (gnorm, finite) = clip_global_norm(&model, &mut grads, tc.clip_norm);
        if !loss_sum.is_finite() || !finite {
            // train.nan_policy: fail (an error), or skip the update (recorded as a metric).
            non_finite(
                tc.nan_policy,
                state.step + 1,
                loss_sum,
                gnorm,
                job,
                store,
                &pending,
            )?;
            state.skipped += 1;
            state.step += 1;
            pending.push((
                state.step as u64,
                "skipped_updates".into(),
                state.skipped as f64,
            ));
            continue;
        }
        let lr = lr_at(tc.lr, tc.schedule, tc.warmup_steps, tc.steps, state.step);
        let lrs = step_lrs(lr, tc.lr, cfg.encoder.trainable.then_some(cfg.encoder.lr))
            .map_err(TrainError::Settings)?;
        model = optim.step(lrs, model, grads);
        state.step += 1;
        state.last_loss = Some(loss_sum);
        let secs = t0.elapsed().as_secs_f64().max(1e-9);
        if state.step.is_multiple_of(tc.log_every) || state.step == 1 || state.step == tc.steps {
            let s = state.step as u64;
            pending.push((s, "loss".into(), loss_sum));
            pending.push((s, "lr".into(), lr));
            pending.push((s, "grad_norm".into(), gnorm));
            pending.push((s, "tokens_per_s".into(), tokens as f64 / secs));
            pending.push((s, "seconds_per_step".into(), secs));
            if let Some(mb) = peak_rss_mb() {
                pending.push((s, "peak_rss_mb".into(), mb));
            }
        }
        if tc.val_every > 0
            && !data.val_sets.is_empty()
            && (state.step.is_multiple_of(tc.val_every) || state.step == tc.steps)
        {
            pending.extend(data.validation(&model, job, state.step, &infer_device)?);
        }
        if pending.len() >= 200 {
            store.log_steps(job.run_id, &pending)?;
            pending.clear();
        }
        if state.step.is_multiple_of(tc.checkpoint_every) || state.step == tc.steps {
            store.log_steps(job.run_id, &pending)?;
            pending.clear();
            checkpoint::save(&ckpt_dir, &model, &optim, &state, cfg, &regex, 2)?;
            crate::pause::point("train");
        }
        // Slurm's warning (time limit, preemption): a checkpoint here, then stop.
        if crate::preempt::requested().is_some() && state.step < tc.steps {
            store.log_steps(job.run_id, &pending)?;
            pending.clear();
            if !state.step.is_multiple_of(tc.checkpoint_every) {
                checkpoint::save(&ckpt_dir, &model, &optim, &state, cfg, &regex, 2)?;
            }
            return Err(TrainError::Preempted { step: state.step });
        }
        if job
            .claim_lost
            .is_some_and(|l| l.load(std::sync::atomic::Ordering::Relaxed))
        {
            store.log_steps(job.run_id, &pending)?;
            return Err(TrainError::ClaimLost(job.run_id.to_string()));
        }
        progress(state.step, tc.steps, loss_sum);
    }
    store.log_steps(job.run_id, &pending)?;
    Ok(TrainOutcome {
        steps: state.step,
        resumed_from,
        final_loss: state.last_loss.unwrap_or(f64::NAN),
        skipped: state.skipped,
        weights: save_final(job, &model, &regex)?,
        audio_input: Some(match job.audio {
            AudioInput::Encoded(_) => AudioInputKind::Encoded,
            AudioInput::Features(_) => AudioInputKind::Features,
        }),
    })
}

/// A step whose loss or gradient norm is not finite: under `train.nan_policy = "fail"` the
/// metrics so far are logged and the run fails naming the step; under `"skip"` nothing happens
/// here (the caller skips the update).
fn non_finite(
    policy: NanPolicy,
    step: usize,
    loss: f64,
    gnorm: f64,
    job: &TrainJob<'_>,
    store: &mut Store,
    pending: &[(u64, String, f64)],
) -> Result<(), TrainError> {
    if policy == NanPolicy::Skip {
        return Ok(());
    }
    store.log_steps(job.run_id, pending)?;
    let what = if !loss.is_finite() {
        format!("loss ({loss})")
    } else {
        format!("gradient norm ({gnorm})")
    };
    Err(TrainError::NonFinite { step, what })
}

/// The model, optimizer and loop state a run trains from: fresh (from `init_from`'s weights
/// when set), or its latest checkpoint's.
struct Resumed {
    model: AudioLlm,
    optim: ModuleOptimizer,
    state: LoopState,
    /// The checkpoint's step, when resumed.
    from: Option<usize>,
}

/// Build the run's model and optimizer and resume from the latest checkpoint in `ckpt_dir` if
/// there is one (its step metrics after that checkpoint are dropped: they are logged again).
fn start_or_resume(
    store: &mut Store,
    job: &TrainJob<'_>,
    ckpt_dir: &Path,
    device: &Device,
) -> Result<Resumed, TrainError> {
    let cfg = job.cfg;
    let mut model = build_for_run(cfg, job.backbone, job.home, device)?;
    if let Some(src) = &job.init_from {
        checkpoint::load_trainable(&mut model, src)?;
    }
    let model = mark_trainable(model, cfg.encoder.trainable);
    let optim = adamw(cfg.train.weight_decay, &cfg.train.no_decay).map_err(TrainError::Settings)?;
    let Some(latest) = checkpoint::list(ckpt_dir).pop() else {
        store.truncate_steps_after(job.run_id, 0)?;
        return Ok(Resumed {
            model,
            optim,
            state: LoopState {
                step: 0,
                cursor: MixCursor::default(),
                aug_rng: Rng::derive(cfg.seed, "specaugment"),
                skipped: 0,
                last_loss: None,
            },
            from: None,
        });
    };
    checkpoint::check_config(&latest, cfg)?;
    let mut model = model;
    let (optim, state) = checkpoint::load(&latest, &mut model, optim)?;
    store.truncate_steps_after(job.run_id, state.step as u64)?;
    Ok(Resumed {
        model: mark_trainable(model, cfg.encoder.trainable),
        optim,
        from: Some(state.step),
        state,
    })
}

/// Write the trained parameters to the run's final weights (through a temporary file and a
/// rename); returns their path.
fn save_final(job: &TrainJob<'_>, model: &AudioLlm, regex: &str) -> Result<PathBuf, TrainError> {
    let weights = job.run_dir.final_weights();
    let parent = weights.parent().expect("final/ has a parent").to_path_buf();
    std::fs::create_dir_all(&parent).map_err(|e| TrainError::Io {
        path: parent.clone(),
        message: e.to_string(),
    })?;
    let tmp = parent.join(format!(".trainable-{}.bpk", std::process::id()));
    checkpoint::save_trainable(model, &tmp, regex)?;
    std::fs::rename(&tmp, &weights).map_err(|e| TrainError::Io {
        path: weights.clone(),
        message: e.to_string(),
    })?;
    Ok(weights)
}

/// Everything a step reads, prepared once: every target tokenised, the source mix, the prompts,
/// the validation sets and the audio.
struct StepData<'a> {
    responses: Vec<Vec<Vec<u32>>>,
    mix: Mix,
    prompt: AudioPrompt,
    /// Instruction-tuning examples carry their own instruction (a question): one prompt each.
    instruction_prompts: std::collections::HashMap<&'a str, AudioPrompt>,
    val_sets: Vec<super::validate::ValSet<'a>>,
    clips: &'a crate::data::features::ClipMatrices,
    /// Audio positions the adapter gives each clip.
    audio_len: usize,
}

/// One micro-batch: its clips' keys and its batch.
type MicroBatch<'a> = (Vec<&'a str>, batch::TrainBatch);

impl<'a> StepData<'a> {
    fn prepare(job: &TrainJob<'a>, model: &AudioLlm) -> Result<Self, TrainError> {
        let responses: Vec<Vec<Vec<u32>>> = job
            .sources
            .iter()
            .map(|s| tokenize_targets(job.backbone, s))
            .collect::<Result<_, _>>()?;
        if job.sources.iter().all(|s| s.examples.is_empty()) {
            return Err(TrainError::Data(format!(
                "no training examples after filtering (data.train: {})",
                job.sources
                    .iter()
                    .map(|s| format!("{} = 0", s.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mix = Mix::new(
            job.sources.iter().map(|s| s.examples.len()).collect(),
            &job.sources.iter().map(|s| s.weight).collect::<Vec<_>>(),
            job.cfg.seed,
        );
        let prompt = prompt_for(job)?;
        let mut instruction_prompts = std::collections::HashMap::new();
        for e in job.sources.iter().flat_map(|s| &s.examples) {
            if let Some(q) = &e.instruction {
                if !instruction_prompts.contains_key(q.as_str()) {
                    let p = audio_prompt(&job.backbone.tokenizer, &job.backbone.chat, Some(q))
                        .map_err(|err| TrainError::Data(format!("{}: {err}", e.item_id)))?;
                    instruction_prompts.insert(q.as_str(), p);
                }
            }
        }
        let val_sets = job
            .val
            .iter()
            .map(|s| {
                Ok(super::validate::ValSet {
                    source: s,
                    responses: tokenize_targets(job.backbone, s)?,
                })
            })
            .collect::<Result<Vec<_>, TrainError>>()?;
        let (clips, encoded) = match job.audio {
            AudioInput::Encoded(m) => (m, true),
            AudioInput::Features(m) => (m, false),
        };
        let audio_len = if encoded {
            model.adapter.num_outputs(clips.rows)
        } else {
            model
                .adapter
                .num_outputs(model.encoder.num_tokens(clips.rows))
        };
        Ok(StepData {
            responses,
            mix,
            prompt,
            instruction_prompts,
            val_sets,
            clips,
            audio_len,
        })
    }

    /// Draw a step's micro-batches from the mix (all of them first, so each one's loss can be
    /// divided by the scored tokens of the whole step).
    fn draw(
        &self,
        job: &TrainJob<'a>,
        cursor: &mut MixCursor,
    ) -> Result<Vec<MicroBatch<'a>>, TrainError> {
        let tc = &job.cfg.train;
        let mut micro = Vec::with_capacity(tc.grad_accum);
        for _ in 0..tc.grad_accum {
            let picks: Vec<(usize, usize)> =
                (0..tc.batch_size).map(|_| self.mix.next(cursor)).collect();
            let resp: Vec<Vec<u32>> = picks
                .iter()
                .map(|&(s, i)| self.responses[s][i].clone())
                .collect();
            let ids: Vec<&'a str> = picks
                .iter()
                .map(|&(s, i)| job.sources[s].examples[i].audio_key.as_str())
                .collect();
            let prompts: Vec<&AudioPrompt> = picks
                .iter()
                .map(|&(s, i)| match &job.sources[s].examples[i].instruction {
                    Some(q) => &self.instruction_prompts[q.as_str()],
                    None => &self.prompt,
                })
                .collect();
            let pad = job.backbone.tokenizer.pad;
            micro.push((
                ids,
                batch::build_prompted(&prompts, self.audio_len, &resp, pad),
            ));
        }
        Ok(micro)
    }

    /// A step's gradients over its micro-batches (accumulated), its loss (per scored token of
    /// the step) and the tokens it read. A clip the run's audio lacks is an error.
    fn gradients(
        &self,
        model: &AudioLlm,
        micro: &[MicroBatch<'a>],
        job: &TrainJob<'_>,
        device: &Device,
        aug_rng: &mut Rng,
    ) -> Result<(GradientsParams, f64, usize), TrainError> {
        let augment = SpecAugment::default();
        let (rows, dim) = (self.clips.rows, self.clips.dim);
        let mut acc = GradientsAccumulator::<AudioLlm>::new();
        let (mut loss_sum, mut tokens) = (0.0, 0usize);
        let step_scored: usize = micro.iter().map(|(_, b)| b.scored).sum();
        for (ids, b) in micro {
            let mut spec_augment = |clip: &mut [f32]| augment.apply(clip, rows, dim, aug_rng);
            let edit: Option<&mut dyn FnMut(&mut [f32])> = if job.cfg.encoder.spec_augment {
                Some(&mut spec_augment)
            } else {
                None
            };
            let audio = model
                .embed_clips(job.audio, ids, device, edit)
                .map_err(|id| TrainError::Data(format!("no audio features for clip `{id}`")))?;
            let logits = model.forward(&b.spliced, audio);
            let loss = masked_loss_over(logits, b, device, step_scored);
            let lv: f32 = loss.clone().into_scalar();
            loss_sum += lv as f64;
            tokens += b.spliced.valid.iter().flatten().filter(|&&v| v).count();
            let grads = GradientsParams::from_grads(loss.backward(), model);
            acc.accumulate(model, grads);
        }
        Ok((acc.grads(), loss_sum, tokens))
    }

    /// The validation loss at `step` as step metrics: overall, and per set when there are
    /// several.
    fn validation(
        &self,
        model: &AudioLlm,
        job: &TrainJob<'_>,
        step: usize,
        device: &Device,
    ) -> Result<Vec<(u64, String, f64)>, TrainError> {
        let (per_set, overall) = super::validate::validation_loss(
            model,
            &self.val_sets,
            &self.prompt,
            self.audio_len,
            job.audio,
            job.backbone.tokenizer.pad,
            job.cfg.train.batch_size,
            device,
        )
        .map_err(TrainError::Data)?;
        let s = step as u64;
        let mut out = vec![(s, "val_loss".to_string(), overall)];
        if per_set.len() > 1 {
            out.extend(
                per_set
                    .into_iter()
                    .map(|(name, l)| (s, format!("val_loss/{name}"), l)),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::TensorData;

    #[derive(Module, Debug)]
    struct Wrap {
        lin: Linear,
    }

    #[derive(Module, Debug)]
    struct TwoParts {
        encoder: Linear,
        adapter: Linear,
    }

    /// With `encoder.lr`, the encoder's parameters move by their own rate: on AdamW's first step
    /// every weight moves by exactly its lr (m̂/√v̂ = sign(g), no decay here).
    #[test]
    fn encoder_group_gets_its_own_learning_rate() {
        let device = Device::flex().autodiff();
        device.seed(5);
        let m = TwoParts {
            encoder: LinearConfig::new(3, 3).init(&device),
            adapter: LinearConfig::new(3, 2).init(&device),
        };
        let host =
            |l: &Linear| -> Vec<f32> { l.weight.val().into_data().try_to_vec::<f32>().unwrap() };
        let (e0, a0) = (host(&m.encoder), host(&m.adapter));
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [1, 3]), &device);
        let loss = m.adapter.forward(m.encoder.forward(x)).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        let mut optim = adamw(0.0, &[]).unwrap();
        // Schedule value 0.05 of base 0.1 (half-way through warm-up); encoder base 0.02 → 0.01.
        let m = optim.step(step_lrs(0.05, 0.1, Some(0.02)).unwrap(), m, grads);
        for (a, b) in e0.iter().zip(&host(&m.encoder)) {
            assert!(((a - b).abs() - 0.01).abs() < 1e-5, "encoder {a} -> {b}");
        }
        for (a, b) in a0.iter().zip(&host(&m.adapter)) {
            assert!(((a - b).abs() - 0.05).abs() < 1e-5, "adapter {a} -> {b}");
        }
    }

    /// One AdamW step: m̂/√v̂ = sign(g) on the first step, so w' = w − lr·sign(g) − lr·wd·w for
    /// decayed tensors and b' = b − lr·sign(g) for biases (excluded by the default `no_decay`).
    #[test]
    fn biases_get_no_weight_decay() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let m = Wrap {
            lin: LinearConfig::new(3, 2).init(&device),
        };
        let w0: Vec<f32> = m.lin.weight.val().into_data().try_to_vec::<f32>().unwrap();
        let b0: Vec<f32> = m
            .lin
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [1, 3]), &device);
        let loss = m.lin.forward(x).sum(); // dL/dW[i][j] = x_i > 0, dL/db = 1 > 0
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        let mut optim = adamw(0.5, &crate::spec::schema::TrainConfig::default().no_decay).unwrap();
        let m = optim.step(0.1, m, grads);
        let w1: Vec<f32> = m.lin.weight.val().into_data().try_to_vec::<f32>().unwrap();
        let b1: Vec<f32> = m
            .lin
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (a, b) in w0.iter().zip(&w1) {
            assert!(
                (b - (a - 0.1 - 0.1 * 0.5 * a)).abs() < 1e-5,
                "weight {a} -> {b}"
            );
        }
        for (a, b) in b0.iter().zip(&b1) {
            assert!((b - (a - 0.1)).abs() < 1e-5, "bias {a} -> {b} (decayed?)");
        }
    }

    /// A batch whose every target token is masked gives loss 0 and zero, finite gradients (not NaN
    /// from 0/0).
    #[test]
    fn all_masked_batch_is_finite() {
        let device = Device::flex().autodiff();
        device.seed(2);
        let m = Wrap {
            lin: LinearConfig::new(3, 5).init(&device),
        };
        let x =
            Tensor::<3>::from_data(TensorData::new(vec![0.5f32; 2 * 4 * 3], [2, 4, 3]), &device);
        let logits = m.lin.forward(x);
        let b = batch::TrainBatch {
            spliced: crate::model::audio_llm::SplicedBatch {
                ids: vec![vec![0; 4]; 2],
                audio_at: vec![0, 0],
                valid: vec![vec![true; 4]; 2],
            },
            targets: vec![vec![0; 4]; 2],
            mask: vec![vec![0.0; 4]; 2],
            scored: 0,
        };
        let loss = masked_loss(logits, &b, &device);
        let v: Vec<f32> = loss.clone().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(v, vec![0.0]);
        let mut grads = GradientsParams::from_grads(loss.backward(), &m);
        let (norm, finite) = clip_global_norm(&m, &mut grads, 1.0);
        assert!(finite && norm == 0.0, "norm {norm}");
    }
}
