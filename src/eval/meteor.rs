//! METEOR 1.5 through the official jar, driven exactly as pycocoevalcap drives it: one persistent
//! `java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en -norm` process (run in the jar's folder, where
//! its paraphrase data lives); a `SCORE ||| ref… ||| hyp` line per item returns its statistics, and
//! one `EVAL ||| stats ||| …` line returns every item's score and then the corpus score. Inputs are
//! tokenized strings (tokens joined by spaces). The jar comes from `eval.meteor_jar` or
//! `ACDC_METEOR_JAR`; without one METEOR is reported unavailable, never approximated. `ACDC_JAVA`
//! names another `java`.
//!
//! When the process dies mid-stream it is restarted once and the item retried; the statistics of
//! the items already scored are kept. A second failure is an error naming the item.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use super::caption_metrics::CaptionItem;
use super::caption_tokens::{tokenize, CaptionTokenizer};

#[derive(Debug, thiserror::Error)]
pub enum MeteorError {
    #[error("METEOR jar {}: {message}", jar.display())]
    Start { jar: PathBuf, message: String },
    #[error("METEOR jar {}: {message}", jar.display())]
    Protocol { jar: PathBuf, message: String },
}

/// How to start the scorer: `java -jar` on the jar, or (tests) any program speaking the protocol.
#[derive(Debug, Clone)]
enum Launch {
    Jar,
    Program(PathBuf),
}

/// A running METEOR scorer.
pub struct Meteor {
    jar: PathBuf,
    launch: Launch,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Restarts so far.
    pub restarts: usize,
}

/// The jar named by `ACDC_METEOR_JAR`, if it exists.
pub fn jar_from_env() -> Option<PathBuf> {
    configured_jar("")
}

/// The jar `eval.meteor_jar` names, else `ACDC_METEOR_JAR`, else none.
pub fn configured_jar(configured: &str) -> Option<PathBuf> {
    super::jar::configured_jar(configured, "ACDC_METEOR_JAR")
}

fn spawn(
    jar: &Path,
    launch: &Launch,
) -> Result<(Child, ChildStdin, BufReader<ChildStdout>), MeteorError> {
    let err = |m: String| MeteorError::Start {
        jar: jar.into(),
        message: m,
    };
    if !jar.exists() {
        return Err(err("no such file".into()));
    }
    let mut cmd = match launch {
        Launch::Jar => {
            let mut c = Command::new(super::jar::java());
            c.args(["-jar", "-Xmx2G"])
                .arg(
                    jar.file_name()
                        .ok_or_else(|| err("not a file name".into()))?,
                )
                .args(["-", "-", "-stdio", "-l", "en", "-norm"])
                .current_dir(jar.parent().unwrap_or(Path::new(".")));
            c
        }
        Launch::Program(p) => Command::new(p),
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            err(match launch {
                Launch::Jar => format!("cannot start java (is a Java runtime on PATH?): {e}"),
                Launch::Program(p) => format!("cannot start {}: {e}", p.display()),
            })
        })?;
    let stdin = child.stdin.take().ok_or_else(|| err("no stdin".into()))?;
    let stdout = BufReader::new(child.stdout.take().ok_or_else(|| err("no stdout".into()))?);
    Ok((child, stdin, stdout))
}

impl Meteor {
    pub fn start(jar: &Path) -> Result<Meteor, MeteorError> {
        Self::launch(jar, Launch::Jar)
    }

    /// A scorer that runs `program` (no arguments) instead of java: for testing the protocol and
    /// the restart logic with a stand-in. `jar` only names it in messages.
    pub fn start_program(jar: &Path, program: &Path) -> Result<Meteor, MeteorError> {
        Self::launch(jar, Launch::Program(program.into()))
    }

    fn launch(jar: &Path, launch: Launch) -> Result<Meteor, MeteorError> {
        let (child, stdin, stdout) = spawn(jar, &launch)?;
        Ok(Meteor {
            jar: jar.into(),
            launch,
            child,
            stdin,
            stdout,
            restarts: 0,
        })
    }

