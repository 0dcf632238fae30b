//! Models and datasets from the Hugging Face Hub (issue 15, item 4), against the local stand-in
//! hub of `common/stand_in_hub.rs` on 127.0.0.1 (`HF_ENDPOINT`), never the real one:
//! - a model id downloads into the cache layout Python uses, only the files acdc reads, and gives
//!   the same logits as the model's directory; it is then reused without a transfer, also with
//!   `HF_HUB_OFFLINE=1`, which never touches the network and names an id it lacks;
//! - a download killed part-way resumes where it stopped (an HTTP `Range` request);
//! - a gated encoder and an AudioBench-style dataset repository in a whole run: refused without a
//!   token (the error says how to give one), fetched with `HF_TOKEN` or the token file, and the
//!   token is nowhere in the output, the store, the run folders or the report.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::stand_in_hub::{etag, HubRepo, StandInHub};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// `acdc ARGS` with the Hugging Face variables of this test only: the cache under `hf_home`, the
/// stand-in as the endpoint, and `env` on top (inherited HF_* settings are removed).
fn acdc_hf(home: &Path, hf_home: &Path, endpoint: &str, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_acdc"));
    c.env("ACDC_HOME", home)
        .env_remove("RUST_LOG")
        .env("HF_HOME", hf_home)
        .env("HF_ENDPOINT", endpoint)
        .current_dir(home);
    for v in [
        "HF_HUB_CACHE",
        "HF_TOKEN",
        "HF_TOKEN_PATH",
        "HF_HUB_OFFLINE",
        "XDG_CACHE_HOME",
    ] {
        c.env_remove(v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn output(mut c: Command, args: &[&str]) -> Output {
    c.args(args).output().expect("acdc runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const QWEN_IDS: &str = "55,68,34,50,65,25,60,44,80";

/// `acdc lm logits` of the qwen2 fixture's first row, by `model`, into `out`.
fn logits_args<'a>(model: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "lm", "logits", "--model", model, "--ids", QWEN_IDS, "--out", out,
    ]
}

/// The qwen2 fixture as a hub repository, plus files acdc must not fetch.
fn qwen_repo(id: &str) -> HubRepo {
    let f = |n: &str| std::fs::read(fixture("hf/qwen2").join(n)).unwrap();
    HubRepo::new("models", id)
        .file("config.json", f("config.json"))
        .file("generation_config.json", f("generation_config.json"))
        .file("model.safetensors", f("model.safetensors"))
        .file("pytorch_model.bin", vec![0u8; 1000])
        .file("original/consolidated.00.pth", vec![0u8; 1000])
        .file(".gitattributes", b"*.safetensors filter=lfs\n".to_vec())
}

/// Logits of the fixture directory itself: what every hub download must reproduce.
fn reference_logits(dir: &Path) -> Vec<u8> {
    let out = dir.join("reference.npy");
    let model = fixture("hf/qwen2").display().to_string();
    let o = output(
        acdc_hf(dir, &dir.join("unused-hf"), "http://127.0.0.1:9", &[]),
        &logits_args(&model, out.to_str().unwrap()),
    );
    assert!(o.status.success(), "{}", text(&o));
    std::fs::read(out).unwrap()
}

#[test]
fn a_model_downloads_into_the_python_layout_then_serves_offline() {
    let d = tempfile::tempdir().unwrap();
    let id = "acdc-test/tiny-qwen2";
    let repo = qwen_repo(id);
    let commit = repo.commit.clone();
    let weights_tag = etag(&repo.files["model.safetensors"]);
    let hub = StandInHub::start(vec![repo]);
    let hf = d.path().join("hf");
    let want = reference_logits(d.path());

    let out = d.path().join("hub.npy");
    let o = output(
        acdc_hf(d.path(), &hf, &hub.url, &[]),
        &logits_args(id, out.to_str().unwrap()),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        want,
        "hub download ≠ directory"
    );

    // Python's layout: refs/main → the commit; snapshot files link to blobs named by ETag.
    let repo_dir = hf.join("hub/models--acdc-test--tiny-qwen2");
    assert_eq!(
        std::fs::read_to_string(repo_dir.join("refs/main")).unwrap(),
        commit
    );
    let link = repo_dir
        .join("snapshots")
        .join(&commit)
        .join("model.safetensors");
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        Path::new("../../blobs").join(&weights_tag)
    );
    assert_eq!(
        std::fs::read(repo_dir.join("blobs").join(&weights_tag)).unwrap(),
        std::fs::read(fixture("hf/qwen2/model.safetensors")).unwrap()
    );
    let leftovers: Vec<_> = std::fs::read_dir(repo_dir.join("blobs"))
        .unwrap()
        .flatten()
        .filter(|e| {
            !e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_hexdigit())
        })
        .map(|e| e.file_name())
        .collect();
    assert!(
        leftovers.is_empty(),
        "blobs left besides the files: {leftovers:?}"
    );
    // Only what acdc reads was fetched.
    let fetched: Vec<String> = hub
        .seen()
        .iter()
        .filter(|r| r.path.contains("/resolve/"))
        .map(|r| r.path.rsplit("/resolve/main/").next().unwrap().to_string())
        .collect();
    for f in [
        "pytorch_model.bin",
        "original/consolidated.00.pth",
        ".gitattributes",
    ] {
        assert!(!fetched.iter().any(|g| g == f), "fetched {f}: {fetched:?}");
    }
    assert!(fetched.iter().any(|g| g == "model.safetensors"));

    // Again: the revision is checked, nothing is transferred.
    hub.forget();
    let o = output(
        acdc_hf(d.path(), &hf, &hub.url, &[]),
        &logits_args(id, out.to_str().unwrap()),
    );
    assert!(o.status.success(), "{}", text(&o));
    let seen = hub.seen();
    assert!(
        seen.iter().all(|r| r.path.starts_with("/api/")),
        "a cached snapshot was downloaded again: {seen:?}"
    );

    // Offline: the cache serves, the network is never touched.
    hub.forget();
    let o = output(
        acdc_hf(d.path(), &hf, &hub.url, &[("HF_HUB_OFFLINE", "1")]),
        &logits_args(id, out.to_str().unwrap()),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(&out).unwrap(), want);
    // Offline with an id the cache lacks: an error naming it, still no request.
    let o = output(
        acdc_hf(
            d.path(),
            &d.path().join("hf-empty"),
            &hub.url,
            &[("HF_HUB_OFFLINE", "1")],
        ),
        &logits_args(id, out.to_str().unwrap()),
    );
    assert!(!o.status.success());
    let e = text(&o);
    assert!(e.contains(id) && e.contains("HF_HUB_OFFLINE"), "{e}");
    assert!(
        hub.seen().is_empty(),
        "offline mode made requests: {:?}",
        hub.seen()
    );

    // An id the hub does not have.
    let o = output(
        acdc_hf(d.path(), &hf, &hub.url, &[]),
        &logits_args("acdc-test/no-such-model", out.to_str().unwrap()),
    );
    assert!(!o.status.success());
    let e = text(&o);
    assert!(
        e.contains("acdc-test/no-such-model") && e.contains("not found"),
        "{e}"
    );
}

fn part_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "part"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_download_killed_part_way_resumes_where_it_stopped() {
    let d = tempfile::tempdir().unwrap();
    let id = "acdc-test/tiny-qwen2";
    let hub = StandInHub::start(vec![qwen_repo(id)]);
    let hf = d.path().join("hf");
    let want = reference_logits(d.path());
    let out = d.path().join("hub.npy");
    let cut = 40_000;
    hub.stall_once("model.safetensors", cut);
    let mut child = acdc_hf(d.path(), &hf, &hub.url, &[])
        .args(logits_args(id, out.to_str().unwrap()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let blobs = hf.join("hub/models--acdc-test--tiny-qwen2/blobs");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let parts = part_files(&blobs);
        if parts
            .iter()
            .any(|p| std::fs::metadata(p).is_ok_and(|m| m.len() == cut as u64))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the download never reached the stall"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "acdc ended during a stalled download"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    hub.release();
    assert_eq!(
        part_files(&blobs).len(),
        1,
        "the partial blob stays for the next run"
    );

    hub.forget();
    let o = output(
        acdc_hf(d.path(), &hf, &hub.url, &[]),
        &logits_args(id, out.to_str().unwrap()),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(&out).unwrap(), want);
    let resumed = hub.seen().into_iter().any(|r| {
        r.path.ends_with("/model.safetensors")
            && r.range.as_deref() == Some(&format!("bytes={cut}-"))
    });
    assert!(
        resumed,
        "no request resumed at byte {cut}: {:?}",
        hub.seen()
    );
    assert!(part_files(&blobs).is_empty());
}

/// Every file under `root` whose bytes contain `needle` (except `skip`).
fn files_containing(root: &Path, needle: &[u8], skip: &Path, found: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(root) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p == skip {
            continue;
        }
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.is_dir() {
            files_containing(&p, needle, skip, found);
        } else if meta.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(p);
            }
        }
    }
}

