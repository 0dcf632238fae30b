//! Metric outputs on a fixed set of captions and answers, guarded by a snapshot.

use acdc::eval::caption_metrics::{score_captions, CaptionItem, CaptionTokenizer};
use acdc::eval::qa_metrics::{exact_match, token_f1};

fn round(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

#[test]
fn caption_and_qa_metrics_on_fixed_inputs() {
    let items = vec![
        CaptionItem {
            id: "a".into(),
            candidate: "A dog barks twice, then a bell rings.".into(),
            references: vec![
                "A dog barks two times before a bell rings.".into(),
                "Barking from a dog, followed by a ringing bell".into(),
                "a dog is barking and then a bell rings".into(),
            ],
        },
        CaptionItem {
            id: "b".into(),
            candidate: "Rain falls while wind blows".into(),
            references: vec![
                "Rain is falling as the wind howls.".into(),
                "Wind and rain.".into(),
            ],
        },
        CaptionItem {
            id: "c".into(),
            candidate: "".into(),
            references: vec!["An engine hums.".into()],
        },
        CaptionItem {
            id: "d".into(),
            candidate: "a siren wails in the distance".into(),
            references: vec![
                "A siren wails in the distance.".into(),
                "A distant siren sweeps up and down.".into(),
            ],
        },
    ];
    let s = score_captions(&items, CaptionTokenizer::Ptb);
    let corpus: std::collections::BTreeMap<String, f64> = s
        .corpus
        .iter()
        .map(|(k, v)| (k.clone(), round(*v)))
        .collect();
    let per_item: Vec<(String, std::collections::BTreeMap<String, f64>)> = s
        .items
        .iter()
        .map(|i| {
            (
                i.id.clone(),
                i.scores
                    .iter()
                    .map(|(k, v)| (k.clone(), round(*v)))
                    .collect(),
            )
        })
        .collect();
    let qa: Vec<(String, f64, f64)> = [
        ("Yes.", "yes"),
        ("Two dogs.", "Two."),
        ("The siren comes first", "The siren comes first."),
        ("", "No."),
    ]
    .iter()
    .map(|(p, r)| {
        (
            format!("{p} | {r}"),
            round(token_f1(p, &[r.to_string()])),
            exact_match(p, &[r.to_string()]),
        )
    })
    .collect();
    insta::assert_json_snapshot!(
        serde_json::json!({"corpus": corpus, "items": per_item, "qa": qa})
    );
}
