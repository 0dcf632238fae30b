//! Captioning metrics: BLEU-1..4, ROUGE-L and CIDEr-D, numerically equal to the
//! reference Python implementations used by the captioning literature.
//!
//! What each function mirrors:
//!
//! * [`bleu`] — `pycocoevalcap/bleu/bleu_scorer.py` (pycocoevalcap 1.2) as called by
//!   `pycocoevalcap/bleu/bleu.py`: `BleuScorer.compute_score(option='closest')`. Per-item
//!   scores use the same `small = 1e-9` / `tiny = 1e-15` smoothing and per-item brevity
//!   penalty; the corpus score is computed from n-gram counts and lengths summed over all items.
//! * [`rouge_l`] — `pycocoevalcap/rouge/rouge.py`: LCS-based ROUGE-L with `beta = 1.2`, per
//!   item from the maximum precision and maximum recall over the references; corpus = mean.
//! * [`cider_d`] — CIDEr-D as in coco-caption's `pyciderevalcap/ciderD` and
//!   `aac_metrics/functional/cider_d.py` (aac-metrics 0.6.0): n = 1..4, sigma = 6,
//!   candidate tf-idf clipped by the reference tf-idf, gaussian length penalty, ×10,
//!   document frequency over the evaluated references, `log(max(1, df))`. pycocoevalcap 1.2's
//!   `Cider` class (`cider/cider_scorer.py`) implements this same CIDEr-D formula, and the
//!   parity fixture checks that both agree. Quirks of the reference code are kept, notably that
//!   the "length" used in the penalty is the number of *bigrams* of a sentence.
//! * Tokenization lives in [`super::caption_tokens`] (re-exported here): `Ptb`, an approximation of
//!   pycocoevalcap's Java PTB tokenizer, and `Plain`.
//!
//! The low-level functions take pre-tokenized sentences. pycocoevalcap sees a tokenized
//! sentence as its tokens joined by single spaces and re-splits it (BLEU and CIDEr-D with
//! Python's `str.split()`, ROUGE-L with `str.split(" ")`); this module does the same, so that
//! odd tokens (empty strings, tokens containing spaces) are treated as pycocoevalcap would.
//!
//! Nothing in this module panics: empty candidates, empty references and empty inputs give
//! the value pycocoevalcap gives where it defines one, and 0 otherwise.

use std::collections::{BTreeMap, HashMap};

pub use super::caption_tokens::{tokenize, CaptionTokenizer, PTB_PUNCTUATIONS};

/// Python's `str.isspace()` (what `str.split()` splits on), close enough: Unicode White_Space
/// plus the ASCII information separators U+001C..U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python `" ".join(tokens).split()` (borrowed when that gives the tokens back unchanged).
fn py_split_ws(tokens: &[String]) -> std::borrow::Cow<'_, [String]> {
    // The usual case, tokens without whitespace and none empty, splits back into themselves.
    if tokens
        .iter()
        .all(|t| !t.is_empty() && !t.chars().any(is_py_space))
    {
        return std::borrow::Cow::Borrowed(tokens);
    }
    let joined = tokens.join(" ");
    joined
        .split(is_py_space)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect::<Vec<_>>()
        .into()
}

/// Python `" ".join(tokens).split(" ")` (never empty: `"".split(" ") == [""]`).
fn py_split_space(tokens: &[String]) -> std::borrow::Cow<'_, [String]> {
    if !tokens.is_empty() && tokens.iter().all(|t| !t.is_empty() && !t.contains(' ')) {
        return std::borrow::Cow::Borrowed(tokens);
    }
    let joined = tokens.join(" ");
    joined
        .split(' ')
        .map(str::to_string)
        .collect::<Vec<_>>()
        .into()
}

/// Names of the metrics computed by [`score_captions`], as used in [`CaptionScores`].
pub const METRICS: &[&str] = &["bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider_d"];

/// One captioning example: a candidate caption and its reference captions.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CaptionItem {
    /// Caller-chosen identifier, copied to [`ItemScores::id`].
    pub id: String,
    /// The generated caption.
    pub candidate: String,
    /// The reference (ground-truth) captions.
    pub references: Vec<String>,
}

