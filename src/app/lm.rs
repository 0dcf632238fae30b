//! `acdc lm …`: inspect a backbone the way researchers check it against transformers.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Context, Result};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::cli::{
    LmBenchArgs, LmChatArgs, LmCommand, LmGenerateArgs, LmLogitsArgs, LmTemplateArgs,
    LmTokenizeArgs,
};
use crate::decode::{embed_padded, generate, Sampling};
use crate::model::backbone::Backbone;
use crate::model::llm::{AttnInputs, Llama};
use crate::rng::Rng;
use crate::text::prompt::text_prompt;

fn parse_ids(s: &str) -> Result<Vec<u32>> {
    s.split(',')
        .map(|t| {
            t.trim()
                .parse::<u32>()
                .with_context(|| format!("--ids: `{t}` is not a token id"))
        })
        .collect()
}

/// The model's weights (a tokenizer is not needed for id-level commands).
fn load_model(model: &str, home: &Path) -> Result<(Llama, Device)> {
    let device = Device::flex();
    if model.starts_with("builtin:") {
        if model == "builtin:tiny-chat" {
            crate::train::pretrain::ensure_tiny_chat(home, &mut |_, _, _| {})?;
        }
        let b = Backbone::resolve(model, home)?;
        let m = b.load_llm(&device)?;
        return Ok((m, device));
    }
    let dir = crate::model::backbone::resolve_model_dir(model)?;
    let (_, m) = crate::model::hf::load_llama(&dir, &device)?;
    Ok((m, device))
}

fn backbone(model: &str, home: &Path) -> Result<Backbone> {
    if model == "builtin:tiny-chat" {
        crate::train::pretrain::ensure_tiny_chat(home, &mut |_, _, _| {})?;
    }
    Ok(Backbone::resolve(model, home)?)
}

fn check_ids(ids: &[u32], vocab: usize) -> Result<()> {
    if let Some(bad) = ids.iter().find(|&&i| i as usize >= vocab) {
        bail!("token id {bad} is outside the vocabulary (size {vocab})");
    }
    Ok(())
}

pub fn dispatch(cmd: LmCommand, home: &Path) -> Result<String> {
    match cmd {
        LmCommand::Tokenize(a) => tokenize_command(a, home),
        LmCommand::Template(a) => template_command(a, home),
        LmCommand::Logits(a) => logits_command(a, home),
        LmCommand::Generate(a) => generate_command(a, home),
        LmCommand::Bench(a) => bench_command(a, home),
        LmCommand::BenchTrain(a) => bench_train_command(a, home),
        LmCommand::Chat(a) => chat_command(a, home),
    }
}

/// `acdc lm tokenize`: token ids and tokens of a text.
fn tokenize_command(a: LmTokenizeArgs, home: &Path) -> Result<String> {
    let LmTokenizeArgs {
        model,
        text,
        no_special,
        json,
    } = a;
    let b = backbone(&model, home)?;
    let enc = b
        .tokenizer
        .inner
        .encode(text.as_str(), !no_special)
        .map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?;
    let ids = enc.get_ids().to_vec();
    let tokens = enc.get_tokens().to_vec();
    if json {
        return Ok(
            serde_json::to_string(&serde_json::json!({"ids": ids, "tokens": tokens}))? + "\n",
        );
    }
    let mut out = String::new();
    for (i, t) in ids.iter().zip(&tokens) {
        writeln!(out, "{i}\t{t}")?;
    }
    Ok(out)
}

/// `acdc lm template`: the rendered chat prompt for one user turn.
fn template_command(a: LmTemplateArgs, home: &Path) -> Result<String> {
    let LmTemplateArgs {
        model,
        user,
        system,
    } = a;
    let b = backbone(&model, home)?;
    Ok(match system {
        Some(s) => b.chat.system_user_prompt(&s, &user)?,
        None => b.chat.user_prompt(&user)?,
    })
}

