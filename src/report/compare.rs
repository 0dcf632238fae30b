//! Comparisons of rows: for each pair (A, B) a researcher compares, the difference of means
//! A − B of every item-level metric, with a 95 % interval from a paired bootstrap over items and
//! seeds, and which way it went.
//!
//! The pairs are the spec's `compare` list when it has one, else the rows that differ in exactly
//! one configuration key (seeds aside). The bootstrap resamples the items with replacement — the
//! same items for both rows, so a hard item counts against both — and each row's seeds with
//! replacement (the same seed draws for both rows when they ran the same seeds, so seed-level
//! luck shared through the data order cancels). Statistic: the mean over seeds and items (for
//! `<set>/probes/mean`, the mean over the probe kinds of each kind's mean, items resampled within
//! their kind). Interval: the 2.5 % and 97.5 % percentiles of [`RESAMPLES`] resampled differences
//! drawn from a fixed seed ([`BOOTSTRAP_SEED`]), the same stream for every comparison, so the
//! same store gives the same report and adding a pair changes no other.
//!
//! CIDEr-D item scores depend on the whole set through their document frequencies; they are
//! resampled as they were scored (the usual practice), not re-scored per resample.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::data::{ReportData, ReportRow};
use super::markdown::fmt_delta;
use crate::rng::Rng;
use crate::spec::probes::PROBE_KINDS;

/// Bootstrap resamples per comparison.
pub const RESAMPLES: usize = 2000;
/// Seed of every comparison's resampling stream.
pub const BOOTSTRAP_SEED: u64 = 0;
/// At most this many inferred pairs are compared (the spec's `compare` can name any).
pub const MAX_INFERRED_PAIRS: usize = 32;

/// One row's scores of one metric, aligned with the other row's: `values[seed][stratum][item]`,
/// the items of a stratum in the same order for both rows. A metric that is one mean over items
/// has one stratum; `…/probes/mean` has one per probe kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The seeds, sorted (one per entry of `values`).
    pub seeds: Vec<u64>,
    pub values: Vec<Vec<Vec<f64>>>,
}

/// How the two rows are resampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pairing {
    /// The same item draws for both rows; the same seed draws when both have the same seeds.
    Paired,
    /// Each row's items and seeds drawn on their own (what ignoring the pairing would give).
    Independent,
}

/// A difference of means with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Mean of A minus mean of B on the data as observed.
    pub diff: f64,
    /// 2.5 % percentile of the resampled differences.
    pub lo: f64,
    /// 97.5 % percentile.
    pub hi: f64,
}

impl Sample {
    /// The statistic under resampling weights: `seed_w[k]` draws of seed `k`, `item_w[s][i]` of
    /// item `i` of stratum `s`; mean over strata of the weighted mean of the stratum.
    fn weighted(&self, seed_w: &[u32], item_w: &[Vec<u32>]) -> f64 {
        let strata = item_w.len();
        let seeds: f64 = seed_w.iter().map(|&v| v as f64).sum();
        let mut total = 0.0;
        for (s, w) in item_w.iter().enumerate() {
            let items: f64 = w.iter().map(|&v| v as f64).sum();
            let mut sum = 0.0;
            for (k, &v) in seed_w.iter().enumerate() {
                if v == 0 {
                    continue;
                }
                let row = &self.values[k][s];
                let inner: f64 = row.iter().zip(w).map(|(x, &c)| x * c as f64).sum();
                sum += v as f64 * inner;
            }
            total += sum / (seeds * items);
        }
        total / strata as f64
    }

    /// The statistic on the data as observed.
    pub fn mean(&self) -> f64 {
        let seed_w = vec![1; self.values.len()];
        let item_w: Vec<Vec<u32>> = self.values[0].iter().map(|s| vec![1; s.len()]).collect();
        self.weighted(&seed_w, &item_w)
    }
}

/// Draw counts of `n` things drawn `n` times with replacement.
fn draw(rng: &mut Rng, n: usize, counts: &mut [u32]) {
    counts.iter_mut().for_each(|c| *c = 0);
    for _ in 0..n {
        counts[rng.below(n)] += 1;
    }
}

