//! Dataset names → items: where each dataset lives and how its splits are laid out.
//!
//! `synth` is generated on first use under `$ACDC_HOME/data/` (one copy per clips/seed/length,
//! shared by all runs and safe with several workers). Real datasets are found through
//! `data.roots.<name>` in the run configuration.

use std::path::{Path, PathBuf};

use super::items::{CaptionItem, DataError, QaItem};
use super::synth::{self, SynthConfig};
use crate::home::Home;
use crate::spec::schema::{DataConfig, SynthData};

/// Datasets that have readers.
pub const CAPTION_DATASETS: &[&str] = &["synth", "audiocaps", "clotho", "wavcaps"];
/// AudioBench-style QA sets: `<root>/<split>.jsonl` (one `{id, audio, question|instruction,
/// answer}` object a line, audio relative to the root) or the hub's parquet files.
pub const QA_DATASETS: &[&str] = &["synth", "clotho_aqa", "audiocaps_qa", "wavcaps_qa"];

/// Folder of a synthetic world: `synth-vN-…`, N the generator's version
/// ([`crate::spec::run_id::SYNTH_WORLD_VERSION`], which the ids of the runs that read it carry
/// too); worlds written by older versions are left where they are and regenerated beside them.
pub fn synth_dir(home: &Path, s: &SynthData) -> PathBuf {
    Home::new(home).world_dir(&format!(
        "synth-v{}-c{}-s{}-d{}",
        crate::spec::run_id::SYNTH_WORLD_VERSION,
        s.clips,
        s.seed,
        s.clip_seconds
    ))
}

/// Generate the synthetic world if it is not there yet; returns its folder. One process builds
/// (under an OS lock on `<folder>.lock`, see [`crate::once`]) into `<folder>.partial` and renames
/// it into place when complete, so a world that exists is whole; others wait for it.
pub fn ensure_synth(home: &Path, s: &SynthData) -> Result<PathBuf, DataError> {
    let dir = synth_dir(home, s);
    let done = dir.join("synth.json");
    if done.exists() {
        return Ok(dir);
    }
    let parent = dir.parent().unwrap_or(home).to_path_buf();
    let name = dir
        .file_name()
        .expect("a world folder has a name")
        .to_string_lossy()
        .to_string();
    let lock = parent.join(format!("{name}.lock"));
    let partial = parent.join(format!("{name}.partial"));
    let io = |path: &Path, e: std::io::Error| DataError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let what = format!("the synthetic world {}", dir.display());
    crate::once::build_once(&what, &done, &lock, || {
        // Left by a builder that was killed (or, for `dir`, by acdc before the lock was an OS lock).
        for stale in [&partial, &dir] {
            if stale.exists() {
                std::fs::remove_dir_all(stale).map_err(|e| io(stale, e))?;
            }
        }
        let mut cfg = SynthConfig::new(s.clips, s.seed);
        cfg.clip_seconds = s.clip_seconds;
        synth::generate(&partial, &cfg).map_err(|e| DataError::Dataset {
            dataset: "synth".into(),
            message: e.to_string(),
        })?;
        std::fs::rename(&partial, &dir).map_err(|e| io(&dir, e))
    })?;
    Ok(dir)
}

/// The folder of `dataset`: `data.roots.<dataset>` as given when it is a folder; a Hub dataset
/// repository (`owner/name`, or `hf://datasets/owner/name`) otherwise, fetched into the Hugging
/// Face cache through [`crate::hub`] (AudioBench's sets are such repositories:
/// `AudioLLMs/clotho_aqa_test`).
fn root(cfg: &DataConfig, dataset: &str) -> Result<PathBuf, DataError> {
    let given = cfg.roots.get(dataset).ok_or_else(|| DataError::Dataset {
        dataset: dataset.into(),
        message: format!("no folder given: set `data.roots.{dataset} = \"/path/to/{dataset}\"`"),
    })?;
    let path = PathBuf::from(given);
    let repo = given.strip_prefix("hf://datasets/");
    if path.is_dir() && repo.is_none() {
        return Ok(path);
    }
    match repo.or(Some(given.as_str()).filter(|g| crate::hub::is_repo_id(g))) {
        Some(id) => crate::hub::Hub::from_env()
            .snapshot(crate::hub::RepoKind::Dataset, id, &crate::hub::dataset_file)
            .map_err(|e| DataError::Dataset {
                dataset: dataset.into(),
                message: format!(
                    "`data.roots.{dataset} = \"{given}\"` is not a folder here, so it was taken for a Hub dataset: {e}"
                ),
            }),
        // A path that does not exist: the reader names what it misses.
        None => Ok(path),
    }
}

