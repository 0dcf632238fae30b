//! Clotho-style caption tables: `file_name,caption_1,…,caption_5` (RFC 4180 CSV) plus an audio
//! folder. Clotho v2.1 ships them as `clotho_captions_{development,validation,evaluation}.csv`; the
//! synthetic world writes the same layout.

use std::path::Path;

use super::items::{inside_root, CaptionItem, DataError};

/// Split one CSV record (RFC 4180: quoted fields, doubled quotes). Records never span lines here.
pub fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            out.push(std::mem::take(&mut field));
            at_start = true;
        } else {
            field.push(c);
            at_start = false;
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    out.push(field);
    Ok(out)
}

/// A CSV table: its header and its non-empty records with their 1-based line numbers. Every
/// record must have as many fields as the header; errors name the file and line.
pub struct CsvTable {
    pub header: Vec<String>,
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Read a CSV file (a UTF-8 BOM before the header is ignored).
pub fn read_csv(csv: &Path) -> Result<CsvTable, DataError> {
    let parse = |line: usize, message: String| DataError::Parse {
        path: csv.into(),
        line,
        message,
    };
    let text = std::fs::read_to_string(csv).map_err(|e| DataError::Io {
        path: csv.into(),
        message: e.to_string(),
    })?;
    let mut lines = text.lines().enumerate();
    let header = match lines.next() {
        Some((_, h)) => {
            split_csv_line(h.trim_start_matches('\u{feff}')).map_err(|m| parse(1, m))?
        }
        None => return Err(parse(1, "empty file (expected a header)".into())),
    };
    let mut rows = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f = split_csv_line(line).map_err(|m| parse(i + 1, m))?;
        if f.len() != header.len() {
            return Err(parse(
                i + 1,
                format!("{} fields, header has {}", f.len(), header.len()),
            ));
        }
        rows.push((i + 1, f));
    }
    Ok(CsvTable { header, rows })
}

/// Read a caption table; audio files are looked up in `audio_dir`.
pub fn read_captions_csv(csv: &Path, audio_dir: &Path) -> Result<Vec<CaptionItem>, DataError> {
    let CsvTable { header, rows } = read_csv(csv)?;
    let file_col = header
        .iter()
        .position(|h| h == "file_name")
        .ok_or_else(|| DataError::Parse {
            path: csv.into(),
            line: 1,
            message: format!("no `file_name` column in header {header:?}"),
        })?;
    let cap_cols: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| h.starts_with("caption"))
        .map(|(i, _)| i)
        .collect();
    if cap_cols.is_empty() {
        return Err(DataError::Parse {
            path: csv.into(),
            line: 1,
            message: "no caption_N columns".into(),
        });
    }
    let mut items = Vec::new();
    for (line, f) in rows {
        let name = &f[file_col];
        let id = Path::new(name)
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| name.clone());
        let captions: Vec<String> = cap_cols
            .iter()
            .map(|&c| f[c].trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        if captions.is_empty() {
            return Err(DataError::Parse {
                path: csv.into(),
                line,
                message: format!("`{name}` has no caption"),
            });
        }
        let audio = inside_root(audio_dir, name).map_err(|message| DataError::Parse {
            path: csv.into(),
            line,
            message,
        })?;
        items.push(CaptionItem {
            id,
            audio,
            captions,
        });
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_clotho_v2_1_layout() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("clotho_captions_evaluation.csv"),
            "file_name,caption_1,caption_2,caption_3,caption_4,caption_5\nStill Life.wav,A clock ticks.,\"Ticking, steady\",c3,c4,c5\n",
        )
        .unwrap();
        let cfg = crate::spec::schema::DataConfig {
            roots: [("clotho".to_string(), d.path().display().to_string())]
                .into_iter()
                .collect(),
            ..Default::default()
        };
        let items =
            crate::data::sources::caption_items(d.path(), &cfg, "clotho", "evaluation").unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].id, "Still Life");
        assert_eq!(items[0].audio, d.path().join("evaluation/Still Life.wav"));
        assert_eq!(items[0].captions[1], "Ticking, steady");
        std::fs::write(
            d.path().join("clotho_captions_development.csv"),
            "file_name,caption_1\na.wav,x,extra\n",
        )
        .unwrap();
        let e = crate::data::sources::caption_items(d.path(), &cfg, "clotho", "development")
            .unwrap_err()
            .to_string();
        assert!(e.contains("clotho_captions_development.csv:2"), "{e}");
        // A file name that leaves the split's folder, or a row without captions, names its line.
        for (row, want) in [
            ("../../secret.wav,x", "outside"),
            ("/etc/x.wav,x", "absolute"),
            ("b.wav,", "has no caption"),
        ] {
            std::fs::write(
                d.path().join("clotho_captions_development.csv"),
                format!("file_name,caption_1\na.wav,fine\n{row}\n"),
            )
            .unwrap();
            let e = crate::data::sources::caption_items(d.path(), &cfg, "clotho", "development")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("clotho_captions_development.csv:3") && e.contains(want),
                "{row}: {e}"
            );
        }
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(
            split_csv_line(r#"a,"b, c","say ""hi""",d"#).unwrap(),
            vec!["a", "b, c", "say \"hi\"", "d"]
        );
        assert!(split_csv_line(r#"a,"b"#).is_err());
    }
}