/// The percentile `p` (0..1) of sorted `xs`, interpolating linearly between order statistics.
fn percentile(xs: &[f64], p: f64) -> f64 {
    let h = (xs.len() - 1) as f64 * p;
    let (i, f) = (h.floor() as usize, h - h.floor());
    if i + 1 < xs.len() {
        xs[i] + f * (xs[i + 1] - xs[i])
    } else {
        xs[i]
    }
}

/// The difference of means A − B with a 95 % bootstrap interval over `resamples` resamples drawn
/// from `seed`. Both samples must have the same strata with the same items (and at least one seed
/// and one item); [`Sample`] says how they are laid out.
pub fn bootstrap(
    a: &Sample,
    b: &Sample,
    pairing: Pairing,
    resamples: usize,
    seed: u64,
) -> Interval {
    let diff = a.mean() - b.mean();
    let mut rng = Rng::new(seed);
    let sizes: Vec<usize> = a.values[0].iter().map(Vec::len).collect();
    let same_seeds = a.seeds == b.seeds;
    let mut wa: Vec<Vec<u32>> = sizes.iter().map(|&n| vec![0; n]).collect();
    let mut wb = wa.clone();
    let mut va = vec![0u32; a.seeds.len()];
    let mut vb = vec![0u32; b.seeds.len()];
    let mut diffs = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for (s, &n) in sizes.iter().enumerate() {
            draw(&mut rng, n, &mut wa[s]);
            if pairing == Pairing::Independent {
                draw(&mut rng, n, &mut wb[s]);
            }
        }
        draw(&mut rng, va.len(), &mut va);
        if pairing == Pairing::Independent || !same_seeds {
            draw(&mut rng, vb.len(), &mut vb);
        }
        let (item_b, seed_b) = match pairing {
            Pairing::Paired => (&wa, if same_seeds { &va } else { &vb }),
            Pairing::Independent => (&wb, &vb),
        };
        diffs.push(a.weighted(&va, &wa) - b.weighted(seed_b, item_b));
    }
    diffs.sort_by(f64::total_cmp);
    Interval {
        diff,
        lo: percentile(&diffs, 0.025),
        hi: percentile(&diffs, 0.975),
    }
}

/// Which way a comparison went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The interval lies above 0.
    Higher,
    /// The interval lies below 0.
    Lower,
    /// The interval includes 0.
    Unclear,
}

/// Where the compared pairs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairSource {
    /// The spec's `compare` list.
    Spec,
    /// Rows that differ in one configuration key.
    Inferred,
}

/// One metric of one pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    /// Metric key, e.g. `synth_test/probes/mean`.
    pub metric: String,
    /// One of the report's headline metrics (probes, QA token-F1 and judge score, CIDEr-D).
    pub headline: bool,
    /// Items both rows were scored on (all strata together).
    pub items: usize,
    pub mean_a: f64,
    pub mean_b: f64,
    #[serde(flatten)]
    pub interval: Interval,
    pub direction: Direction,
}

/// One compared pair of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairComparison {
    /// Row names; differences are A − B.
    pub a: String,
    pub b: String,
    /// The varying configuration keys the rows differ in: (key, value in A, value in B).
    pub differs: Vec<(String, String, String)>,
    /// Seeds of the runs compared (done, with item scores).
    pub seeds_a: Vec<u64>,
    pub seeds_b: Vec<u64>,
    /// Whether the seeds were resampled in pairs (both rows ran the same seeds).
    pub seeds_paired: bool,
    pub metrics: Vec<MetricComparison>,
}

impl PairComparison {
    /// The one sentence saying which way `m` went, e.g. "dialogue-frozen scores higher than
    /// caption-frozen on `synth_test/probes/mean`: +0.1200 [+0.0500, +0.1900]."
    pub fn sentence(&self, m: &MetricComparison) -> String {
        let i = &m.interval;
        let numbers = format!(
            "{} [{}, {}]",
            fmt_delta(i.diff),
            fmt_delta(i.lo),
            fmt_delta(i.hi)
        );
        match m.direction {
            Direction::Higher => format!(
                "{} scores higher than {} on `{}`: {numbers}.",
                self.a, self.b, m.metric
            ),
            Direction::Lower => format!(
                "{} scores lower than {} on `{}`: {numbers}.",
                self.a, self.b, m.metric
            ),
            Direction::Unclear => format!(
                "No clear difference between {} and {} on `{}`: {numbers}, the interval includes 0.",
                self.a, self.b, m.metric
            ),
        }
    }
}

