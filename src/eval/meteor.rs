//! METEOR 1.5 through the official jar, driven exactly as pycocoevalcap drives it: one persistent
//! `java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en -norm` process (run in the jar's folder, where
//! its paraphrase data lives); a `SCORE ||| ref… ||| hyp` line per item returns its statistics, and
//! one `EVAL ||| stats ||| …` line returns every item's score and then the corpus score. Inputs are
//! tokenized strings (tokens joined by spaces). The jar comes from
//! `ACDC_METEOR_JAR`; without it METEOR is reported unavailable, never approximated.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum MeteorError {
    #[error("METEOR jar {}: {message}", jar.display())]
    Start { jar: PathBuf, message: String },
    #[error("METEOR jar {}: {message}", jar.display())]
    Protocol { jar: PathBuf, message: String },
}

/// A running METEOR scorer.
pub struct Meteor {
    jar: PathBuf,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// The jar named by `ACDC_METEOR_JAR`, if it exists.
pub fn jar_from_env() -> Option<PathBuf> {
    std::env::var_os("ACDC_METEOR_JAR")
        .map(PathBuf::from)
        .filter(|p| p.exists())
}

impl Meteor {
    pub fn start(jar: &Path) -> Result<Meteor, MeteorError> {
        let err = |m: String| MeteorError::Start {
            jar: jar.into(),
            message: m,
        };
        if !jar.exists() {
            return Err(err("no such file".into()));
        }
        let dir = jar.parent().unwrap_or(Path::new("."));
        let mut child = Command::new("java")
            .args(["-jar", "-Xmx2G"])
            .arg(
                jar.file_name()
                    .ok_or_else(|| err("not a file name".into()))?,
            )
            .args(["-", "-", "-stdio", "-l", "en", "-norm"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| err(format!("cannot start java: {e}")))?;
        let stdin = child.stdin.take().ok_or_else(|| err("no stdin".into()))?;
        let stdout = BufReader::new(child.stdout.take().ok_or_else(|| err("no stdout".into()))?);
        Ok(Meteor {
            jar: jar.into(),
            child,
            stdin,
            stdout,
        })
    }

    fn line(&mut self, out: &str) -> Result<String, MeteorError> {
        let perr = |m: String| MeteorError::Protocol {
            jar: self.jar.clone(),
            message: m,
        };
        self.stdin
            .write_all(out.as_bytes())
            .and_then(|_| self.stdin.write_all(b"\n"))
            .and_then(|_| self.stdin.flush())
            .map_err(|e| perr(e.to_string()))?;
        let mut s = String::new();
        self.stdout
            .read_line(&mut s)
            .map_err(|e| perr(e.to_string()))?;
        if s.is_empty() {
            return Err(perr("the process closed its output".into()));
        }
        Ok(s.trim().to_string())
    }

    /// Corpus and per-item METEOR for (references, hypothesis) pairs of tokenized strings.
    pub fn score(
        &mut self,
        items: &[(Vec<String>, String)],
    ) -> Result<(f64, Vec<f64>), MeteorError> {
        let mut eval = String::from("EVAL");
        for (refs, hyp) in items {
            let hyp = hyp.replace("|||", "").replace("  ", " ");
            let line = format!("SCORE ||| {} ||| {hyp}", refs.join(" ||| "));
            let stats = self.line(&line)?;
            eval.push_str(" ||| ");
            eval.push_str(&stats);
        }
        let first = self.line(&eval)?;
        let mut per = Vec::with_capacity(items.len());
        let parse = |s: &str, jar: &Path| {
            s.parse::<f64>().map_err(|_| MeteorError::Protocol {
                jar: jar.into(),
                message: format!("expected a score, got `{s}`"),
            })
        };
        if items.is_empty() {
            return Ok((parse(&first, &self.jar)?, per));
        }
        per.push(parse(&first, &self.jar)?);
        for _ in 1..items.len() {
            let mut s = String::new();
            self.stdout
                .read_line(&mut s)
                .map_err(|e| MeteorError::Protocol {
                    jar: self.jar.clone(),
                    message: e.to_string(),
                })?;
            per.push(parse(s.trim(), &self.jar)?);
        }
        let mut s = String::new();
        self.stdout
            .read_line(&mut s)
            .map_err(|e| MeteorError::Protocol {
                jar: self.jar.clone(),
                message: e.to_string(),
            })?;
        Ok((parse(s.trim(), &self.jar)?, per))
    }
}

impl Drop for Meteor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
