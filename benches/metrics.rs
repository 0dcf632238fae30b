//! Captioning metrics at AudioCaps-test scale: BLEU-1..4 + ROUGE-L + CIDEr-D with the PTB-style
//! tokenizer, through `score_captions` (what `acdc score` and the eval stage run), median of
//! `METRICS_BENCH_REPEATS` (default 5) runs. `tools/bench_metrics.sh` runs this and pycocoevalcap
//! (`tools/bench_metrics.py`) on the same items and prints the ratio.
//!
//! Run: `METRICS_BENCH_INPUT=items.json cargo bench --bench metrics` (items as `acdc score` reads
//! them: `[{"id", "candidate", "references": [...]}]`). Prints one `RESULT {json}` line.

use std::time::Instant;

use acdc::eval::caption_metrics::{
    bleu, cider_d, rouge_l, score_captions, tokenize, CaptionItem, CaptionTokenizer,
};

fn main() {
    let path = std::env::var("METRICS_BENCH_INPUT").expect("METRICS_BENCH_INPUT names the items");
    let items: Vec<CaptionItem> =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("items");
    let repeats: usize = std::env::var("METRICS_BENCH_REPEATS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let mut times = Vec::new();
    let mut corpus = Default::default();
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let s = score_captions(&items, CaptionTokenizer::Ptb);
        times.push(t.elapsed().as_secs_f64());
        corpus = s.corpus;
    }
    times.sort_by(|a, b| a.total_cmp(b));
    // Where the time goes (one run each).
    let t = Instant::now();
    let tok = |s: &str| tokenize(s, CaptionTokenizer::Ptb);
    let cands: Vec<Vec<String>> = items.iter().map(|i| tok(&i.candidate)).collect();
    let refs: Vec<Vec<Vec<String>>> = items
        .iter()
        .map(|i| i.references.iter().map(|r| tok(r)).collect())
        .collect();
    let t_tok = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = bleu(&cands, &refs);
    let t_bleu = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = rouge_l(&cands, &refs);
    let t_rouge = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = cider_d(&cands, &refs);
    let t_cider = t.elapsed().as_secs_f64();
    let v = serde_json::json!({
        "impl": "acdc",
        "items": items.len(),
        "seconds": times[times.len() / 2],
        "corpus": corpus,
        "breakdown_s": {"tokenize": t_tok, "bleu": t_bleu, "rouge_l": t_rouge, "cider_d": t_cider},
    });
    println!("RESULT {v}");
}