/// The report's comparisons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparisons {
    pub source: PairSource,
    pub resamples: usize,
    pub bootstrap_seed: u64,
    pub pairs: Vec<PairComparison>,
    /// Rows and runs left out (no per-item scores, no done run), pairs not compared.
    pub notes: Vec<String>,
}

impl Comparisons {
    /// Whether there is anything to show.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty() && self.notes.is_empty()
    }
}

/// Whether `metric` (`<task>/<name>`) is a headline metric.
pub fn is_headline(metric: &str) -> bool {
    let Some((task, name)) = metric.rsplit_once('/') else {
        return false;
    };
    (task.ends_with("/probes") && (name == "mean" || PROBE_KINDS.contains(&name)))
        || (task.ends_with("/aqa") && (name == "token_f1" || name == "judge_score"))
        || (task.ends_with("/aac") && name == "cider_d")
}

/// The varying keys two rows differ in, with their values.
fn differing(keys: &[String], a: &ReportRow, b: &ReportRow) -> Vec<(String, String, String)> {
    keys.iter()
        .filter_map(|k| {
            let (x, y) = (a.params.get(k), b.params.get(k));
            (x != y).then(|| {
                (
                    k.clone(),
                    x.cloned().unwrap_or_default(),
                    y.cloned().unwrap_or_default(),
                )
            })
        })
        .collect()
}

/// Per run (by seed): (stratum key, item id → score) of each stratum.
type RunStrata<'a> = Vec<(u64, Vec<(String, &'a BTreeMap<String, f64>)>)>;

/// A row's item scores of `metric` per seed (done runs that have them), as item id → value per
/// stratum; `…/probes/mean` is built from the kinds' item scores, one stratum per kind.
fn strata_of<'a>(row: &'a ReportRow, metric: &str) -> RunStrata<'a> {
    let probe_set = metric.strip_suffix("/probes/mean");
    let mut out: RunStrata<'a> = row
        .runs
        .iter()
        .filter(|r| r.is_done())
        .filter_map(|r| {
            let strata: Vec<(String, &BTreeMap<String, f64>)> = match probe_set {
                Some(set) => PROBE_KINDS
                    .iter()
                    .filter_map(|k| {
                        let key = format!("{set}/probes/{k}");
                        r.item_scores.get(&key).map(|v| (key, v))
                    })
                    .collect(),
                None => r
                    .item_scores
                    .get(metric)
                    .map(|v| vec![(metric.to_string(), v)])
                    .unwrap_or_default(),
            };
            (!strata.is_empty()).then_some((r.seed, strata))
        })
        .collect();
    out.sort_by_key(|(seed, _)| *seed);
    out
}

/// The stratum `key` of one run (the caller has checked that every run has it).
fn stratum<'a>(st: &[(String, &'a BTreeMap<String, f64>)], key: &str) -> &'a BTreeMap<String, f64> {
    st.iter()
        .find(|(x, _)| x == key)
        .map(|(_, v)| *v)
        .expect("kept strata are in every run")
}

