//! Judged audio QA in the AudioBench style: a judge LLM rates each (question, reference answer,
//! model answer) from 0 to 5 following a rubric template; the rating is the reply's last
//! whitespace-separated token (AudioBench's `float(output.split()[-1])`); a reply whose last token
//! is not a number from 0 to 5 counts 0 and as a failure; the set score is mean × 20, reported
//! with the success rate (the share of parsed replies).
//!
//! One deliberate difference from AudioBench: it accepts any float as the last token (`7`, `nan`);
//! here a rating outside 0–5 or not finite is a failure, so a runaway reply cannot move the mean.
//!
//! The prompt comes from a template with `{question}`, `{reference}` and `{prediction}` fields in
//! Python `str.format` syntax (`{{` / `}}` are literal braces), so AudioBench's exact text can be
//! used as is. acdc ships its own rubric (`assets/judge/rating-0-5.txt`, in our words). The
//! template's sha256 is recorded with every score, and every judgment is cached in the store keyed
//! by (judge, template hash, question, reference, answer): rerunning never asks again. The one
//! exception is an empty reply: it rates 0 and counts as a failure like an unparseable one, so a
//! judge that always says nothing cannot stall an evaluation, but it is not stored (an empty reply
//! may be a passing glitch of the engine) and a rerun asks again.
//! Engines (`judge_openai`, `judge_local`) implement [`JudgeEngine`].

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::store::judgments::{CachedJudgment, JudgmentKey};
use crate::store::{Store, StoreError};

/// acdc's rubric (0–5, reply ends with `Rating: N`).
pub const BUILTIN_TEMPLATE: &str = include_str!("../../assets/judge/rating-0-5.txt");

/// The fields a template must use.
pub const TEMPLATE_FIELDS: [&str; 3] = ["question", "reference", "prediction"];

/// One item to judge.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JudgeItem {
    pub id: String,
    pub question: String,
    pub reference: String,
    pub prediction: String,
}

#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error("judge template {origin}: {message}")]
    Template { origin: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("judge {judge}: nothing to judge")]
    Empty { judge: String },
    #[error(
        "judge {judge}: {} of {total} item(s) could not be judged ({judged} judged and kept in the store; \
         rerun to ask again for the rest); first failure: item `{}`: {}",
        failures.len(), failures[0].0, failures[0].1
    )]
    Items {
        judge: String,
        total: usize,
        judged: usize,
        /// (item id, why)
        failures: Vec<(String, String)>,
    },
}

/// A judge prompt template.
#[derive(Debug, Clone)]
pub struct JudgeTemplate {
    pub text: String,
    /// sha256 (hex) of the template text.
    pub hash: String,
    /// Where it came from: `builtin:rating-0-5` or a path.
    pub origin: String,
}

/// Python `str.format` with named fields only: `{{`/`}}` are braces, `{name}` is `lookup(name)`.
fn format_fields(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len() + 256);
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|x| x.1) == Some('{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek().map(|x| x.1) == Some('}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let rest = &text[i + 1..];
                let end = rest
                    .find('}')
                    .ok_or_else(|| format!("unclosed `{{` at byte {i}"))?;
                let name = &rest[..end];
                let value = lookup(name).ok_or_else(|| {
                    format!(
                        "unknown field `{{{name}}}` (fields: {}; write `{{{{` for a literal brace)",
                        TEMPLATE_FIELDS.map(|f| format!("{{{f}}}")).join(", ")
                    )
                })?;
                out.push_str(&value);
                for _ in 0..name.chars().count() + 1 {
                    chars.next();
                }
            }
            '}' => return Err(format!("single `}}` at byte {i} (write `}}}}`)")),
            c => out.push(c),
        }
    }
    Ok(out)
}

impl JudgeTemplate {
    /// acdc's shipped rubric.
    pub fn builtin() -> JudgeTemplate {
        Self::parse(BUILTIN_TEMPLATE, "builtin:rating-0-5").expect("the shipped template is valid")
    }

    /// A template file (UTF-8 text with the three fields).
    pub fn from_file(path: &Path) -> Result<JudgeTemplate, JudgeError> {
        let origin = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| JudgeError::Template {
            origin: origin.clone(),
            message: format!("cannot read it: {e}"),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| JudgeError::Template {
            origin: origin.clone(),
            message: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        })?;
        Self::parse(&text, &origin)
    }

