//! WavCaps as published (github.com/XinhaoMei/WavCaps, Hugging Face `cvssp/WavCaps`): one JSON
//! file per source, `json_files/<source>/<file>`, each `{"num_captions_per_audio": 1, "data": [{"id",
//! "caption", "audio" | "wav_path", "duration", …}]}`, plus the extracted audio folders and the
//! exclusion lists under `json_files/blacklist/`.
//!
//! **Which metadata file.** The release names one file per source ([`OFFICIAL_FILES`]:
//! `AudioSet_SL/as_final.json`, `BBC_Sound_Effects/bbc_final.json`, `FreeSound/fsd_final.json`,
//! `SoundBible/sb_final.json`); the Hugging Face copy also holds `FreeSound/fsd_final_2s.json`, a
//! subset of `fsd_final.json`, so reading every file would list those clips twice. Where a
//! source's official file is present (under `json_files/<source>/` or `<source>/`) only it is read;
//! otherwise every `*.json` there is read and an id found twice within a source is an error that
//! names both files.
//!
//! **Exclusion lists** (`data.wavcaps_exclude`, paths relative to the root; default
//! [`DEFAULT_EXCLUDE`]). WavCaps' AudioSet_SL holds AudioCaps test clips and its FreeSound part
//! Clotho clips. The release publishes `json_files/blacklist/blacklist_exclude_test_ac.json`,
//! `…_all_ac.json` and `…_ub8k_esc50_vggsound.json`, each a JSON object `{"AudioSet": ["YvfY_TJq7n_U.wav",
//! …], "FreeSound": ["156", …]}` (AudioSet ids with `.wav`, exactly as in `as_final.json`; FreeSound
//! ids as digit strings, as in `fsd_final.json`). WavCaps' own training code
//! (`captioning/data_handling/pretrain_dataset.py` and `retrieval/data_handling/pretrain_dataset.py`,
//! `_load_json_file`; `blacklist: "data/json_files/blacklist/blacklist_exclude_test_ac.json"` in
//! `captioning/settings/pretrain.yaml`) drops an entry when its `id` is in `blacklist["FreeSound"]`
//! for a file whose path contains `FreeSound`, or in `blacklist["AudioSet"]` for one whose path
//! contains `AudioSet`; BBC and SoundBible are never filtered. Here a list key names a source when
//! it equals the source's name or the name's first part (`AudioSet` → `AudioSet_SL`, case
//! ignored); any other key is an error. Ids are compared without their extension (so `Y1.wav` in a
//! list also drops an entry whose id is `Y1` or `Y1.flac`; for the official files this is the
//! same as WavCaps' exact match). A configured list that does not exist is an error;
//! `data.wavcaps_exclude = []` reads without exclusion. [`read`] returns how many items each list
//! removed.
//!
//! **Audio files.** Split `train` reads every source; a source name reads that source. A clip's
//! file is `pattern` relative to the dataset root (default [`DEFAULT_PATTERN`]) over `{source}`
//! (the source folder name), `{id}` (the id as published; one without an extension gets `.flac`)
//! and `{stem}` (the id without its extension), unless its entry names a real relative path in
//! `wav_path` / `audio` (the release's entries hold the placeholder `"wav_path"`). AudioSet_SL ids
//! end in `.wav` (`Yb0RFKhbpFJA.wav`) while the released archives hold FLAC files of every source,
//! so the default is `{source}/{stem}.flac`; `data.patterns.wavcaps = "{source}/{id}"` reads ids
//! as file names.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::items::{inside_root, CaptionItem, DataError};

pub const SOURCES: &[&str] = &[
    "AudioSet_SL",
    "BBC_Sound_Effects",
    "FreeSound",
    "SoundBible",
];
/// The metadata file WavCaps publishes for each source.
pub const OFFICIAL_FILES: &[(&str, &str)] = &[
    ("AudioSet_SL", "as_final.json"),
    ("BBC_Sound_Effects", "bbc_final.json"),
    ("FreeSound", "fsd_final.json"),
    ("SoundBible", "sb_final.json"),
];
/// The released archives' layout: every source's audio as `<source>/<id without extension>.flac`.
pub const DEFAULT_PATTERN: &str = "{source}/{stem}.flac";
/// The exclusion list WavCaps' own pretraining config uses (AudioCaps test clips in AudioSet_SL,
/// Clotho clips in FreeSound).
pub const DEFAULT_EXCLUDE: &str = "json_files/blacklist/blacklist_exclude_test_ac.json";

