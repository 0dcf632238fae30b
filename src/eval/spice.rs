//! SPICE 1.0 through the official jar, run as pycocoevalcap runs it: the items go to a JSON file
//! (`[{"image_id", "test", "refs"}]`, PTB-tokenized text), `java -jar -Xmx8G spice-1.0.jar IN
//! -cache DIR -out OUT -subset -silent` runs in the jar's folder (SPICE needs its Stanford CoreNLP
//! jars in `lib/` there, which pycocoevalcap's `get_stanford_models` downloads), and the score of
//! an item is its `All.f` (`NaN` when SPICE gives none); the corpus score is the mean (NaN
//! items propagate, as numpy's mean does). SPICE has no streaming mode, so items are scored in
//! chunks of [`CHUNK`], one process each: a process that fails is run once more, and a second
//! failure names the chunk's items; chunks already scored are kept. SPIDEr = (CIDEr-D + SPICE) / 2.
//!
//! The jar comes from `eval.spice_jar` or `ACDC_SPICE_JAR` (a path that is not there is an error
//! naming it); without one SPICE and SPIDEr are unavailable, never approximated. `ACDC_JAVA` names
//! another `java` (also used for METEOR); a java that cannot be started is an error at once, not
//! retried.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::caption_metrics::CaptionItem;
use super::caption_tokens::{tokenize, CaptionTokenizer};
use super::jar::java;

/// Items per SPICE process.
pub const CHUNK: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum SpiceError {
    #[error("SPICE jar {}: {message}", jar.display())]
    Jar { jar: PathBuf, message: String },
}

/// The jar `eval.spice_jar` names, else `ACDC_SPICE_JAR`, else none.
pub fn configured_jar(configured: &str) -> Option<PathBuf> {
    super::jar::configured_jar(configured, "ACDC_SPICE_JAR")
}

/// The jar named by `ACDC_SPICE_JAR`: none when unset, an error naming the variable and the path
/// when no file is there.
pub fn jar_from_env() -> Result<Option<PathBuf>, SpiceError> {
    super::jar::env_jar("ACDC_SPICE_JAR").map_err(|message| SpiceError::Jar {
        jar: std::env::var_os("ACDC_SPICE_JAR")
            .unwrap_or_default()
            .into(),
        message,
    })
}

/// Why one SPICE process gave no scores.
enum ChunkError {
    /// Java could not be started: running again will not help.
    NoJava(String),
    /// The process ran and failed, or its output was unusable.
    Failed(String),
}

