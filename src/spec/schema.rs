//! The run configuration: every key a run can set, with its documented default.
//!
//! A spec's `[defaults]` table, each `[runs.<LABEL>]` row and each sweep point are merged into one
//! [`RunConfig`]. Unknown keys are errors (`deny_unknown_fields`). Defaults follow the reference facts
//! in ARCHITECTURE.md (AC/DC + SLAM-AAC): temperature 0.7, LoRA r 8 / α 32 on q_proj + v_proj, adapter
//! downsample 5 with hidden 2048, beam 4, at most 200 new tokens, 1000 warm-up steps.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One fully resolved run configuration. Its canonical JSON decides the run id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// The LLM: a Hugging Face model id or directory, or `builtin:tiny` (a seeded random
    /// Llama-architecture model with a byte-level BPE tokenizer trained on the synthetic corpus).
    pub backbone: String,
    pub encoder: EncoderConfig,
    pub adapter: AdapterConfig,
    pub targets: TargetsConfig,
    pub llm: LlmConfig,
    pub data: DataConfig,
    pub train: TrainConfig,
    pub decode: DecodeConfig,
    pub eval: EvalConfig,
    /// Seed for model initialisation, data order, target sampling and augmentation.
    pub seed: u64,
    /// Where the run executes: `cpu` (burn flex), `cuda` (burn CUDA), `wgpu` (burn wgpu).
    pub device: DeviceKind,
    /// Run id of the run whose trained weights this run starts from (set by the spec's
    /// `init_from = "<LABEL>"`; not written by hand).
    pub init_from: Option<String>,
    /// A reference row in place of a trained model: `none` (default: a trained run),
    /// `text-oracle` (the backbone given each clip's ground-truth description as text where the
    /// audio would be — for the synthetic world one sentence stating everything its five
    /// captions state together, elsewhere the captions joined: what a perfect stand-in for the
    /// annotations could reach), or
    /// `no-audio` (the backbone with nothing where the audio would be: what the question alone
    /// gives). Reference rows skip targets and training and are evaluated like any run; their
    /// seed changes nothing, so a row gets one run per sweep point. Left out of a trained run's
    /// canonical JSON, so adding the key changed no run id.
    #[serde(skip_serializing_if = "Reference::is_none")]
    pub reference: Reference,
}

/// See [`RunConfig::reference`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reference {
    #[default]
    None,
    TextOracle,
    NoAudio,
}

impl Reference {
    pub fn is_none(&self) -> bool {
        *self == Reference::None
    }
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            backbone: "meta-llama/Meta-Llama-3-8B-Instruct".into(),
            encoder: EncoderConfig::default(),
            adapter: AdapterConfig::default(),
            targets: TargetsConfig::default(),
            llm: LlmConfig::default(),
            data: DataConfig::default(),
            train: TrainConfig::default(),
            decode: DecodeConfig::default(),
            eval: EvalConfig::default(),
            seed: 0,
            device: DeviceKind::Cpu,
            init_from: None,
            reference: Reference::None,
        }
    }
}

/// Audio encoder settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EncoderConfig {
    /// EAT checkpoint: an HF model id/directory, or `builtin:tiny-eat` (seeded random EAT architecture).
    pub checkpoint: String,
    /// Train the encoder together with the adapter (open question 2).
    pub trainable: bool,
    /// Learning rate for encoder parameters when trainable (`0` = the adapter's `train.lr`).
    pub lr: f64,
    /// Fbank frames the encoder sees: pad with zeros or truncate to this many (EAT: 1024 ≈ 10 s);
    /// `0` keeps the natural length.
    pub target_frames: usize,
    /// SpecAugment (2 time masks ≤ 64 frames, 2 frequency masks ≤ 8 bins) during training.
    pub spec_augment: bool,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self {
            checkpoint: "worstchan/EAT-base_epoch30_finetune_AS2M".into(),
            trainable: false,
            lr: 0.0,
            target_frames: 1024,
            spec_augment: false,
        }
    }
}