    /// Check a template: it renders, and uses every field.
    pub fn parse(text: &str, origin: &str) -> Result<JudgeTemplate, JudgeError> {
        let err = |message: String| JudgeError::Template {
            origin: origin.into(),
            message,
        };
        let used = std::cell::RefCell::new(Vec::new());
        format_fields(text, &|name| {
            TEMPLATE_FIELDS.contains(&name).then(|| {
                used.borrow_mut().push(name.to_string());
                String::new()
            })
        })
        .map_err(err)?;
        let used = used.into_inner();
        let missing: Vec<String> = TEMPLATE_FIELDS
            .iter()
            .filter(|f| !used.iter().any(|u| u == *f))
            .map(|f| format!("{{{f}}}"))
            .collect();
        if !missing.is_empty() {
            return Err(err(format!("does not use {}", missing.join(", "))));
        }
        Ok(JudgeTemplate {
            text: text.to_string(),
            hash: hex::encode(Sha256::digest(text.as_bytes())),
            origin: origin.to_string(),
        })
    }

    /// The judge prompt for one item.
    pub fn render(&self, item: &JudgeItem) -> String {
        format_fields(&self.text, &|name| match name {
            "question" => Some(item.question.clone()),
            "reference" => Some(item.reference.clone()),
            "prediction" => Some(item.prediction.clone()),
            _ => None,
        })
        .expect("checked when the template was loaded")
    }
}

/// The rating of a judge reply: its last whitespace-separated token as a number from 0 to 5.
pub fn parse_rating(reply: &str) -> Option<f64> {
    let last = reply.split_whitespace().last()?;
    let v: f64 = last.parse().ok()?;
    (v.is_finite() && (0.0..=5.0).contains(&v)).then_some(v)
}

/// A judge: turns prompts into replies.
pub trait JudgeEngine {
    /// What is recorded as the judge: engine, model and the decoding settings that change replies.
    fn id(&self) -> String;
    /// One reply per prompt, in order; an `Err` says why that prompt got none (after retries).
    /// An empty (or blank) `Ok` is a judge that said nothing: rated 0 as a failure, not stored.
    fn replies(&self, prompts: &[String]) -> Vec<Result<String, String>>;
    /// Prompts per call; judgments are stored after each call.
    fn batch_size(&self) -> usize {
        32
    }
}

/// The judgment of one item.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ItemJudgment {
    pub id: String,
    pub rating: f64,
    pub parsed: bool,
    pub reply: String,
    /// Taken from the store rather than asked.
    pub cached: bool,
}

/// A judged set.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct JudgeReport {
    pub judge: String,
    pub template_hash: String,
    /// Mean rating × 20 (0–100).
    pub score: f64,
    /// Share of replies whose rating parsed.
    pub success_rate: f64,
    pub n: usize,
    /// How many judgments came from the store.
    pub cached: usize,
    pub items: Vec<ItemJudgment>,
}

impl JudgeReport {
    fn from_items(judge: String, template_hash: String, items: Vec<ItemJudgment>) -> Self {
        let n = items.len();
        let d = n.max(1) as f64;
        JudgeReport {
            judge,
            template_hash,
            score: items.iter().map(|i| i.rating).sum::<f64>() / d * 20.0,
            success_rate: items.iter().filter(|i| i.parsed).count() as f64 / d,
            n,
            cached: items.iter().filter(|i| i.cached).count(),
            items,
        }
    }
}