/// Corpus-level and per-item scores for every name in [`METRICS`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct CaptionScores {
    /// Corpus scores (BLEU from summed counts; ROUGE-L and CIDEr-D as means over items).
    pub corpus: BTreeMap<String, f64>,
    /// Per-item scores, in input order.
    pub items: Vec<ItemScores>,
}

/// Scores of one [`CaptionItem`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ItemScores {
    /// The item's id.
    pub id: String,
    /// Metric name (see [`METRICS`]) to score.
    pub scores: BTreeMap<String, f64>,
}

// ---------------------------------------------------------------------------------------------
// BLEU
// ---------------------------------------------------------------------------------------------

/// An n-gram (n ≤ 4) of interned word ids: cheap to copy, hash and compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ngram {
    len: u8,
    ids: [u32; 4],
}

impl std::hash::Hash for Ngram {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Unused slots are u32::MAX, so the ids alone identify the n-gram.
        state.write_u64(((self.ids[0] as u64) << 32) | self.ids[1] as u64);
        state.write_u64(((self.ids[2] as u64) << 32) | self.ids[3] as u64);
    }
}

/// FxHash (rustc's hasher): n-gram keys are small integers, SipHash's DoS resistance buys nothing.
#[derive(Default)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Eight bytes at a time (words are hashed as strings), then the tail.
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.write_u64(u64::from_le_bytes(tail) ^ ((rest.len() as u64) << 56));
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(i as u64);
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type Fx = std::hash::BuildHasherDefault<FxHasher>;
type NgramMap<V> = HashMap<Ngram, V, Fx>;

/// Word → id, shared by every sentence one metric call sees.
#[derive(Default)]
struct Interner(HashMap<String, u32, Fx>);

impl Interner {
    fn ids(&mut self, words: &[String]) -> Vec<u32> {
        words
            .iter()
            .map(|w| match self.0.get(w.as_str()) {
                Some(&id) => id,
                None => {
                    let id = self.0.len() as u32;
                    self.0.insert(w.clone(), id);
                    id
                }
            })
            .collect()
    }
}

/// Every n-gram (n ≤ 4) of one metric call, as a dense id.
#[derive(Default)]
struct NgramIds(NgramMap<u32>);

/// One sentence's n-grams (`precook`): per order n, (n-gram id, count) in first-occurrence order.
#[derive(Default, Clone)]
struct Cooked {
    words: usize,
    grams: [Vec<(u32, u32)>; 4],
}

/// `precook` over interned words: n = 1..=4.
fn cook(words: &[u32], ids: &mut NgramIds) -> Cooked {
    let mut out = Cooked {
        words: words.len(),
        ..Default::default()
    };
    for k in 1..=4usize {
        if words.len() < k {
            break;
        }
        let grams = &mut out.grams[k - 1];
        for i in 0..=(words.len() - k) {
            let mut w = [u32::MAX; 4];
            w[..k].copy_from_slice(&words[i..i + k]);
            let g = Ngram {
                len: k as u8,
                ids: w,
            };
            let next = ids.0.len() as u32;
            let id = *ids.0.entry(g).or_insert(next);
            // Sentences are short: a linear scan finds repeats faster than hashing again.
            match grams.iter_mut().find(|(x, _)| *x == id) {
                Some((_, c)) => *c += 1,
                None => grams.push((id, 1)),
            }
        }
    }
    out
}

/// Candidates and references split as pycocoevalcap splits them (`str.split()`), interned once
/// and cooked: what BLEU and CIDEr-D both start from. Items beyond the shorter slice are dropped.
struct CookedCorpus {
    cands: Vec<Cooked>,
    refs: Vec<Vec<Cooked>>,
    /// Number of distinct n-grams (every id is below it).
    ngrams: usize,
}

