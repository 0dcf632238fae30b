//! Parity of `eval::caption_metrics` with pycocoevalcap 1.2 (BLEU, ROUGE-L) and the CIDEr-D of
//! aac-metrics 0.6.0, on the fixture written by `tools/caption_metrics_fixture.py`
//! (see `tests/fixtures/caption_metrics/PROVENANCE.md`).

use acdc::eval::caption_metrics::{
    bleu, cider_d, rouge_l, score_captions, tokenize, CaptionItem, CaptionTokenizer, METRICS,
};
use serde_json::Value;

const TOL: f64 = 1e-6;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/caption_metrics/pycocoevalcap.json"
    );
    let text = std::fs::read_to_string(path).expect("read fixture");
    serde_json::from_str(&text).expect("parse fixture")
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_str().expect("string").to_string())
        .collect()
}

fn items(fx: &Value) -> Vec<CaptionItem> {
    fx["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|it| CaptionItem {
            id: it["id"].as_str().expect("id").to_string(),
            candidate: it["candidate"].as_str().expect("candidate").to_string(),
            references: strs(&it["references"]),
        })
        .collect()
}

fn close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= TOL,
        "{what}: got {got}, pycocoevalcap {want}"
    );
}

#[test]
fn plain_tokens_match_fixture() {
    let fx = fixture();
    for it in fx["items"].as_array().expect("items") {
        let cand = it["candidate"].as_str().expect("candidate");
        assert_eq!(
            tokenize(cand, CaptionTokenizer::Plain),
            strs(&it["plain_candidate_tokens"]),
            "{cand:?}"
        );
        let refs = strs(&it["references"]);
        let want = it["plain_reference_tokens"].as_array().expect("refs");
        for (r, w) in refs.iter().zip(want) {
            assert_eq!(tokenize(r, CaptionTokenizer::Plain), strs(w), "{r:?}");
        }
    }
}

#[test]
fn scores_match_pycocoevalcap() {
    let fx = fixture();
    let its = items(&fx);
    let got = score_captions(&its, CaptionTokenizer::Plain);
    assert_eq!(got.items.len(), its.len());
    for name in METRICS {
        close(
            &format!("corpus {name}"),
            got.corpus[*name],
            fx["corpus"][*name].as_f64().expect("f64"),
        );
    }
    for (g, want) in got.items.iter().zip(fx["items"].as_array().expect("items")) {
        assert_eq!(g.id, want["id"].as_str().expect("id"));
        for name in METRICS {
            close(
                &format!("{} {name}", g.id),
                g.scores[*name],
                want["scores"][*name].as_f64().expect("f64"),
            );
        }
    }
}

/// End-to-end: our PTB tokenizer + metrics against pycocoevalcap's Java PTBTokenizer + scorers.
/// (All fixture captions are tokenized identically, see `ptb_tokens_match_stanford`.)
#[test]
fn ptb_pipeline_matches_pycocoevalcap_end_to_end() {
    let fx = fixture();
    let its = items(&fx);
    let got = score_captions(&its, CaptionTokenizer::Ptb);
    for name in METRICS {
        close(
            &format!("ptb corpus {name}"),
            got.corpus[*name],
            fx["ptb_pipeline_corpus"][*name].as_f64().expect("f64"),
        );
    }
    for (g, want) in got.items.iter().zip(fx["items"].as_array().expect("items")) {
        for name in METRICS {
            close(
                &format!("ptb {} {name}", g.id),
                g.scores[*name],
                want["ptb_pipeline_scores"][*name].as_f64().expect("f64"),
            );
        }
    }
}