/// The projector between encoder and LLM (SLAM-AAC's `EncoderProjectorConcat`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdapterConfig {
    /// Consecutive encoder tokens stacked into one LLM embedding (k).
    pub downsample: usize,
    /// Hidden width of Linear(k·d_enc → hidden) → ReLU → Linear(hidden → d_llm).
    pub hidden: usize,
}

impl Default for AdapterConfig {
    fn default() -> Self {
        Self {
            downsample: 5,
            hidden: 2048,
        }
    }
}

/// What the adapter is trained to make the LLM say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The ground-truth caption (the baseline).
    Caption,
    /// The frozen LLM's own reply to the caption given as a user turn (AC/DC).
    Dialogue,
}

/// Training-target generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetsConfig {
    pub kind: TargetKind,
    /// Sampling temperature of dialogue-continuation replies.
    pub temperature: f64,
    /// Nucleus (top-p) threshold of dialogue-continuation replies (1.0 = off).
    pub top_p: f64,
    /// Replies sampled per caption.
    pub samples_per_caption: usize,
    /// Longest reply in tokens.
    pub max_new_tokens: usize,
    /// What training does with a reply cut off at `max_new_tokens` (one that never emitted an
    /// end-of-turn token).
    pub truncated: TruncatedReplies,
    /// The instruction placed after the audio for `caption` targets (dialogue rows use none).
    pub caption_instruction: String,
    /// What generates dialogue replies: `builtin` (acdc's own decoder on the run's device) or
    /// `openai` (an OpenAI-compatible server serving the run's backbone, e.g. vLLM on a GPU box,
    /// at `engine_url` as `engine_model`). The `engine*` keys are machine settings, out of the
    /// run id (they say how the backbone's replies are computed, not what the run is); the cached
    /// reply set's key covers the engine and the served model, so sets never mix.
    pub engine: TargetEngine,
    /// Base URL of the `openai` engine's server (`…/v1`).
    pub engine_url: String,
    /// The model name the server knows the backbone by (empty: the backbone's id).
    pub engine_model: String,
    /// The environment variable holding the server's API key (unset: no `Authorization`
    /// header). The key itself is never stored or logged.
    pub engine_api_key_env: String,
    /// Requests in flight at once.
    pub engine_concurrency: usize,
    /// Further attempts after a retryable failure (HTTP 429 / 5xx, timeout, dropped connection,
    /// malformed reply).
    pub engine_retries: u32,
    /// Per request, in seconds.
    pub engine_timeout_s: f64,
    /// Wait before the first retry, in seconds; doubled each time.
    pub engine_backoff_s: f64,
}

/// What generates dialogue-continuation replies (`targets.engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetEngine {
    Builtin,
    Openai,
}

/// What happens to a dialogue-continuation reply that reached `targets.max_new_tokens` without
/// ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TruncatedReplies {
    /// Train on the reply as far as it goes, with no end-of-turn token after it (the model is not
    /// taught to stop where the reply was cut).
    Open,
    /// Leave the reply out of training.
    Drop,
    /// Train on it with an end-of-turn token, as if it had ended there.
    Close,
}

impl Default for TargetsConfig {
    fn default() -> Self {
        Self {
            kind: TargetKind::Dialogue,
            temperature: 0.7,
            top_p: 1.0,
            samples_per_caption: 1,
            max_new_tokens: 200,
            truncated: TruncatedReplies::Open,
            caption_instruction: "Describe the audio in one sentence.".into(),
            engine: TargetEngine::Builtin,
            engine_url: "http://localhost:8000/v1".into(),
            engine_model: String::new(),
            engine_api_key_env: "OPENAI_API_KEY".into(),
            engine_concurrency: 16,
            engine_retries: 4,
            engine_timeout_s: 300.0,
            engine_backoff_s: 2.0,
        }
    }
}

/// Whether the LLM stays frozen or gets LoRA adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LlmMode {
    Frozen,
    Lora,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    pub mode: LlmMode,
    pub lora: LoraConfig,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            mode: LlmMode::Frozen,
            lora: LoraConfig::default(),
        }
    }
}