    fn restart(&mut self) -> Result<(), MeteorError> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, stdin, stdout) = spawn(&self.jar, &self.launch)?;
        self.child = child;
        self.stdin = stdin;
        self.stdout = stdout;
        self.restarts += 1;
        Ok(())
    }

    fn protocol(&self, message: String) -> MeteorError {
        MeteorError::Protocol {
            jar: self.jar.clone(),
            message,
        }
    }

    fn read_line(&mut self) -> Result<String, MeteorError> {
        let mut s = String::new();
        self.stdout
            .read_line(&mut s)
            .map_err(|e| self.protocol(e.to_string()))?;
        if s.is_empty() {
            return Err(self.protocol("the process closed its output".into()));
        }
        Ok(s.trim().to_string())
    }

    fn line(&mut self, out: &str) -> Result<String, MeteorError> {
        self.stdin
            .write_all(out.as_bytes())
            .and_then(|_| self.stdin.write_all(b"\n"))
            .and_then(|_| self.stdin.flush())
            .map_err(|e| self.protocol(e.to_string()))?;
        self.read_line()
    }

    /// A request whose reply is one line, retried once on a restarted process.
    fn line_retried(&mut self, out: &str, what: &str) -> Result<String, MeteorError> {
        match self.line(out) {
            Ok(s) => Ok(s),
            Err(first) => {
                tracing::warn!("METEOR: {first}; restarting for {what}");
                self.restart()?;
                self.line(out).map_err(|e| {
                    self.protocol(format!("{what}: {e} (also before the restart: {first})"))
                })
            }
        }
    }

    fn parse(&self, s: &str, what: &str) -> Result<f64, MeteorError> {
        s.parse::<f64>()
            .map_err(|_| self.protocol(format!("{what}: expected a score, got `{s}`")))
    }

    /// Corpus and per-item METEOR for (references, hypothesis) pairs of tokenized strings;
    /// `ids` name the items in errors (indices when empty).
    pub fn score_named(
        &mut self,
        items: &[(Vec<String>, String)],
        ids: &[String],
    ) -> Result<(f64, Vec<f64>), MeteorError> {
        let name = |i: usize| {
            ids.get(i)
                .map(|id| format!("item `{id}`"))
                .unwrap_or_else(|| format!("item {i}"))
        };
        let mut stats = Vec::with_capacity(items.len());
        for (i, (refs, hyp)) in items.iter().enumerate() {
            let hyp = hyp.replace("|||", "").replace("  ", " ");
            let line = format!("SCORE ||| {} ||| {hyp}", refs.join(" ||| "));
            stats.push(self.line_retried(&line, &name(i))?);
        }
        let eval = std::iter::once("EVAL".to_string())
            .chain(stats)
            .collect::<Vec<_>>()
            .join(" ||| ");
        // EVAL answers with one line per item and then the corpus score.
        let mut attempt = 0;
        loop {
            let r = (|| {
                let first = self.line(&eval)?;
                let mut lines = vec![first];
                for _ in 0..items.len() {
                    lines.push(self.read_line()?);
                }
                Ok::<_, MeteorError>(lines)
            })();
            match r {
                Ok(lines) => {
                    let per = lines[..items.len()]
                        .iter()
                        .enumerate()
                        .map(|(i, s)| self.parse(s, &name(i)))
                        .collect::<Result<Vec<_>, _>>()?;
                    let corpus = self.parse(&lines[items.len()], "the corpus score")?;
                    return Ok((corpus, per));
                }
                Err(e) if attempt == 0 => {
                    tracing::warn!("METEOR: {e}; restarting for the EVAL line");
                    attempt += 1;
                    self.restart()?;
                }
                Err(e) => return Err(self.protocol(format!("EVAL: {e} (after a restart)"))),
            }
        }
    }

    /// [`Meteor::score_named`] with items named by index.
    pub fn score(
        &mut self,
        items: &[(Vec<String>, String)],
    ) -> Result<(f64, Vec<f64>), MeteorError> {
        self.score_named(items, &[])
    }
}