/// `acdc lm logits`: a token sequence's float32 logits, written as .npy.
fn logits_command(a: LmLogitsArgs, home: &Path) -> Result<String> {
    let LmLogitsArgs {
        model,
        ids,
        embeds,
        embeds_at,
        lora,
        out,
    } = a;
    let (mut m, device) = load_model(&model, home)?;
    if let Some(dir) = &lora {
        crate::model::peft::load_adapter(&mut m, dir, &device)?;
    }
    let ids = parse_ids(&ids)?;
    check_ids(&ids, m.vocab_size())?;
    let t = ids.len();
    m.check_context(t, "--ids").map_err(anyhow::Error::msg)?;
    let flat: Vec<i64> = ids.iter().map(|&x| x as i64).collect();
    let mut x = m.embed(Tensor::<2, Int>::from_data(
        TensorData::new(flat, [1, t]),
        &device,
    ));
    if let (Some(file), Some(at)) = (embeds, embeds_at) {
        let (e, shape) = crate::audio::npy::read_f32(&file).map_err(anyhow::Error::msg)?;
        if shape.len() != 2 || shape[1] != m.hidden_size() {
            bail!(
                "{}: expected a float32 [n, {}] array, found shape {shape:?}",
                file.display(),
                m.hidden_size()
            );
        }
        if at + shape[0] > t {
            bail!(
                "--embeds-at {at} + {} rows runs past the {t} positions of --ids",
                shape[0]
            );
        }
        x = x.slice_assign(
            [0..1, at..at + shape[0], 0..shape[1]],
            Tensor::<3>::from_data(TensorData::new(e, [1, shape[0], shape[1]]), &device),
        );
    }
    let a = AttnInputs::new(
        &[(0..t).collect()],
        &[vec![true; t]],
        0,
        &m.inv_freq(),
        &device,
    );
    let logits: Vec<f32> = m
        .forward_embeds(x, &a, None)
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    crate::audio::npy::write_f32(&out, &logits, &[t, m.vocab_size()])
        .with_context(|| format!("{}: cannot write", out.display()))?;
    Ok(format!("{} [{t}, {}]\n", out.display(), m.vocab_size()))
}

/// `acdc lm generate`: a continuation: greedy, sampled or beam search.
fn generate_command(a: LmGenerateArgs, home: &Path) -> Result<String> {
    let LmGenerateArgs {
        model,
        ids,
        prompt,
        chat,
        max_new_tokens,
        beams,
        num_return,
        length_penalty,
        early_stopping,
        temperature,
        top_p,
        seed,
        eos_ids,
        no_eos,
        lora,
        json,
    } = a;
    let (mut m, device) = load_model(&model, home)?;
    if let Some(dir) = &lora {
        crate::model::peft::load_adapter(&mut m, dir, &device)?;
    }
    // The tokenizer is needed for text prompts and for decoding; id-level use works without one.
    let b = match backbone(&model, home) {
        Ok(b) => Some(b),
        Err(e) if prompt.is_some() => return Err(e),
        Err(_) => None,
    };
    let prompt_ids = match (ids, prompt, &b) {
        (Some(i), _, _) => parse_ids(&i)?,
        (None, Some(p), Some(b)) if chat => text_prompt(&b.tokenizer, &b.chat, &p)?,
        (None, Some(p), Some(b)) => b.tokenizer.encode(&p)?,
        _ => bail!("give --ids or --prompt"),
    };
    if prompt_ids.is_empty() {
        bail!("the prompt is empty");
    }
    check_ids(&prompt_ids, m.vocab_size())?;
    m.check_context(prompt_ids.len(), "the prompt")
        .and_then(|_| {
            m.check_context(
                prompt_ids.len() + max_new_tokens,
                &format!(
                    "the prompt ({} tokens) plus --max-new-tokens {max_new_tokens}",
                    prompt_ids.len()
                ),
            )
        })
        .map_err(anyhow::Error::msg)?;
    let stops = match (&b, no_eos, eos_ids.is_empty()) {
        (_, true, _) => Vec::new(),
        (_, false, false) => eos_ids,
        (Some(b), false, true) => b.stop_ids(),
        (None, false, true) => Vec::new(),
    };
    let text = |ids: &[u32]| b.as_ref().map(|b| b.tokenizer.decode(ids));
    let (out, scores): (Vec<Vec<u32>>, Vec<Option<f64>>) = if beams > 1 {
        if num_return > beams {
            bail!("--num-return {num_return} is more than --beams {beams}");
        }
        let n = prompt_ids.len();
        let flat: Vec<i64> = prompt_ids.iter().map(|&x| x as i64).collect();
        let x = m.embed(Tensor::<2, Int>::from_data(
            TensorData::new(flat, [1, n]),
            &device,
        ));
        let cfg = crate::decode::beam::BeamConfig {
            beams,
            num_return,
            length_penalty,
            early_stopping,
            max_new: max_new_tokens,
        };
        crate::decode::beam::beam_search(&m, x, &stops, &cfg)
            .into_iter()
            .map(|h| (h.tokens, Some(h.score)))
            .unzip()
    } else {
        let out = run_generate(
            &m,
            &device,
            &[prompt_ids],
            &stops,
            max_new_tokens,
            &Sampling::from_temperature(temperature, top_p),
            seed,
        );
        let n = out.len();
        (out, vec![None; n])
    };
    let seqs: Vec<serde_json::Value> = out
        .iter()
        .zip(&scores)
        .map(|(ids, s)| serde_json::json!({"ids": ids, "text": text(ids), "score": s}))
        .collect();
    if json {
        return Ok(serde_json::to_string_pretty(&serde_json::json!({"sequences": seqs}))? + "\n");
    }
    Ok(out
        .iter()
        .map(|ids| text(ids).unwrap_or_else(|| format!("{ids:?}")) + "\n")
        .collect())
}

