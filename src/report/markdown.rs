//! Markdown rendering of a [`ReportData`]: one results table (ours beside the paper), the failed
//! runs, and the figures.
//!
//! The output is a pure function of its input: no timestamps, no hash-map iteration.

use std::fmt::Write as _;

use super::compare::{Comparisons, PairSource};
use super::data::{ReportData, ReportRow};

/// A figure to embed in the markdown; file names are relative to the markdown file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// Title, used as alt text and heading.
    pub title: String,
    /// Relative file name of the PNG (embedded).
    pub png: String,
    /// Relative file name of the SVG (linked).
    pub svg: String,
}

/// Placeholder for a missing value.
const MISSING: &str = "—";
/// Maximum length (in characters) of an error message in the failed-runs list.
const MAX_ERROR_CHARS: usize = 200;

/// Formats a number: `{:.4}` when |x| < 10, `{:.2}` otherwise; never prints `-0.0000`.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let s = if x.abs() < 10.0 {
        format!("{x:.4}")
    } else {
        format!("{x:.2}")
    };
    strip_neg_zero(s)
}

/// Formats a signed difference (`+0.0123`, `-1.50`), same precision rule as [`fmt_num`].
pub fn fmt_delta(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let s = if x.abs() < 10.0 {
        format!("{x:+.4}")
    } else {
        format!("{x:+.2}")
    };
    // A tiny negative that rounds to zero: show it as +0.
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        format!("+{}", &s[1..])
    } else {
        s
    }
}