/// The aligned samples of two rows for `metric`: strata both rows have in every run, items every
/// run of both has. `None` when nothing is shared.
fn samples(a: &ReportRow, b: &ReportRow, metric: &str) -> Option<(Sample, Sample, usize)> {
    let (sa, sb) = (strata_of(a, metric), strata_of(b, metric));
    if sa.is_empty() || sb.is_empty() {
        return None;
    }
    let all = || sa.iter().chain(sb.iter());
    // Strata (by key) present in every run, and their items present in every run.
    let mut keys: Vec<String> = sa[0].1.iter().map(|(k, _)| k.clone()).collect();
    keys.retain(|k| all().all(|(_, st)| st.iter().any(|(x, _)| x == k)));
    let mut items: Vec<Vec<String>> = Vec::new();
    let mut kept: Vec<String> = Vec::new();
    for k in &keys {
        let get = |st| stratum(st, k);
        let first = get(&sa[0].1);
        let ids: Vec<String> = first
            .keys()
            .filter(|id| all().all(|(_, st)| get(st).contains_key(*id)))
            .cloned()
            .collect();
        if !ids.is_empty() {
            items.push(ids);
            kept.push(k.clone());
        }
    }
    if kept.is_empty() {
        return None;
    }
    let build = |runs: &RunStrata<'_>| Sample {
        seeds: runs.iter().map(|(s, _)| *s).collect(),
        values: runs
            .iter()
            .map(|(_, st)| {
                kept.iter()
                    .zip(&items)
                    .map(|(k, ids)| {
                        let m = stratum(st, k);
                        ids.iter().map(|id| m[id]).collect()
                    })
                    .collect()
            })
            .collect(),
    };
    let n = items.iter().map(Vec::len).sum();
    Some((build(&sa), build(&sb), n))
}

/// Metric keys two rows can be compared on: item-level metrics of both (probe kinds also give
/// their set's `mean`), the headline metrics first (probes, QA, captioning), then the rest in
/// key order.
fn shared_metrics(a: &ReportRow, b: &ReportRow) -> Vec<String> {
    let keys = |r: &ReportRow| -> BTreeSet<String> {
        let mut k: BTreeSet<String> = r
            .runs
            .iter()
            .filter(|x| x.is_done())
            .flat_map(|x| x.item_scores.keys().cloned())
            .collect();
        let sets: Vec<String> = k
            .iter()
            .filter_map(|m| {
                let (set, kind) = m.rsplit_once("/probes/")?;
                PROBE_KINDS
                    .contains(&kind)
                    .then(|| format!("{set}/probes/mean"))
            })
            .collect();
        k.extend(sets);
        k
    };
    let both: Vec<String> = keys(a).intersection(&keys(b)).cloned().collect();
    let (mut head, rest): (Vec<String>, Vec<String>) =
        both.into_iter().partition(|m| is_headline(m));
    // Probes (each set's mean first, then its kinds in probe order), then QA, then captioning.
    head.sort_by_key(|m| {
        let (task, name) = m.rsplit_once('/').unwrap_or(("", m));
        let group = if task.ends_with("/probes") {
            0
        } else if task.ends_with("/aqa") {
            1
        } else {
            2
        };
        let rank = if name == "mean" {
            0
        } else {
            1 + PROBE_KINDS
                .iter()
                .position(|k| *k == name)
                .unwrap_or(PROBE_KINDS.len())
        };
        (group, task.to_string(), rank, name.to_string())
    });
    head.extend(rest);
    head
}

/// Compare two rows on every metric they share.
fn compare_rows(keys: &[String], a: &ReportRow, b: &ReportRow) -> Option<PairComparison> {
    let mut seeds_a = BTreeSet::new();
    let mut seeds_b = BTreeSet::new();
    let mut metrics = Vec::new();
    for metric in shared_metrics(a, b) {
        let Some((sa, sb, items)) = samples(a, b, &metric) else {
            continue;
        };
        seeds_a.extend(sa.seeds.iter().copied());
        seeds_b.extend(sb.seeds.iter().copied());
        let interval = bootstrap(&sa, &sb, Pairing::Paired, RESAMPLES, BOOTSTRAP_SEED);
        let direction = if interval.lo > 0.0 {
            Direction::Higher
        } else if interval.hi < 0.0 {
            Direction::Lower
        } else {
            Direction::Unclear
        };
        metrics.push(MetricComparison {
            headline: is_headline(&metric),
            metric,
            items,
            mean_a: sa.mean(),
            mean_b: sb.mean(),
            interval,
            direction,
        });
    }
    (!metrics.is_empty()).then(|| PairComparison {
        a: a.name.clone(),
        b: b.name.clone(),
        differs: differing(keys, a, b),
        seeds_paired: seeds_a == seeds_b,
        seeds_a: seeds_a.into_iter().collect(),
        seeds_b: seeds_b.into_iter().collect(),
        metrics,
    })
}