/// `acdc lm bench`: prefill and decode speed, and the logits' distance from a CPU float32 run.
fn bench_command(a: LmBenchArgs, home: &Path) -> Result<String> {
    let LmBenchArgs {
        model,
        random,
        seed,
        device,
        dtype,
        batch,
        beams,
        prompt_len,
        new_tokens,
        repeats,
        check_cpu,
        no_timing,
        json,
    } = a;
    bench(
        &model,
        home,
        random,
        &device,
        &dtype,
        check_cpu,
        no_timing,
        json,
        &crate::app::lm_bench::BenchPlan {
            batches: batch,
            beams,
            prompt_len,
            new_tokens,
            repeats,
            seed,
        },
    )
}

/// `acdc lm bench-train`: the adapter training step's time (`train::step_bench`) as one JSON
/// object, the keys of `tools/bench_train_torch.py`'s plus the device and dtype.
fn bench_train_command(a: crate::cli::LmBenchTrainArgs, home: &Path) -> Result<String> {
    use crate::app::lm_bench as lb;
    let crate::cli::LmBenchTrainArgs {
        model,
        random,
        seed,
        device,
        dtype,
        steps,
        warmup,
    } = a;
    let dtype = lb::parse_dtype(&dtype)?;
    let kind: crate::spec::schema::DeviceKind =
        serde_json::from_value(serde_json::Value::String(device.clone()))
            .map_err(|_| anyhow::anyhow!("--device `{device}`: expected cpu, wgpu or cuda"))?;
    if steps == 0 {
        bail!("--steps must be at least 1");
    }
    let target = crate::model::device::device_for(kind)?;
    lb::check_dtype(&target, dtype)?;
    let cpu = bench_model(&model, home, random, seed)?;
    let params = lb::param_count(&cpu);
    let train_device = target.autodiff();
    let llm = lb::place(cpu, &train_device, dtype);
    let r = crate::train::step_bench::run(llm, &train_device, steps, warmup);
    let mut v = serde_json::to_value(&r)?;
    v["impl"] = "acdc".into();
    v["model"] = model.into();
    v["device"] = device.into();
    v["dtype"] = format!("{dtype:?}").into();
    v["params"] = params.into();
    v["threads"] = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .into();
    Ok(serde_json::to_string(&v)? + "\n")
}

/// `acdc lm chat`: the replies a dialogue-continuation target would get for a caption.
fn chat_command(a: LmChatArgs, home: &Path) -> Result<String> {
    let LmChatArgs {
        model,
        caption,
        temperature,
        top_p,
        samples,
        max_new_tokens,
        seed,
    } = a;
    let b = backbone(&model, home)?;
    let (m, device) = load_model(&model, home)?;
    let p = text_prompt(&b.tokenizer, &b.chat, &caption)?;
    m.check_context(
        p.len() + max_new_tokens,
        "the chat prompt plus --max-new-tokens",
    )
    .map_err(anyhow::Error::msg)?;
    let rows = vec![p; samples.max(1)];
    let stops = b.stop_ids();
    let out = run_generate(
        &m,
        &device,
        &rows,
        &stops,
        max_new_tokens,
        &Sampling::from_temperature(temperature, top_p),
        seed,
    );
    let cut = out
        .iter()
        .filter(|ids| !crate::decode::split_stop(ids, &stops).1)
        .count();
    if cut > 0 {
        // What `targets.truncated` decides for dialogue targets cut off like these.
        eprintln!(
            "note: {cut} of {} replies reached --max-new-tokens {max_new_tokens} without ending",
            out.len()
        );
    }
    Ok(out
        .iter()
        .map(|ids| {
            let reply = crate::decode::split_stop(ids, &stops).0;
            b.tokenizer.decode(reply).trim().to_string() + "\n"
        })
        .collect())
}