fn cook_corpus(cands: &[Vec<String>], refs: &[Vec<Vec<String>>]) -> CookedCorpus {
    let mut vocab = Interner::default();
    let mut ids = NgramIds::default();
    let m = cands.len().min(refs.len());
    let refs: Vec<Vec<Cooked>> = refs[..m]
        .iter()
        .map(|rs| {
            rs.iter()
                .map(|r| cook(&vocab.ids(&py_split_ws(r)), &mut ids))
                .collect()
        })
        .collect();
    let cands: Vec<Cooked> = cands[..m]
        .iter()
        .map(|c| cook(&vocab.ids(&py_split_ws(c)), &mut ids))
        .collect();
    CookedCorpus {
        cands,
        refs,
        ngrams: ids.0.len(),
    }
}

/// BLEU-1..4 as pycocoevalcap's `Bleu(4).compute_score` (`BleuScorer`, option `'closest'`).
///
/// Returns `(corpus, per_item)`. Per-item scores include the `1e-15 / 1e-9` smoothing of the
/// reference code (so an item with no matching 4-gram gets a tiny, not zero, BLEU-4); the
/// corpus score uses n-gram matches, guesses and lengths summed over items. Items beyond the
/// shorter of the two slices are ignored; an item with no references has reference length 0
/// and no matches.
pub fn bleu(cands: &[Vec<String>], refs: &[Vec<Vec<String>>]) -> ([f64; 4], Vec<[f64; 4]>) {
    bleu_cooked(&cook_corpus(cands, refs))
}

fn bleu_cooked(c: &CookedCorpus) -> ([f64; 4], Vec<[f64; 4]>) {
    const N: usize = 4;
    let small = 1e-9_f64;
    let tiny = 1e-15_f64;
    let mut per_item = Vec::with_capacity(c.cands.len());
    let mut total_guess = [0usize; N];
    let mut total_correct = [0usize; N];
    let mut total_testlen = 0usize;
    let mut total_reflen = 0usize;
    // Max count of each n-gram over the item's references (dense; reset after each item).
    let mut maxcounts = vec![0u32; c.ngrams];
    let mut touched: Vec<u32> = Vec::new();
    for (cand, item_refs) in c.cands.iter().zip(&c.refs) {
        let mut reflens = Vec::with_capacity(item_refs.len());
        for r in item_refs {
            reflens.push(r.words);
            for (id, n) in r.grams.iter().flatten() {
                let e = &mut maxcounts[*id as usize];
                if *e == 0 {
                    touched.push(*id);
                }
                *e = (*e).max(*n);
            }
        }
        let testlen = cand.words;
        let mut guess = [0usize; N];
        for (k, g) in guess.iter_mut().enumerate() {
            *g = (testlen + 1).saturating_sub(k + 1);
        }
        let mut correct = [0usize; N];
        for (k, grams) in cand.grams.iter().enumerate() {
            for (id, n) in grams {
                correct[k] += maxcounts[*id as usize].min(*n) as usize;
            }
        }
        for id in touched.drain(..) {
            maxcounts[id as usize] = 0;
        }
        // closest reference length: min over (|l - testlen|, l)
        let reflen = reflens
            .iter()
            .map(|&l| (l.abs_diff(testlen), l))
            .min()
            .map(|(_, l)| l)
            .unwrap_or(0);
        total_testlen += testlen;
        total_reflen += reflen;
        let mut scores = [0.0f64; N];
        let mut b = 1.0f64;
        for k in 0..N {
            total_guess[k] += guess[k];
            total_correct[k] += correct[k];
            b *= (correct[k] as f64 + tiny) / (guess[k] as f64 + small);
            scores[k] = b.powf(1.0 / (k as f64 + 1.0));
        }
        let ratio = (testlen as f64 + tiny) / (reflen as f64 + small);
        if ratio < 1.0 {
            let bp = (1.0 - 1.0 / ratio).exp();
            for s in scores.iter_mut() {
                *s *= bp;
            }
        }
        per_item.push(scores);
    }
    let mut corpus = [0.0f64; N];
    let mut b = 1.0f64;
    for k in 0..N {
        b *= (total_correct[k] as f64 + tiny) / (total_guess[k] as f64 + small);
        corpus[k] = b.powf(1.0 / (k as f64 + 1.0));
    }
    let ratio = (total_testlen as f64 + tiny) / (total_reflen as f64 + small);
    if ratio < 1.0 {
        let bp = (1.0 - 1.0 / ratio).exp();
        for s in corpus.iter_mut() {
            *s *= bp;
        }
    }
    (corpus, per_item)
}

