//! `acdc score`: metrics for a JSON file of candidates, METEOR/SPICE reported unavailable without
//! their jars, bad input named.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `acdc score ARGS` with the store in `dir`, none of the jar / java variables of the caller's
/// environment, and `env` set.
fn score(dir: &Path, args: &[&str], env: &[(&str, &OsStr)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_acdc"));
    c.arg("score")
        .args(args)
        .env("ACDC_HOME", dir)
        .env_remove("ACDC_METEOR_JAR")
        .env_remove("ACDC_SPICE_JAR")
        .env_remove("ACDC_JAVA")
        .env_remove("RUST_LOG");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn scores_json_input() {
    let d = tempfile::tempdir().unwrap();
    let input = common::write(
        d.path(),
        "in.json",
        r#"[{"id": "a", "candidate": "a dog barks", "references": ["A dog is barking.", "Dog barks loudly."]},
            {"id": "b", "candidate": "rain falls", "references": ["Rain falls on a roof."]}]"#,
    );
    // Without ACDC_METEOR_JAR (even if the caller's environment has one), METEOR is unavailable.
    let o = score(
        d.path(),
        &[
            input.to_str().unwrap(),
            "--metrics",
            "bleu,cider_d,meteor",
            "--json",
        ],
        &[],
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

/// `--tokenizer plain` scores what the library's plain tokenizer gives, which differs from PTB on
/// punctuation PTB keeps (`-lrb-`, `&`, `'s`).
#[test]
fn plain_tokenizer_is_used_when_asked() {
    use acdc::eval::caption_metrics::{score_captions, tokenize, CaptionItem, CaptionTokenizer};
    let d = tempfile::tempdir().unwrap();
    let input = common::write(
        d.path(),
        "in.json",
        r#"[{"id": "a", "candidate": "A dog (barking) & a cat's meow", "references": ["A dog barking & a cat's meow.", "Dog barks (loudly), cat meows."]},
            {"id": "b", "candidate": "Rain falls on a roof & a car", "references": ["Rain falls on a roof.", "Rain & a passing car."]}]"#,
    );
    let items: Vec<CaptionItem> =
        serde_json::from_str(&std::fs::read_to_string(&input).unwrap()).unwrap();
    assert_ne!(
        tokenize(&items[0].candidate, CaptionTokenizer::Plain),
        tokenize(&items[0].candidate, CaptionTokenizer::Ptb)
    );
    let run = |tok: &str| {
        let o = score(
            d.path(),
            &[
                input.to_str().unwrap(),
                "--metrics",
                "bleu,rouge_l,cider_d",
                "--tokenizer",
                tok,
                "--json",
            ],
            &[],
        );
        assert!(o.status.success(), "{}", common::stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let plain = run("plain");
    let ptb = run("ptb");
    for (v, tok) in [
        (&plain, CaptionTokenizer::Plain),
        (&ptb, CaptionTokenizer::Ptb),
    ] {
        let lib = score_captions(&items, tok);
        for (k, want) in &lib.corpus {
            let got = v["corpus"][k].as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-12,
                "{tok:?} corpus {k}: {got} vs {want}"
            );
        }
        for (i, it) in lib.items.iter().enumerate() {
            for (k, want) in &it.scores {
                let got = v["items"][i][k].as_f64().unwrap();
                assert!((got - want).abs() < 1e-12, "{tok:?} {} {k}", it.id);
            }
        }
    }
    assert_ne!(plain["corpus"]["bleu_4"], ptb["corpus"]["bleu_4"]);
    assert_ne!(plain["items"][0]["cider_d"], ptb["items"][0]["cider_d"]);
}

/// A variable naming a jar that is not there is an error naming the variable and the path, not
/// "unavailable".
#[test]
fn a_variable_naming_a_missing_jar_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let input = one_item(d.path());
    for (metric, var, jar) in [
        ("meteor", "ACDC_METEOR_JAR", "/nonexistent/meteor-1.5.jar"),
        ("spice", "ACDC_SPICE_JAR", "/nonexistent/spice-1.0.jar"),
        ("spider", "ACDC_SPICE_JAR", "/nonexistent/spice-1.0.jar"),
    ] {
        let o = score(
            d.path(),
            &[input.to_str().unwrap(), "--metrics", metric, "--json"],
            &[(var, OsStr::new(jar))],
        );
        let e = common::stderr(&o);
        assert!(
            !o.status.success()
                && e.contains(var)
                && e.contains(jar)
                && e.contains("does not exist"),
            "{metric}: {e}"
        );
    }
    // A variable for a metric not asked for is not looked at.
    let o = score(
        d.path(),
        &[input.to_str().unwrap(), "--metrics", "bleu"],
        &[("ACDC_METEOR_JAR", OsStr::new("/nonexistent/meteor-1.5.jar"))],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
}

/// A stand-in for `java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en -norm` (run in the jar's
/// folder): checks its arguments, then speaks METEOR's protocol. Each process it starts is a new
/// generation `g`; a hypothesis holding the number `n` gets the statistics `n g`, and `EVAL`
/// scores each item `n + g/10` (then their sum), so a score says which process scored the item.
/// A hypothesis holding `crash` kills the process, after an exception on stderr: the first time
/// with `fail` = "once", every time with "always".
fn meteor_stand_in(dir: &Path, fail: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let d = dir.display();
    let script = format!(
        r#"#!/bin/sh
[ "$*" = "-jar -Xmx2G meteor-1.5.jar - - -stdio -l en -norm" ] && [ -e meteor-1.5.jar ] || {{ echo "bad call: $*" >&2; exit 9; }}
g=$(( $(cat '{d}/{fail}.gen' 2>/dev/null || echo 0) + 1 )); echo $g > '{d}/{fail}.gen'
while IFS= read -r line; do
  case "$line" in
    EVAL*) printf '%s
' "$line" | awk -F' [|][|][|] '              '{{ s = 0; for (i = 2; i <= NF; i++) {{ split($i, a, " "); v = a[1] + a[2] / 10; print v; s += v }}; print s }}' ;;
    *crash*) if [ '{fail}' = always ] || [ ! -e '{d}/{fail}.crashed' ]; then
               touch '{d}/{fail}.crashed'
               echo "Exception in thread "main" java.lang.IllegalStateException: boom" >&2
               exit 3
             fi
             echo "$(printf '%s' "${{line##*||| }}" | tr -cd '0-9') $g" ;;
    *) echo "$(printf '%s' "${{line##*||| }}" | tr -cd '0-9') $g" ;;
  esac
done
"#
    );
    let p = dir.join(format!("java-meteor-{fail}.sh"));
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// METEOR through `ACDC_JAVA`: a process that dies mid-stream is restarted and the items scored
/// before keep their scores; one that dies every time is an error naming the item, with the
/// process's last words.
#[test]
fn meteor_survives_a_crash_mid_stream_and_names_the_item_otherwise() {
    let d = tempfile::tempdir().unwrap();
    let input = common::write(
        d.path(),
        "in.json",
        r#"[{"id": "a", "candidate": "Dog 1.", "references": ["A dog barks."]},
            {"id": "b", "candidate": "Crash 2!", "references": ["A crash."]},
            {"id": "c", "candidate": "Rain 3", "references": ["Rain falls."]}]"#,
    );
    let jar = common::write(d.path(), "meteor-1.5.jar", "");
    let run = |fail: &str| {
        let java = meteor_stand_in(d.path(), fail);
        score(
            d.path(),
            &[input.to_str().unwrap(), "--metrics", "meteor", "--json"],
            &[
                ("ACDC_METEOR_JAR", jar.as_os_str()),
                ("ACDC_JAVA", java.as_os_str()),
            ],
        )
    };
    let o = run("once");
    assert!(o.status.success(), "{}", common::stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Item a was scored by the first process (1.1), b and c by the restarted one.
    let per: Vec<f64> = (0..3)
        .map(|i| v["items"][i]["meteor"].as_f64().unwrap())
        .collect();
    assert_eq!(per, vec![1.1, 2.2, 3.2], "{v}");
    assert!(
        (v["corpus"]["meteor"].as_f64().unwrap() - 6.5).abs() < 1e-9,
        "{v}"
    );
    assert!(v["unavailable"].as_array().unwrap().is_empty(), "{v}");

    let o = run("always");
    let e = common::stderr(&o);
    assert!(
        !o.status.success()
            && e.contains("meteor-1.5.jar")
            && e.contains("item `b`")
            && e.contains("IllegalStateException: boom"),
        "{e}"
    );
}

fn one_item(dir: &std::path::Path) -> std::path::PathBuf {
    common::write(
        dir,
        "ok.json",
        r#"[{"id": "a", "candidate": "a dog", "references": ["a dog barks"]}]"#,
    )
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
    // An item with no references, and a file that is not UTF-8, are named.
    let norefs = common::write(
        d.path(),
        "norefs.json",
        r#"[{"id": "q", "candidate": "x", "references": []}]"#,
    );
    let o = common::acdc(d.path(), d.path(), &["score", norefs.to_str().unwrap()]);
    let e = common::stderr(&o);
    assert!(
        !o.status.success()
            && e.contains("norefs.json")
            && e.contains("`q`")
            && e.contains("no references"),
        "{e}"
    );
    let latin1 = d.path().join("latin1.json");
    std::fs::write(
        &latin1,
        b"[{\"id\": \"caf\xe9\", \"candidate\": \"x\", \"references\": [\"y\"]}]",
    )
    .unwrap();
    let o = common::acdc(d.path(), d.path(), &["score", latin1.to_str().unwrap()]);
    let e = common::stderr(&o);
    assert!(
        !o.status.success() && e.contains("latin1.json") && e.contains("UTF-8"),
        "{e}"
    );
    // A jar but no java: the message says so.
    let jar = common::write(d.path(), "meteor-1.5.jar", "");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_acdc"))
        .args([
            "score",
            one_item(d.path()).to_str().unwrap(),
            "--metrics",
            "meteor",
        ])
        .env("ACDC_HOME", d.path())
        .env("ACDC_METEOR_JAR", &jar)
        .env("ACDC_JAVA", d.path().join("no-such-java"))
        .output()
        .unwrap();
    let e = common::stderr(&o);
    assert!(
        !o.status.success() && e.contains("meteor-1.5.jar") && e.contains("Java runtime"),
        "{e}"
    );
}

/// A stand-in for `java -jar spice-1.0.jar IN -cache DIR -out OUT -subset -silent`: checks the
/// arguments, copies the input for the test to read, and scores item i as 0.2 (even) or 0.4
/// (odd). With `fail` = "once" it fails on its first run, with "always" on every run.
fn spice_stand_in(dir: &std::path::Path, fail: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = format!(
        r#"#!/bin/sh
[ "$1" = "-jar" ] && [ "$2" = "-Xmx8G" ] || exit 9
in="$4"; out=""
while [ $# -gt 0 ]; do [ "$1" = "-out" ] && out="$2"; shift; done
cp "$in" '{dir}/seen-input.json'
if [ '{fail}' = always ] || {{ [ '{fail}' = once ] && [ ! -e '{dir}/failed' ]; }}; then
  touch '{dir}/failed'; echo "Exception in thread main: boom" >&2; exit 1
fi
n=$(grep -o '"image_id"' "$in" | wc -l)
i=0; sep=""; printf '[' > "$out"
while [ $i -lt $n ]; do
  if [ $((i % 2)) = 0 ]; then f=0.2; else f=0.4; fi
  printf '%s{{"image_id": %d, "scores": {{"All": {{"f": %s, "pr": 0.1, "re": 0.1}}}}}}' "$sep" $i $f >> "$out"
  sep=","; i=$((i + 1))
done
printf ']' >> "$out"
"#,
        dir = dir.display()
    );
    let p = dir.join(format!("java-{fail}.sh"));
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn spice_and_spider_through_the_jar() {
    let d = tempfile::tempdir().unwrap();
    let input = common::write(
        d.path(),
        "in.json",
        r#"[{"id": "a", "candidate": "A dog barks!", "references": ["A dog is barking.", "Dog barks loudly."]},
            {"id": "b", "candidate": "rain falls", "references": ["Rain falls on a roof."]},
            {"id": "c", "candidate": "a bell", "references": ["A bell rings."]}]"#,
    );
    let jar = common::write(d.path(), "spice-1.0.jar", "");
    let run = |java: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_acdc"))
            .args([
                "score",
                input.to_str().unwrap(),
                "--metrics",
                "cider_d,spice,spider",
                "--json",
            ])
            .env("ACDC_HOME", d.path())
            .env("ACDC_JAVA", java)
            .env("ACDC_SPICE_JAR", &jar)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    // Fails once: run again, scored.
    let o = run(&spice_stand_in(d.path(), "once"));
    assert!(o.status.success(), "{}", common::stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let spice = v["corpus"]["spice"].as_f64().unwrap();
    assert!((spice - (0.2 + 0.4 + 0.2) / 3.0).abs() < 1e-12, "{v}");
    let cider = v["corpus"]["cider_d"].as_f64().unwrap();
    assert!((v["corpus"]["spider"].as_f64().unwrap() - (cider + spice) / 2.0).abs() < 1e-12);
    assert_eq!(v["items"][1]["spice"], 0.4);
    let c1 = v["items"][1]["cider_d"].as_f64().unwrap();
    assert!((v["items"][1]["spider"].as_f64().unwrap() - (c1 + 0.4) / 2.0).abs() < 1e-12);
    assert!(v["unavailable"].as_array().unwrap().is_empty(), "{v}");
    // The jar saw PTB-tokenized text, as pycocoevalcap gives it.
    let seen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("seen-input.json")).unwrap())
            .unwrap();
    assert_eq!(seen[0]["test"], "a dog barks");
    assert_eq!(seen[0]["refs"][0], "a dog is barking");
    // Fails every time: the error names the jar and the items, with the jar's last words.
    let o = run(&spice_stand_in(d.path(), "always"));
    assert!(!o.status.success());
    let e = common::stderr(&o);
    assert!(
        e.contains("spice-1.0.jar") && e.contains("items `a` … `c`") && e.contains("boom"),
        "{e}"
    );
    // No jar: unavailable, never approximated.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_acdc"))
        .args([
            "score",
            input.to_str().unwrap(),
            "--metrics",
            "spice,spider",
            "--json",
        ])
        .env("ACDC_HOME", d.path())
        .env_remove("ACDC_SPICE_JAR")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["unavailable"], serde_json::json!(["spice", "spider"]));
    assert!(v["corpus"].get("spice").is_none());
}

/// SPICE with a jar but no java: the message says so, names the jar, and is given at once (a java
/// that cannot start is not tried again).
#[test]
fn spice_without_java_says_so() {
    let d = tempfile::tempdir().unwrap();
    let jar = common::write(d.path(), "spice-1.0.jar", "");
    let java = d.path().join("no-such-java");
    let o = score(
        d.path(),
        &[one_item(d.path()).to_str().unwrap(), "--metrics", "spice"],
        &[
            ("ACDC_SPICE_JAR", jar.as_os_str()),
            ("ACDC_JAVA", java.as_os_str()),
        ],
    );
    let e = common::stderr(&o);
    assert!(
        !o.status.success()
            && e.contains("spice-1.0.jar")
            && e.contains("no-such-java")
            && e.contains("Java runtime")
            && !e.contains("first try"),
        "{e}"
    );
}

/// `--spice-jar` / `--meteor-jar` name the jars on the command line (over the environment); a
/// flag naming a missing file is an error naming the flag and the path.
#[test]
fn jars_from_flags() {
    let d = tempfile::tempdir().unwrap();
    let input = common::write(
        d.path(),
        "in.json",
        r#"[{"id": "a", "candidate": "A dog barks!", "references": ["A dog is barking."]},
            {"id": "b", "candidate": "rain falls", "references": ["Rain falls on a roof."]}]"#,
    );
    let jar = common::write(d.path(), "spice-1.0.jar", "");
    let java = spice_stand_in(d.path(), "never");
    let o = score(
        d.path(),
        &[
            input.to_str().unwrap(),
            "--metrics",
            "spice",
            "--spice-jar",
            jar.to_str().unwrap(),
            "--json",
        ],
        &[("ACDC_JAVA", java.as_os_str())],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        (v["corpus"]["spice"].as_f64().unwrap() - 0.3).abs() < 1e-9,
        "{v}"
    );
    assert!(
        v.get("unavailable")
            .is_none_or(|u| u.as_array().unwrap().is_empty()),
        "{v}"
    );
    for (flag, metric) in [("--meteor-jar", "meteor"), ("--spice-jar", "spice")] {
        let missing = d.path().join("nowhere.jar");
        let o = score(
            d.path(),
            &[
                input.to_str().unwrap(),
                "--metrics",
                metric,
                flag,
                missing.to_str().unwrap(),
            ],
            &[],
        );
        let err = common::stderr(&o);
        assert!(!o.status.success());
        assert!(
            err.contains(flag) && err.contains("nowhere.jar") && err.contains("no such file"),
            "{err}"
        );
    }
}