impl ReportData {
    /// Pairs of rows to compare (indices into `rows`, A then B): the spec's `compare` list, or
    /// rows that differ in exactly one varying key (the later row in display order as A, so
    /// `dialogue − caption` and `lora − frozen` in the usual layouts), at most
    /// [`MAX_INFERRED_PAIRS`]; plus notes on named rows that are not in the report.
    pub fn comparison_pairs(&self) -> (Vec<(usize, usize)>, Vec<String>) {
        let index = |name: &str| self.rows.iter().position(|r| r.name == name);
        let mut notes = Vec::new();
        if let Some(pairs) = &self.compare {
            let mut out = Vec::new();
            for (a, b) in pairs {
                match (index(a), index(b)) {
                    (Some(i), Some(j)) => out.push((i, j)),
                    _ => notes.push(format!(
                        "The spec compares {a} with {b}, but {} is not a row of this report.",
                        if index(a).is_none() { a } else { b }
                    )),
                }
            }
            return (out, notes);
        }
        let mut out = Vec::new();
        for (j, b) in self.rows.iter().enumerate() {
            for (i, a) in self.rows.iter().enumerate().skip(j + 1) {
                if differing(&self.varying, a, b).len() == 1 {
                    out.push((i, j));
                }
            }
        }
        if out.len() > MAX_INFERRED_PAIRS {
            notes.push(format!(
                "{} pairs of rows differ in one key; the first {MAX_INFERRED_PAIRS} are compared \
                 (a `compare = [[\"A\", \"B\"], …]` list in the spec names the pairs instead).",
                out.len()
            ));
            out.truncate(MAX_INFERRED_PAIRS);
        }
        (out, notes)
    }