/// How many items one exclusion list removed from a read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Excluded {
    /// The list as configured (relative to the WavCaps root).
    pub list: String,
    /// Items of the read split whose id the list names (an item named by two lists counts in both).
    pub items: usize,
}

/// The items of a split, and what each configured exclusion list removed from it.
#[derive(Debug, Clone)]
pub struct WavCapsRead {
    pub items: Vec<CaptionItem>,
    pub excluded: Vec<Excluded>,
}

#[derive(serde::Deserialize)]
struct File {
    data: Vec<Entry>,
}

#[derive(serde::Deserialize)]
struct Entry {
    id: serde_json::Value,
    caption: String,
    #[serde(default)]
    audio: Option<String>,
    #[serde(default)]
    wav_path: Option<String>,
}

fn dataset_error(message: String) -> DataError {
    DataError::Dataset {
        dataset: "wavcaps".into(),
        message,
    }
}

/// The metadata files of a source: its official file where present, else every `*.json`.
fn json_files(root: &Path, source: &str) -> Vec<PathBuf> {
    let dirs = [root.join("json_files").join(source), root.join(source)];
    let official = OFFICIAL_FILES
        .iter()
        .find(|(s, _)| *s == source)
        .map(|(_, f)| *f);
    if let Some(f) = official {
        if let Some(p) = dirs.iter().map(|d| d.join(f)).find(|p| p.is_file()) {
            return vec![p];
        }
    }
    let mut out = Vec::new();
    for dir in dirs {
        if let Ok(rd) = std::fs::read_dir(&dir) {
            let mut v: Vec<PathBuf> = rd
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            v.sort();
            out.extend(v);
        }
    }
    out
}

fn looks_like_path(s: &str) -> bool {
    s != "wav_path"
        && s != "audio"
        && (s.contains('/') || s.rsplit_once('.').is_some_and(|(_, e)| e.len() <= 4))
}

fn id_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An id without its extension (`Yb0RFKhbpFJA.wav` → `Yb0RFKhbpFJA`).
fn stem_of(id: &str) -> String {
    Path::new(id)
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| id.to_string())
}

/// The source a list key names: the source itself or its name's first part (`AudioSet`).
fn key_source(key: &str) -> Option<&'static str> {
    SOURCES.iter().copied().find(|s| {
        s.eq_ignore_ascii_case(key)
            || s.split('_')
                .next()
                .is_some_and(|first| first.eq_ignore_ascii_case(key))
    })
}

/// One exclusion list: source → stems of the ids it names.
struct ExcludeList {
    name: String,
    ids: HashMap<&'static str, HashSet<String>>,
}

