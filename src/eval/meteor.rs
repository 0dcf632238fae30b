//! METEOR 1.5 through the official jar, driven exactly as pycocoevalcap drives it: one persistent
//! `java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en -norm` process (run in the jar's folder, where
//! its paraphrase data lives); a `SCORE ||| ref… ||| hyp` line per item returns its statistics, and
//! one `EVAL ||| stats ||| …` line returns every item's score and then the corpus score. Inputs are
//! tokenized strings (tokens joined by spaces). The jar comes from `eval.meteor_jar` or
//! `ACDC_METEOR_JAR` (a path that is not there is an error naming it); without one METEOR is
//! reported unavailable, never approximated. `ACDC_JAVA` names another `java`.
//!
//! When the process dies mid-stream it is restarted once and the item retried; the statistics of
//! the items already scored are kept. A second failure is an error naming the item. The process's
//! stderr is read as it goes, and its last words (a Java error such as `Error: Invalid or corrupt
//! jarfile`) are part of every error about the process dying.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::caption_metrics::CaptionItem;
use super::caption_tokens::{tokenize, CaptionTokenizer};

#[derive(Debug, thiserror::Error)]
pub enum MeteorError {
    #[error("METEOR jar {}: {message}", jar.display())]
    Start { jar: PathBuf, message: String },
    #[error("METEOR jar {}: {message}", jar.display())]
    Protocol { jar: PathBuf, message: String },
}

impl MeteorError {
    /// What went wrong, without the jar (for messages that already name it).
    fn message(&self) -> &str {
        match self {
            MeteorError::Start { message, .. } | MeteorError::Protocol { message, .. } => message,
        }
    }
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
    stderr: StderrTail,
    /// Restarts so far.
    pub restarts: usize,
}

/// The last lines a process wrote to stderr, read by a thread of its own (so that the process
/// never blocks on a full pipe).
struct StderrTail {
    lines: Arc<Mutex<VecDeque<String>>>,
    reader: Option<JoinHandle<()>>,
}

/// Lines of stderr kept.
const STDERR_LINES: usize = 40;

impl StderrTail {
    fn read(stderr: Option<ChildStderr>) -> StderrTail {
        let lines: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let reader = stderr.map(|err| {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                let mut err = BufReader::new(err);
                let mut buf = Vec::new();
                while matches!(err.by_ref().read_until(b'\n', &mut buf), Ok(n) if n > 0) {
                    let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                    buf.clear();
                    let mut q = lines.lock().unwrap_or_else(|p| p.into_inner());
                    if q.len() == STDERR_LINES {
                        q.pop_front();
                    }
                    q.push_back(line);
                }
            })
        });
        StderrTail { lines, reader }
    }

    /// The last informative line: the last non-empty one that is not a Java stack frame
    /// (`at …`, `... 3 more`), else the last non-empty one.
    fn last_words(&self) -> Option<String> {
        let q = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let non_empty = || q.iter().rev().map(|l| l.trim()).filter(|l| !l.is_empty());
        non_empty()
            .find(|l| !(l.starts_with("at ") || l.starts_with("...") && l.ends_with("more")))
            .or_else(|| non_empty().next())
            .map(str::to_string)
    }

    fn finished(&self) -> bool {
        self.reader.as_ref().is_none_or(|h| h.is_finished())
    }
}

/// The jar named by `ACDC_METEOR_JAR`: none when unset, an error naming the variable and the path
/// when no file is there.
pub fn jar_from_env() -> Result<Option<PathBuf>, MeteorError> {
    super::jar::env_jar("ACDC_METEOR_JAR").map_err(|message| MeteorError::Start {
        jar: std::env::var_os("ACDC_METEOR_JAR")
            .unwrap_or_default()
            .into(),
        message,
    })
}

/// The jar `eval.meteor_jar` names, else `ACDC_METEOR_JAR`, else none.
pub fn configured_jar(configured: &str) -> Option<PathBuf> {
    super::jar::configured_jar(configured, "ACDC_METEOR_JAR")
}

type Spawned = (Child, ChildStdin, BufReader<ChildStdout>, StderrTail);