// ---------------------------------------------------------------------------------------------
// ROUGE-L
// ---------------------------------------------------------------------------------------------

fn lcs_len(a: &[String], b: &[String]) -> usize {
    let (long, short) = if a.len() < b.len() { (b, a) } else { (a, b) };
    let mut prev = vec![0usize; short.len() + 1];
    let mut cur = vec![0usize; short.len() + 1];
    for x in long {
        for (j, y) in short.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                prev[j + 1].max(cur[j])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[short.len()]
}

/// ROUGE-L as pycocoevalcap's `Rouge().compute_score` (`rouge/rouge.py`, beta = 1.2).
///
/// Per item: `prec = max_r LCS/|cand|`, `rec = max_r LCS/|ref|` (maxima taken separately),
/// `F = (1+β²)·P·R / (R + β²·P)`, 0 if either is 0. Sentences are split with
/// `str.split(" ")`, so an empty sentence is one empty token, as in the reference code
/// (an empty candidate scores 1.0 against an empty reference). An item with no references
/// scores 0 (pycocoevalcap asserts instead). Corpus = mean over items (0 for no items).
pub fn rouge_l(cands: &[Vec<String>], refs: &[Vec<Vec<String>>]) -> (f64, Vec<f64>) {
    let beta = 1.2_f64;
    let mut scores = Vec::new();
    for (cand, item_refs) in cands.iter().zip(refs.iter()) {
        let tc = py_split_space(cand);
        let mut prec_max = f64::NEG_INFINITY;
        let mut rec_max = f64::NEG_INFINITY;
        for r in item_refs {
            let tr = py_split_space(r);
            let l = lcs_len(&tr, &tc) as f64;
            prec_max = prec_max.max(l / tc.len() as f64);
            rec_max = rec_max.max(l / tr.len() as f64);
        }
        let s = if item_refs.is_empty() || prec_max == 0.0 || rec_max == 0.0 {
            0.0
        } else {
            ((1.0 + beta.powi(2)) * prec_max * rec_max) / (rec_max + beta.powi(2) * prec_max)
        };
        scores.push(s);
    }
    (mean(&scores), scores)
}

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        pairwise_sum(xs) / xs.len() as f64
    }
}

