//! Command-line definitions (clap). Handlers live in `app`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "acdc",
    version,
    about = "Audio-language model research: AC/DC experiments from TOML specs to paper tables"
)]
pub struct Cli {
    /// Store and run folder (default: $ACDC_HOME, else ./acdc-home).
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScoreTokenizer {
    /// pycocoevalcap's PTBTokenizer behaviour (lower-cased, punctuation removed).
    Ptb,
    /// Lower-case, strip punctuation, split on spaces.
    Plain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JudgeEngineKind {
    /// An OpenAI-compatible HTTP server (vLLM, OpenAI, …).
    Openai,
    /// A model run by acdc itself.
    Local,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JudgeApi {
    Chat,
    Completions,
}

/// The judge settings of `acdc judge` (the same as a run's `eval.judge*` keys).
#[derive(Debug, Clone, clap::Args)]
pub struct JudgeArgs {
    #[arg(long, value_enum, default_value = "openai")]
    pub engine: JudgeEngineKind,
    /// OpenAI-compatible server, e.g. http://localhost:5000/v1 (engine openai).
    #[arg(long)]
    pub base_url: Option<String>,
    /// Served model name (openai), or a model directory / id / builtin: model (local).
    #[arg(long)]
    pub model: String,
    /// Prompt template with {question}, {reference} and {prediction} (default: acdc's rubric).
    #[arg(long)]
    pub template: Option<PathBuf>,
    /// Endpoint: chat (/chat/completions) or completions (/completions, prompt sent as is).
    #[arg(long, value_enum, default_value = "chat")]
    pub api: JudgeApi,
    /// Environment variable holding the API key.
    #[arg(long, default_value = "OPENAI_API_KEY")]
    pub api_key_env: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Seconds per request.
    #[arg(long, default_value_t = 120.0)]
    pub timeout_s: f64,
    /// Further attempts after HTTP 429/5xx, a timeout or a malformed reply.
    #[arg(long, default_value_t = 4)]
    pub retries: u32,
    /// Seconds before the first retry (doubled each time).
    #[arg(long, default_value_t = 2.0)]
    pub backoff_s: f64,
    /// Most tokens in a judge reply.
    #[arg(long, default_value_t = 512)]
    pub max_tokens: usize,
    /// Sampling temperature of the judge (openai; local is greedy).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the expanded grid of a spec: label, run id, the parameters that vary, status.
    Plan {
        spec: PathBuf,
        /// Rewrite the spec with an overlay: a name from experiments/overlays/ (`miniature`: the
        /// synthetic world, toy models, CPU, miniature size) or a path.
        #[arg(long, value_name = "NAME|FILE")]
        overlay: Option<String>,
        /// Override a key: `--set train.steps=10` (value in TOML syntax; above the overlay).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Register a spec's grid and execute the runs that are not done, then render its report.
    Run(RunArgs),
    /// List runs.
    Ls {
        #[arg(long)]
        experiment: Option<String>,
        /// pending | running | done | failed
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Everything recorded about one run (id or unique prefix).
    Show {
        run: String,
        #[arg(long)]
        json: bool,
    },
    /// Configuration and metric differences between two runs.
    Diff { a: String, b: String },
    /// An experiment's runs, configurations and scores as CSV or JSON on stdout.
    Export {
        experiment: String,
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
    },
    /// Copy what cluster tasks recorded in their runs' own stores (`runs/<id>/run.db`) into the
    /// store (idempotent; `acdc report` and `acdc run --executor slurm` do it too).
    Ingest { experiment: String },
    /// Execute one run as a Slurm array task, against the run's own store (written by
    /// `acdc run --executor slurm`'s scripts).
    #[command(hide = true)]
    SlurmTask {
        spec: PathBuf,
        #[arg(long, value_name = "FILE")]
        overlay: Option<PathBuf>,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        #[arg(long)]
        run: String,
    },
    /// Render an experiment's report (markdown + plots) from the store alone.
    Report {
        experiment: String,
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Answer a question about audio files with a done run's trained model.
    ///
    /// The model is the run's backbone, encoder and trained adapter / LoRA weights; audio is read
    /// and featurised as the run's data stage reads it. Without --question the prompt holds the audio alone, nothing after it: the run's dialogue
    /// behaviour, as in dialogue-continuation training. --json prints
    /// `[{"audio", "question", "answer"}]` (`question` null without --question).
    Ask(AskArgs),
    /// Score a done run on a new set without retraining, recorded under its tasks `SET/aqa`, `SET/aac`.
    ///
    /// The scores and predictions are stored with the run's own, shown by `acdc show` and in its
    /// experiment's report. Decoding uses the run's model and `decode` settings; scoring is the eval stage's: token-F1
    /// and exact match for QA (and the judge, if the run's `eval.judge` names one), BLEU, ROUGE-L,
    /// CIDEr-D (and METEOR / SPICE / SPIDEr with their jars) for captions.
    ///
    /// --aqa FILE.jsonl: one `{"id", "audio", "question", "answer"}` object a line.
    ///
    /// --aac FILE.json: one JSON array `[{"id", "audio", "captions": ["…", …]}, …]`, at least one
    /// caption an item.
    ///
    /// Audio paths are relative to the file's folder (and inside it). A missing
    /// field, a line that is not JSON, a missing audio file, a repeated id or an empty file is an
    /// error naming the file and line (or item), and nothing is recorded.
    ///
    /// Running it again with the same --name replaces the set's scores and predictions; `acdc run
    /// SPEC --reeval` keeps them. The run's QA averages (`aqa/…_avg`) stay over its own sets.
    #[command(group(clap::ArgGroup::new("set").required(true).multiple(true).args(["aqa", "aac"])))]
    Eval {
        /// Run id or unique prefix; the run must be done.
        run: String,
        /// Audio-QA set (JSONL).
        #[arg(long, value_name = "FILE.jsonl")]
        aqa: Option<PathBuf>,
        /// Captioning set (JSON array).
        #[arg(long, value_name = "FILE.json")]
        aac: Option<PathBuf>,
        /// The set's name: its tasks are `SET/aqa` and `SET/aac` (letters, digits, `_`, `-`, `.`).
        #[arg(long, value_name = "SET")]
        name: String,
        /// Print `{"run_id", "set", "scores": [{"task", "metric", "value", "n"}], "truncated_outputs"}`.
        #[arg(long)]
        json: bool,
    },
    /// Write EAT input features of audio files as float32 `.npy` arrays `[frames, 128]`, one per file
    /// (`DIR/<stem>.npy`): normalised by default, the log-mel before normalisation with `--raw`.
    Features {
        #[arg(required = true)]
        audio: Vec<PathBuf>,
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
        /// The log-mel fbank before EAT's normalisation.
        #[arg(long)]
        raw: bool,
        /// Keep the natural length (no padding or truncation).
        #[arg(long)]
        no_pad: bool,
        /// Frames to pad or truncate to.
        #[arg(long, default_value_t = 1024)]
        target_frames: usize,
    },
    /// Run an EAT encoder (`builtin:tiny-eat`, an EAT Hugging Face directory or cached id, or an
    /// original fairseq `.pt` checkpoint) on audio files (through the front end) or on feature arrays `[frames, 128]` (`.npy`, used as given) and
    /// write its last-layer tokens as float32 `DIR/<stem>.npy` `[tokens, dim]`, CLS first.
    Encode {
        #[arg(long)]
        encoder: String,
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
        /// Audio keeps its natural length (no padding or truncation to --target-frames).
        #[arg(long)]
        no_pad: bool,
        /// Frames audio is padded or truncated to (EAT's feature extraction uses 1024).
        #[arg(long, default_value_t = 1024)]
        target_frames: usize,
    },
    /// Inspect a backbone: tokenizer, chat prompt, logits, generation, dialogue-continuation replies.
    Lm {
        #[command(subcommand)]
        command: LmCommand,
    },
    /// Captioning metrics of candidates against references: INPUT.json is
    /// `[{"id", "candidate", "references": [...]}]`.
    Score(ScoreArgs),
    /// Judge QA answers with an LLM, AudioBench-style (0–5 rating, score = mean × 20). INPUT.jsonl
    /// holds one `{"id", "question", "reference", "prediction"}` per line. Judgments are cached in
    /// the store: a rerun asks only what it has not asked before.
    Judge {
        input: PathBuf,
        #[command(flatten)]
        args: JudgeArgs,
        #[arg(long)]
        json: bool,
    },
    /// Generate the synthetic sound-scene dataset.
    Synth {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 200)]
        clips: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value_t = 5.0)]
        clip_seconds: f32,
    },
}

/// The arguments of `acdc ask`.
#[derive(Debug, clap::Args)]
pub struct AskArgs {
    /// Run id or unique prefix (`acdc ls` lists them); the run must be done.
    pub run: String,
    /// An audio file (repeat for several): one answer each, in order.
    #[arg(long = "audio", value_name = "FILE", required = true)]
    pub audio: Vec<PathBuf>,
    /// The instruction after the audio (default: none).
    #[arg(long)]
    pub question: Option<String>,
    /// Beam width (default: the run's `decode.beams`; 1 = greedy).
    #[arg(long, value_name = "K")]
    pub beams: Option<usize>,
    /// Most new tokens an answer (default: the run's `decode.max_new_tokens`).
    #[arg(long, value_name = "N")]
    pub max_new_tokens: Option<usize>,
    /// Print `[{"audio", "question", "answer"}]`.
    #[arg(long)]
    pub json: bool,
}

/// The arguments of `acdc score`.
#[derive(Debug, clap::Args)]
pub struct ScoreArgs {
    pub input: PathBuf,
    /// Comma-separated subset of bleu, rouge_l, cider_d, meteor, spice, spider.
    #[arg(long, value_delimiter = ',', default_value = "bleu,rouge_l,cider_d")]
    pub metrics: Vec<String>,
    #[arg(long, value_enum, default_value = "ptb")]
    pub tokenizer: ScoreTokenizer,
    /// METEOR 1.5 jar (default: `$ACDC_METEOR_JAR`).
    #[arg(long, value_name = "JAR")]
    pub meteor_jar: Option<PathBuf>,
    /// SPICE 1.0 jar (default: `$ACDC_SPICE_JAR`).
    #[arg(long, value_name = "JAR")]
    pub spice_jar: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// Where `acdc run` executes runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Executor {
    Local,
    Slurm,
}

/// The arguments of `acdc run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    pub spec: PathBuf,
    /// Only these rows (comma-separated labels), plus the rows they start from.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Rewrite the spec with an overlay: a name from experiments/overlays/ (`miniature`: the
    /// synthetic world, toy models, CPU, miniature size) or a path.
    #[arg(long, value_name = "NAME|FILE")]
    pub overlay: Option<String>,
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Worker processes sharing the store (default: the spec's `workers`, else 1).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Show what would run, execute nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Execute failed runs again.
    #[arg(long)]
    pub retry_failed: bool,
    /// Evaluate done runs again without retraining (after adding a METEOR/SPICE jar or a
    /// judge, or with a newer acdc): each run's scores are replaced when its new evaluation
    /// completes.
    #[arg(long)]
    pub reeval: bool,
    /// Where the report goes (default reports/<experiment>).
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// `local` (worker processes on this machine) or `slurm` (one job-array task per run that
    /// is not done; the home, the spec and this acdc binary must be on a filesystem the
    /// cluster's nodes share).
    #[arg(long, value_enum, default_value = "local")]
    pub executor: Executor,
    /// Slurm: the partition of every task.
    #[arg(long, help_heading = "Slurm")]
    pub partition: Option<String>,
    /// Slurm: the account charged.
    #[arg(long, help_heading = "Slurm")]
    pub account: Option<String>,
    /// Slurm: each task's time limit (`HH:MM:SS`, `D-HH:MM`).
    #[arg(long, help_heading = "Slurm")]
    pub time: Option<String>,
    #[arg(long, help_heading = "Slurm")]
    pub cpus_per_task: Option<usize>,
    #[arg(long, help_heading = "Slurm")]
    pub gpus_per_task: Option<usize>,
    /// Slurm: each task's memory (`64G`).
    #[arg(long, help_heading = "Slurm")]
    pub mem: Option<String>,
    /// Slurm: at most K tasks of an array at once.
    #[arg(long, value_name = "K", help_heading = "Slurm")]
    pub array_parallelism: Option<usize>,
    /// Slurm: an extra `#SBATCH` line for every task (repeatable), e.g. `--qos=high`.
    #[arg(long = "sbatch", value_name = "LINE", help_heading = "Slurm")]
    pub sbatch_lines: Vec<String>,
    /// Slurm: follow the jobs until they end, then ingest, report and exit as a local run
    /// (2 when a run failed).
    #[arg(long, help_heading = "Slurm")]
    pub wait: bool,
    #[arg(long, hide = true)]
    pub no_report: bool,
    #[arg(long)]
    pub json: bool,
}

/// `acdc lm …`: MODEL is `builtin:tiny`, `builtin:tiny-chat`, a Hugging Face model directory or an
/// id already in the local Hugging Face cache.
#[derive(Debug, Subcommand)]
pub enum LmCommand {
    /// Token ids and tokens of TEXT.
    Tokenize(LmTokenizeArgs),
    /// The rendered chat prompt for one user turn (with the assistant header).
    Template(LmTemplateArgs),
    /// Float32 logits [positions, vocab] of a token sequence, written as .npy.
    Logits(LmLogitsArgs),
    /// Generate a continuation (greedy, or sampled with --temperature).
    Generate(LmGenerateArgs),
    /// Prefill and decode tokens/s (greedy and beam search) on a device and dtype; optionally the
    /// logits' distance from a CPU float32 run of the same weights.
    Bench(LmBenchArgs),
    /// One adapter training step's time on a device with the backbone frozen in a dtype
    /// (`train::step_bench`'s shape; `tools/bench_train_torch.py` is the PyTorch side).
    BenchTrain(LmBenchTrainArgs),
    /// The replies a dialogue-continuation target would get for CAPTION.
    Chat(LmChatArgs),
}

/// The arguments of `acdc lm tokenize`.
#[derive(Debug, clap::Args)]
pub struct LmTokenizeArgs {
    #[arg(long)]
    pub model: String,
    pub text: String,
    /// Do not add the tokenizer's special tokens (e.g. <|begin_of_text|>).
    #[arg(long)]
    pub no_special: bool,
    #[arg(long)]
    pub json: bool,
}

/// The arguments of `acdc lm template`.
#[derive(Debug, clap::Args)]
pub struct LmTemplateArgs {
    #[arg(long)]
    pub model: String,
    #[arg(long)]
    pub user: String,
    #[arg(long)]
    pub system: Option<String>,
}

/// The arguments of `acdc lm logits`.
#[derive(Debug, clap::Args)]
pub struct LmLogitsArgs {
    #[arg(long)]
    pub model: String,
    /// Comma-separated token ids.
    #[arg(long)]
    pub ids: String,
    /// Float32 [n, hidden] .npy whose rows replace the token embeddings from --embeds-at on.
    #[arg(long, requires = "embeds_at")]
    pub embeds: Option<PathBuf>,
    #[arg(long)]
    pub embeds_at: Option<usize>,
    /// A PEFT LoRA adapter directory to apply.
    #[arg(long)]
    pub lora: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
}

/// The arguments of `acdc lm generate`.
#[derive(Debug, clap::Args)]
pub struct LmGenerateArgs {
    #[arg(long)]
    pub model: String,
    /// Comma-separated prompt ids.
    #[arg(long, conflicts_with = "prompt")]
    pub ids: Option<String>,
    #[arg(long)]
    pub prompt: Option<String>,
    /// Wrap --prompt in the chat format as a user turn.
    #[arg(long)]
    pub chat: bool,
    #[arg(long, default_value_t = 64)]
    pub max_new_tokens: usize,
    /// Beam search with this many beams (transformers `generate(num_beams=…)` semantics).
    #[arg(long, default_value_t = 1)]
    pub beams: usize,
    /// Sequences to return from beam search, best first.
    #[arg(long, default_value_t = 1)]
    pub num_return: usize,
    #[arg(long, default_value_t = 1.0)]
    pub length_penalty: f64,
    #[arg(long)]
    pub early_stopping: bool,
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop ids (default: the chat format's end-of-turn and end-of-text).
    #[arg(long = "eos-id")]
    pub eos_ids: Vec<u32>,
    /// Never stop early.
    #[arg(long)]
    pub no_eos: bool,
    /// A PEFT LoRA adapter directory to apply.
    #[arg(long)]
    pub lora: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// The arguments of `acdc lm bench`.
#[derive(Debug, clap::Args)]
pub struct LmBenchArgs {
    #[arg(long)]
    pub model: String,
    /// Seeded random weights from MODEL's config.json (a directory holding at least config.json)
    /// instead of its checkpoint.
    #[arg(long)]
    pub random: bool,
    /// Seed of the random weights and of the prompts.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// cpu, wgpu or cuda (GPU devices need acdc built with that feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Weight and activation dtype on the device: f32, bf16 or f16.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Batch sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    pub batch: Vec<usize>,
    /// Beam widths, comma-separated (1 = greedy).
    #[arg(long, value_delimiter = ',', default_value = "1,4")]
    pub beams: Vec<usize>,
    #[arg(long, default_value_t = 128)]
    pub prompt_len: usize,
    #[arg(long, default_value_t = 32)]
    pub new_tokens: usize,
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Compare the logits of an N-token prompt with a CPU float32 run of the same weights.
    #[arg(long)]
    pub check_cpu: Option<usize>,
    /// Skip the timing (with --check-cpu: only compare logits).
    #[arg(long)]
    pub no_timing: bool,
    #[arg(long)]
    pub json: bool,
}

/// The arguments of `acdc lm bench-train`.
#[derive(Debug, clap::Args)]
pub struct LmBenchTrainArgs {
    #[arg(long)]
    pub model: String,
    /// Seeded random weights from MODEL's config.json instead of its checkpoint.
    #[arg(long)]
    pub random: bool,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// The frozen backbone's dtype (the adapter and its optimizer stay f32): f32, bf16 or f16.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Timed steps (the median is reported).
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Untimed steps first (kernel compilation, allocator growth).
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
}

/// The arguments of `acdc lm chat`.
#[derive(Debug, clap::Args)]
pub struct LmChatArgs {
    #[arg(long)]
    pub model: String,
    pub caption: String,
    #[arg(long, default_value_t = 0.7)]
    pub temperature: f64,
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    #[arg(long, default_value_t = 1)]
    pub samples: usize,
    #[arg(long, default_value_t = 200)]
    pub max_new_tokens: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}
