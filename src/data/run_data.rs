//! Everything one run reads, assembled in one call: its training sources, instruction-tuning
//! sources, validation sets and evaluation sets (with the zero-shot probes of the synthetic
//! world), the audio features of every clip they use, and — for a `text-oracle` reference row —
//! the text given in place of each evaluated clip's audio. Unreadable audio is handled by the
//! run's `data.missing_audio` policy, and every set is checked before anything trains on it.
//!
//! `exec` records the outcome as the run's `data` stage ([`DataInfo`]); nothing here touches the
//! store.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::features::{extract, AudioLimits, ClipMatrices};
use super::synth::probes::{probes, read_events, ProbeItem};
use super::{sources, CaptionItem, DataError, QaItem};
use crate::spec::schema::{MissingAudio, Reference};
use crate::spec::RunConfig;

/// One source of a run's mix or held-out sets, named `<dataset>_<split>`.
#[derive(Debug, Clone)]
pub struct Source<T> {
    pub name: String,
    /// Its weight in the training mix (0 for validation sets).
    pub weight: f64,
    pub items: Vec<T>,
}

/// One evaluation set, named `<dataset>_<split>`.
#[derive(Debug, Clone)]
pub enum EvalSet {
    Aac {
        name: String,
        items: Vec<CaptionItem>,
    },
    Aqa {
        name: String,
        items: Vec<QaItem>,
    },
    /// Zero-shot instruction probes on a synthetic dataset at `root`.
    Probes {
        name: String,
        root: PathBuf,
        items: Vec<ProbeItem>,
    },
}

