//! `acdc judge`: AudioBench-style judged QA over a JSONL file of answers, with the store's
//! judgment cache.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::cli::{JudgeApi, JudgeArgs, JudgeEngineKind};
use crate::eval::judge::JudgeItem;
use crate::eval::judged_qa::Judge;
use crate::spec::schema::EvalConfig;
use crate::store::Store;

/// Items of a JSONL file: one `{"id", "question", "reference", "prediction"}` object per line
/// (blank lines skipped; a numeric id is taken as its decimal text).
pub fn read_items(path: &Path) -> Result<Vec<JudgeItem>> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut items = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let at = || format!("{}: line {}", path.display(), n + 1);
        let line =
            std::str::from_utf8(line).map_err(|_| anyhow::anyhow!("{}: not UTF-8 text", at()))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{}: not a JSON object", at()))?;
        let Some(obj) = v.as_object() else {
            bail!("{}: not a JSON object", at());
        };
        let field = |k: &str| -> Result<String> {
            match obj.get(k) {
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(serde_json::Value::Number(x)) if k == "id" => Ok(x.to_string()),
                Some(_) => bail!("{}: `{k}` must be a string", at()),
                None => bail!("{}: no `{k}`", at()),
            }
        };
        let item = JudgeItem {
            id: field("id")?,
            question: field("question")?,
            reference: field("reference")?,
            prediction: field("prediction")?,
        };
        if !seen.insert(item.id.clone()) {
            bail!("{}: duplicate id `{}`", at(), item.id);
        }
        items.push(item);
    }
    if items.is_empty() {
        bail!("{}: no items", path.display());
    }
    Ok(items)
}

/// The judge the arguments name, through the same path as a run's `eval.judge` settings.
pub fn judge_of(a: &JudgeArgs, home: &Path) -> Result<Judge> {
    if a.timeout_s.is_nan() || a.timeout_s <= 0.0 || a.backoff_s.is_nan() || a.backoff_s < 0.0 {
        bail!("--timeout-s must be > 0 and --backoff-s >= 0");
    }
    let e = EvalConfig {
        judge: match a.engine {
            JudgeEngineKind::Openai => format!("openai:{}", a.model),
            JudgeEngineKind::Local => format!("local:{}", a.model),
        },
        judge_template: a
            .template
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        judge_max_tokens: a.max_tokens,
        judge_temperature: a.temperature,
        judge_url: match (&a.base_url, a.engine) {
            (Some(u), _) => u.clone(),
            (None, JudgeEngineKind::Local) => String::new(),
            (None, JudgeEngineKind::Openai) => {
                bail!("--engine openai needs --base-url (e.g. http://localhost:5000/v1)")
            }
        },
        judge_api: match a.api {
            JudgeApi::Chat => "chat".into(),
            JudgeApi::Completions => "completions".into(),
        },
        judge_api_key_env: a.api_key_env.clone(),
        judge_concurrency: a.concurrency.max(1),
        judge_timeout_s: a.timeout_s,
        judge_retries: a.retries,
        judge_backoff_s: a.backoff_s,
        ..EvalConfig::default()
    };
    if matches!(a.engine, JudgeEngineKind::Local) && a.model.trim() == "builtin:tiny-chat" {
        crate::train::pretrain::ensure_tiny_chat(home, &mut |_, _, _| {})?;
    }
    Ok(Judge::from_config(&e, home, &burn::tensor::Device::flex())
        .map_err(anyhow::Error::msg)?
        .expect("an engine was named"))
}

pub fn judge(home: &Path, input: &Path, a: &JudgeArgs, json: bool) -> Result<String> {
    let items = read_items(input)?;
    let judge = judge_of(a, home)?;
    let template = &judge.template;
    let mut store = Store::open_home(home)?;
    let r = judge.judge(&mut store, &items, &mut |done, total| {
        tracing::info!("judged {done}/{total}");
    })?;
    if json {
        let items: Vec<serde_json::Value> = r
            .items
            .iter()
            .map(|i| {
                serde_json::json!({
                    "id": i.id, "rating": i.rating, "parsed": i.parsed,
                    "cached": i.cached, "reply": i.reply,
                })
            })
            .collect();
        let out = serde_json::json!({
            "score": r.score,
            "success_rate": r.success_rate,
            "n": r.n,
            "cached": r.cached,
            "judge": r.judge,
            "template": template.origin,
            "template_hash": r.template_hash,
            "items": items,
        });
        return Ok(serde_json::to_string_pretty(&out)? + "\n");
    }
    let mut s = String::new();
    writeln!(s, "judge: {}", r.judge)?;
    writeln!(
        s,
        "template: {} (sha256 {})",
        template.origin, r.template_hash
    )?;
    writeln!(
        s,
        "score {:.2} (mean rating × 20), success rate {:.3}, n {} ({} from the store)",
        r.score, r.success_rate, r.n, r.cached
    )?;
    Ok(s)
}
