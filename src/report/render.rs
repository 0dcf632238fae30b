//! Renders a whole report directory: plots plus `README.md`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::data::ReportData;
use super::markdown::{render_markdown, Figure};
use super::plot::{loss_curves, metric_bars, ReportError};

/// File-name-safe form of a metric key: characters other than ASCII letters, digits, `_` and `-`
/// become `-` (e.g. `synth_test/aac/bleu_4` -> `synth_test-aac-bleu_4`).
pub fn sanitise_metric(metric: &str) -> String {
    let s: String = metric
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() {
        "metric".to_string()
    } else {
        s
    }
}

/// Renders the report of `d` into `out_dir` (created if missing): `loss.png`/`loss.svg`, one
/// `metric-<sanitised metric>.png`/`.svg` per metric in `metric_order` (a `-2`, `-3`, … suffix
/// disambiguates metrics whose sanitised names collide), and `README.md` embedding those
/// figures. Returns the written paths, sorted. The same input gives byte-identical files.
pub fn render_report(d: &ReportData, out_dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(out_dir).map_err(|e| ReportError::Io {
        path: out_dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut written = Vec::new();
    let mut figures = Vec::new();

    let (png, svg) = ("loss.png".to_string(), "loss.svg".to_string());
    loss_curves(d, &out_dir.join(&png), &out_dir.join(&svg))?;
    written.push(out_dir.join(&png));
    written.push(out_dir.join(&svg));
    crate::pause::point("report");
    figures.push(Figure {
        title: "Training loss".to_string(),
        png,
        svg,
    });

    let mut used = BTreeSet::new();
    for metric in &d.metric_order {
        let base = format!("metric-{}", sanitise_metric(metric));
        let mut stem = base.clone();
        let mut k = 2;
        while !used.insert(stem.clone()) {
            stem = format!("{base}-{k}");
            k += 1;
        }
        let (png, svg) = (format!("{stem}.png"), format!("{stem}.svg"));
        metric_bars(d, metric, &out_dir.join(&png), &out_dir.join(&svg))?;
        written.push(out_dir.join(&png));
        written.push(out_dir.join(&svg));
        figures.push(Figure {
            title: metric.clone(),
            png,
            svg,
        });
    }

    let md_path = out_dir.join("README.md");
    let mut md = render_markdown(d, &figures);
    md.push('\n');
    std::fs::write(&md_path, md).map_err(|e| ReportError::Io {
        path: md_path.clone(),
        message: e.to_string(),
    })?;
    written.push(md_path);
    written.sort();
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::data::fixture;

    fn temp_dir(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("acdc-render-test-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    #[test]
    fn sanitise() {
        assert_eq!(
            sanitise_metric("synth_test/aac/bleu_4"),
            "synth_test-aac-bleu_4"
        );
        assert_eq!(sanitise_metric("a b.c"), "a-b-c");
    }

    #[test]
    fn report_directory_is_complete_and_deterministic() {
        let d = fixture();
        let (a, b) = (temp_dir("a"), temp_dir("b").join("nested"));
        let wa = render_report(&d, &a).unwrap();
        let wb = render_report(&d, &b).unwrap();
        let names = |w: &[PathBuf], root: &Path| -> Vec<String> {
            w.iter()
                .map(|p| p.strip_prefix(root).unwrap().display().to_string())
                .collect()
        };
        assert_eq!(
            names(&wa, &a),
            vec![
                "README.md",
                "loss.png",
                "loss.svg",
                "metric-synth_test-aac-bleu_4.png",
                "metric-synth_test-aac-bleu_4.svg",
                "metric-synth_test-aac-cider_d.png",
                "metric-synth_test-aac-cider_d.svg",
                "metric-synth_test-aqa-token_f1.png",
                "metric-synth_test-aqa-token_f1.svg",
            ]
        );
        assert_eq!(names(&wa, &a), names(&wb, &b));
        for (x, y) in wa.iter().zip(&wb) {
            assert_eq!(
                std::fs::read(x).unwrap(),
                std::fs::read(y).unwrap(),
                "{} differs",
                x.display()
            );
        }
        let md = std::fs::read_to_string(a.join("README.md")).unwrap();
        assert!(md.contains("![Training loss](loss.png)"));
        assert!(md.contains("[SVG](metric-synth_test-aqa-token_f1.svg)"));
        let _ = std::fs::remove_dir_all(&a);
        let _ = std::fs::remove_dir_all(b.parent().unwrap());
    }

    #[test]
    fn colliding_metric_names_get_suffixes() {
        let mut d = fixture();
        d.metric_order = vec!["a/b".into(), "a.b".into()];
        let dir = temp_dir("collide");
        let w = render_report(&d, &dir).unwrap();
        assert!(w.contains(&dir.join("metric-a-b.png")));
        assert!(w.contains(&dir.join("metric-a-b-2.png")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A sweep with long row names (rotated bar labels) and an empty report both render every
    /// file as a real PNG/SVG.
    #[test]
    fn sweep_and_empty_reports_render() {
        let dir = temp_dir("sweep-empty");
        let mut sweep = fixture();
        let base = sweep.rows[1].clone();
        sweep.rows = (0..8)
            .map(|i| {
                let mut r = base.clone();
                r.name = format!("T[targets.temperature={:.1}]", 0.1 * i as f64);
                for run in &mut r.runs {
                    for v in run.metrics.values_mut() {
                        *v *= 1.0 + 0.05 * i as f64;
                    }
                }
                r
            })
            .collect();
        let mut empty = fixture();
        empty.rows.clear();
        for (d, out) in [(sweep, dir.join("sweep")), (empty, dir.join("empty"))] {
            let files = render_report(&d, &out).unwrap();
            assert!(files.iter().any(|f| f.ends_with("README.md")));
            for f in files {
                let bytes = std::fs::read(&f).unwrap();
                match f.extension().and_then(|e| e.to_str()) {
                    Some("png") => assert!(
                        bytes.starts_with(b"\x89PNG") && bytes.len() > 1000,
                        "{}",
                        f.display()
                    ),
                    Some("svg") => assert!(
                        String::from_utf8_lossy(&bytes).contains("<svg"),
                        "{}",
                        f.display()
                    ),
                    _ => {}
                }
            }
        }
    }
}