/// LoRA hyper-parameters (PEFT semantics: scale = alpha / rank, dropout on the LoRA input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoraConfig {
    pub rank: usize,
    pub alpha: f64,
    /// Projection names LoRA attaches to (`q_proj`, `k_proj`, `v_proj`, `o_proj`, `gate_proj`, `up_proj`, `down_proj`).
    pub targets: Vec<String>,
    pub dropout: f64,
}

impl Default for LoraConfig {
    fn default() -> Self {
        Self {
            rank: 8,
            alpha: 32.0,
            targets: vec!["q_proj".into(), "v_proj".into()],
            dropout: 0.05,
        }
    }
}

/// One training source of a dataset mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSource {
    /// Dataset name: `synth`, `audiocaps`, `clotho`, `wavcaps`, `clotho_aqa`, `audiocaps_qa`, `wavcaps_qa`.
    pub dataset: String,
    pub split: String,
    /// Relative sampling weight in the mix.
    #[serde(default = "one")]
    pub weight: f64,
    /// Use at most this many items of the source (0 = all): the first ones in the reader's order
    /// (file order; WavCaps reads its sources in turn, AudioSet_SL first), taken before items
    /// with unreadable audio are skipped — a prefix, not a random subset.
    #[serde(default)]
    pub max_items: usize,
}

fn one() -> f64 {
    1.0
}

/// One evaluation set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSet {
    pub dataset: String,
    pub split: String,
    /// Evaluate at most this many items (0 = all): the first ones in the set's file order.
    #[serde(default)]
    pub max_items: usize,
}

/// Missing or unreadable audio in a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingAudio {
    /// The run fails, naming the first bad files.
    Error,
    /// Bad items are dropped; the count and first names are recorded with the run.
    Skip,
}

/// The synthetic world `dataset = "synth"` refers to (generated on first use under `$ACDC_HOME/data/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynthData {
    pub clips: usize,
    pub seed: u64,
    pub clip_seconds: f32,
}