impl EvalSet {
    /// Items to decode.
    pub fn len(&self) -> usize {
        match self {
            EvalSet::Aac { items, .. } => items.len(),
            EvalSet::Aqa { items, .. } => items.len(),
            EvalSet::Probes { items, .. } => items.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn name(&self) -> &str {
        match self {
            EvalSet::Aac { name, .. }
            | EvalSet::Aqa { name, .. }
            | EvalSet::Probes { name, .. } => name,
        }
    }

    /// The audio file of every item, in order.
    pub fn audio_files(&self) -> Vec<PathBuf> {
        match self {
            EvalSet::Aac { items, .. } => items.iter().map(|i| i.audio.clone()).collect(),
            EvalSet::Aqa { items, .. } => items.iter().map(|i| i.audio.clone()).collect(),
            EvalSet::Probes { root, items, .. } => {
                items.iter().map(|i| root.join(&i.file_name)).collect()
            }
        }
    }

    /// Its item ids, in order.
    fn ids(&self) -> Vec<&str> {
        match self {
            EvalSet::Aac { items, .. } => items.iter().map(|i| i.id.as_str()).collect(),
            EvalSet::Aqa { items, .. } => items.iter().map(|i| i.id.as_str()).collect(),
            EvalSet::Probes { items, .. } => items.iter().map(|i| i.id.as_str()).collect(),
        }
    }

    /// How a message names it: the key that configured it and its name.
    fn what(&self) -> String {
        match self {
            EvalSet::Aac { name, .. } => format!("data.eval_aac set `{name}`"),
            EvalSet::Aqa { name, .. } => format!("data.eval_aqa set `{name}`"),
            EvalSet::Probes { name, .. } => format!("eval.probes on `{name}`"),
        }
    }

    /// Keep the items whose audio file `keep` accepts.
    fn retain_audio(&mut self, keep: impl Fn(&Path) -> bool) {
        match self {
            EvalSet::Aac { items, .. } => items.retain(|i| keep(&i.audio)),
            EvalSet::Aqa { items, .. } => items.retain(|i| keep(&i.audio)),
            EvalSet::Probes { root, items, .. } => items.retain(|i| keep(&root.join(&i.file_name))),
        }
    }
}

/// Everything a run reads: training items per source, evaluation sets, and the text a
/// `text-oracle` row gives for their clips.
#[derive(Debug, Clone, Default)]
pub struct RunData {
    pub train: Vec<Source<CaptionItem>>,
    /// Instruction-tuning QA sources joining the training mix.
    pub instruct: Vec<Source<QaItem>>,
    /// Held-out sets for the validation loss.
    pub val: Vec<Source<CaptionItem>>,
    pub eval: Vec<EvalSet>,
    /// The text given for every evaluated clip by audio key (`reference = "text-oracle"`
    /// only): its ground-truth description, or its captions joined.
    pub texts: HashMap<String, String>,
}

/// What the `data` stage records (the store's record type).
pub use crate::store::stages::{DataInfo, ExcludedItems};

/// Why a run's data could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    /// A dataset or split could not be read.
    #[error(transparent)]
    Read(#[from] DataError),
    /// The synthetic world's event records could not be read.
    #[error("{0}")]
    Events(String),
    #[error("{count} audio file(s) missing or unreadable (data.missing_audio = \"error\"); first: {first}")]
    Unreadable { count: usize, first: String },
    /// A `text-oracle` row has no text to give for a set's clips.
    #[error("{0}")]
    Oracle(String),
    /// A set has no items, or repeats an id.
    #[error("{0}")]
    Set(String),
}

/// A failed assembly: the error, and what was recorded up to it (`None` when it failed before
/// the audio was read).
#[derive(Debug)]
pub struct AssembleFailure {
    pub error: AssembleError,
    pub info: Option<DataInfo>,
}

impl From<AssembleError> for AssembleFailure {
    fn from(error: AssembleError) -> Self {
        AssembleFailure { error, info: None }
    }
}

/// A run's data, ready: the sets, the features of every clip they use, and the stage record.
pub struct Assembled {
    pub data: RunData,
    pub features: ClipMatrices,
    pub info: DataInfo,
}

fn take<T>(mut v: Vec<T>, max: usize) -> Vec<T> {
    if max > 0 && v.len() > max {
        v.truncate(max);
    }
    v
}

/// Read every set `cfg` names (from `$ACDC_HOME` `home`: the synthetic world is generated there on
/// first use), extract the features of every clip once (cached under `home/cache/features`),
/// apply `data.missing_audio`, give a `text-oracle` row its texts, and check every set.
/// `progress(done, total)` follows the feature extraction (`done` clips more of `total`).
pub fn assemble(
    home: &Path,
    cfg: &RunConfig,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Assembled, AssembleFailure> {
    let (mut data, excluded) = read_sets(home, cfg)?;
    let clips = distinct_clips(&data);
    let total = clips.len();
    let limits = AudioLimits {
        target_frames: cfg.encoder.target_frames,
        max_seconds: cfg.data.max_audio_seconds,
    };
    let cache = crate::home::Home::new(home).feature_cache();
    progress(0, total);
    let (features, failures) = extract(&clips, limits, Some(&cache), &|n| progress(n, total));
    let first: Vec<String> = failures
        .iter()
        .take(5)
        .map(|(p, why)| {
            // Most reasons already start with the file's path.
            let path = p.display().to_string();
            if why.contains(&path) {
                why.to_string()
            } else {
                format!("{path}: {why}")
            }
        })
        .collect();
    let info = DataInfo {
        clips: total,
        unreadable: failures.len(),
        first_unreadable: first.clone(),
        policy: format!("{:?}", cfg.data.missing_audio).to_lowercase(),
        excluded,
    };
    let fail = |info: DataInfo, error: AssembleError| AssembleFailure {
        error,
        info: Some(info),
    };
    if !failures.is_empty() && cfg.data.missing_audio == MissingAudio::Error {
        let error = AssembleError::Unreadable {
            count: failures.len(),
            first: first.join("; "),
        };
        return Err(fail(info, error));
    }
    // Skip policy: drop the items whose audio failed (the stage info keeps the names).
    let bad: BTreeSet<PathBuf> = failures.iter().map(|(p, _)| p.clone()).collect();
    let keep = |p: &Path| !bad.contains(p);
    for s in data.train.iter_mut().chain(data.val.iter_mut()) {
        s.items.retain(|i| keep(&i.audio));
    }
    for s in data.instruct.iter_mut() {
        s.items.retain(|i| keep(&i.audio));
    }
    for s in data.eval.iter_mut() {
        s.retain_audio(keep);
    }
    if cfg.reference == Reference::TextOracle {
        match oracle_texts(home, cfg, &data.eval) {
            Ok(t) => data.texts = t,
            Err(e) => return Err(fail(info, e)),
        }
    }
    if let Err(e) = check_sets(&data, failures.len()) {
        return Err(fail(info, e));
    }
    Ok(Assembled {
        data,
        features,
        info,
    })
}

/// Every set the run's configuration names, read (audio not yet), and what exclusion lists
/// removed from its training sources.
fn read_sets(home: &Path, cfg: &RunConfig) -> Result<(RunData, Vec<ExcludedItems>), AssembleError> {
    let d = &cfg.data;
    let name = |dataset: &str, split: &str| format!("{dataset}_{split}");
    let mut data = RunData::default();
    let mut excluded = Vec::new();
    for s in &d.train {
        let (items, dropped) = sources::caption_items_excluding(home, d, &s.dataset, &s.split)?;
        let source = name(&s.dataset, &s.split);
        excluded.extend(dropped.into_iter().map(|e| ExcludedItems {
            source: source.clone(),
            list: e.list,
            items: e.items,
        }));
        data.train.push(Source {
            name: source,
            weight: s.weight,
            items: take(items, s.max_items),
        });
    }
    for s in &d.instruct {
        let items = sources::qa_items(home, d, &s.dataset, &s.split)?;
        data.instruct.push(Source {
            name: name(&s.dataset, &s.split),
            weight: s.weight,
            items: take(items, s.max_items),
        });
    }
    for s in &d.val {
        let items = sources::caption_items(home, d, &s.dataset, &s.split)?;
        data.val.push(Source {
            name: name(&s.dataset, &s.split),
            weight: 0.0,
            items: take(items, s.max_items),
        });
    }
    for s in &d.eval_aac {
        let items = sources::caption_items(home, d, &s.dataset, &s.split)?;
        data.eval.push(EvalSet::Aac {
            name: name(&s.dataset, &s.split),
            items: take(items, s.max_items),
        });
    }
    for s in &d.eval_aqa {
        let items = sources::qa_items(home, d, &s.dataset, &s.split)?;
        data.eval.push(EvalSet::Aqa {
            name: name(&s.dataset, &s.split),
            items: take(items, s.max_items),
        });
    }
    if cfg.eval.probes {
        let root = sources::ensure_synth(home, &d.synth)?;
        let clips =
            read_events(&root.join("events.jsonl"), "test").map_err(AssembleError::Events)?;
        // The probe suite belongs to the synthetic world (its seed), not to the run: runs that
        // differ only in `seed` answer the same probes, so mean ± std measures the models.
        let items = probes(&clips, cfg.eval.probe_items, d.synth.seed);
        data.eval.push(EvalSet::Probes {
            name: "synth_test".into(),
            root,
            items,
        });
    }
    Ok((data, excluded))
}

/// Every distinct audio file the sets use, once, keyed by its path.
fn distinct_clips(data: &RunData) -> Vec<(String, PathBuf)> {
    let mut clips = Vec::new();
    let mut seen = BTreeSet::new();
    let mut push = |p: PathBuf| {
        let k = p.display().to_string();
        if seen.insert(k.clone()) {
            clips.push((k, p));
        }
    };
    for s in data.train.iter().chain(&data.val) {
        s.items.iter().for_each(|i| push(i.audio.clone()));
    }
    for s in &data.instruct {
        s.items.iter().for_each(|i| push(i.audio.clone()));
    }
    for s in &data.eval {
        s.audio_files().into_iter().for_each(&mut push);
    }
    clips
}

/// The text a `text-oracle` row gives for every clip the evaluation sets use: for the synthetic
/// world each clip's ground-truth description (`events.jsonl`: one sentence stating all its
/// captions state), for other datasets the clip's captions joined (read from the captioning
/// split of the same dataset); a set whose clips have neither is an error naming it.
fn oracle_texts(
    home: &Path,
    cfg: &RunConfig,
    eval: &[EvalSet],
) -> Result<HashMap<String, String>, AssembleError> {
    let mut texts = HashMap::new();
    let mut add = |dataset: &str, split: &str, what: &str| -> Result<(), AssembleError> {
        if dataset == "synth" {
            let root = sources::ensure_synth(home, &cfg.data.synth)?;
            let events =
                read_events(&root.join("events.jsonl"), split).map_err(AssembleError::Events)?;
            for c in events {
                let audio = root.join("audio").join(split).join(&c.file_name);
                texts.insert(audio.display().to_string(), c.description);
            }
            return Ok(());
        }
        let items = sources::caption_items(home, &cfg.data, dataset, split).map_err(|e| {
            AssembleError::Oracle(format!(
                "reference = \"text-oracle\" gives each clip's description or captions as text, but {what} set `{dataset}_{split}` has none to give: {e}"
            ))
        })?;
        for it in items {
            texts.insert(
                it.audio.display().to_string(),
                super::synth::dialogue::description(&it.captions),
            );
        }
        Ok(())
    };
    for s in &cfg.data.eval_aac {
        add(&s.dataset, &s.split, "data.eval_aac")?;
    }
    for s in &cfg.data.eval_aqa {
        add(&s.dataset, &s.split, "data.eval_aqa")?;
    }
    if cfg.eval.probes {
        add("synth", "test", "eval.probes")?;
    }
    for set in eval {
        let missing = set
            .audio_files()
            .into_iter()
            .map(|a| a.display().to_string())
            .find(|a| !texts.contains_key(a));
        if let Some(a) = missing {
            return Err(AssembleError::Oracle(format!(
                "reference = \"text-oracle\": evaluation set `{}` has a clip with no description or captions ({a})",
                set.name()
            )));
        }
    }
    Ok(texts)
}

/// Every set a run reads must keep items, and ids must be unique within a set: an emptied source
/// would silently leave the mix (or score nothing beside the paper's number), and two items with
/// one id share a cached reply or a stored prediction.
fn check_sets(data: &RunData, skipped: usize) -> Result<(), AssembleError> {
    let why_empty = if skipped > 0 {
        format!(
            " after skipping {skipped} unreadable audio file(s) (data.missing_audio = \"skip\")"
        )
    } else {
        String::new()
    };
    let mut sets: Vec<(String, Vec<&str>)> = Vec::new();
    for (key, group) in [("data.train", &data.train), ("data.val", &data.val)] {
        for s in group {
            sets.push((
                format!("{key} source `{}`", s.name),
                s.items.iter().map(|i| i.id.as_str()).collect(),
            ));
        }
    }
    for s in &data.instruct {
        sets.push((
            format!("data.instruct source `{}`", s.name),
            s.items.iter().map(|i| i.id.as_str()).collect(),
        ));
    }
    for set in &data.eval {
        sets.push((set.what(), set.ids()));
    }
    for (what, ids) in sets {
        if ids.is_empty() {
            let lead = if what.starts_with("data.train") {
                "no training examples after filtering: "
            } else {
                ""
            };
            return Err(AssembleError::Set(format!(
                "{lead}{what} has no items{why_empty}"
            )));
        }
        let mut seen = HashSet::new();
        if let Some(dup) = ids.iter().find(|id| !seen.insert(**id)) {
            return Err(AssembleError::Set(format!(
                "{what}: item id `{dup}` appears more than once (ids key cached replies and predictions)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(id: &str) -> CaptionItem {
        CaptionItem {
            id: id.into(),
            audio: format!("{id}.wav").into(),
            captions: vec!["a dog barks".into()],
        }
    }

    fn qa(id: &str) -> QaItem {
        QaItem {
            id: id.into(),
            audio: format!("{id}.wav").into(),
            question: "what barks?".into(),
            answer: "a dog".into(),
        }
    }

    fn data() -> RunData {
        RunData {
            train: vec![Source {
                name: "synth_train".into(),
                weight: 1.0,
                items: vec![clip("a"), clip("b")],
            }],
            eval: vec![EvalSet::Aqa {
                name: "clotho_aqa_test".into(),
                items: vec![qa("q1"), qa("q2")],
            }],
            ..Default::default()
        }
    }

    /// A set emptied by the skip policy, or holding one id twice, is refused by name.
    #[test]
    fn emptied_sets_and_repeated_ids_are_named() {
        assert!(check_sets(&data(), 0).is_ok());

        let mut d = data();
        d.train[0].items.clear();
        let e = check_sets(&d, 2).unwrap_err().to_string();
        assert!(
            e.contains("no training examples")
                && e.contains("data.train source `synth_train`")
                && e.contains("after skipping 2 unreadable"),
            "{e}"
        );

        let mut d = data();
        d.eval = vec![EvalSet::Aqa {
            name: "clotho_aqa_test".into(),
            items: Vec::new(),
        }];
        let e = check_sets(&d, 0).unwrap_err().to_string();
        assert_eq!(e, "data.eval_aqa set `clotho_aqa_test` has no items");

        let mut d = data();
        d.eval = vec![EvalSet::Aqa {
            name: "clotho_aqa_test".into(),
            items: vec![qa("q1"), qa("q2"), qa("q1")],
        }];
        let e = check_sets(&d, 0).unwrap_err().to_string();
        assert!(
            e.contains("data.eval_aqa set `clotho_aqa_test`")
                && e.contains("`q1` appears more than once"),
            "{e}"
        );
    }

    /// The stage record keeps the key names earlier releases wrote.
    #[test]
    fn data_info_serialises_with_its_keys() {
        let info = DataInfo {
            clips: 3,
            unreadable: 1,
            first_unreadable: vec!["x.wav: bad".into()],
            policy: "skip".into(),
            excluded: vec![ExcludedItems {
                source: "wavcaps_train".into(),
                list: "ex.json".into(),
                items: 2,
            }],
        };
        let v = serde_json::to_value(&info).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"clips": 3, "unreadable": 1, "first_unreadable": ["x.wav: bad"],
                "policy": "skip", "excluded": [{"source": "wavcaps_train", "list": "ex.json", "items": 2}]})
        );
        let back: DataInfo = serde_json::from_value(v).unwrap();
        assert_eq!(back, info);
    }
}
