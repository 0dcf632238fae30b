//! `acdc score`: metrics for a JSON file of candidates, METEOR/SPICE reported unavailable without
//! their jars, bad input named.

mod common;

#[test]
fn scores_json_input() {
    let d = tempfile::tempdir().unwrap();
    let input = common::write(
        d.path(),
        "in.json",
        r#"[{"id": "a", "candidate": "a dog barks", "references": ["A dog is barking.", "Dog barks loudly."]},
            {"id": "b", "candidate": "rain falls", "references": ["Rain falls on a roof."]}]"#,
    );
    let o = common::acdc(
        d.path(),
        d.path(),
        &[
            "score",
            input.to_str().unwrap(),
            "--metrics",
            "bleu,cider_d,meteor",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for k in ["bleu_1", "bleu_4", "cider_d"] {
        assert!(v["corpus"][k].is_number(), "{v}");
    }
    assert!(v["corpus"].get("rouge_l").is_none());
    assert_eq!(v["items"][1]["id"], "b");
    assert_eq!(v["unavailable"][0], "meteor");
    let items: Vec<acdc::eval::caption_metrics::CaptionItem> =
        serde_json::from_str(&std::fs::read_to_string(&input).unwrap()).unwrap();
    let lib = acdc::eval::caption_metrics::score_captions(
        &items,
        acdc::eval::caption_metrics::CaptionTokenizer::Ptb,
    );
    assert_eq!(
        v["corpus"]["cider_d"].as_f64().unwrap(),
        lib.corpus["cider_d"]
    );
}

#[test]
fn bad_input_is_named() {
    let d = tempfile::tempdir().unwrap();
    let bad = common::write(d.path(), "bad.json", r#"[{"id": "a", "candidate": "x"}]"#);
    let o = common::acdc(d.path(), d.path(), &["score", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        common::stderr(&o).contains("bad.json"),
        "{}",
        common::stderr(&o)
    );
    let dup = common::write(
        d.path(),
        "dup.json",
        r#"[{"id": "a", "candidate": "x", "references": ["y"]}, {"id": "a", "candidate": "x", "references": ["y"]}]"#,
    );
    let o = common::acdc(d.path(), d.path(), &["score", dup.to_str().unwrap()]);
    assert!(
        common::stderr(&o).contains("duplicate id `a`"),
        "{}",
        common::stderr(&o)
    );
    let o = common::acdc(
        d.path(),
        d.path(),
        &["score", dup.to_str().unwrap(), "--metrics", "blue"],
    );
    assert!(
        common::stderr(&o).contains("unknown metric `blue`"),
        "{}",
        common::stderr(&o)
    );
}
