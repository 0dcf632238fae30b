//! AudioCaps as its users download it: `train.csv` / `val.csv` / `test.csv` with the columns
//! `audiocap_id,youtube_id,start_time,caption` (one row per caption; rows of one clip share
//! `youtube_id` + `start_time`) plus a folder of audio files. How a clip's file is named varies
//! between downloaders, so it is a pattern over the row's fields: `{youtube_id}`, `{start_time}`,
//! `{audiocap_id}` and `{split}` (default [`DEFAULT_PATTERN`], relative to the dataset root).

use std::collections::BTreeMap;
use std::path::Path;

use super::items::{CaptionItem, DataError};

pub const DEFAULT_PATTERN: &str = "{split}/{youtube_id}_{start_time}.wav";

/// Read one AudioCaps split from `root`.
pub fn read_split(root: &Path, split: &str, pattern: &str) -> Result<Vec<CaptionItem>, DataError> {
    let csv = root.join(format!("{split}.csv"));
    let super::clotho::CsvTable { header, rows } = super::clotho::read_csv(&csv)?;
    let col = |name: &str| {
        header.iter().position(|h| h.trim() == name).ok_or_else(|| DataError::Parse {
            path: csv.clone(),
            line: 1,
            message: format!("no `{name}` column (expected audiocap_id,youtube_id,start_time,caption; found {})", header.join(",")),
        })
    };
    let (c_id, c_yt, c_start, c_cap) = (
        col("audiocap_id")?,
        col("youtube_id")?,
        col("start_time")?,
        col("caption")?,
    );
    let mut clips: BTreeMap<(String, String), (usize, CaptionItem)> = BTreeMap::new();
    for (line, f) in rows {
        let key = (f[c_yt].clone(), f[c_start].clone());
        let rel = pattern
            .replace("{youtube_id}", &f[c_yt])
            .replace("{start_time}", &f[c_start])
            .replace("{audiocap_id}", &f[c_id])
            .replace("{split}", split);
        let audio = super::items::inside_root(root, &rel).map_err(|m| DataError::Parse {
            path: csv.clone(),
            line,
            message: m,
        })?;
        let order = clips.len();
        let entry = clips.entry(key.clone()).or_insert_with(|| {
            (
                order,
                CaptionItem {
                    id: format!("{}_{}", key.0, key.1),
                    audio,
                    captions: Vec::new(),
                },
            )
        });
        entry.1.captions.push(f[c_cap].trim().to_string());
    }
    let mut items: Vec<(usize, CaptionItem)> = clips.into_values().collect();
    items.sort_by_key(|(o, _)| *o);
    Ok(items.into_iter().map(|(_, it)| it).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_captions_by_clip_and_applies_the_pattern() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("test.csv"),
            "audiocap_id,youtube_id,start_time,caption\n1,abc,30,A dog barks\n2,abc,30,\"Barking, then silence\"\n3,xyz,0,Rain falls\n",
        )
        .unwrap();
        let items = read_split(d.path(), "test", DEFAULT_PATTERN).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].id, "abc_30");
        assert_eq!(
            items[0].captions,
            vec!["A dog barks", "Barking, then silence"]
        );
        assert_eq!(items[0].audio, d.path().join("test/abc_30.wav"));
        let items = read_split(d.path(), "test", "audio/{audiocap_id}.flac").unwrap();
        assert_eq!(items[1].audio, d.path().join("audio/3.flac"));
    }

    #[test]
    fn bad_tables_name_file_and_row() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("train.csv"),
            "audiocap_id,youtube_id,caption\n1,a,x\n",
        )
        .unwrap();
        let e = read_split(d.path(), "train", DEFAULT_PATTERN)
            .unwrap_err()
            .to_string();
        assert!(e.contains("train.csv:1") && e.contains("start_time"), "{e}");
        std::fs::write(
            d.path().join("val.csv"),
            "audiocap_id,youtube_id,start_time,caption\n1,a,0,ok\n2,b,\"unterminated\n",
        )
        .unwrap();
        let e = read_split(d.path(), "val", DEFAULT_PATTERN)
            .unwrap_err()
            .to_string();
        assert!(e.contains("val.csv:3"), "{e}");
        std::fs::write(
            d.path().join("esc.csv"),
            "audiocap_id,youtube_id,start_time,caption\n1,a,0,ok\n",
        )
        .unwrap();
        let e = read_split(d.path(), "esc", "../../{youtube_id}.wav")
            .unwrap_err()
            .to_string();
        assert!(e.contains("esc.csv:2") && e.contains("outside"), "{e}");
    }
}