/// Judge `items`: cached judgments are reused, the rest asked in batches and stored after each
/// batch. An empty reply rates 0 as a failure and is not stored (the next call asks again). Items
/// the engine could not answer are not stored; they make this an error that names them, after
/// everything judged has been kept.
pub fn judge(
    store: &mut Store,
    engine: &dyn JudgeEngine,
    template: &JudgeTemplate,
    items: &[JudgeItem],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<JudgeReport, JudgeError> {
    let judge_id = engine.id();
    if items.is_empty() {
        return Err(JudgeError::Empty { judge: judge_id });
    }
    let keys: Vec<JudgmentKey> = items
        .iter()
        .map(|it| JudgmentKey {
            judge: judge_id.clone(),
            template_hash: template.hash.clone(),
            question: it.question.clone(),
            reference: it.reference.clone(),
            answer: it.prediction.clone(),
        })
        .collect();
    let digests: Vec<String> = keys.iter().map(JudgmentKey::digest).collect();
    let mut found: HashMap<String, (CachedJudgment, bool)> = HashMap::new();
    let mut pending: std::collections::HashSet<&str> = Default::default();
    let mut todo: Vec<usize> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let d = digests[i].as_str();
        if found.contains_key(d) || pending.contains(d) {
            continue;
        }
        match store.judgment(k)? {
            Some(j) => {
                found.insert(d.to_string(), (j, true));
            }
            None => {
                pending.insert(d);
                todo.push(i);
            }
        }
    }
    let mut failures: Vec<(String, String)> = Vec::new();
    let total = todo.len();
    let mut done = 0;
    for chunk in todo.chunks(engine.batch_size().max(1)) {
        let prompts: Vec<String> = chunk.iter().map(|&i| template.render(&items[i])).collect();
        let mut replies = engine.replies(&prompts);
        replies.resize(chunk.len(), Err("the engine gave no reply".into()));
        let mut batch = Vec::with_capacity(chunk.len());
        let mut ok = Vec::with_capacity(chunk.len());
        for (&i, reply) in chunk.iter().zip(replies) {
            match reply {
                // Nothing to rate: a failure rated 0 like an unparseable reply, so a judge that
                // deterministically says nothing still gives a score. It may be a glitch of the
                // engine rather than the judge's verdict, so it is not stored as a permanent 0:
                // the item is asked again next time.
                Ok(reply) if reply.trim().is_empty() => {
                    tracing::warn!(
                        "judge {judge_id}: item `{}`: the judge's reply was empty; rated 0 as a \
                         failure, not stored (asked again next time)",
                        items[i].id
                    );
                    let j = CachedJudgment {
                        rating: 0.0,
                        parsed: false,
                        reply: String::new(),
                    };
                    found.insert(digests[i].clone(), (j, false));
                }
                Ok(reply) => {
                    let rating = parse_rating(&reply);
                    let j = CachedJudgment {
                        rating: rating.unwrap_or(0.0),
                        parsed: rating.is_some(),
                        reply,
                    };
                    batch.push((keys[i].clone(), j));
                    ok.push(i);
                }
                Err(why) => failures.push((items[i].id.clone(), why)),
            }
        }
        store.put_judgments(&batch)?;
        for ((_, j), &i) in batch.into_iter().zip(&ok) {
            found.insert(digests[i].clone(), (j, false));
        }
        done += chunk.len();
        progress(done, total);
    }
    if !failures.is_empty() {
        return Err(JudgeError::Items {
            judge: judge_id,
            total: items.len(),
            judged: items.len() - failures.len(),
            failures,
        });
    }
    let out = items
        .iter()
        .zip(&digests)
        .map(|(it, d)| {
            let (j, cached) = &found[d];
            ItemJudgment {
                id: it.id.clone(),
                rating: j.rating,
                parsed: j.parsed,
                reply: j.reply.clone(),
                cached: *cached,
            }
        })
        .collect();
    Ok(JudgeReport::from_items(
        judge_id,
        template.hash.clone(),
        out,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn rating_is_the_last_token() {
        assert_eq!(parse_rating("Explanation: close.\nRating: 4"), Some(4.0));
        assert_eq!(parse_rating("Rating: 4.0  \n"), Some(4.0));
        assert_eq!(parse_rating("Rating: 3."), Some(3.0));
        assert_eq!(parse_rating("0"), Some(0.0));
        assert_eq!(parse_rating("Rating: 4."), Some(4.0));
        // Not a number, out of range, not finite, or empty: a failure.
        assert_eq!(parse_rating("Rating: **4**"), None);
        assert_eq!(parse_rating("Rating: 4/5"), None);
        assert_eq!(parse_rating("Rating: 7"), None);
        assert_eq!(parse_rating("Rating: -1"), None);
        assert_eq!(parse_rating("Rating: nan"), None);
        assert_eq!(parse_rating("   "), None);
        assert_eq!(parse_rating("I rate it 5 out of five"), None);
    }

    #[test]
    fn template_fields_and_braces() {
        let t =
            JudgeTemplate::parse("Q={question} R={reference} P={prediction} {{x}}", "t").unwrap();
        let it = JudgeItem {
            id: "1".into(),
            question: "what {is} it?".into(),
            reference: "a dog".into(),
            prediction: "a cat".into(),
        };
        assert_eq!(t.render(&it), "Q=what {is} it? R=a dog P=a cat {x}");
        assert_eq!(t.hash.len(), 64);
        let e = JudgeTemplate::parse("Q={question} R={reference}", "mine.txt")
            .unwrap_err()
            .to_string();
        assert!(e.contains("mine.txt") && e.contains("{prediction}"), "{e}");
        let e = JudgeTemplate::parse("{question}{reference}{prediction}{answer}", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `{answer}`"), "{e}");
        let e = JudgeTemplate::parse("{question}{reference}{prediction} }", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("single `}`"), "{e}");
        let e = JudgeTemplate::parse("{question}{reference}{prediction} {", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unclosed"), "{e}");
        let b = JudgeTemplate::builtin();
        assert!(b.render(&it).contains("Answer to grade: a cat"));
    }

    /// Replies "Rating: N" with N = the prediction's length mod 6, fails on predictions starting
    /// with `!`, and counts the prompts it saw.
    struct Fake {
        asked: RefCell<usize>,
    }

    impl JudgeEngine for Fake {
        fn id(&self) -> String {
            "fake".into()
        }
        fn replies(&self, prompts: &[String]) -> Vec<Result<String, String>> {
            *self.asked.borrow_mut() += prompts.len();
            prompts
                .iter()
                .map(|p| {
                    let pred = p.split("P=").nth(1).unwrap_or("");
                    if pred.starts_with('!') {
                        Err("HTTP 500".into())
                    } else if pred == "empty" {
                        Ok(" \n".into())
                    } else if pred == "?" {
                        Ok("no idea".into())
                    } else {
                        Ok(format!("Rating: {}", pred.len() % 6))
                    }
                })
                .collect()
        }
        fn batch_size(&self) -> usize {
            2
        }
    }

    fn item(id: &str, pred: &str) -> JudgeItem {
        JudgeItem {
            id: id.into(),
            question: "q".into(),
            reference: "r".into(),
            prediction: pred.into(),
        }
    }

    #[test]
    fn scores_caches_and_keeps_what_was_judged() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_home(dir.path()).unwrap();
        let t = JudgeTemplate::parse("Q={question} R={reference} P={prediction}", "t").unwrap();
        let fake = Fake {
            asked: RefCell::new(0),
        };
        let items = vec![
            item("a", "xxxx"),
            item("b", "x"),
            item("c", "?"),
            item("d", "xxxx"),
        ];
        let r = judge(&mut store, &fake, &t, &items, &mut |_, _| {}).unwrap();
        // 4, 1, unparsed 0, 4 (d repeats a's text: asked once).
        assert_eq!(*fake.asked.borrow(), 3);
        assert_eq!(r.n, 4);
        assert!((r.score - (4.0 + 1.0 + 0.0 + 4.0) / 4.0 * 20.0).abs() < 1e-12);
        assert!((r.success_rate - 0.75).abs() < 1e-12);
        assert!(!r.items[2].parsed);
        assert_eq!(r.cached, 0);
        let again = judge(&mut store, &fake, &t, &items, &mut |_, _| {}).unwrap();
        assert_eq!(*fake.asked.borrow(), 3, "a rerun asks nothing");
        assert_eq!(again.cached, 4);
        assert_eq!(again.score, r.score);

        // A failing item is named; the others are stored and not asked again.
        let items = vec![item("e", "xx"), item("f", "!boom"), item("g", "xxx")];
        let e = judge(&mut store, &fake, &t, &items, &mut |_, _| {}).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("1 of 3") && msg.contains("item `f`") && msg.contains("HTTP 500"),
            "{msg}"
        );
        let before = *fake.asked.borrow();
        let ok = vec![item("e", "xx"), item("g", "xxx")];
        let r = judge(&mut store, &fake, &t, &ok, &mut |_, _| {}).unwrap();
        assert_eq!(*fake.asked.borrow(), before);
        assert_eq!(r.cached, 2);
        assert!(matches!(
            judge(&mut store, &fake, &t, &[], &mut |_, _| {}),
            Err(JudgeError::Empty { .. })
        ));
    }

    /// An empty reply (the local engine's greedy decoding can stop at once, every time) rates 0 as
    /// a failure instead of failing the set, and is not cached: the next call asks again.
    #[test]
    fn an_empty_reply_rates_0_and_is_asked_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_home(dir.path()).unwrap();
        let t = JudgeTemplate::parse("Q={question} R={reference} P={prediction}", "t").unwrap();
        let fake = Fake {
            asked: RefCell::new(0),
        };
        // `h2` repeats `h`'s text: asked once per call.
        let items = vec![item("h", "empty"), item("i", "xxx"), item("h2", "empty")];
        for round in 0..2 {
            let before = *fake.asked.borrow();
            let r = judge(&mut store, &fake, &t, &items, &mut |_, _| {}).unwrap();
            let asked = *fake.asked.borrow() - before;
            assert_eq!(asked, if round == 0 { 2 } else { 1 }, "round {round}");
            for k in [0, 2] {
                let h = &r.items[k];
                assert_eq!((h.rating, h.parsed, h.cached), (0.0, false, false), "{h:?}");
                assert_eq!(h.reply, "");
            }
            assert_eq!(r.items[1].rating, 3.0);
            assert_eq!(r.items[1].cached, round == 1);
            assert!((r.score - 3.0 / 3.0 * 20.0).abs() < 1e-12);
            assert!((r.success_rate - 1.0 / 3.0).abs() < 1e-12);
        }
    }
}