fn strip_neg_zero(s: String) -> String {
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// Escapes text for use inside a markdown table cell (`|` and line breaks).
pub fn escape_cell(s: &str) -> String {
    s.replace('\r', "").replace('\n', " ").replace('|', "\\|")
}

/// Short column headers for the varying keys: the last dotted path segment, or the full key when
/// that segment is shared with another varying key.
pub fn short_headers(keys: &[String]) -> Vec<String> {
    let last = |k: &str| k.rsplit('.').next().unwrap_or(k).to_string();
    keys.iter()
        .map(|k| {
            let l = last(k);
            if keys.iter().filter(|o| last(o) == l).count() > 1 {
                k.clone()
            } else {
                l
            }
        })
        .collect()
}

/// Renders the report markdown: heading, description, one table (`row` | varying keys | metrics,
/// each followed by `paper` and `Δ` when any row has a paper value for it | `paper <key>` for
/// paper values that match no metric | `runs` (done / total) | `run ids`), the probes, the
/// comparisons of rows, the failed runs with their errors, and a "Figures" section embedding
/// each figure's PNG with a link to its SVG.
///
/// Metric cells are the mean over done runs that have a value, `mean ± std` (sample std) with
/// more than one value, `—` when missing. `Δ` is ours − paper.
pub fn render_markdown(d: &ReportData, figures: &[Figure]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", d.experiment.trim());
    if !d.description.trim().is_empty() {
        let _ = writeln!(out, "{}\n", d.description.trim());
    }
    let _ = writeln!(
        out,
        "_Generated from the store by `acdc report {}`._\n",
        d.experiment.trim()
    );

    // Columns.
    let metric_has_paper: Vec<bool> = d
        .metric_order
        .iter()
        .map(|m| d.rows.iter().any(|r| d.paper_value(r, m).is_some()))
        .collect();
    let unmatched = d.unmatched_paper_keys();

    let mut header: Vec<String> = vec!["row".to_string()];
    header.extend(short_headers(&d.varying).iter().map(|h| escape_cell(h)));
    for (m, has_paper) in d.metric_order.iter().zip(&metric_has_paper) {
        header.push(escape_cell(m));
        if *has_paper {
            header.push("paper".to_string());
            header.push("Δ".to_string());
        }
    }
    for k in &unmatched {
        header.push(escape_cell(&format!("paper {k}")));
    }
    header.push("runs".to_string());
    header.push("run ids".to_string());

    let mut align: Vec<&str> = vec!["---"; 1 + d.varying.len()];
    align.extend(std::iter::repeat_n("---:", header.len() - align.len() - 2));
    align.push("---:");
    align.push("---");

    let _ = writeln!(out, "## Results\n");
    let _ = writeln!(
        out,
        "Metrics: mean over done runs (`mean ± std`, sample std, when there are several seeds); \
         `paper` is the value reported in the paper, `Δ` = ours − paper.\n"
    );
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}|", align.join("|"));
    for row in &d.rows {
        let cells = row_cells(d, row, &metric_has_paper, &unmatched);
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    if d.rows.is_empty() {
        let _ = writeln!(out, "\n_No rows yet._");
    }
    out.push('\n');

    let metric_notes = d.metric_notes();
    if !metric_notes.is_empty() {
        let _ = writeln!(out, "### Metrics\n");
        for n in metric_notes {
            let _ = writeln!(out, "- {n}");
        }
        out.push('\n');
    }

    let coverage = d.coverage_notes();
    if !coverage.is_empty() {
        let _ = writeln!(out, "## Coverage\n");
        for n in coverage {
            let _ = writeln!(out, "- {n}");
        }
        out.push('\n');
    }

    if !d.probe_metrics.is_empty() {
        render_probes(&mut out, d);
    }

    let comparisons = d.comparisons();
    if !comparisons.is_empty() {
        render_comparisons(&mut out, &comparisons);
    }

    // Failed runs.
    let failed: Vec<_> = d
        .rows
        .iter()
        .flat_map(|r| r.runs.iter().filter(|x| x.is_failed()).map(move |x| (r, x)))
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "## Failed runs\n");
        for (row, run) in failed {
            let msg = run
                .error
                .as_deref()
                .map(first_line_truncated)
                .unwrap_or_else(|| "(no error message)".to_string());
            let _ = writeln!(
                out,
                "- `{}` (row {}, seed {}): {}",
                run.run_id, row.name, run.seed, msg
            );
        }
        out.push('\n');
    }

    // Figures.
    if !figures.is_empty() {
        let _ = writeln!(out, "## Figures\n");
        for f in figures {
            let _ = writeln!(out, "### {}\n", f.title);
            let _ = writeln!(out, "![{}]({})\n", f.title.replace(']', "\\]"), f.png);
            let _ = writeln!(out, "[SVG]({})\n", f.svg);
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// The zero-shot instruction probes: accuracy per kind and row, then example answers.
fn render_probes(out: &mut String, d: &ReportData) {
    let _ = writeln!(out, "## Zero-shot instruction probes\n");
    let _ = writeln!(
        out,
        "Instruction types the audio model never trains on (its targets are captions or the LLM's \
         replies to them), worded unlike the synthetic QA pairs and checked automatically against \
         the synthetic world's ground truth: share of probes answered correctly (mean over done \
         runs); `captioning_recall` is the share of the sounds present that a description names.\n"
    );
    let names: Vec<String> = d
        .probe_metrics
        .iter()
        .map(|m| escape_cell(m.rsplit_once("/probes/").map(|(_, k)| k).unwrap_or(m)))
        .collect();
    let _ = writeln!(out, "| row | {} |", names.join(" | "));
    let _ = writeln!(out, "|---|{}|", vec!["---:"; names.len()].join("|"));
    for row in &d.rows {
        let cells: Vec<String> = d
            .probe_metrics
            .iter()
            .map(|m| match row.metric_stats(m) {
                Some(s) => match s.std {
                    Some(sd) => format!("{} ± {}", fmt_num(s.mean), fmt_num(sd)),
                    None => fmt_num(s.mean),
                },
                None => MISSING.to_string(),
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} |",
            escape_cell(&row.name),
            cells.join(" | ")
        );
    }
    out.push('\n');
    let counts: Vec<String> = d
        .probe_counts()
        .into_iter()
        .map(|(kind, n, chance)| match chance {
            Some(c) => format!("{kind} {n} (chance {})", fmt_num(c)),
            None => format!("{kind} {n}"),
        })
        .collect();
    if !counts.is_empty() {
        let _ = writeln!(
            out,
            "Probes per kind, and what a constant or order-blind answer scores: {}.\n",
            counts.join(", ")
        );
    }
    for (row, taught) in d.probes_taught() {
        let _ = writeln!(
            out,
            "Row {} trains on the synthetic QA pairs (`data.instruct`): for it {} are not zero-shot.\n",
            escape_cell(row),
            taught.join(", ")
        );
    }
    if !d.probe_examples.is_empty() {
        let _ = writeln!(out, "### Example answers\n");
        for e in &d.probe_examples {
            let _ = writeln!(
                out,
                "- {} / {}: {} → {} ({})",
                escape_cell(&e.row),
                e.kind,
                quote(&e.question),
                quote(&e.output),
                e.notes.join("; ")
            );
        }
        out.push('\n');
    }
}

/// The comparisons of rows: for each pair, the headline metrics' differences with their
/// intervals, then one sentence each saying which way it went.
fn render_comparisons(out: &mut String, c: &Comparisons) {
    let _ = writeln!(out, "## Comparisons\n");
    let pairs = match c.source {
        PairSource::Spec => "the pairs the spec's `compare` names",
        PairSource::Inferred => {
            "rows that differ in exactly one configuration key (a `compare = [[\"A\", \"B\"], …]` \
             list in the spec names other pairs)"
        }
    };
    let _ = writeln!(
        out,
        "Differences of means A − B, with 95 % intervals from a paired bootstrap ({} resamples, \
         seed {}): items are resampled with replacement, the same items for both rows, and each \
         row's seeds with replacement, the same seed draws for both when both ran the same seeds. \
         An interval that excludes 0 is a difference the items and seeds support. Compared: {pairs}. \
         `…/probes/mean` is the mean over the probe kinds; `acdc export --format json` has every \
         item-level metric.\n",
        c.resamples, c.bootstrap_seed
    );
    for n in &c.notes {
        let _ = writeln!(out, "- {n}");
    }
    if !c.notes.is_empty() {
        out.push('\n');
    }
    for p in &c.pairs {
        let shown: Vec<_> = p.metrics.iter().filter(|m| m.headline).collect();
        if shown.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {} − {}\n", escape_cell(&p.a), escape_cell(&p.b));
        let differs = if p.differs.is_empty() {
            "The same configuration apart from seeds".to_string()
        } else {
            let keys: Vec<String> = p
                .differs
                .iter()
                .map(|(k, x, y)| format!("`{k}` ({x} vs {y})"))
                .collect();
            format!("They differ in {}", keys.join(", "))
        };
        let list = |s: &[u64]| {
            let word = if s.len() == 1 { "seed" } else { "seeds" };
            let s: Vec<String> = s.iter().map(u64::to_string).collect();
            format!("{word} {}", s.join(", "))
        };
        let seeds = if p.seeds_paired {
            format!("both ran {}, resampled in pairs", list(&p.seeds_a))
        } else {
            format!(
                "{} ran {}, {} {}, each resampled on its own",
                escape_cell(&p.a),
                list(&p.seeds_a),
                escape_cell(&p.b),
                list(&p.seeds_b)
            )
        };
        let _ = writeln!(out, "{differs}; {seeds}.\n");
        let _ = writeln!(
            out,
            "| metric | {} | {} | A − B | 95 % interval | items |",
            escape_cell(&p.a),
            escape_cell(&p.b)
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---|---:|");
        for m in &shown {
            let i = &m.interval;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | [{}, {}] | {} |",
                escape_cell(&m.metric),
                fmt_num(m.mean_a),
                fmt_num(m.mean_b),
                fmt_delta(i.diff),
                fmt_delta(i.lo),
                fmt_delta(i.hi),
                m.items
            );
        }
        out.push('\n');
        for m in &shown {
            let _ = writeln!(out, "- {}", escape_cell(&p.sentence(m)));
        }
        out.push('\n');
    }
}

/// A model text in a report line: one line, at most 160 characters, in quotes.
fn quote(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let short: String = if one.chars().count() > 160 {
        one.chars().take(159).collect::<String>() + "…"
    } else {
        one
    };
    format!("“{}”", short.replace('|', "\\|"))
}

fn row_cells(
    d: &ReportData,
    row: &ReportRow,
    metric_has_paper: &[bool],
    unmatched: &[String],
) -> Vec<String> {
    let mut cells = vec![escape_cell(&row.name)];
    for k in &d.varying {
        cells.push(
            row.params
                .get(k)
                .map(|v| escape_cell(v))
                .unwrap_or_else(|| MISSING.to_string()),
        );
    }
    for (m, has_paper) in d.metric_order.iter().zip(metric_has_paper) {
        let stats = row.metric_stats(m);
        cells.push(match stats {
            Some(s) => match s.std {
                Some(sd) => format!("{} ± {}", fmt_num(s.mean), fmt_num(sd)),
                None => fmt_num(s.mean),
            },
            None => MISSING.to_string(),
        });
        if *has_paper {
            let paper = d.paper_value(row, m);
            cells.push(paper.map(fmt_num).unwrap_or_else(|| MISSING.to_string()));
            cells.push(match (stats, paper) {
                (Some(s), Some(p)) => fmt_delta(s.mean - p),
                _ => MISSING.to_string(),
            });
        }
    }
    for k in unmatched {
        cells.push(
            row.paper
                .get(k)
                .map(|v| fmt_num(*v))
                .unwrap_or_else(|| MISSING.to_string()),
        );
    }
    cells.push(format!("{}/{}", row.n_done(), row.runs.len()));
    let ids: Vec<String> = row
        .runs
        .iter()
        .map(|r| {
            if r.is_done() {
                format!("`{}`", r.run_id)
            } else {
                format!("`{}` ({})", r.run_id, r.status)
            }
        })
        .collect();
    cells.push(if ids.is_empty() {
        MISSING.to_string()
    } else {
        escape_cell(&ids.join(", "))
    });
    cells
}

/// First line of an error message, truncated to [`MAX_ERROR_CHARS`] characters (with `…`).
fn first_line_truncated(e: &str) -> String {
    let line = e
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() > MAX_ERROR_CHARS {
        let t: String = line.chars().take(MAX_ERROR_CHARS).collect();
        format!("{t}…")
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::data::fixture;

    fn figures() -> Vec<Figure> {
        vec![
            Figure {
                title: "Training loss".into(),
                png: "loss.png".into(),
                svg: "loss.svg".into(),
            },
            Figure {
                title: "synth_test/aac/bleu_4".into(),
                png: "metric-synth_test-aac-bleu_4.png".into(),
                svg: "metric-synth_test-aac-bleu_4.svg".into(),
            },
        ]
    }

    #[test]
    fn markdown_snapshot() {
        let md = render_markdown(&fixture(), &figures());
        insta::with_settings!({ prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("report_markdown_fixture", md);
        });
    }

    /// The metric notes follow the metrics and what the eval stage recorded: jars left out,
    /// judges and templates used, probe counts with chance levels, probes a row was taught.
    #[test]
    fn notes_say_what_the_numbers_are() {
        let mut d = fixture();
        let md = render_markdown(&d, &[]);
        assert!(md.contains("stand in where no judge is configured"), "{md}");
        assert!(!md.contains("Not computed") && !md.contains("Judged by"));
        assert!(!md.contains("are not zero-shot"));
        for m in ["clotho_aqa_test/aqa/judge_score", "aqa/judge_score_avg"] {
            d.metric_order.push(m.into());
        }
        let judge = "`openai:http://judge/v1#llama-70b` with template `rating-0-5.txt` (sha256 `0123456789ab`)";
        for row in &mut d.rows {
            for run in &mut row.runs {
                run.eval.unavailable = vec!["meteor".into(), "spice".into(), "spider".into()];
                run.eval.judge = Some(judge.into());
                run.eval.probe_items = [
                    ("synth_test/probes/counting".to_string(), 12),
                    ("synth_test/probes/absent".to_string(), 16),
                ]
                .into();
            }
        }
        d.rows[1].runs[0].eval.probes_trained = vec!["counting".into(), "order".into()];
        d.rows[0].runs[0].eval.truncated_outputs = 3;
        let md = render_markdown(&d, &[]);
        assert!(
            md.contains("Not computed: `meteor`, `spice`, `spider` — no jar was configured"),
            "{md}"
        );
        assert!(md.contains("`aqa/judge_score_avg`: unweighted mean over the QA sets"));
        assert_eq!(md.matches(judge).count(), 1, "each judge once: {md}");
        assert!(
            md.contains("counting 12, absent 16 (chance 0.5000)"),
            "{md}"
        );
        let taught = format!(
            "Row {} trains on the synthetic QA pairs (`data.instruct`): for it counting, order are \
             not zero-shot.",
            d.rows[1].name
        );
        assert!(md.contains(&taught), "{md}");
    }

    #[test]
    fn markdown_is_deterministic() {
        let d = fixture();
        assert_eq!(
            render_markdown(&d, &figures()),
            render_markdown(&d.clone(), &figures())
        );
    }

    #[test]
    fn formatting_rules() {
        assert_eq!(fmt_num(0.12345), "0.1235");
        assert_eq!(fmt_num(12.345), "12.35");
        assert_eq!(fmt_num(-0.00001), "0.0000");
        assert_eq!(fmt_delta(0.01), "+0.0100");
        assert_eq!(fmt_delta(-12.0), "-12.00");
        assert_eq!(fmt_delta(-0.00001), "+0.0000");
        assert_eq!(escape_cell("a|b\nc"), "a\\|b c");
        assert_eq!(
            short_headers(&["a.kind".into(), "b.kind".into(), "llm.mode".into()]),
            vec!["a.kind", "b.kind", "mode"]
        );
        let long = "x".repeat(300);
        assert_eq!(
            first_line_truncated(&format!("{long}\nsecond"))
                .chars()
                .count(),
            201
        );
    }

    #[test]
    fn empty_report_renders() {
        let d = ReportData {
            experiment: "empty".into(),
            description: String::new(),
            varying: vec![],
            rows: vec![],
            metric_order: vec!["m".into()],
            probe_metrics: vec![],
            probe_examples: vec![],
            spec_path: String::new(),
            compare: None,
        };
        let md = render_markdown(&d, &[]);
        assert!(md.contains("| row | m | runs | run ids |"));
        assert!(md.contains("_No rows yet._"));
    }

    /// Runs that skipped audio, or tasks scored on different numbers of items, are called out
    /// under the table; the fixture (same items everywhere) has no such section.
    #[test]
    fn coverage_differences_are_called_out() {
        let mut d = fixture();
        assert!(!render_markdown(&d, &[]).contains("## Coverage"));
        for row in d.rows.iter_mut() {
            for run in row.runs.iter_mut() {
                run.items.insert("clotho_aqa_test/aqa".into(), 2057);
            }
        }
        assert!(d.coverage_notes().is_empty(), "same items everywhere");
        let (row, run) = d
            .rows
            .iter_mut()
            .find_map(|r| {
                let name = r.name.clone();
                r.runs.iter_mut().find(|x| x.is_done()).map(|x| (name, x))
            })
            .unwrap();
        run.skipped_audio = 600;
        run.items.insert("clotho_aqa_test/aqa".into(), 1457);
        let seed = run.seed;
        let md = render_markdown(&d, &[]);
        assert!(md.contains("## Coverage"), "{md}");
        assert!(
            md.contains(&format!("row {row} (seed {seed}"))
                && md.contains("skipped 600 unreadable audio file(s)"),
            "{md}"
        );
        assert!(
            md.contains(
                "`clotho_aqa_test/aqa` was scored on different numbers of items: 1457 items: "
            ) && md.contains("; 2057 items: "),
            "{md}"
        );
        // Failed and running runs are not counted.
        let mut d = fixture();
        for row in d.rows.iter_mut() {
            for run in row.runs.iter_mut() {
                let n = if run.is_done() { 5 } else { 3 };
                run.items.insert("t/aac".into(), n);
                run.skipped_audio = if run.is_done() { 0 } else { 9 };
            }
        }
        assert!(d.coverage_notes().is_empty());
    }
}