    /// The comparisons of the report's pairs (see the module documentation), with notes naming
    /// the rows and runs left out for want of per-item scores.
    pub fn comparisons(&self) -> Comparisons {
        let (pairs, mut notes) = self.comparison_pairs();
        let hint = if self.spec_path.is_empty() {
            "`acdc run SPEC --reeval`".to_string()
        } else {
            format!("`acdc run {} --reeval`", self.spec_path)
        };
        // Done runs with scores but no item scores: evaluated before acdc recorded them.
        let mut old_rows = Vec::new();
        let mut in_pairs: BTreeSet<usize> = BTreeSet::new();
        for &(i, j) in &pairs {
            in_pairs.extend([i, j]);
        }
        for &r in &in_pairs {
            let row = &self.rows[r];
            let done: Vec<_> = row.runs.iter().filter(|x| x.is_done()).collect();
            let old: Vec<_> = done
                .iter()
                .filter(|x| x.item_scores.is_empty() && !x.metrics.is_empty())
                .collect();
            if old.is_empty() {
                continue;
            }
            if old.len() == done.len() {
                old_rows.push(row.name.as_str());
            } else {
                let runs: Vec<String> = old
                    .iter()
                    .map(|x| format!("seed {} (`{}`)", x.seed, x.run_id))
                    .collect();
                notes.push(format!(
                    "Row {}: {} has no per-item scores and is left out of its comparisons; {hint} \
                     scores it again.",
                    row.name,
                    runs.join(", ")
                ));
            }
        }
        if !old_rows.is_empty() {
            notes.insert(
                0,
                format!(
                    "No per-item scores (evaluated by an acdc that did not record them): {}. Left \
                     out of the comparisons; {hint} evaluates them again without retraining.",
                    old_rows.join(", ")
                ),
            );
        }
        let mut out = Vec::new();
        for (i, j) in pairs {
            let (a, b) = (&self.rows[i], &self.rows[j]);
            if a.n_done() == 0 || b.n_done() == 0 {
                if self.compare.is_some() {
                    notes.push(format!(
                        "{} − {}: not compared yet, {} has no done run.",
                        a.name,
                        b.name,
                        if a.n_done() == 0 { &a.name } else { &b.name }
                    ));
                }
                continue;
            }
            match compare_rows(&self.varying, a, b) {
                Some(c) => out.push(c),
                None if self.compare.is_some()
                    && !old_rows.contains(&a.name.as_str())
                    && !old_rows.contains(&b.name.as_str()) =>
                {
                    notes.push(format!(
                        "{} − {}: no item-level metric both rows were scored on.",
                        a.name, b.name
                    ))
                }
                None => {}
            }
        }
        Comparisons {
            source: if self.compare.is_some() {
                PairSource::Spec
            } else {
                PairSource::Inferred
            },
            resamples: RESAMPLES,
            bootstrap_seed: BOOTSTRAP_SEED,
            pairs: out,
            notes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::data::{fixture, RunResult};

    fn sample(seeds: &[u64], values: Vec<Vec<f64>>) -> Sample {
        Sample {
            seeds: seeds.to_vec(),
            values: values.into_iter().map(|v| vec![v]).collect(),
        }
    }

    /// Deterministic spread-out item scores in [0, 1).
    fn items(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        (0..n).map(|_| rng.next_f64()).collect()
    }

    #[test]
    fn identical_rows_differ_by_nothing() {
        let a = sample(&[0, 1, 2], vec![items(50, 1), items(50, 2), items(50, 3)]);
        let i = bootstrap(&a, &a.clone(), Pairing::Paired, RESAMPLES, BOOTSTRAP_SEED);
        assert_eq!(i.diff, 0.0);
        assert!(i.lo <= 0.0 && 0.0 <= i.hi, "{i:?}");
        // Paired draws of the same data: every resampled difference is exactly 0.
        assert_eq!((i.lo, i.hi), (0.0, 0.0));
    }

    #[test]
    fn a_clear_shift_excludes_zero_on_its_side() {
        let base: Vec<Vec<f64>> = (0..3).map(|s| items(60, 10 + s)).collect();
        let up: Vec<Vec<f64>> = base
            .iter()
            .map(|v| v.iter().map(|x| x + 0.2).collect())
            .collect();
        let (a, b) = (sample(&[0, 1, 2], up), sample(&[0, 1, 2], base));
        let i = bootstrap(&a, &b, Pairing::Paired, RESAMPLES, BOOTSTRAP_SEED);
        assert!((i.diff - 0.2).abs() < 1e-12, "{i:?}");
        assert!(i.lo > 0.0 && i.lo <= i.diff && i.diff <= i.hi, "{i:?}");
        let j = bootstrap(&b, &a, Pairing::Paired, RESAMPLES, BOOTSTRAP_SEED);
        assert!(j.hi < 0.0, "{j:?}");
        // Deterministic: the same inputs give the same interval.
        assert_eq!(
            i,
            bootstrap(&a, &b, Pairing::Paired, RESAMPLES, BOOTSTRAP_SEED)
        );
    }

    /// Rows whose item scores move together (hard items are hard for both) give a much narrower
    /// paired interval than resampling each row on its own would.
    #[test]
    fn pairing_narrows_the_interval_of_correlated_rows() {
        let base = items(80, 7);
        let noise = items(80, 8);
        let b = sample(&[0], vec![base.clone()]);
        let a = sample(
            &[0],
            vec![base
                .iter()
                .zip(&noise)
                .map(|(x, e)| x + 0.03 + 0.02 * (e - 0.5))
                .collect()],
        );
        let paired = bootstrap(&a, &b, Pairing::Paired, RESAMPLES, BOOTSTRAP_SEED);
        let independent = bootstrap(&a, &b, Pairing::Independent, RESAMPLES, BOOTSTRAP_SEED);
        let width = |i: &Interval| i.hi - i.lo;
        assert!(paired.lo > 0.0, "paired: {paired:?}");
        assert!(independent.lo < 0.0, "independent: {independent:?}");
        assert!(
            width(&paired) * 5.0 < width(&independent),
            "{paired:?} vs {independent:?}"
        );
    }

    /// Seeds are resampled too: rows whose seeds disagree get a wider interval than one seed
    /// alone suggests; seeds are drawn in pairs only when both rows ran the same seeds.
    #[test]
    fn seeds_are_resampled() {
        let v = items(40, 3);
        let shifted = |d: f64| v.iter().map(|x| x + d).collect::<Vec<_>>();
        let b = sample(&[0, 1, 2], vec![v.clone(), v.clone(), v.clone()]);
        let a = sample(&[0, 1, 2], vec![shifted(0.3), shifted(-0.2), shifted(0.05)]);
        let i = bootstrap(&a, &b, Pairing::Paired, RESAMPLES, BOOTSTRAP_SEED);
        assert!(i.lo < 0.0 && i.hi > 0.0, "seeds disagree: {i:?}");
        let one = bootstrap(
            &sample(&[0], vec![shifted(0.3)]),
            &sample(&[0], vec![v.clone()]),
            Pairing::Paired,
            RESAMPLES,
            BOOTSTRAP_SEED,
        );
        assert!(
            (one.lo - 0.3).abs() < 1e-12 && (one.hi - 0.3).abs() < 1e-12,
            "{one:?}"
        );
        // Different seeds: drawn independently, still deterministic.
        let c = sample(&[5, 6, 7], vec![v.clone(), v.clone(), v.clone()]);
        let k = bootstrap(&a, &c, Pairing::Paired, RESAMPLES, BOOTSTRAP_SEED);
        assert!(k.lo < k.diff && k.diff < k.hi, "{k:?}");
    }

    /// `…/probes/mean` is the mean over kinds, not over items: a kind with few probes weighs as
    /// much as one with many.
    #[test]
    fn the_probe_mean_is_over_kinds() {
        let s = Sample {
            seeds: vec![0],
            values: vec![vec![vec![1.0; 2], vec![0.0; 8]]],
        };
        assert_eq!(s.mean(), 0.5);
    }

    fn with_items(mut run: RunResult, metric: &str, values: &[f64]) -> RunResult {
        run.item_scores.insert(
            metric.to_string(),
            values
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("item-{i:02}"), *v))
                .collect(),
        );
        run
    }