fn run_generate(
    m: &Llama,
    device: &Device,
    rows: &[Vec<u32>],
    stops: &[u32],
    max_new: usize,
    sampling: &Sampling,
    seed: u64,
) -> Vec<Vec<u32>> {
    let (x, valid) = embed_padded(m, rows, 0, device);
    let b = rows.len();
    let mut rngs: Vec<Rng> = (0..b)
        .map(|i| Rng::derive(seed, &format!("lm-sample-{i}")))
        .collect();
    generate(m, x, &valid, stops, max_new, sampling, &mut rngs)
}

/// The CPU model for `lm bench`: the checkpoint, or seeded random weights from its config.json.
fn bench_model(model: &str, home: &Path, random: bool, seed: u64) -> Result<Llama> {
    if !random {
        return Ok(load_model(model, home)?.0);
    }
    let dir = crate::model::backbone::resolve_model_dir(model)?;
    let cfg = crate::model::hf::config_from_file(&dir.join("config.json"))?;
    let device = Device::flex();
    Ok(crate::model::init_seeded(&device, seed, || {
        cfg.init(&device)
    }))
}

#[allow(clippy::too_many_arguments)]
fn bench(
    model: &str,
    home: &Path,
    random: bool,
    device: &str,
    dtype: &str,
    check_cpu: Option<usize>,
    no_timing: bool,
    json: bool,
    plan: &crate::app::lm_bench::BenchPlan,
) -> Result<String> {
    use crate::app::lm_bench as lb;
    let dtype = lb::parse_dtype(dtype)?;
    let kind: crate::spec::schema::DeviceKind =
        serde_json::from_value(serde_json::Value::String(device.to_string()))
            .map_err(|_| anyhow::anyhow!("--device `{device}`: expected cpu, wgpu or cuda"))?;
    if plan.batches.contains(&0) || plan.beams.contains(&0) || plan.prompt_len == 0 {
        bail!("--batch, --beams and --prompt-len must be at least 1");
    }
    let target = crate::model::device::device_for(kind)?;
    lb::check_dtype(&target, dtype)?;
    let load_start = std::time::Instant::now();
    let cpu = bench_model(model, home, random, plan.seed)?;
    let load_s = load_start.elapsed().as_secs_f64();
    let params = lb::param_count(&cpu);
    let vocab = cpu.vocab_size();
    let reference = check_cpu
        .map(|n| -> Result<_> {
            let ids = lb::check_prompt(vocab, n, plan.seed)?;
            let r = lb::all_logits(&cpu, &ids, &Device::flex());
            Ok((ids, r))
        })
        .transpose()?;
    let m = lb::place(cpu, &target, dtype);
    let check =
        reference.map(|(ids, r)| lb::compare(&r, &lb::all_logits(&m, &ids, &target), vocab));
    let mut lines = String::new();
    let rows = if no_timing {
        Vec::new()
    } else {
        lb::run(&m, &target, plan, &mut |r| {
            if !json {
                eprintln!(
                    "batch {} beams {}: prefill {:.1} tok/s, decode {:.1} tok/s",
                    r.batch, r.beams, r.prefill_tok_s, r.decode_tok_s
                );
            }
        })
    };
    if json {
        return Ok(serde_json::to_string_pretty(&serde_json::json!({
            "model": model,
            "random": random,
            "device": device,
            "dtype": format!("{dtype:?}"),
            "params": params,
            "load_s": load_s,
            "prompt_len": plan.prompt_len,
            "new_tokens": plan.new_tokens,
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "rows": rows,
            "check": check,
        }))? + "\n");
    }
    writeln!(
        lines,
        "{model} ({params} parameters) on {device} in {dtype:?}; prompt {} tokens, {} new",
        plan.prompt_len, plan.new_tokens
    )?;
    if let Some(c) = &check {
        writeln!(
            lines,
            "logits vs CPU f32 over {} positions: max |diff| {:.3e} (max |ref| {:.3e}, relative {:.3e}), mean |diff| {:.3e}, argmax agreement {:.1}%",
            c.positions, c.max_abs_diff, c.max_abs_ref, c.rel_diff, c.mean_abs_diff, 100.0 * c.argmax_agree
        )?;
    }
    if !rows.is_empty() {
        writeln!(lines, "| batch | beams | prefill tok/s | decode tok/s |")?;
        writeln!(lines, "|---:|---:|---:|---:|")?;
        for r in &rows {
            writeln!(
                lines,
                "| {} | {} | {:.1} | {:.1} |",
                r.batch, r.beams, r.prefill_tok_s, r.decode_tok_s
            )?;
        }
    }
    Ok(lines)
}
