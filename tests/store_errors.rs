//! A store file that is not SQLite is refused with its name, and left untouched.

mod common;

#[test]
fn not_sqlite_store_is_refused_and_kept() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let db = home.join("acdc.db");
    let junk = b"precious notes, definitely not SQLite\n".repeat(200);
    std::fs::write(&db, &junk).unwrap();
    let spec = common::tiny_spec(d.path(), "s", "");
    for args in [vec!["ls"], vec!["run", spec.to_str().unwrap()]] {
        let o = common::acdc(&home, d.path(), &args);
        assert!(!o.status.success());
        let e = common::stderr(&o);
        assert!(
            e.contains("acdc.db") && e.contains("not an acdc store"),
            "{e}"
        );
    }
    assert_eq!(std::fs::read(&db).unwrap(), junk);
}

/// A NaN or infinite score is refused with the run, task and metric named, and the batch it came
/// in is not half-saved.
#[test]
fn non_finite_scores_are_refused_by_name() {
    use acdc::store::records::EvalScore;
    let d = tempfile::tempdir().unwrap();
    let mut store = acdc::store::Store::open_home(d.path()).unwrap();
    let score = |metric: &str, value: f64| EvalScore {
        task: "clotho_eval/aac".into(),
        metric: metric.into(),
        value,
        n: 3,
    };
    for bad in [f64::NAN, f64::INFINITY] {
        let e = store
            .put_evals("r1", &[score("bleu_1", 0.5), score("spider", bad)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("r1") && e.contains("clotho_eval/aac/spider") && e.contains("finite"),
            "{e}"
        );
        assert!(store.evals("r1").unwrap().is_empty());
    }
}