#[test]
fn a_gated_encoder_and_a_hub_dataset_in_a_run_keep_the_token_secret() {
    let d = tempfile::tempdir().unwrap();
    let secret = "hf_StandInSecret4d9e1b";
    let encoder = "acdc-test/tiny-eat-gated";
    let eat = |n: &str| std::fs::read(fixture("eat").join(n)).unwrap();
    let hub = StandInHub::start(vec![
        HubRepo::new("models", encoder)
            .file("config.json", eat("config.json"))
            .file("model.safetensors", eat("model.safetensors"))
            .gated(secret),
        HubRepo::new("datasets", "AudioLLMs/clotho_aqa_test").file(
            "data/test-00000-of-00001.parquet",
            std::fs::read(fixture("aqa/test-00000-of-00001.parquet")).unwrap(),
        ),
    ]);
    let home = d.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let hf = d.path().join("hf");
    let spec = common::write(
        &home,
        "hubrun.toml",
        &format!(
            r#"[experiment]
name = "hubrun"
{}
[runs.hub]
encoder.checkpoint = "{encoder}"
data.eval_aqa = [{{ dataset = "clotho_aqa", split = "test", max_items = 3 }}]
data.roots.clotho_aqa = "AudioLLMs/clotho_aqa_test"
"#,
            common::TINY_DEFAULTS
        ),
    );
    let run = |env: &[(&str, &str)]| {
        output(
            acdc_hf(&home, &hf, &hub.url, env),
            &["run", spec.to_str().unwrap()],
        )
    };

    // No token: the run fails and says how to give one.
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let store = acdc::store::Store::open(&home.join("acdc.db")).unwrap();
    let rid = common::run_id(&store, "hubrun", "hub");
    let row = store.run(&rid).unwrap();
    let why = format!("{:?} {}", row.error, text(&o));
    assert!(
        why.contains(encoder) && why.contains("HF_TOKEN") && why.contains("401"),
        "{why}"
    );
    drop(store);

    // HF_TOKEN (with everything logged that can be): the run completes, the report renders.
    let o = output(
        acdc_hf(
            &home,
            &hf,
            &hub.url,
            &[("HF_TOKEN", secret), ("RUST_LOG", "trace")],
        ),
        &["run", spec.to_str().unwrap(), "--retry-failed"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let mut logs = text(&o);
    assert!(hub
        .seen()
        .iter()
        .any(|r| r.authorization.as_deref() == Some(&format!("Bearer {secret}"))));
    let store = acdc::store::Store::open(&home.join("acdc.db")).unwrap();
    assert!(
        store
            .evals(&rid)
            .unwrap()
            .iter()
            .any(|s| s.task == "clotho_aqa_test/aqa"),
        "the hub dataset was not scored"
    );
    drop(store);

    // The token file instead: another seed, so the encoder is resolved again (its revision is
    // checked online, with the file's token).
    hub.forget();
    std::fs::write(hf.join("token"), format!("{secret}\n")).unwrap();
    let o = output(
        acdc_hf(&home, &hf, &hub.url, &[("RUST_LOG", "debug")]),
        &["run", spec.to_str().unwrap(), "--set", "seed=1"],
    );
    assert!(o.status.success(), "{}", text(&o));
    logs.push_str(&text(&o));
    assert!(hub
        .seen()
        .iter()
        .any(|r| r.authorization.as_deref() == Some(&format!("Bearer {secret}"))));

    assert!(!logs.contains(secret), "the token was printed");
    let mut found = Vec::new();
    for root in [&home, &hf] {
        files_containing(root, secret.as_bytes(), &hf.join("token"), &mut found);
    }
    assert!(found.is_empty(), "the token was written to {found:?}");
}