fn read_exclude_list(root: &Path, rel: &str) -> Result<ExcludeList, DataError> {
    let path = root.join(rel);
    if !path.is_file() {
        return Err(dataset_error(format!(
            "exclusion list {} (data.wavcaps_exclude) does not exist; WavCaps publishes its lists \
             under json_files/blacklist/ — set `data.wavcaps_exclude = []` to train without \
             excluding the AudioCaps / Clotho clips they name",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| DataError::Io {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let parsed: BTreeMap<String, Vec<serde_json::Value>> =
        serde_json::from_str(&text).map_err(|e| DataError::Parse {
            path: path.clone(),
            line: e.line(),
            message: format!(
                "{e} (expected an exclusion list: {{\"AudioSet\": [ids], \"FreeSound\": [ids]}})"
            ),
        })?;
    let mut ids: HashMap<&'static str, HashSet<String>> = HashMap::new();
    for (key, list) in parsed {
        let source = key_source(&key).ok_or_else(|| DataError::Parse {
            path: path.clone(),
            line: 0,
            message: format!(
                "key `{key}` names no WavCaps source (expected AudioSet, FreeSound or one of {})",
                SOURCES.join(", ")
            ),
        })?;
        ids.entry(source)
            .or_default()
            .extend(list.iter().map(|v| stem_of(&id_text(v))));
    }
    Ok(ExcludeList {
        name: rel.to_string(),
        ids,
    })
}

/// Read a split (`train` = all sources, or one source's name), leaving out the items that the
/// exclusion lists `exclude` (paths relative to `root`) name.
pub fn read(
    root: &Path,
    split: &str,
    pattern: &str,
    exclude: &[String],
) -> Result<WavCapsRead, DataError> {
    let sources: Vec<&str> = if split == "train" {
        SOURCES.to_vec()
    } else if let Some(s) = SOURCES.iter().find(|s| s.eq_ignore_ascii_case(split)) {
        vec![*s]
    } else {
        return Err(dataset_error(format!(
            "no split `{split}`; expected train or one of {}",
            SOURCES.join(", ")
        )));
    };
    let lists = exclude
        .iter()
        .map(|rel| read_exclude_list(root, rel))
        .collect::<Result<Vec<_>, _>>()?;
    let mut excluded: Vec<Excluded> = lists
        .iter()
        .map(|l| Excluded {
            list: l.name.clone(),
            items: 0,
        })
        .collect();
    let mut items = Vec::new();
    let mut found = 0;
    for source in sources {
        // Item stem → (file, entry) where it was first seen, to refuse a clip listed twice.
        let mut seen: HashMap<String, (PathBuf, usize)> = HashMap::new();
        for file in json_files(root, source) {
            found += 1;
            let text = std::fs::read_to_string(&file).map_err(|e| DataError::Io {
                path: file.clone(),
                message: e.to_string(),
            })?;
            let parsed: File = serde_json::from_str(&text).map_err(|e| DataError::Parse {
                path: file.clone(),
                line: e.line(),
                message: e.to_string(),
            })?;
            for (i, e) in parsed.data.into_iter().enumerate() {
                let id = id_text(&e.id);
                let stem = stem_of(&id);
                if let Some((first, j)) = seen.get(&stem) {
                    return Err(dataset_error(format!(
                        "{source} clip `{id}` is listed twice: {} (entry {j}) and {} (entry {i}); \
                         keep one metadata file per source (WavCaps publishes {})",
                        first.display(),
                        file.display(),
                        OFFICIAL_FILES
                            .iter()
                            .find(|(s, _)| *s == source)
                            .map_or("one", |(_, f)| *f)
                    )));
                }
                seen.insert(stem.clone(), (file.clone(), i));
                let mut drop = false;
                for (list, count) in lists.iter().zip(excluded.iter_mut()) {
                    if list.ids.get(source).is_some_and(|s| s.contains(&stem)) {
                        count.items += 1;
                        drop = true;
                    }
                }
                if drop {
                    continue;
                }
                let explicit = e
                    .wav_path
                    .as_deref()
                    .or(e.audio.as_deref())
                    .filter(|p| looks_like_path(p));
                let rel = match explicit {
                    Some(p) => p.to_string(),
                    None => {
                        let id_file = if Path::new(&id).extension().is_some() {
                            id.clone()
                        } else {
                            format!("{id}.flac")
                        };
                        pattern
                            .replace("{source}", source)
                            .replace("{id}", &id_file)
                            .replace("{stem}", &stem)
                    }
                };
                let audio = inside_root(root, &rel).map_err(|m| DataError::Parse {
                    path: file.clone(),
                    line: 0,
                    message: format!("entry {i}: {m}"),
                })?;
                items.push(CaptionItem {
                    id: format!("{source}/{stem}"),
                    audio,
                    captions: vec![e.caption.trim().to_string()],
                });
            }
        }
    }
    if found == 0 {
        return Err(dataset_error(format!(
            "no JSON files under {}/json_files/<source>/ or {}/<source>/",
            root.display(),
            root.display()
        )));
    }
    Ok(WavCapsRead { items, excluded })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// `{"num_captions_per_audio": 1, "data": [...]}` with one entry per id, as released.
    fn source_json(ids: &[&str]) -> String {
        let data: Vec<String> = ids
            .iter()
            .map(|id| {
                format!(r#"{{"id": "{id}", "caption": "Clip {id}.", "audio": "wav_path", "duration": 10.0}}"#)
            })
            .collect();
        format!(
            r#"{{"num_captions_per_audio": 1, "data": [{}]}}"#,
            data.join(", ")
        )
    }

    fn ids(r: &WavCapsRead) -> Vec<&str> {
        r.items.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn reads_sources_in_the_published_layout() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "json_files/SoundBible/sb_final.json",
            r#"{"num_captions_per_audio": 1, "data": [{"id": "123", "caption": "A bell rings.", "audio": "wav_path", "duration": 3.2}, {"id": "x.wav", "caption": "Wind.", "wav_path": "audio/x.wav", "duration": 1.0}]}"#,
        );
        let items = read(d.path(), "SoundBible", DEFAULT_PATTERN, &[])
            .unwrap()
            .items;
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].audio, d.path().join("SoundBible/123.flac"));
        assert_eq!(items[0].id, "SoundBible/123");
        assert_eq!(items[1].audio, d.path().join("audio/x.wav"));
        assert_eq!(
            read(d.path(), "train", DEFAULT_PATTERN, &[])
                .unwrap()
                .items
                .len(),
            2
        );
        let e = read(d.path(), "FreeSound", DEFAULT_PATTERN, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no JSON files"), "{e}");
        write(
            d.path(),
            "json_files/BBC_Sound_Effects/bad.json",
            "{\"data\": [{\"id\": 1}]}",
        );
        let e = read(d.path(), "BBC_Sound_Effects", DEFAULT_PATTERN, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.json") && e.contains("caption"), "{e}");
    }

    #[test]
    fn listed_ids_are_excluded_per_source_and_counted_per_list() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        write(
            r,
            "json_files/AudioSet_SL/as_final.json",
            &source_json(&["Y1.wav", "Y2.wav", "Y3.wav"]),
        );
        write(
            r,
            "json_files/FreeSound/fsd_final.json",
            &source_json(&["156", "157"]),
        );
        // SoundBible is never filtered: its `156` is another clip than FreeSound's.
        write(
            r,
            "json_files/SoundBible/sb_final.json",
            &source_json(&["156"]),
        );
        // The release's shape: AudioSet ids with `.wav`, FreeSound ids as digit strings.
        write(
            r,
            DEFAULT_EXCLUDE,
            r#"{"AudioSet": ["Y1.wav", "Yelsewhere.wav"], "FreeSound": ["156", "999"]}"#,
        );
        // A list of one's own may leave out the extension.
        write(r, "mine.json", r#"{"AudioSet": ["Y2", "Y1"]}"#);
        let exclude = vec![DEFAULT_EXCLUDE.to_string(), "mine.json".to_string()];
        let got = read(r, "train", DEFAULT_PATTERN, &exclude).unwrap();
        assert_eq!(
            ids(&got),
            ["AudioSet_SL/Y3", "FreeSound/157", "SoundBible/156"]
        );
        assert_eq!(
            got.excluded,
            [
                Excluded {
                    list: DEFAULT_EXCLUDE.into(),
                    items: 2
                },
                Excluded {
                    list: "mine.json".into(),
                    items: 2
                }
            ]
        );
        // One source's split counts only its own items.
        let fs = read(r, "FreeSound", DEFAULT_PATTERN, &exclude).unwrap();
        assert_eq!(ids(&fs), ["FreeSound/157"]);
        assert_eq!(fs.excluded[0].items, 1);
        assert_eq!(fs.excluded[1].items, 0);
        // Without lists everything is read.
        assert_eq!(
            read(r, "train", DEFAULT_PATTERN, &[]).unwrap().items.len(),
            6
        );
        // A key that names no source is an error naming the list and the key.
        write(r, "odd.json", r#"{"Clotho": ["1"]}"#);
        let e = read(r, "train", DEFAULT_PATTERN, &["odd.json".to_string()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("odd.json") && e.contains("`Clotho`"), "{e}");
    }

    #[test]
    fn a_missing_exclusion_list_is_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "json_files/FreeSound/fsd_final.json",
            &source_json(&["1"]),
        );
        let e = read(
            d.path(),
            "train",
            DEFAULT_PATTERN,
            &[DEFAULT_EXCLUDE.to_string()],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(&d.path().join(DEFAULT_EXCLUDE).display().to_string())
                && e.contains("data.wavcaps_exclude = []"),
            "{e}"
        );
        // The configuration's default is that list, and it reaches the reader.
        let mut cfg = crate::spec::schema::DataConfig {
            roots: [("wavcaps".to_string(), d.path().display().to_string())]
                .into_iter()
                .collect(),
            ..Default::default()
        };
        assert_eq!(cfg.wavcaps_exclude, [DEFAULT_EXCLUDE]);
        let e = crate::data::sources::caption_items(d.path(), &cfg, "wavcaps", "train")
            .unwrap_err()
            .to_string();
        assert!(e.contains("blacklist_exclude_test_ac.json"), "{e}");
        cfg.wavcaps_exclude.clear();
        let items =
            crate::data::sources::caption_items(d.path(), &cfg, "wavcaps", "train").unwrap();
        assert_eq!(items.len(), 1);
    }

    #[test]
    fn the_exclusion_lists_are_part_of_the_run_id() {
        let a = crate::spec::RunConfig::default();
        let mut b = a.clone();
        b.data.wavcaps_exclude.clear();
        assert_ne!(
            crate::spec::run_id::run_id(&a),
            crate::spec::run_id::run_id(&b)
        );
    }

    #[test]
    fn the_official_file_is_read_once_and_duplicates_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        // The Hugging Face release: fsd_final_2s.json is a subset of fsd_final.json.
        write(
            r,
            "json_files/FreeSound/fsd_final.json",
            &source_json(&["1", "2", "3"]),
        );
        write(
            r,
            "json_files/FreeSound/fsd_final_2s.json",
            &source_json(&["2"]),
        );
        let got = read(r, "FreeSound", DEFAULT_PATTERN, &[]).unwrap();
        assert_eq!(ids(&got), ["FreeSound/1", "FreeSound/2", "FreeSound/3"]);
        // Without the official file every JSON is read, and a clip in two of them is refused.
        write(
            r,
            "BBC_Sound_Effects/a.json",
            &source_json(&["NHU1", "NHU2"]),
        );
        write(
            r,
            "BBC_Sound_Effects/b.json",
            &source_json(&["NHU3", "NHU2"]),
        );
        let e = read(r, "BBC_Sound_Effects", DEFAULT_PATTERN, &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`NHU2`") && e.contains("a.json") && e.contains("b.json"),
            "{e}"
        );
        std::fs::remove_file(r.join("BBC_Sound_Effects/b.json")).unwrap();
        write(r, "BBC_Sound_Effects/b.json", &source_json(&["NHU3"]));
        assert_eq!(
            read(r, "BBC_Sound_Effects", DEFAULT_PATTERN, &[])
                .unwrap()
                .items
                .len(),
            3
        );
    }

    #[test]
    fn stem_names_the_flac_of_an_id_ending_in_wav() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "json_files/AudioSet_SL/as_final.json",
            &source_json(&["Y1.wav"]),
        );
        write(
            d.path(),
            "json_files/SoundBible/sb_final.json",
            &source_json(&["2219"]),
        );
        // The default is the release's layout.
        let got = read(d.path(), "train", DEFAULT_PATTERN, &[]).unwrap();
        assert_eq!(got.items[0].audio, d.path().join("AudioSet_SL/Y1.flac"));
        assert_eq!(got.items[0].id, "AudioSet_SL/Y1");
        assert_eq!(got.items[1].audio, d.path().join("SoundBible/2219.flac"));
        // `{id}` keeps the published name.
        let got = read(d.path(), "AudioSet_SL", "{source}/{id}", &[]).unwrap();
        assert_eq!(got.items[0].audio, d.path().join("AudioSet_SL/Y1.wav"));
    }
}
