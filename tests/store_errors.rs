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