    fn row(name: &str, kind: &str, mode: &str, runs: Vec<RunResult>) -> ReportRow {
        ReportRow {
            name: name.into(),
            label: name.into(),
            params: [
                ("targets.kind".to_string(), kind.to_string()),
                ("llm.mode".to_string(), mode.to_string()),
            ]
            .into(),
            runs,
            paper: Default::default(),
        }
    }

    fn done(seed: u64) -> RunResult {
        let mut r = fixture().rows[0].runs[0].clone();
        r.seed = seed;
        r.run_id = format!("run-{seed}");
        r.item_scores.clear();
        r
    }

    fn grid() -> ReportData {
        let f = "synth_test/aqa/token_f1";
        let runs = |d: f64| {
            (0..3)
                .map(|s| {
                    with_items(
                        done(s),
                        f,
                        &items(20, s).iter().map(|x| x + d).collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let mut d = fixture();
        d.rows = vec![
            row("caption-frozen", "caption", "frozen", runs(0.0)),
            row("caption-lora", "caption", "lora", runs(0.1)),
            row("dialogue-frozen", "dialogue", "frozen", runs(0.3)),
            row("dialogue-lora", "dialogue", "lora", runs(0.3)),
        ];
        d
    }

    #[test]
    fn rows_that_differ_in_one_key_are_paired() {
        let d = grid();
        let (pairs, notes) = d.comparison_pairs();
        let names: Vec<(&str, &str)> = pairs
            .iter()
            .map(|&(i, j)| (d.rows[i].name.as_str(), d.rows[j].name.as_str()))
            .collect();
        // The two diagonals differ in two keys: not compared.
        assert_eq!(
            names,
            vec![
                ("caption-lora", "caption-frozen"),
                ("dialogue-frozen", "caption-frozen"),
                ("dialogue-lora", "caption-lora"),
                ("dialogue-lora", "dialogue-frozen"),
            ]
        );
        assert!(notes.is_empty());
        let c = d.comparisons();
        assert_eq!(c.source, PairSource::Inferred);
        let p = &c.pairs[1];
        assert_eq!(
            p.differs,
            vec![("targets.kind".into(), "dialogue".into(), "caption".into())]
        );
        assert!(p.seeds_paired);
        let m = &p.metrics[0];
        assert_eq!(
            (m.metric.as_str(), m.items),
            ("synth_test/aqa/token_f1", 20)
        );
        assert_eq!(m.direction, Direction::Higher);
        assert!(p.sentence(m).starts_with(
            "dialogue-frozen scores higher than caption-frozen on `synth_test/aqa/token_f1`: +0.3000 ["
        ));
        let same = &c.pairs[3];
        assert_eq!(same.metrics[0].direction, Direction::Unclear);
        assert!(same
            .sentence(&same.metrics[0])
            .contains("the interval includes 0"));
    }

    #[test]
    fn the_spec_list_replaces_the_inferred_pairs() {
        let mut d = grid();
        d.compare = Some(vec![("dialogue-lora".into(), "caption-frozen".into())]);
        let (pairs, notes) = d.comparison_pairs();
        assert_eq!(pairs, vec![(3, 0)]);
        assert!(notes.is_empty());
        let c = d.comparisons();
        assert_eq!(c.source, PairSource::Spec);
        assert_eq!(c.pairs.len(), 1);
        assert_eq!(c.pairs[0].differs.len(), 2);
        // Rows scored on different sets have nothing to compare: said, not silently dropped.
        let mut e = d.clone();
        for r in &mut e.rows[3].runs {
            let v = r.item_scores.remove("synth_test/aqa/token_f1").unwrap();
            r.item_scores.insert("other_test/aqa/token_f1".into(), v);
        }
        let c = e.comparisons();
        assert!(c.pairs.is_empty());
        assert_eq!(
            c.notes,
            vec!["dialogue-lora − caption-frozen: no item-level metric both rows were scored on."]
        );
        // A row the store no longer has is named, not a panic.
        d.compare = Some(vec![("dialogue-lora".into(), "nope".into())]);
        let (pairs, notes) = d.comparison_pairs();
        assert!(pairs.is_empty());
        assert!(notes[0].contains("nope is not a row"), "{notes:?}");
    }

    /// Rows evaluated before item scores were recorded are named and left out, with the hint.
    #[test]
    fn rows_without_item_scores_are_named() {
        let mut d = grid();
        d.spec_path = "experiments/quickstart.toml".into();
        for r in &mut d.rows[0].runs {
            r.item_scores.clear();
        }
        d.rows[1].runs[2].item_scores.clear();
        let c = d.comparisons();
        assert!(
            c.notes[0].starts_with("No per-item scores (evaluated by an acdc that did not record them): caption-frozen.")
                && c.notes[0].contains("`acdc run experiments/quickstart.toml --reeval`"),
            "{:?}",
            c.notes
        );
        assert!(
            c.notes[1].starts_with("Row caption-lora: seed 2 (`run-2`) has no per-item scores"),
            "{:?}",
            c.notes
        );
        let names: Vec<(&str, &str)> = c
            .pairs
            .iter()
            .map(|p| (p.a.as_str(), p.b.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("dialogue-lora", "caption-lora"),
                ("dialogue-lora", "dialogue-frozen")
            ]
        );
        assert_eq!(c.pairs[0].seeds_b, vec![0, 1]);
        assert!(!c.pairs[0].seeds_paired);
    }

    /// The probe mean is built from the kinds' verdicts; each kind is compared on its own too.
    #[test]
    fn probe_kinds_give_the_mean() {
        let mut d = grid();
        for (r, shift) in d.rows.iter_mut().zip([0.0, 0.0, 1.0, 1.0]) {
            for run in &mut r.runs {
                let counting: Vec<f64> =
                    (0..4).map(|i| ((i == 0) as u8 as f64).max(shift)).collect();
                *run = with_items(run.clone(), "synth_test/probes/counting", &counting);
                *run = with_items(
                    run.clone(),
                    "synth_test/probes/absent",
                    &[1.0, 0.0, 1.0, 0.0, 1.0, 0.0],
                );
            }
        }
        let c = d.comparisons();
        let p = &c.pairs[1];
        let metrics: Vec<&str> = p.metrics.iter().map(|m| m.metric.as_str()).collect();
        assert_eq!(
            metrics,
            vec![
                "synth_test/probes/mean",
                "synth_test/probes/counting",
                "synth_test/probes/absent",
                "synth_test/aqa/token_f1",
            ]
        );
        let mean = &p.metrics[0];
        assert_eq!(mean.items, 10);
        assert!((mean.mean_a - 0.75).abs() < 1e-12 && (mean.mean_b - 0.375).abs() < 1e-12);
    }
}