impl Default for SynthData {
    fn default() -> Self {
        Self {
            clips: 200,
            seed: 0,
            clip_seconds: 5.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// The training mix.
    pub train: Vec<DataSource>,
    /// Instruction-tuning sources (open question 1): audio-QA training splits (`synth`,
    /// `clotho_aqa`, …) whose question → ground-truth answer pairs join the training mix at their
    /// `weight`, the question given as the instruction after the audio, whatever `targets.kind`.
    pub instruct: Vec<DataSource>,
    /// Held-out sets whose loss is logged every `train.val_every` steps (targets built as for
    /// training; `weight` is ignored).
    pub val: Vec<DataSource>,
    /// Audio-captioning evaluation sets (scored with BLEU, ROUGE-L, CIDEr-D).
    pub eval_aac: Vec<EvalSet>,
    /// Audio-QA evaluation sets (token-F1 and exact match; an LLM judge where `eval.judge` names one).
    pub eval_aqa: Vec<EvalSet>,
    /// Where each real dataset lives on disk (dataset name → directory).
    pub roots: BTreeMap<String, String>,
    /// How a dataset names its audio files, relative to its root (dataset name → pattern), e.g.
    /// `audiocaps = "{split}/{youtube_id}_{start_time}.wav"` or `wavcaps = "{source}/{id}"`
    /// (`{id}` is a WavCaps id as published, `{stem}` the id without its extension; WavCaps'
    /// default is the release's `{source}/{stem}.flac`).
    pub patterns: BTreeMap<String, String>,
    /// WavCaps exclusion lists (paths relative to the WavCaps root): the clips they name are left
    /// out of every WavCaps split. The default is the list WavCaps' own pretraining uses, which
    /// drops the AudioCaps test clips in AudioSet_SL and the Clotho clips in FreeSound; the release
    /// also has `json_files/blacklist/blacklist_exclude_all_ac.json` and
    /// `…/blacklist_exclude_ub8k_esc50_vggsound.json`. A listed file that does not exist is an
    /// error; `[]` reads WavCaps without exclusion.
    pub wavcaps_exclude: Vec<String>,
    pub missing_audio: MissingAudio,
    /// Refuse audio files longer than this many seconds (0 = no limit); they count as unreadable.
    pub max_audio_seconds: f64,
    pub synth: SynthData,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            train: vec![DataSource {
                dataset: "audiocaps".into(),
                split: "train".into(),
                weight: 1.0,
                max_items: 0,
            }],
            instruct: Vec::new(),
            val: Vec::new(),
            eval_aac: vec![EvalSet {
                dataset: "audiocaps".into(),
                split: "test".into(),
                max_items: 0,
            }],
            eval_aqa: vec![
                EvalSet {
                    dataset: "clotho_aqa".into(),
                    split: "test".into(),
                    max_items: 0,
                },
                EvalSet {
                    dataset: "audiocaps_qa".into(),
                    split: "test".into(),
                    max_items: 0,
                },
                EvalSet {
                    dataset: "wavcaps_qa".into(),
                    split: "test".into(),
                    max_items: 0,
                },
            ],
            roots: BTreeMap::new(),
            patterns: BTreeMap::new(),
            wavcaps_exclude: vec!["json_files/blacklist/blacklist_exclude_test_ac.json".into()],
            missing_audio: MissingAudio::Error,
            max_audio_seconds: 0.0,
            synth: SynthData::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Linear warm-up, then linear decay to 0 at `steps`.
    Linear,
    /// Linear warm-up, then cosine decay to 0 at `steps`.
    Cosine,
    /// Linear warm-up, then constant.
    Constant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F32,
    Bf16,
    /// Half precision where the device has no bf16 arithmetic (burn's wgpu backends).
    F16,
}

impl Precision {
    /// The dtype of the frozen weights (the adapter, LoRA factors, a trainable encoder and the
    /// optimizer state stay f32).
    pub fn float_dtype(self) -> burn::tensor::FloatDType {
        match self {
            Precision::F32 => burn::tensor::FloatDType::F32,
            Precision::Bf16 => burn::tensor::FloatDType::BF16,
            Precision::F16 => burn::tensor::FloatDType::F16,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NanPolicy {
    /// Mark the run failed with the step and reason.
    Fail,
    /// Skip the update, count it, and go on.
    Skip,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Optimizer steps.
    pub steps: usize,
    /// Examples per micro-batch.
    pub batch_size: usize,
    /// Peak learning rate (AdamW, β = (0.9, 0.999), ε = 1e-8).
    pub lr: f64,
    /// AdamW's decoupled weight decay (PyTorch semantics: `w -= lr · weight_decay · w`).
    pub weight_decay: f64,
    /// Parameters (regexes over module paths such as `adapter.linear1.bias`) that get no weight
    /// decay: by default biases and normalisation scales/shifts, as Hugging Face's Trainer does.
    pub no_decay: Vec<String>,
    pub warmup_steps: usize,
    pub schedule: Schedule,
    /// Micro-batches accumulated per optimizer step.
    pub grad_accum: usize,
    /// Global gradient-norm clip (`0` = off), as `torch.nn.utils.clip_grad_norm_`.
    pub clip_norm: f64,
    /// Save a resumable checkpoint every this many steps.
    pub checkpoint_every: usize,
    /// dtype of the frozen LLM and encoder weights: `f32`, `bf16` (CPU, CUDA) or `f16` (wgpu);
    /// the adapter, LoRA factors, a trainable encoder, the optimizer state and the loss stay f32.
    pub precision: Precision,
    /// Recompute memory-bound activations in the backward pass instead of keeping them (burn's
    /// balanced gradient checkpointing): less memory for more compute; the result is unchanged.
    pub gradient_checkpointing: bool,
    /// Record the loss etc. every this many steps.
    pub log_every: usize,
    /// Log the loss over `data.val` every this many steps and at the last step (0 = never).
    pub val_every: usize,
    pub nan_policy: NanPolicy,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            steps: 20_000,
            batch_size: 4,
            lr: 1e-4,
            weight_decay: 0.01,
            no_decay: vec![r"\.bias$".into(), r"\.gamma$".into(), r"\.beta$".into()],
            warmup_steps: 1000,
            schedule: Schedule::Linear,
            grad_accum: 1,
            clip_norm: 1.0,
            checkpoint_every: 1000,
            precision: Precision::F32,
            gradient_checkpointing: false,
            log_every: 10,
            val_every: 0,
            nan_policy: NanPolicy::Fail,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecodeConfig {
    /// Beam width at evaluation (1 = greedy).
    pub beams: usize,
    pub max_new_tokens: usize,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        Self {
            beams: 4,
            max_new_tokens: 200,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// The audio-QA judge: `none` (token-F1 and exact match only), `openai:<served model name>`
    /// (an OpenAI-compatible server at `judge_url`) or `local:<model dir, HF id or builtin:…>`
    /// (run by acdc): AudioBench-style 0–5 rating, score = mean × 20.
    pub judge: String,
    /// Judge prompt template file with `{question}`, `{reference}` and `{prediction}` (empty:
    /// acdc's rubric, `assets/judge/rating-0-5.txt`). Its sha256 is recorded with the scores.
    pub judge_template: String,
    /// Most tokens in a judge reply (AudioBench: 512).
    pub judge_max_tokens: usize,
    /// Sampling temperature of an `openai` judge (a `local` judge decodes greedily).
    pub judge_temperature: f64,
    /// Base URL of the OpenAI-compatible server of an `openai:` judge.
    pub judge_url: String,
    /// `chat` (`/chat/completions`) or `completions` (`/completions`, prompt sent as is).
    pub judge_api: String,
    /// Environment variable holding the judge server's API key (never stored).
    pub judge_api_key_env: String,
    /// Judge requests in flight at once.
    pub judge_concurrency: usize,
    /// Seconds per judge request.
    pub judge_timeout_s: f64,
    /// Further attempts after HTTP 429/5xx, a timeout or a malformed reply.
    pub judge_retries: u32,
    /// Seconds before the first retry (doubled each time; a `Retry-After` reply overrides it).
    pub judge_backoff_s: f64,
    /// Instruction given with the audio for captioning evaluation.
    pub caption_instruction: String,
    /// METEOR 1.5 jar for the captioning sets (pycocoevalcap's `meteor-1.5.jar`, its `data/`
    /// beside it; needs `java`). Empty: `$ACDC_METEOR_JAR` if set, else METEOR is not computed
    /// (never approximated).
    pub meteor_jar: String,
    /// SPICE 1.0 jar for the captioning sets (pycocoevalcap's `spice-1.0.jar` with its Stanford
    /// CoreNLP jars in `lib/`; needs `java`), also giving SPIDEr = (CIDEr-D + SPICE) / 2. Empty:
    /// `$ACDC_SPICE_JAR` if set, else neither is computed (never approximated).
    pub spice_jar: String,
    /// Run the zero-shot instruction probes (counting, order, presence, loudness, paraphrased
    /// captioning, absent sound) on the synthetic world's test split (`data.synth`).
    pub probes: bool,
    /// Probes of each kind (at most).
    pub probe_items: usize,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            judge: "none".into(),
            judge_template: String::new(),
            judge_max_tokens: 512,
            judge_temperature: 0.0,
            judge_url: "http://localhost:5000/v1".into(),
            judge_api: "chat".into(),
            judge_api_key_env: "OPENAI_API_KEY".into(),
            judge_concurrency: 8,
            judge_timeout_s: 120.0,
            judge_retries: 4,
            judge_backoff_s: 2.0,
            caption_instruction: "Describe the audio in one sentence.".into(),
            meteor_jar: String::new(),
            spice_jar: String::new(),
            probes: false,
            probe_items: 16,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    Cpu,
    Cuda,
    Wgpu,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
            DeviceKind::Wgpu => "wgpu",
        }
    }
}
