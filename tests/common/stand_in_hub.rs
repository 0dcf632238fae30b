//! A local stand-in for the Hugging Face Hub on 127.0.0.1, speaking the part of its HTTP API that
//! clients download through: the revision API (`GET /api/{models|datasets}/ID/revision/REV` →
//! `{id, sha, siblings: [{rfilename}]}`) and `resolve` (`GET`/`HEAD
//! /[datasets/]ID/resolve/REV/FILE` with `ETag`, `X-Repo-Commit`, `Accept-Ranges` and `Range` →
//! `206` + `Content-Range`). Repositories may be gated (a bearer token is required: `401`
//! otherwise, as the hub answers). Every request is recorded, and a file's body can be made to
//! stall part-way once, so a test can kill the client in the middle of a download.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// One repository the stand-in serves (its `main` revision).
#[derive(Clone)]
pub struct HubRepo {
    /// `"models"` or `"datasets"`.
    pub kind: &'static str,
    pub id: String,
    pub commit: String,
    pub files: BTreeMap<String, Vec<u8>>,
    /// A gated repository: only requests with `Authorization: Bearer <token>` get through.
    pub token: Option<String>,
}

impl HubRepo {
    pub fn new(kind: &'static str, id: &str) -> Self {
        let commit = hex(&Sha256::digest(format!("{kind}/{id}").as_bytes()))[..40].to_string();
        HubRepo {
            kind,
            id: id.into(),
            commit,
            files: BTreeMap::new(),
            token: None,
        }
    }

    pub fn file(mut self, name: &str, bytes: Vec<u8>) -> Self {
        self.files.insert(name.into(), bytes);
        self
    }

    /// Every file of a local folder (not recursive) under the same names.
    pub fn folder(mut self, dir: &std::path::Path) -> Self {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                self.files.insert(name, std::fs::read(&p).unwrap());
            }
        }
        self
    }

    pub fn gated(mut self, token: &str) -> Self {
        self.token = Some(token.into());
        self
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The ETag the stand-in gives a file: the SHA-256 of its bytes (what the hub gives LFS files).
pub fn etag(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A request the stand-in received.
#[derive(Debug, Clone)]
pub struct HubRequest {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
}

/// A body that stops after `after` bytes (the first time only) until `release` is set.
struct Stall {
    file: String,
    after: usize,
    used: bool,
}

pub struct StandInHub {
    pub url: String,
    pub requests: Arc<Mutex<Vec<HubRequest>>>,
    stall: Arc<Mutex<Option<Stall>>>,
    release: Arc<AtomicBool>,
}

impl StandInHub {
    pub fn start(repos: Vec<HubRepo>) -> StandInHub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stall: Arc<Mutex<Option<Stall>>> = Arc::new(Mutex::new(None));
        let release = Arc::new(AtomicBool::new(false));
        let repos = Arc::new(repos);
        let (r, s, rel) = (requests.clone(), stall.clone(), release.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (repos, r, s, rel) = (repos.clone(), r.clone(), s.clone(), rel.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &repos, &r, &s, &rel);
                });
            }
        });
        StandInHub {
            url,
            requests,
            stall,
            release,
        }
    }

    /// The next full download of `file` (a GET not asking for bytes 0-0) sends `after` bytes of
    /// its body, then holds the connection open without sending more until [`Self::release`].
    pub fn stall_once(&self, file: &str, after: usize) {
        *self.stall.lock().unwrap() = Some(Stall {
            file: file.into(),
            after,
            used: false,
        });
    }

    pub fn release(&self) {
        self.release.store(true, Ordering::SeqCst);
    }

    pub fn seen(&self) -> Vec<HubRequest> {
        self.requests.lock().unwrap().clone()
    }

    pub fn forget(&self) {
        self.requests.lock().unwrap().clear();
    }
}

fn respond(
    out: &mut TcpStream,
    status: &str,
    headers: &[(String, String)],
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let mut text = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    out.write_all(text.as_bytes())?;
    if !head_only {
        out.write_all(body)?;
    }
    out.flush()
}

fn error(out: &mut TcpStream, status: &str, code: &str, head_only: bool) -> std::io::Result<()> {
    let body = format!("{{\"error\": \"{code}\"}}");
    respond(
        out,
        status,
        &[
            ("X-Error-Code".into(), code.into()),
            ("Content-Type".into(), "application/json".into()),
        ],
        body.as_bytes(),
        head_only,
    )
}

/// `bytes=a-b` or `bytes=a-` over a body of `len` bytes: the inclusive range.
fn parse_range(range: &str, len: usize) -> Option<(usize, usize)> {
    let spec = range.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let a: usize = a.parse().ok()?;
    let b: usize = if b.is_empty() {
        len.checked_sub(1)?
    } else {
        b.parse::<usize>().ok()?.min(len.checked_sub(1)?)
    };
    (a <= b).then_some((a, b))
}

