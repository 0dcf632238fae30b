//! Models and datasets from the Hugging Face Hub, through hf-hub, into the cache Python's
//! `huggingface_hub` uses (so both tools share one copy): `<cache>/models--owner--name/` (or
//! `datasets--…`) with `blobs/<etag>`, `snapshots/<commit>/<file>` links to them and
//! `refs/main`. The environment decides as it does for Python:
//! - `HF_HUB_CACHE`, else `HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
//!   `~/.cache/huggingface/hub`: the cache;
//! - `HF_ENDPOINT` (default `https://huggingface.co`): the hub (a mirror, or a local stand-in);
//! - `HF_TOKEN`, else the token file (`HF_TOKEN_PATH`, else `HF_HOME/token`, else
//!   `~/.cache/huggingface/token`): the credentials, sent as a bearer token to the endpoint and
//!   never written anywhere — [`Secret`] has no `Display` and its `Debug` hides it;
//! - `HF_HUB_OFFLINE=1`: the network is never touched; what is not cached is an error naming the
//!   repo.
//!
//! A file is downloaded once, under an OS lock per file (several workers may ask at once), to
//! `blobs/<etag>.part` first: a download that is interrupted (network, Ctrl-C, `kill -9`) goes
//! on from where it stopped the next time (an HTTP `Range` request), and a blob appears only
//! whole. Progress bars are drawn on a terminal.
//!
//! A leaf module (it uses only [`crate::once`]).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo, RepoType};

/// What kind of repository an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoKind {
    Model,
    Dataset,
}

impl RepoKind {
    fn word(self) -> &'static str {
        match self {
            RepoKind::Model => "model",
            RepoKind::Dataset => "dataset",
        }
    }

    fn folder_prefix(self) -> &'static str {
        match self {
            RepoKind::Model => "models",
            RepoKind::Dataset => "datasets",
        }
    }

    fn repo_type(self) -> RepoType {
        match self {
            RepoKind::Model => RepoType::Model,
            RepoKind::Dataset => RepoType::Dataset,
        }
    }
}

/// A credential: kept out of every message, log and file (no `Display`; `Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("{kind} `{id}`: HF_HUB_OFFLINE is set and it is not in the Hugging Face cache at {} (fetch it once with the network on, or unset HF_HUB_OFFLINE)", cache.display())]
    Offline {
        kind: &'static str,
        id: String,
        cache: PathBuf,
    },
    #[error("{kind} `{id}`: not found on {endpoint} (no such repository, or a private one: set HF_TOKEN)")]
    NotFound {
        kind: &'static str,
        id: String,
        endpoint: String,
    },
    #[error("{kind} `{id}`: {endpoint} refused access (HTTP {status}): the repository is gated or private, and {credentials}")]
    Denied {
        kind: &'static str,
        id: String,
        endpoint: String,
        status: u16,
        credentials: String,
    },
    #[error("{kind} `{id}`: {message}")]
    Transfer {
        kind: &'static str,
        id: String,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
}

impl From<crate::once::LockError> for HubError {
    fn from(e: crate::once::LockError) -> Self {
        HubError::Io {
            path: e.path,
            message: format!("lock file for {}: {}", e.what, e.message),
        }
    }
}

/// The hub as the environment configures it.
#[derive(Debug, Clone)]
pub struct Hub {
    pub cache: PathBuf,
    pub endpoint: String,
    pub offline: bool,
    token: Option<Secret>,
    token_path: PathBuf,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `~/.cache/huggingface` (or `$XDG_CACHE_HOME/huggingface`), the default `HF_HOME`.
fn default_hf_home() -> PathBuf {
    let cache = env("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    cache
        .unwrap_or_else(|| PathBuf::from(".cache"))
        .join("huggingface")
}

/// Python's reading of a boolean variable (`1`, `ON`, `YES`, `TRUE`, any case).
fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_uppercase().as_str(),
        "1" | "ON" | "YES" | "TRUE"
    )
}