fn spawn(jar: &Path, launch: &Launch) -> Result<Spawned, MeteorError> {
    let err = |m: String| MeteorError::Start {
        jar: jar.into(),
        message: m,
    };
    if !jar.exists() {
        return Err(err(super::jar::missing_jar(jar, "ACDC_METEOR_JAR")));
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
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            err(match launch {
                Launch::Jar => format!(
                    "cannot start {} (is a Java runtime on PATH?): {e}",
                    super::jar::java().display()
                ),
                Launch::Program(p) => format!("cannot start {}: {e}", p.display()),
            })
        })?;
    let stdin = child.stdin.take().ok_or_else(|| err("no stdin".into()))?;
    let stdout = BufReader::new(child.stdout.take().ok_or_else(|| err("no stdout".into()))?);
    let stderr = StderrTail::read(child.stderr.take());
    Ok((child, stdin, stdout, stderr))
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
        let (child, stdin, stdout, stderr) = spawn(jar, &launch)?;
        Ok(Meteor {
            jar: jar.into(),
            launch,
            child,
            stdin,
            stdout,
            stderr,
            restarts: 0,
        })
    }

    fn restart(&mut self) -> Result<(), MeteorError> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, stdin, stdout, stderr) = spawn(&self.jar, &self.launch)?;
        self.child = child;
        self.stdin = stdin;
        self.stdout = stdout;
        self.stderr = stderr;
        self.restarts += 1;
        Ok(())
    }

    /// The process stopped answering (`what`): waits a moment for it to exit and for the end of
    /// its stderr, then reports `what`, its exit status and its last words.
    fn died(&mut self, what: String) -> MeteorError {
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut status = None;
        while Instant::now() < deadline {
            if status.is_none() {
                status = self.child.try_wait().ok().flatten();
            }
            if status.is_some() && self.stderr.finished() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut message = what;
        if let Some(s) = status {
            message.push_str(&format!(" ({s})"));
        }
        if let Some(words) = self.stderr.last_words() {
            message.push_str(&format!("; its stderr ends: {words}"));
        }
        self.protocol(message)
    }

    fn protocol(&self, message: String) -> MeteorError {
        MeteorError::Protocol {
            jar: self.jar.clone(),
            message,
        }
    }

    fn read_line(&mut self) -> Result<String, MeteorError> {
        let mut s = String::new();
        if let Err(e) = self.stdout.read_line(&mut s) {
            return Err(self.died(format!("cannot read its output: {e}")));
        }
        if s.is_empty() {
            return Err(self.died("the process closed its output".into()));
        }
        Ok(s.trim().to_string())
    }

    fn line(&mut self, out: &str) -> Result<String, MeteorError> {
        let written = self
            .stdin
            .write_all(out.as_bytes())
            .and_then(|_| self.stdin.write_all(b"\n"))
            .and_then(|_| self.stdin.flush());
        if let Err(e) = written {
            return Err(self.died(format!("the process does not take input ({e})")));
        }
        self.read_line()
    }

    /// A request whose reply is one line, retried once on a restarted process.
    fn line_retried(&mut self, out: &str, what: &str) -> Result<String, MeteorError> {
        match self.line(out) {
            Ok(s) => Ok(s),
            Err(first) => {
                tracing::warn!("METEOR: {first}; restarting for {what}");
                self.restart().map_err(|e| {
                    self.protocol(format!(
                        "{what}: {}; the restart failed: {}",
                        first.message(),
                        e.message()
                    ))
                })?;
                self.line(out).map_err(|e| {
                    self.protocol(format!(
                        "{what}: {} (also before the restart: {})",
                        e.message(),
                        first.message()
                    ))
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
                    self.restart().map_err(|r| {
                        self.protocol(format!(
                            "EVAL: {}; the restart failed: {}",
                            e.message(),
                            r.message()
                        ))
                    })?;
                }
                Err(e) => {
                    return Err(self.protocol(format!("EVAL: {} (after a restart)", e.message())))
                }
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

    /// A stand-in scorer (a shell script). Each process it starts is a new generation `g`
    /// (counted in a file). A `SCORE` line whose hypothesis holds the number `n` gets the
    /// statistics `n g`; `EVAL` answers, for each statistics `n g` it is given, `n + g/10`, then
    /// their sum: so every item's score says which item it is and which process scored it.
    /// A hypothesis holding `crash` kills the process (once, or `crash_always`), writing
    /// `Exception …: boom` and a stack frame to stderr first; `crash_eval` kills it on the first
    /// `EVAL`.
    fn stand_in(dir: &Path, name: &str, crash_always: bool, crash_eval: bool) -> PathBuf {
        let d = dir.display();
        let script = format!(
            r#"#!/bin/sh
g=$(( $(cat '{d}/{name}.gen' 2>/dev/null || echo 0) + 1 )); echo $g > '{d}/{name}.gen'
while IFS= read -r line; do
  case "$line" in
    EVAL*) if [ {eval} = 1 ] && [ ! -e '{d}/{name}.eval-crashed' ]; then
             touch '{d}/{name}.eval-crashed'; exit 4; fi
           printf '%s\n' "$line" | awk -F' [|][|][|] ' -v g=$g \
             '{{ s = 0; for (i = 2; i <= NF; i++) {{ split($i, a, " "); v = a[1] + a[2] / 10; print v; s += v }}; print s }}' ;;
    *crash*) if [ {always} = 1 ] || [ ! -e '{d}/{name}.crashed' ]; then
               touch '{d}/{name}.crashed'
               echo "Exception in thread \"main\" java.lang.IllegalStateException: boom" >&2
               echo "	at edu.cmu.meteor.Meteor.main(Meteor.java:1)" >&2
               exit 3
             fi
             echo "$(printf '%s' "${{line##*||| }}" | tr -cd '0-9') $g" ;;
    *) echo "$(printf '%s' "${{line##*||| }}" | tr -cd '0-9') $g" ;;
  esac
done
"#,
            always = crash_always as u8,
            eval = crash_eval as u8,
        );
        let p = dir.join(format!("{name}.sh"));
        std::fs::write(&p, script).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn items(hyps: &[&str]) -> Vec<(Vec<String>, String)> {
        hyps.iter()
            .map(|h| (vec!["a dog".to_string()], h.to_string()))
            .collect()
    }

    fn jar(dir: &Path) -> PathBuf {
        let jar = dir.join("meteor-1.5.jar");
        std::fs::write(&jar, b"").unwrap();
        jar
    }

    #[test]
    fn the_stand_in_scores_each_item_apart() {
        let d = tempfile::tempdir().unwrap();
        let mut m =
            Meteor::start_program(&jar(d.path()), &stand_in(d.path(), "ok", false, false)).unwrap();
        let (corpus, per) = m.score(&items(&["dog 1", "rain 2", "bell 3"])).unwrap();
        assert_eq!(m.restarts, 0);
        assert_eq!(per, vec![1.1, 2.1, 3.1]);
        assert!((corpus - 6.3).abs() < 1e-9, "{corpus}");
    }

    /// Item 2 kills the process: item 1 keeps the statistics the first process gave it (score
    /// 1.1, not 1.2), items 2 and 3 are scored by the second process.
    #[test]
    fn a_crash_mid_stream_restarts_and_keeps_the_scores() {
        let d = tempfile::tempdir().unwrap();
        let mut m =
            Meteor::start_program(&jar(d.path()), &stand_in(d.path(), "once", false, false))
                .unwrap();
        let (corpus, per) = m
            .score(&items(&["dog 1", "crash 2", "rain 3", "bell 4"]))
            .unwrap();
        assert_eq!(m.restarts, 1);
        assert_eq!(per, vec![1.1, 2.2, 3.2, 4.2]);
        assert!((corpus - 10.7).abs() < 1e-9, "{corpus}");
        // The restarted process goes on serving later batches.
        let (_, again) = m.score(&items(&["dog 5"])).unwrap();
        assert_eq!(again, vec![5.2]);
    }

    /// The process dies on the `EVAL` line: the restarted one is given every item's statistics,
    /// all from the first process.
    #[test]
    fn a_crash_on_eval_restarts_and_keeps_the_statistics() {
        let d = tempfile::tempdir().unwrap();
        let mut m = Meteor::start_program(&jar(d.path()), &stand_in(d.path(), "eval", false, true))
            .unwrap();
        let (corpus, per) = m.score(&items(&["dog 1", "rain 2", "bell 3"])).unwrap();
        assert_eq!(m.restarts, 1);
        assert_eq!(per, vec![1.1, 2.1, 3.1]);
        assert!((corpus - 6.3).abs() < 1e-9, "{corpus}");
    }

    #[test]
    fn a_crash_that_repeats_names_the_item_and_the_last_words() {
        let d = tempfile::tempdir().unwrap();
        let mut m =
            Meteor::start_program(&jar(d.path()), &stand_in(d.path(), "always", true, false))
                .unwrap();
        let ids: Vec<String> = ["c1", "c2", "c3"].iter().map(|s| s.to_string()).collect();
        let e = m
            .score_named(&items(&["dog 1", "crash 2", "rain 3"]), &ids)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("item `c2`")
                && e.contains("meteor-1.5.jar")
                && e.contains("closed")
                && e.contains("exit status: 3")
                && e.contains("IllegalStateException: boom")
                && !e.contains("at edu.cmu"),
            "{e}"
        );
    }

    /// A jar java cannot run (corrupt, wrong version) writes why to stderr and exits at once:
    /// the error says what it wrote.
    #[test]
    fn a_process_that_dies_at_start_reports_its_stderr() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("corrupt.sh");
        std::fs::write(
            &p,
            "#!/bin/sh\necho 'Error: Invalid or corrupt jarfile meteor-1.5.jar' >&2\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut m = Meteor::start_program(&jar(d.path()), &p).unwrap();
        let ids = vec!["first".to_string()];
        let e = m
            .score_named(&items(&["dog 1"]), &ids)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("item `first`")
                && e.contains("Error: Invalid or corrupt jarfile meteor-1.5.jar")
                && e.contains("exit status: 1"),
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