fn serve(
    conn: TcpStream,
    repos: &[HubRepo],
    requests: &Mutex<Vec<HubRequest>>,
    stall: &Mutex<Option<Stall>>,
    release: &AtomicBool,
) -> std::io::Result<()> {
    let mut out = conn.try_clone()?;
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let (mut range, mut authorization) = (None, None);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "range" => range = Some(v.trim().to_string()),
                "authorization" => authorization = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let path = target.split('?').next().unwrap_or("").to_string();
    requests.lock().unwrap().push(HubRequest {
        method: method.clone(),
        path: path.clone(),
        range: range.clone(),
        authorization: authorization.clone(),
    });
    let head_only = method == "HEAD";
    let allowed = |repo: &HubRepo| match &repo.token {
        None => true,
        Some(t) => authorization.as_deref() == Some(&format!("Bearer {t}")),
    };
    // The revision API.
    if let Some(rest) = path.strip_prefix("/api/") {
        let Some((kind, rest)) = rest.split_once('/') else {
            return error(&mut out, "404 Not Found", "RepoNotFound", head_only);
        };
        let Some((id, _rev)) = rest.rsplit_once("/revision/") else {
            return error(&mut out, "404 Not Found", "RepoNotFound", head_only);
        };
        let Some(repo) = repos.iter().find(|r| r.kind == kind && r.id == id) else {
            return error(&mut out, "404 Not Found", "RepoNotFound", head_only);
        };
        if !allowed(repo) {
            return error(&mut out, "401 Unauthorized", "GatedRepo", head_only);
        }
        let body = serde_json::json!({
            "id": repo.id,
            "sha": repo.commit,
            "siblings": repo.files.keys().map(|f| serde_json::json!({"rfilename": f})).collect::<Vec<_>>(),
        })
        .to_string();
        return respond(
            &mut out,
            "200 OK",
            &[("Content-Type".into(), "application/json".into())],
            body.as_bytes(),
            head_only,
        );
    }
    // resolve: /ID/resolve/REV/FILE or /datasets/ID/resolve/REV/FILE
    let (kind, rest) = match path.strip_prefix("/datasets/") {
        Some(rest) => ("datasets", rest),
        None => ("models", path.trim_start_matches('/')),
    };
    let Some((id, after)) = rest.split_once("/resolve/") else {
        return error(&mut out, "404 Not Found", "RepoNotFound", head_only);
    };
    let Some(repo) = repos.iter().find(|r| r.kind == kind && r.id == id) else {
        return error(&mut out, "404 Not Found", "RepoNotFound", head_only);
    };
    if !allowed(repo) {
        return error(&mut out, "401 Unauthorized", "GatedRepo", head_only);
    }
    let file = after.split_once('/').map(|(_, f)| f).unwrap_or("");
    let Some(bytes) = repo.files.get(file) else {
        return error(&mut out, "404 Not Found", "EntryNotFound", head_only);
    };
    let mut headers = vec![
        ("ETag".to_string(), format!("\"{}\"", etag(bytes))),
        ("X-Repo-Commit".to_string(), repo.commit.clone()),
        ("Accept-Ranges".to_string(), "bytes".to_string()),
    ];
    let (status, body) = match range.as_deref() {
        Some(r) => match parse_range(r, bytes.len()) {
            Some((a, b)) => {
                headers.push((
                    "Content-Range".into(),
                    format!("bytes {a}-{b}/{}", bytes.len()),
                ));
                ("206 Partial Content", &bytes[a..=b])
            }
            None => {
                headers.push(("Content-Range".into(), format!("bytes */{}", bytes.len())));
                return respond(
                    &mut out,
                    "416 Range Not Satisfiable",
                    &headers,
                    b"",
                    head_only,
                );
            }
        },
        None => ("200 OK", &bytes[..]),
    };
    // A stalled download: the headers and the first bytes, then nothing until released.
    let stall_after = {
        let mut s = stall.lock().unwrap();
        match s.as_mut() {
            Some(st) if !st.used && st.file == file && range.as_deref() != Some("bytes=0-0") => {
                st.used = true;
                Some(st.after.min(body.len()))
            }
            _ => None,
        }
    };
    if let (Some(n), false) = (stall_after, head_only) {
        let mut text = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
        for (k, v) in &headers {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        out.write_all(text.as_bytes())?;
        out.write_all(&body[..n])?;
        out.flush()?;
        while !release.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
        return Ok(());
    }
    respond(&mut out, status, &headers, body, head_only)
}