fn unknown(dataset: &str, known: &[&str]) -> DataError {
    DataError::Dataset {
        dataset: dataset.into(),
        message: format!(
            "no reader for this dataset yet; readers: {}",
            known.join(", ")
        ),
    }
}

/// The captioned clips of one split.
pub fn caption_items(
    home: &Path,
    cfg: &DataConfig,
    dataset: &str,
    split: &str,
) -> Result<Vec<CaptionItem>, DataError> {
    caption_items_excluding(home, cfg, dataset, split).map(|(items, _)| items)
}

/// The captioned clips of one split, and how many items each exclusion list removed
/// (`data.wavcaps_exclude`, WavCaps only, also logged; empty for other datasets).
pub fn caption_items_excluding(
    home: &Path,
    cfg: &DataConfig,
    dataset: &str,
    split: &str,
) -> Result<(Vec<CaptionItem>, Vec<super::wavcaps::Excluded>), DataError> {
    if dataset == "wavcaps" {
        let r = root(cfg, dataset)?;
        let pattern = cfg
            .patterns
            .get(dataset)
            .map(String::as_str)
            .unwrap_or(super::wavcaps::DEFAULT_PATTERN);
        let read = super::wavcaps::read(&r, split, pattern, &cfg.wavcaps_exclude)?;
        for e in &read.excluded {
            tracing::info!(
                "wavcaps/{split}: {} item(s) excluded by {} (data.wavcaps_exclude)",
                e.items,
                e.list
            );
        }
        return Ok((read.items, read.excluded));
    }
    let items = match dataset {
        "synth" => {
            let dir = ensure_synth(home, &cfg.synth)?;
            let csv = dir.join(format!("captions_{split}.csv"));
            if !csv.exists() {
                return Err(DataError::Dataset {
                    dataset: "synth".into(),
                    message: format!("no split `{split}` (expected train or test)"),
                });
            }
            super::clotho::read_captions_csv(&csv, &dir.join("audio").join(split))
        }
        "clotho" => {
            let r = root(cfg, dataset)?;
            super::clotho::read_captions_csv(
                &r.join(format!("clotho_captions_{split}.csv")),
                &r.join(split),
            )
        }
        "audiocaps" => {
            let r = root(cfg, dataset)?;
            let pattern = cfg
                .patterns
                .get(dataset)
                .map(String::as_str)
                .unwrap_or(super::audiocaps::DEFAULT_PATTERN);
            super::audiocaps::read_split(&r, split, pattern)
        }
        other => Err(unknown(other, CAPTION_DATASETS)),
    }?;
    Ok((items, Vec::new()))
}

/// The audio questions of one split.
pub fn qa_items(
    home: &Path,
    cfg: &DataConfig,
    dataset: &str,
    split: &str,
) -> Result<Vec<QaItem>, DataError> {
    match dataset {
        "synth" => {
            let dir = ensure_synth(home, &cfg.synth)?;
            let p = dir.join(format!("qa_{split}.jsonl"));
            if !p.exists() {
                return Err(DataError::Dataset {
                    dataset: "synth".into(),
                    message: format!("no QA split `{split}` (expected train or test)"),
                });
            }
            super::aqa::read_qa_jsonl(&p)
        }
        "clotho_aqa" | "audiocaps_qa" | "wavcaps_qa" => {
            let r = root(cfg, dataset)?;
            let jsonl = r.join(format!("{split}.jsonl"));
            if jsonl.exists() {
                super::aqa::read_qa_jsonl(&jsonl)
            } else {
                super::audiobench::read_split(
                    &r,
                    split,
                    &Home::new(home).audio_cache(dataset),
                    dataset,
                )
            }
        }
        other => Err(unknown(other, QA_DATASETS)),
    }
}