impl Hub {
    /// The hub, cache, credentials and offline mode the environment says (see the module docs).
    pub fn from_env() -> Hub {
        let hf_home = env("HF_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(default_hf_home);
        let cache = env("HF_HUB_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| hf_home.join("hub"));
        let token_path = env("HF_TOKEN_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| hf_home.join("token"));
        let token = env("HF_TOKEN")
            .or_else(|| {
                std::fs::read_to_string(&token_path)
                    .ok()
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
            })
            .map(|t| Secret(t.trim().to_string()));
        Hub {
            cache,
            endpoint: env("HF_ENDPOINT")
                .map(|e| e.trim().trim_end_matches('/').to_string())
                .unwrap_or_else(|| "https://huggingface.co".into()),
            offline: env("HF_HUB_OFFLINE").is_some_and(|v| truthy(&v)),
            token,
            token_path,
        }
    }

    /// The cache folder of a repository (`models--owner--name`).
    pub fn repo_dir(&self, kind: RepoKind, id: &str) -> PathBuf {
        self.cache.join(format!(
            "{}--{}",
            kind.folder_prefix(),
            id.replace('/', "--")
        ))
    }

    /// The cached snapshot `refs/main` points to, if that folder exists.
    pub fn cached_snapshot(&self, kind: RepoKind, id: &str) -> Option<PathBuf> {
        let repo = self.repo_dir(kind, id);
        let commit = std::fs::read_to_string(repo.join("refs").join("main")).ok()?;
        let dir = repo.join("snapshots").join(commit.trim());
        dir.is_dir().then_some(dir)
    }

    /// The local folder of repository `id`'s `main` revision with every file `wanted` accepts:
    /// the cached snapshot when it is complete (no transfer), else the missing files downloaded
    /// (resuming partial ones). Offline, or when the hub cannot be reached at all, a cached
    /// snapshot is used as it is and its absence is the error.
    pub fn snapshot(
        &self,
        kind: RepoKind,
        id: &str,
        wanted: &dyn Fn(&str) -> bool,
    ) -> Result<PathBuf, HubError> {
        if self.offline {
            return self
                .cached_snapshot(kind, id)
                .ok_or_else(|| HubError::Offline {
                    kind: kind.word(),
                    id: id.into(),
                    cache: self.repo_dir(kind, id),
                });
        }
        let api = ApiBuilder::from_cache(Cache::new(self.cache.clone()))
            .with_endpoint(self.endpoint.clone())
            .with_token(self.token.as_ref().map(|t| t.0.clone()))
            .with_progress(std::io::stderr().is_terminal())
            .with_retries(3)
            .build()
            .map_err(|e| self.transfer(kind, id, e.to_string()))?;
        let repo = api.repo(Repo::with_revision(
            id.to_string(),
            kind.repo_type(),
            "main".into(),
        ));
        let info = match repo.info() {
            Ok(info) => info,
            Err(e) => {
                let err = self.api_error(kind, id, e);
                // Unreachable hub (not a refusal): a complete earlier download still serves.
                if let (HubError::Transfer { .. }, Some(dir)) =
                    (&err, self.cached_snapshot(kind, id))
                {
                    tracing::warn!("{err}; using the cached snapshot {}", dir.display());
                    return Ok(dir);
                }
                return Err(err);
            }
        };
        let repo_dir = self.repo_dir(kind, id);
        let snapshot = repo_dir.join("snapshots").join(&info.sha);
        let files: Vec<&str> = info
            .siblings
            .iter()
            .map(|s| s.rfilename.as_str())
            .filter(|f| wanted(f))
            .collect();
        if files.is_empty() {
            return Err(self.transfer(
                kind,
                id,
                format!(
                    "the repository lists no file acdc reads (of {} file(s))",
                    info.siblings.len()
                ),
            ));
        }
        let locks = self
            .cache
            .join(".locks")
            .join(repo_dir.file_name().expect("a repo folder name"));
        for file in files {
            let pointer = snapshot.join(file);
            let lock = locks.join(format!("{}.acdc-lock", file.replace('/', "--")));
            let what = format!("{} `{id}`'s file {file}", kind.word());
            crate::once::build_once(&what, &pointer, &lock, || -> Result<(), HubError> {
                let got = repo
                    .download(file)
                    .map_err(|e| self.api_error(kind, id, e))?;
                if got != pointer {
                    return Err(self.transfer(
                        kind,
                        id,
                        format!(
                            "{file} came from another commit ({}) than the revision asked ({}): the repository changed meanwhile; run again",
                            got.parent()
                                .and_then(Path::file_name)
                                .map(|c| c.to_string_lossy().to_string())
                                .unwrap_or_default(),
                            info.sha
                        ),
                    ));
                }
                // hf-hub leaves its lock (`blobs/<etag>.lock`) among the blobs, where Python's
                // cache has only blobs; ours (held now) is what serialises downloads.
                if let Ok(target) = std::fs::read_link(&pointer) {
                    let blob = pointer.parent().unwrap_or(&snapshot).join(target);
                    let _ = std::fs::remove_file(blob.with_extension("lock"));
                }
                Ok(())
            })?;
        }
        write_ref(&repo_dir, &info.sha)?;
        Ok(snapshot)
    }

    fn transfer(&self, kind: RepoKind, id: &str, message: String) -> HubError {
        HubError::Transfer {
            kind: kind.word(),
            id: id.into(),
            message,
        }
    }

    /// hf-hub's error as one of ours: a refusal or a missing repository by its status, anything
    /// else as the transfer's message (URLs and statuses; hf-hub's errors carry no headers).
    fn api_error(&self, kind: RepoKind, id: &str, e: hf_hub::api::sync::ApiError) -> HubError {
        use hf_hub::api::sync::ApiError;
        if let ApiError::RequestError(req) = &e {
            if let ureq2::Error::Status(status, _) = req.as_ref() {
                return match status {
                    401 | 403 => HubError::Denied {
                        kind: kind.word(),
                        id: id.into(),
                        endpoint: self.endpoint.clone(),
                        status: *status,
                        credentials: if self.token.is_some() {
                            "the token given (HF_TOKEN or the token file) does not grant it".into()
                        } else {
                            format!(
                                "no token is set: set HF_TOKEN or write one to {}",
                                self.token_path.display()
                            )
                        },
                    },
                    404 => HubError::NotFound {
                        kind: kind.word(),
                        id: id.into(),
                        endpoint: self.endpoint.clone(),
                    },
                    _ => self.transfer(
                        kind,
                        id,
                        format!("{} answered HTTP {status}", self.endpoint),
                    ),
                };
            }
        }
        self.transfer(
            kind,
            id,
            format!("{e} (run again to resume an interrupted download)"),
        )
    }
}

/// Point `refs/main` at `commit`, through a temporary file and a rename.
fn write_ref(repo_dir: &Path, commit: &str) -> Result<(), HubError> {
    let refs = repo_dir.join("refs");
    let io = |path: &Path, e: std::io::Error| HubError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(&refs).map_err(|e| io(&refs, e))?;
    let main = refs.join("main");
    if std::fs::read_to_string(&main).is_ok_and(|c| c.trim() == commit) {
        return Ok(());
    }
    let tmp = refs.join(format!(".main.tmp{}", std::process::id()));
    std::fs::write(&tmp, commit).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, &main).map_err(|e| io(&main, e))
}

/// Whether `s` can name a Hub repository (`name` or `owner/name`: letters, digits, `-`, `_`,
/// `.`; not a path such as `/x`, `./x` or `a/b/c`).
pub fn is_repo_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    !s.is_empty()
        && parts.len() <= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 96
                && !p.starts_with('.')
                && !p.contains("..")
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

/// The files of a model repository acdc reads: its top-level configs, tokenizer, chat template
/// and safetensors weights — not PyTorch/TF/Flax/ONNX/GGUF copies, nor subfolders (Llama-3's
/// `original/` holds a second 16 GB copy of the weights).
pub fn model_file(name: &str) -> bool {
    !name.contains('/')
        && [".json", ".safetensors", ".jinja", ".model", ".txt"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// The files of a dataset repository: all but git's own (`.gitattributes`) and other dotfiles.
pub fn dataset_file(name: &str) -> bool {
    !name.split('/').any(|part| part.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids_and_paths() {
        for id in [
            "gpt2",
            "meta-llama/Meta-Llama-3-8B-Instruct",
            "AudioLLMs/clotho_aqa_test",
            "a.b/c_d",
        ] {
            assert!(is_repo_id(id), "{id}");
        }
        for p in [
            "",
            "/abs/path",
            "./rel",
            "../up",
            "a/b/c",
            "a//b",
            "a/",
            "x y/z",
            ".hidden/x",
        ] {
            assert!(!is_repo_id(p), "{p}");
        }
    }

    #[test]
    fn model_files_leave_out_other_formats_and_subfolders() {
        for f in [
            "config.json",
            "model-00001-of-00004.safetensors",
            "tokenizer.json",
            "chat_template.jinja",
            "tokenizer.model",
            "model.safetensors.index.json",
        ] {
            assert!(model_file(f), "{f}");
        }
        for f in [
            "pytorch_model.bin",
            "original/consolidated.00.pth",
            "original/params.json",
            "model.onnx",
            ".gitattributes",
            "flax_model.msgpack",
        ] {
            assert!(!model_file(f), "{f}");
        }
        assert!(dataset_file("data/test-00000-of-00001.parquet"));
        assert!(!dataset_file(".gitattributes"));
    }

    #[test]
    fn the_token_never_prints() {
        let s = Secret("hf_abcdef123".into());
        assert!(!format!("{s:?}").contains("abcdef"));
        let hub = Hub {
            cache: PathBuf::from("/c"),
            endpoint: "http://127.0.0.1:1".into(),
            offline: false,
            token: Some(s),
            token_path: PathBuf::from("/t"),
        };
        assert!(!format!("{hub:?}").contains("abcdef"));
    }

    #[test]
    fn python_reads_booleans_so() {
        for v in ["1", "true", "YES", "On"] {
            assert!(truthy(v), "{v}");
        }
        for v in ["0", "false", "", "no"] {
            assert!(!truthy(v), "{v}");
        }
    }
}