/// numpy's pairwise summation (blocks of 8 unrolled accumulators, 128-element leaves), so that
/// means agree with `np.mean` to the last bit on typical sizes.
fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for x in a {
            res += *x;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for k in 0..8 {
                r[k] += a[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

// ---------------------------------------------------------------------------------------------
// CIDEr-D
// ---------------------------------------------------------------------------------------------

/// One sentence's tf-idf vector (`counts2vec`): per order n, (n-gram id, weight) in
/// first-occurrence order, the per-order norms, and the "length" (the number of bigrams).
struct TfIdf {
    vec: [Vec<(u32, f64)>; 4],
    norm: [f64; 4],
    length: usize,
}

/// `idf[id]` = log(N) − log(max(1, df)), computed once per n-gram.
fn tf_idf(c: &Cooked, idf: &[f64]) -> TfIdf {
    let mut out = TfIdf {
        vec: Default::default(),
        norm: [0.0; 4],
        length: 0,
    };
    for (n, grams) in c.grams.iter().enumerate() {
        for &(id, tf) in grams {
            let v = tf as f64 * idf[id as usize];
            out.vec[n].push((id, v));
            out.norm[n] += v.powi(2);
            if n == 1 {
                out.length += tf as usize;
            }
        }
    }
    for x in out.norm.iter_mut() {
        *x = x.sqrt();
    }
    out
}

/// CIDEr-D (metric key `cider_d`) as coco-caption's CiderD / aac-metrics' `cider_d` /
/// pycocoevalcap 1.2 `Cider`
/// (n = 4, sigma = 6, scale 10).
///
/// Document frequencies are counted over the references of the evaluated items (one count per
/// item whose references contain the n-gram) and `log(N)` uses `N` = number of items, so
/// scores depend on the whole evaluated set. Per item: mean over n of the mean over references
/// of the clipped, length-penalised cosine similarity, ×10. Corpus = mean over items. An item
/// with no references scores 0 (the reference code divides by zero); with a single item every
/// tf-idf weight is 0 and so is every score (aac-metrics refuses fewer than 2 items).
pub fn cider_d(cands: &[Vec<String>], refs: &[Vec<Vec<String>>]) -> (f64, Vec<f64>) {
    cider_d_cooked(&cook_corpus(cands, refs))
}

fn cider_d_cooked(c: &CookedCorpus) -> (f64, Vec<f64>) {
    const N: usize = 4;
    let sigma = 6.0_f64;
    let scale = 10.0_f64;
    let m = c.cands.len();
    // Document frequency: items whose references contain the n-gram (`seen` dedups per item).
    let mut df = vec![0u32; c.ngrams];
    let mut seen = vec![u32::MAX; c.ngrams];
    for (item, rs) in c.refs.iter().enumerate() {
        for (id, _) in rs.iter().flat_map(|r| r.grams.iter().flatten()) {
            let i = *id as usize;
            if seen[i] != item as u32 {
                seen[i] = item as u32;
                df[i] += 1;
            }
        }
    }
    let log_n_refs = if m == 0 { 0.0 } else { (m as f64).ln() };
    let idf: Vec<f64> = df
        .iter()
        .map(|&d| log_n_refs - (d.max(1) as f64).ln())
        .collect();
    // The reference's weight of each n-gram while one reference is compared (dense; reset after).
    let mut ref_weight = vec![0.0f64; c.ngrams];
    let mut scores = Vec::with_capacity(m);
    for (cand, rs) in c.cands.iter().zip(&c.refs) {
        if rs.is_empty() {
            scores.push(0.0);
            continue;
        }
        let cv = tf_idf(cand, &idf);
        let mut sums = [0.0f64; N];
        for r in rs {
            let rv = tf_idf(r, &idf);
            for &(id, v) in rv.vec.iter().flatten() {
                ref_weight[id as usize] = v;
            }
            let delta = cv.length as f64 - rv.length as f64;
            let penalty = std::f64::consts::E.powf(-(delta.powi(2)) / (2.0 * sigma.powi(2)));
            for (ni, sum) in sums.iter_mut().enumerate() {
                let mut sim = 0.0f64;
                for &(id, cw) in &cv.vec[ni] {
                    let rw = ref_weight[id as usize];
                    sim += cw.min(rw) * rw;
                }
                if cv.norm[ni] != 0.0 && rv.norm[ni] != 0.0 {
                    sim /= cv.norm[ni] * rv.norm[ni];
                }
                sim *= penalty;
                *sum += sim;
            }
            for &(id, _) in rv.vec.iter().flatten() {
                ref_weight[id as usize] = 0.0;
            }
        }
        let avg = pairwise_sum(&sums) / N as f64 / rs.len() as f64;
        scores.push(avg * scale);
    }
    (mean(&scores), scores)
}

/// Tokenizes every candidate and reference with `tok` and computes all [`METRICS`].
pub fn score_captions(items: &[CaptionItem], tok: CaptionTokenizer) -> CaptionScores {
    let cands: Vec<Vec<String>> = items
        .iter()
        .map(|it| tokenize(&it.candidate, tok))
        .collect();
    let refs: Vec<Vec<Vec<String>>> = items
        .iter()
        .map(|it| it.references.iter().map(|r| tokenize(r, tok)).collect())
        .collect();
    // BLEU and CIDEr-D share one interning and n-gram counting of the corpus.
    let cooked = cook_corpus(&cands, &refs);
    let (b_corpus, b_items) = bleu_cooked(&cooked);
    let (r_corpus, r_items) = rouge_l(&cands, &refs);
    let (c_corpus, c_items) = cider_d_cooked(&cooked);
    let mut corpus = BTreeMap::new();
    for k in 0..4 {
        corpus.insert(METRICS[k].to_string(), b_corpus[k]);
    }
    corpus.insert("rouge_l".to_string(), r_corpus);
    corpus.insert("cider_d".to_string(), c_corpus);
    let items_out = items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let mut scores = BTreeMap::new();
            for k in 0..4 {
                scores.insert(METRICS[k].to_string(), b_items[i][k]);
            }
            scores.insert("rouge_l".to_string(), r_items[i]);
            scores.insert("cider_d".to_string(), c_items[i]);
            ItemScores {
                id: it.id.clone(),
                scores,
            }
        })
        .collect();
    CaptionScores {
        corpus,
        items: items_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn plain_tokenizer() {
        assert_eq!(
            tokenize("A Dog's  bark—loud! Café", CaptionTokenizer::Plain),
            vec!["a", "dog", "s", "bark", "loud", "café"]
        );
        assert!(tokenize("", CaptionTokenizer::Plain).is_empty());
    }

    #[test]
    fn ptb_tokenizer_basics() {
        let t = |s: &str| tokenize(s, CaptionTokenizer::Ptb).join(" ");
        assert_eq!(
            t("A dog's running, isn't it?"),
            "a dog 's running is n't it"
        );
        assert_eq!(
            t("I can't (really) do it."),
            "i ca n't -lrb- really -rrb- do it"
        );
        assert_eq!(
            t("A well-known 3,000-seat hall costs $4.50."),
            "a well-known 3,000-seat hall costs $ 4.50"
        );
        assert_eq!(
            t("in the U.S. at 10:30 a.m. etc."),
            "in the u.s. at 10:30 a.m. etc."
        );
        assert_eq!(
            t("hello!!! ok?! \"quoted\" 'single' -- — …"),
            "hello !!! ok ?! quoted single"
        );
        assert_eq!(
            t("cannot gonna y'all rock'n'roll 'em '90s"),
            "can not gon na y' all rock 'n' roll 'em '90s"
        );
        assert!(tokenize("", CaptionTokenizer::Ptb).is_empty());
        assert!(tokenize("...!?,", CaptionTokenizer::Ptb).len() <= 1);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let e: Vec<String> = vec![];
        let (c, i) = bleu(std::slice::from_ref(&e), &[vec![]]);
        assert!(c.iter().all(|x| x.is_finite()) && i.len() == 1);
        let (c, i) = rouge_l(std::slice::from_ref(&e), &[vec![]]);
        assert_eq!((c, i), (0.0, vec![0.0]));
        let (c, i) = rouge_l(std::slice::from_ref(&e), &[vec![e.clone()]]);
        assert_eq!((c, i), (1.0, vec![1.0]));
        let (c, i) = cider_d(&[e.clone(), toks("a")], &[vec![], vec![e.clone()]]);
        assert!(c.is_finite() && i.iter().all(|x| x.is_finite()));
        let (c, _) = cider_d(&[], &[]);
        assert_eq!(c, 0.0);
        let s = score_captions(&[], CaptionTokenizer::Ptb);
        assert!(s.items.is_empty());
    }

    #[test]
    fn identical_candidate_bleu_is_one() {
        let (c, _) = bleu(
            &[toks("a dog barks at a cat")],
            &[vec![toks("a dog barks at a cat")]],
        );
        for x in c {
            assert!((x - 1.0).abs() < 1e-9);
        }
    }
    #[test]
    fn tokenizers_never_panic_on_odd_input() {
        let alphabet: Vec<char> =
            "aAnNtTsy'’`\".-–—…,;:!?()[]{}<>@#$£€¢½&/_+=*0123456789 \t\néß日😀\u{0301}\u{1c}İ"
                .chars()
                .collect();
        let mut state: u64 = 0x2545F4914F6CDD1D;
        for _ in 0..20000 {
            let mut s = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 12) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                s.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            let p = tokenize(&s, CaptionTokenizer::Ptb);
            let q = tokenize(&s, CaptionTokenizer::Plain);
            let refs = vec![vec![p.clone(), q.clone()], vec![q.clone()]];
            let cands = vec![q, p];
            let (b, _) = bleu(&cands, &refs);
            let (r, _) = rouge_l(&cands, &refs);
            let (c, _) = cider_d(&cands, &refs);
            assert!(
                b.iter().all(|x| x.is_finite()) && r.is_finite() && c.is_finite(),
                "{s:?}"
            );
        }
    }
}