#[test]
fn low_level_functions_match_pycocoevalcap() {
    let fx = fixture();
    let arr = fx["items"].as_array().expect("items");
    let cands: Vec<Vec<String>> = arr
        .iter()
        .map(|it| strs(&it["plain_candidate_tokens"]))
        .collect();
    let refs: Vec<Vec<Vec<String>>> = arr
        .iter()
        .map(|it| {
            it["plain_reference_tokens"]
                .as_array()
                .expect("refs")
                .iter()
                .map(strs)
                .collect()
        })
        .collect();
    let (bc, bi) = bleu(&cands, &refs);
    let (rc, ri) = rouge_l(&cands, &refs);
    let (cc, ci) = cider_d(&cands, &refs);
    for k in 0..4 {
        close(
            &format!("corpus bleu_{}", k + 1),
            bc[k],
            fx["corpus"][METRICS[k]].as_f64().expect("f64"),
        );
    }
    close(
        "corpus rouge_l",
        rc,
        fx["corpus"]["rouge_l"].as_f64().expect("f64"),
    );
    close(
        "corpus cider_d",
        cc,
        fx["corpus"]["cider_d"].as_f64().expect("f64"),
    );
    for (i, it) in arr.iter().enumerate() {
        let s = &it["scores"];
        for k in 0..4 {
            close(
                &format!("item {i} bleu_{}", k + 1),
                bi[i][k],
                s[METRICS[k]].as_f64().expect("f64"),
            );
        }
        close(
            &format!("item {i} rouge_l"),
            ri[i],
            s["rouge_l"].as_f64().expect("f64"),
        );
        close(
            &format!("item {i} cider_d"),
            ci[i],
            s["cider_d"].as_f64().expect("f64"),
        );
    }
}

/// Every PTB case (all fixture captions and references, plus the `dev`, `heldout`, `stress` and
/// `rules` strings) is tokenized exactly as Stanford's PTBTokenizer does, no exemption (see
/// PROVENANCE.md). The four cases once exempt are checked by name, so that losing them from the
/// fixture fails too.
#[test]
fn ptb_tokens_match_stanford() {
    let fx = fixture();
    let cases = fx["ptb_cases"].as_array().expect("ptb_cases");
    let mut per_set: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let mut mismatches = Vec::new();
    for c in cases {
        let text = c["text"].as_str().expect("text");
        let set = c["set"].as_str().unwrap_or("?").to_string();
        let got = tokenize(text, CaptionTokenizer::Ptb);
        let want = strs(&c["tokens"]);
        let e = per_set.entry(set).or_insert((0, 0));
        e.1 += 1;
        if got == want {
            e.0 += 1;
        } else {
            mismatches.push(format!("{text:?}\n  ours     {got:?}\n  stanford {want:?}"));
        }
    }
    eprintln!("PTB tokenizer agreement (matched, total) per set: {per_set:?}");
    assert!(
        mismatches.is_empty(),
        "PTB mismatches:\n{}",
        mismatches.join("\n")
    );
    let token_of = |text: &str| {
        cases
            .iter()
            .find(|c| c["text"] == text)
            .map(|c| strs(&c["tokens"]))
            .unwrap_or_else(|| panic!("the fixture lost the case {text:?}"))
    };
    for (text, want) in [
        (
            "A man's car & woman's bike / [brackets] {braces} <angle>",
            "<angle>",
        ),
        (
            "'Tis y'all ma'am d'arcy O'Neil fo'c'sle 'cause ol' the 60's",
            "sle",
        ),
        ("¥5 ¢5 © ™ ° 90° x² ½ · • § ¶ † × ÷ ± « » ‹ › „", "²"),
        ("Hello?Is anyone there?", "hello?is"),
    ] {
        assert!(token_of(text).iter().any(|t| t == want), "{text:?}");
    }
}

/// The fixture holds a truly empty candidate and a candidate of 500+ words (both scored within
/// 1e-6 by the tests above).
#[test]
fn fixture_has_empty_and_very_long_candidates() {
    let fx = fixture();
    let its = items(&fx);
    assert!(its.iter().any(|it| it.candidate.is_empty()));
    assert!(
        its.iter()
            .any(|it| it.candidate.split_whitespace().count() >= 500),
        "no candidate of 500+ words"
    );
    // Tokenized, the long one stays long (PTB and plain), and the empty one is empty.
    let long = its
        .iter()
        .max_by_key(|it| it.candidate.len())
        .expect("items");
    assert!(tokenize(&long.candidate, CaptionTokenizer::Ptb).len() >= 500);
    assert!(tokenize(&long.candidate, CaptionTokenizer::Plain).len() >= 500);
    assert!(tokenize("", CaptionTokenizer::Ptb).is_empty());
}