impl Drop for Meteor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// METEOR of captioning items as pycocoevalcap computes it: candidates and references tokenized
/// with `tok`, scored by the jar. Returns (corpus, per item).
pub fn meteor_captions(
    jar: &Path,
    items: &[CaptionItem],
    tok: CaptionTokenizer,
) -> Result<(f64, Vec<f64>), MeteorError> {
    let toks = |t: &str| tokenize(t, tok).join(" ");
    let pairs: Vec<(Vec<String>, String)> = items
        .iter()
        .map(|it| {
            (
                it.references.iter().map(|r| toks(r)).collect(),
                toks(&it.candidate),
            )
        })
        .collect();
    let ids: Vec<String> = items.iter().map(|it| it.id.clone()).collect();
    Meteor::start(jar)?.score_named(&pairs, &ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in scorer (a shell script): `SCORE` lines get `1 2`, a hypothesis `crash` kills the
    /// process the first time (a marker file remembers), `EVAL` returns 0.5 per item and 0.25.
    fn stand_in(dir: &Path, crash_always: bool) -> PathBuf {
        let marker = dir.join("crashed");
        let script = format!(
            r#"#!/bin/sh
while IFS= read -r line; do
  case "$line" in
    EVAL*) n=$(printf '%s' "$line" | awk -F' [|][|][|] ' '{{print NF-1}}')
           i=0; while [ $i -lt $n ]; do echo 0.5; i=$((i+1)); done; echo 0.25 ;;
    *crash*) if [ {always} = 1 ] || [ ! -e '{m}' ]; then touch '{m}'; exit 3; fi; echo "1 2" ;;
    *) echo "1 2" ;;
  esac
done
"#,
            always = crash_always as u8,
            m = marker.display()
        );
        let p = dir.join(if crash_always { "always.sh" } else { "once.sh" });
        std::fs::write(&p, script).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn items() -> Vec<(Vec<String>, String)> {
        ["a dog barks", "crash", "rain falls"]
            .iter()
            .map(|h| (vec!["a dog".to_string()], h.to_string()))
            .collect()
    }

    #[test]
    fn a_crash_mid_stream_restarts_and_keeps_the_scores() {
        let d = tempfile::tempdir().unwrap();
        let jar = d.path().join("meteor-1.5.jar");
        std::fs::write(&jar, b"").unwrap();
        let mut m = Meteor::start_program(&jar, &stand_in(d.path(), false)).unwrap();
        let (corpus, per) = m.score(&items()).unwrap();
        assert_eq!(m.restarts, 1);
        assert_eq!(corpus, 0.25);
        assert_eq!(per, vec![0.5, 0.5, 0.5]);
    }

    #[test]
    fn a_crash_that_repeats_names_the_item() {
        let d = tempfile::tempdir().unwrap();
        let jar = d.path().join("meteor-1.5.jar");
        std::fs::write(&jar, b"").unwrap();
        let mut m = Meteor::start_program(&jar, &stand_in(d.path(), true)).unwrap();
        let ids: Vec<String> = ["c1", "c2", "c3"].iter().map(|s| s.to_string()).collect();
        let e = m.score_named(&items(), &ids).unwrap_err().to_string();
        assert!(
            e.contains("item `c2`") && e.contains("meteor-1.5.jar") && e.contains("closed"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_jar_is_named() {
        let e = Meteor::start(Path::new("/nonexistent/meteor-1.5.jar"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("/nonexistent/meteor-1.5.jar") && e.contains("no such file"),
            "{e}"
        );
        assert_eq!(
            configured_jar(" /x/m.jar "),
            Some(PathBuf::from("/x/m.jar"))
        );
    }
}
