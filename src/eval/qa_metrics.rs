//! Question-answering metrics: SQuAD-style answer normalization, exact match and token F1.
//!
//! Mirrors the official SQuAD evaluation script (`evaluate-v2.0.py`, identical to v1.1 for
//! non-empty answers): `normalize_answer` = lower-case, remove ASCII punctuation
//! (`string.punctuation`), remove the articles `a`/`an`/`the` (`\b(a|an|the)\b`), collapse
//! whitespace; `compute_exact` / `compute_f1`, maximised over the references
//! (`metric_max_over_ground_truths`).
//!
//! Edge cases: with no references every score is 0. When the normalized prediction or
//! reference has no tokens, F1 is 1 if both are empty and 0 otherwise (the SQuAD v2.0 rule;
//! v1.1 would give 0 even for two empty answers). Nothing here panics.

use std::collections::HashMap;

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// SQuAD `normalize_answer`: lower-case, drop ASCII punctuation, drop the articles
/// `a`, `an`, `the` (as whole words), and collapse whitespace to single spaces.
pub fn normalize_answer(s: &str) -> String {
    let lowered = s.to_lowercase();
    let no_punc: String = lowered
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    // remove_articles: re.sub(r'\b(a|an|the)\b', ' ', text)
    let chars: Vec<char> = no_punc.chars().collect();
    let mut out = String::with_capacity(no_punc.len());
    let mut i = 0;
    while i < chars.len() {
        if is_word_char(chars[i]) {
            let start = i;
            while i < chars.len() && is_word_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if word == "a" || word == "an" || word == "the" {
                out.push(' ');
            } else {
                out.push_str(&word);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Exact match after [`normalize_answer`], maximised over `references` (1.0 or 0.0; 0.0 when
/// there are no references).
pub fn exact_match(prediction: &str, references: &[String]) -> f64 {
    let p = normalize_answer(prediction);
    if references.iter().any(|r| normalize_answer(r) == p) {
        1.0
    } else {
        0.0
    }
}

fn f1_single(pred: &[&str], gold: &[&str]) -> f64 {
    if pred.is_empty() || gold.is_empty() {
        return if pred.is_empty() && gold.is_empty() {
            1.0
        } else {
            0.0
        };
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in gold {
        *counts.entry(t).or_insert(0) += 1;
    }
    let mut same = 0usize;
    for t in pred {
        if let Some(c) = counts.get_mut(t) {
            if *c > 0 {
                *c -= 1;
                same += 1;
            }
        }
    }
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / pred.len() as f64;
    let recall = same as f64 / gold.len() as f64;
    (2.0 * precision * recall) / (precision + recall)
}

/// SQuAD token F1 (bag-of-tokens overlap of the normalized answers), maximised over
/// `references`; 0.0 when there are no references.
pub fn token_f1(prediction: &str, references: &[String]) -> f64 {
    let p = normalize_answer(prediction);
    let pt: Vec<&str> = p.split_whitespace().collect();
    references
        .iter()
        .map(|r| {
            let g = normalize_answer(r);
            let gt: Vec<&str> = g.split_whitespace().collect();
            f1_single(&pt, &gt)
        })
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn normalize() {
        assert_eq!(normalize_answer("The  Cat, an apple!"), "cat apple");
        assert_eq!(normalize_answer("theater a_b"), "theater ab");
        assert_eq!(normalize_answer("A"), "");
        assert_eq!(normalize_answer("Café «the» dog"), "café « » dog");
    }

    #[test]
    fn em_f1() {
        assert_eq!(exact_match("the Dog.", &v(&["dog", "cat"])), 1.0);
        assert_eq!(exact_match("dog", &[]), 0.0);
        assert_eq!(
            token_f1("a dog barks", &v(&["the dog"])),
            2.0 * 0.5 * 1.0 / 1.5
        );
        assert_eq!(token_f1("dog dog", &v(&["dog"])), 2.0 * 0.5 / 1.5);
        assert_eq!(token_f1("cat", &v(&["dog", "cat"])), 1.0);
        assert_eq!(token_f1("the", &v(&["a"])), 1.0);
        assert_eq!(token_f1("the", &v(&["dog"])), 0.0);
        assert_eq!(token_f1("x", &[]), 0.0);
    }
}