fn f_of(v: &serde_json::Value) -> f64 {
    match &v["scores"]["All"]["f"] {
        serde_json::Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        serde_json::Value::String(s) => s.parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// One SPICE process over `items` (id, tokenized references, tokenized candidate).
fn run_chunk(
    jar: &Path,
    items: &[(String, Vec<String>, String)],
    work: &Path,
) -> Result<Vec<f64>, ChunkError> {
    use ChunkError::Failed;
    let input: Vec<serde_json::Value> = items
        .iter()
        .enumerate()
        .map(|(i, (_, refs, test))| serde_json::json!({"image_id": i, "test": test, "refs": refs}))
        .collect();
    let in_file = work.join("spice-in.json");
    let out_file = work.join("spice-out.json");
    let _ = std::fs::remove_file(&out_file);
    std::fs::write(
        &in_file,
        serde_json::to_vec(&input).expect("JSON values serialise"),
    )
    .map_err(|e| Failed(format!("cannot write {}: {e}", in_file.display())))?;
    let cache = work.join("cache");
    let _ = std::fs::create_dir_all(&cache);
    let jar_abs = std::fs::canonicalize(jar).unwrap_or_else(|_| jar.to_path_buf());
    let out = Command::new(java())
        .args(["-jar", "-Xmx8G"])
        .arg(&jar_abs)
        .arg(&in_file)
        .arg("-cache")
        .arg(&cache)
        .arg("-out")
        .arg(&out_file)
        .args(["-subset", "-silent"])
        .current_dir(jar_abs.parent().unwrap_or(Path::new(".")))
        .output()
        .map_err(|e| {
            ChunkError::NoJava(format!(
                "cannot start {} (is a Java runtime on PATH?): {e}",
                java().display()
            ))
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(Failed(format!(
            "the process failed ({}): {last}",
            out.status
        )));
    }
    let text = std::fs::read_to_string(&out_file)
        .map_err(|e| Failed(format!("no output file {}: {e}", out_file.display())))?;
    let v: Vec<serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| Failed(format!("unreadable output: {e}")))?;
    let mut scores = vec![f64::NAN; items.len()];
    let mut seen = 0;
    for r in &v {
        if let Some(i) = r["image_id"]
            .as_u64()
            .map(|i| i as usize)
            .filter(|&i| i < items.len())
        {
            scores[i] = f_of(r);
            seen += 1;
        }
    }
    if seen != items.len() {
        return Err(Failed(format!(
            "the output scores {seen} of {} items",
            items.len()
        )));
    }
    Ok(scores)
}

/// SPICE of (id, tokenized references, tokenized candidate) items: (corpus mean, per item).
pub fn spice(
    jar: &Path,
    items: &[(String, Vec<String>, String)],
) -> Result<(f64, Vec<f64>), SpiceError> {
    let err = |message: String| SpiceError::Jar {
        jar: jar.into(),
        message,
    };
    if !jar.exists() {
        return Err(err(super::jar::missing_jar(jar, "ACDC_SPICE_JAR")));
    }
    let work = tempfile::tempdir().map_err(|e| err(format!("no temporary folder: {e}")))?;
    let mut per = Vec::with_capacity(items.len());
    for chunk in items.chunks(CHUNK) {
        let items = || format!("items `{}` … `{}`", chunk[0].0, chunk[chunk.len() - 1].0);
        let scores = match run_chunk(jar, chunk, work.path()) {
            Ok(s) => s,
            Err(ChunkError::NoJava(e)) => return Err(err(e)),
            Err(ChunkError::Failed(first)) => {
                tracing::warn!("SPICE: {first}; running the chunk again");
                run_chunk(jar, chunk, work.path()).map_err(|e| {
                    let (ChunkError::NoJava(e) | ChunkError::Failed(e)) = e;
                    err(format!("{}: {e} (also on the first try: {first})", items()))
                })?
            }
        };
        per.extend(scores);
    }
    let corpus = if per.is_empty() {
        0.0
    } else {
        per.iter().sum::<f64>() / per.len() as f64
    };
    Ok((corpus, per))
}

/// SPICE of captioning items, tokenized with `tok` as pycocoevalcap tokenizes them.
pub fn spice_captions(
    jar: &Path,
    items: &[CaptionItem],
    tok: CaptionTokenizer,
) -> Result<(f64, Vec<f64>), SpiceError> {
    let toks = |t: &str| tokenize(t, tok).join(" ");
    let rows: Vec<(String, Vec<String>, String)> = items
        .iter()
        .map(|it| {
            (
                it.id.clone(),
                it.references.iter().map(|r| toks(r)).collect(),
                toks(&it.candidate),
            )
        })
        .collect();
    spice(jar, &rows)
}

/// SPIDEr = (CIDEr-D + SPICE) / 2.
pub fn spider(cider_d: f64, spice: f64) -> f64 {
    (cider_d + spice) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_jar_is_named() {
        let e = spice(
            Path::new("/nonexistent/spice-1.0.jar"),
            &[("a".into(), vec!["a dog".into()], "a dog".into())],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("/nonexistent/spice-1.0.jar") && e.contains("no such file"),
            "{e}"
        );
        assert_eq!(
            configured_jar(" /x/s.jar "),
            Some(PathBuf::from("/x/s.jar"))
        );
    }
}
