//! `acdc score`: captioning metrics (pycocoevalcap-equal BLEU, ROUGE-L, CIDEr-D; METEOR and SPICE
//! through the official jars) for a JSON list of candidates with their references.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::eval::caption_metrics::CaptionItem;

/// `jar` if it is a file; otherwise an error naming the flag that gave it.
fn existing_jar(jar: &Path, flag: &str) -> Result<PathBuf> {
    if !jar.is_file() {
        bail!("{flag} {}: no such file", jar.display());
    }
    Ok(jar.to_path_buf())
}

/// The jars `acdc score` was given (`--meteor-jar`, `--spice-jar`); absent ones come from the
/// environment.
pub struct Jars {
    pub meteor_jar: Option<PathBuf>,
    pub spice_jar: Option<PathBuf>,
}

/// `acdc score`: captioning metrics for a JSON list of candidates with references.
pub fn score(
    input: &Path,
    metrics: &[String],
    tokenizer: crate::cli::ScoreTokenizer,
    jars: &Jars,
    json: bool,
) -> Result<String> {
    use crate::eval::caption_metrics::{score_captions, CaptionTokenizer};
    const KNOWN: &[&str] = &["bleu", "rouge_l", "cider_d", "meteor", "spice", "spider"];
    for m in metrics {
        if !KNOWN.contains(&m.as_str()) {
            bail!(
                "--metrics: unknown metric `{m}`; expected some of {}",
                KNOWN.join(", ")
            );
        }
    }
    let items = read_items(input)?;
    let tok = match tokenizer {
        crate::cli::ScoreTokenizer::Ptb => CaptionTokenizer::Ptb,
        crate::cli::ScoreTokenizer::Plain => CaptionTokenizer::Plain,
    };
    let s = score_captions(&items, tok);
    let want = |k: &str| {
        let family = if k.starts_with("bleu_") { "bleu" } else { k };
        metrics.iter().any(|m| m == family)
    };
    let mut corpus: BTreeMap<String, f64> = s
        .corpus
        .iter()
        .filter(|(k, _)| want(k))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let mut s = s;
    // METEOR and SPICE need their official jars; without them they are reported unavailable, never
    // approximated. A variable naming a jar that is not there is an error naming both.
    let mut unavailable: Vec<&str> = Vec::new();
    if metrics.iter().any(|m| m == "spice" || m == "spider") {
        let jar = match &jars.spice_jar {
            Some(j) => Some(existing_jar(j, "--spice-jar")?),
            None => crate::eval::spice::jar_from_env()?,
        };
        match jar {
            Some(jar) => add_spice(&jar, &items, tok, metrics, &mut corpus, &mut s)?,
            None => unavailable.extend(
                ["spice", "spider"]
                    .into_iter()
                    .filter(|m| metrics.iter().any(|x| x == m)),
            ),
        }
    }
    if metrics.iter().any(|m| m == "meteor") {
        let jar = match &jars.meteor_jar {
            Some(j) => Some(existing_jar(j, "--meteor-jar")?),
            None => crate::eval::meteor::jar_from_env()?,
        };
        match jar {
            Some(jar) => {
                let (c, per) = crate::eval::meteor::meteor_captions(&jar, &items, tok)?;
                corpus.insert("meteor".into(), c);
                for (it, v) in s.items.iter_mut().zip(per) {
                    it.scores.insert("meteor".into(), v);
                }
            }
            None => unavailable.insert(0, "meteor"),
        }
    }
    render(&s, &corpus, &unavailable, &want, json)
}

/// The items of a captions file, checked: unique ids, references for each.
fn read_items(input: &Path) -> Result<Vec<CaptionItem>> {
    let text = std::fs::read_to_string(input)
        .with_context(|| format!("{}: cannot read", input.display()))?;
    let items: Vec<CaptionItem> = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: expected [{{\"id\", \"candidate\", \"references\": [...]}}, ...]",
            input.display()
        )
    })?;
    let mut seen = std::collections::BTreeSet::new();
    for (i, it) in items.iter().enumerate() {
        if !seen.insert(&it.id) {
            bail!("{}: item {i}: duplicate id `{}`", input.display(), it.id);
        }
        if it.references.is_empty() {
            bail!("{}: item {i} (`{}`): no references", input.display(), it.id);
        }
    }
    Ok(items)
}

/// SPICE (and SPIDEr, from each item's CIDEr-D) with the official jar, for the metrics asked.
fn add_spice(
    jar: &Path,
    items: &[CaptionItem],
    tok: crate::eval::caption_metrics::CaptionTokenizer,
    metrics: &[String],
    corpus: &mut BTreeMap<String, f64>,
    s: &mut crate::eval::caption_metrics::CaptionScores,
) -> Result<()> {
    let (c, per) = crate::eval::spice::spice_captions(jar, items, tok)?;
    let cider = s.corpus.get("cider_d").copied().unwrap_or(f64::NAN);
    for (name, wanted) in [
        ("spice", c),
        ("spider", crate::eval::spice::spider(cider, c)),
    ] {
        if metrics.iter().any(|m| m == name) {
            corpus.insert(name.into(), wanted);
        }
    }
    for (it, v) in s.items.iter_mut().zip(per) {
        let cider = it.scores.get("cider_d").copied().unwrap_or(f64::NAN);
        if metrics.iter().any(|m| m == "spice") {
            it.scores.insert("spice".into(), v);
        }
        if metrics.iter().any(|m| m == "spider") {
            it.scores
                .insert("spider".into(), crate::eval::spice::spider(cider, v));
        }
    }
    Ok(())
}

/// The scores as JSON (corpus, items, unavailable) or as lines of text.
fn render(
    s: &crate::eval::caption_metrics::CaptionScores,
    corpus: &BTreeMap<String, f64>,
    unavailable: &[&str],
    want: &dyn Fn(&str) -> bool,
    json: bool,
) -> Result<String> {
    if json {
        let items: Vec<serde_json::Value> =
            s.items
                .iter()
                .map(|it| {
                    let mut o = serde_json::Map::new();
                    o.insert("id".into(), serde_json::Value::String(it.id.clone()));
                    for (k, v) in it.scores.iter().filter(|(k, _)| {
                        want(k) || ["meteor", "spice", "spider"].contains(&k.as_str())
                    }) {
                        o.insert(k.clone(), serde_json::json!(v));
                    }
                    serde_json::Value::Object(o)
                })
                .collect();
        return Ok(serde_json::to_string_pretty(
            &serde_json::json!({"corpus": corpus, "items": items, "unavailable": unavailable}),
        )? + "\n");
    }
    let mut out = String::new();
    for (k, v) in corpus {
        writeln!(out, "{k:<10} {v:.6}")?;
    }
    for m in unavailable {
        writeln!(
            out,
            "{m:<10} unavailable (needs the official jar; not approximated)"
        )?;
    }
    Ok(out)
}
