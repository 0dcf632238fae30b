//! Plots of a [`ReportData`]: training-loss curves and per-metric bar charts, written as PNG
//! (800×480, `BitMapBackend`) and SVG (`SVGBackend`) by the same drawing code.
//!
//! Text is drawn with the embedded DejaVu Sans font (registered with plotters' `ab_glyph`
//! font table under `"sans-serif"`), so no system fontconfig is needed. The same input always
//! gives byte-identical files.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::data::{ReportData, ReportRow};

/// DejaVu Sans (see `assets/fonts/LICENSE-DejaVu.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Font family name used for all plot text.
const FONT: &str = "sans-serif";

/// Size of the rendered figures in pixels.
pub const FIGURE_SIZE: (u32, u32) = (800, 480);

/// Errors writing report files; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Filesystem error (creating the directory, writing a file).
    #[error("cannot write {}: {message}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        message: String,
    },
    /// Plotting/encoding error.
    #[error("cannot render plot {}: {message}", path.display())]
    Plot {
        /// The figure file concerned.
        path: PathBuf,
        /// The underlying error.
        message: String,
    },
}

/// Registers the embedded font with plotters (once per process).
fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for name in [FONT, "DejaVu Sans"] {
            // The font is embedded and known valid; a failure here would be a build defect.
            if plotters::style::register_font(name, FontStyle::Normal, DEJAVU_SANS).is_err() {
                panic!("embedded DejaVuSans.ttf is not a valid font");
            }
        }
    });
}

/// Categorical colour palette (matplotlib "tab10").
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Runs a drawing function against a backend, mapping errors to [`ReportError::Plot`].
macro_rules! render_to {
    ($backend:expr, $path:expr, $draw:expr) => {{
        let path: &Path = $path;
        let root = $backend.into_drawing_area();
        let res = ($draw)(&root).and_then(|_| root.present());
        drop(root);
        res.map_err(|e| ReportError::Plot {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if !path.is_file() {
            return Err(ReportError::Io {
                path: path.to_path_buf(),
                message: "file was not written".into(),
            });
        }
    }};
}

/// Draws the training-loss curves of all rows (PNG and SVG).
///
/// One line per row: the mean over the row's runs at the steps common to all of them (the first
/// run with a curve when they share no step), x = step, y = loss, legend with row names.
/// Validation curves, when present, are drawn dashed in the row's colour. Rows without any loss
/// points are skipped; with nothing to draw an empty chart captioned "no data yet" is written.
pub fn loss_curves(d: &ReportData, path_png: &Path, path_svg: &Path) -> Result<(), ReportError> {
    ensure_font();
    let series = loss_series(d);
    let title = format!("{}: training loss", d.experiment);
    render_to!(
        BitMapBackend::new(path_png, FIGURE_SIZE),
        path_png,
        |root| draw_loss(root, &title, &series)
    );
    render_to!(SVGBackend::new(path_svg, FIGURE_SIZE), path_svg, |root| {
        draw_loss(root, &title, &series)
    });
    Ok(())
}

/// Draws a bar chart of `metric` (PNG and SVG).
///
/// One bar per row (mean over the done runs), error bars (± sample std) when there is more than
/// one value, and the paper value as a short black line with a cross when present. Rows with
/// neither our value nor a paper value are skipped; with nothing to draw an empty chart captioned
/// "no data yet" is written. The title is the metric key.
pub fn metric_bars(
    d: &ReportData,
    metric: &str,
    path_png: &Path,
    path_svg: &Path,
) -> Result<(), ReportError> {
    ensure_font();
    let bars = bar_entries(d, metric);
    render_to!(
        BitMapBackend::new(path_png, FIGURE_SIZE),
        path_png,
        |root| draw_bars(root, metric, &bars)
    );
    render_to!(SVGBackend::new(path_svg, FIGURE_SIZE), path_svg, |root| {
        draw_bars(root, metric, &bars)
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Data preparation

/// A row's curves, ready to draw.
struct LossSeries {
    name: String,
    color: RGBColor,
    train: Vec<(f64, f64)>,
    val: Vec<(f64, f64)>,
}

/// Mean curve over runs at the steps common to all runs with a non-empty curve; falls back to the
/// first such run when they share no step.
fn mean_curve<'a>(curves: impl Iterator<Item = &'a [(u64, f64)]>) -> Vec<(f64, f64)> {
    let curves: Vec<Vec<(u64, f64)>> = curves
        .map(|c| {
            let mut c: Vec<(u64, f64)> = c.iter().copied().filter(|(_, y)| y.is_finite()).collect();
            c.sort_by_key(|p| p.0);
            c.dedup_by_key(|p| p.0);
            c
        })
        .filter(|c| !c.is_empty())
        .collect();
    let Some(first) = curves.first() else {
        return Vec::new();
    };
    let common: Vec<(f64, f64)> = first
        .iter()
        .filter_map(|&(s, _)| {
            let ys: Option<Vec<f64>> = curves
                .iter()
                .map(|c| c.binary_search_by_key(&s, |p| p.0).ok().map(|i| c[i].1))
                .collect();
            ys.map(|ys| (s as f64, ys.iter().sum::<f64>() / ys.len() as f64))
        })
        .collect();
    if common.is_empty() {
        first.iter().map(|&(s, y)| (s as f64, y)).collect()
    } else {
        common
    }
}

fn loss_series(d: &ReportData) -> Vec<LossSeries> {
    d.rows
        .iter()
        .enumerate()
        .filter_map(|(i, row)| {
            // Done runs only, like the tables: a running seed would cut the mean curve short.
            let done = || row.runs.iter().filter(|r| r.is_done());
            let train = mean_curve(done().map(|r| r.loss_curve.as_slice()));
            let val = mean_curve(done().map(|r| r.val_curve.as_slice()));
            (!train.is_empty() || !val.is_empty()).then(|| LossSeries {
                name: row.name.clone(),
                color: color(i),
                train,
                val,
            })
        })
        .collect()
}

/// One bar of a metric chart.
struct BarEntry {
    name: String,
    color: RGBColor,
    mean: Option<f64>,
    std: Option<f64>,
    paper: Option<f64>,
}

fn bar_entries(d: &ReportData, metric: &str) -> Vec<BarEntry> {
    d.rows
        .iter()
        .enumerate()
        .filter_map(|(i, row): (usize, &ReportRow)| {
            let stats = row.metric_stats(metric);
            let paper = d.paper_value(row, metric).filter(|p| p.is_finite());
            (stats.is_some() || paper.is_some()).then(|| BarEntry {
                name: row.name.clone(),
                color: color(i),
                mean: stats.map(|s| s.mean),
                std: stats.and_then(|s| s.std),
                paper,
            })
        })
        .collect()
}

/// Padded `(lo, hi)` range over values; never empty.
fn padded_range(lo: f64, hi: f64, pad_frac: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi - lo <= f64::EPSILON * lo.abs().max(1.0) {
        let w = if lo.abs() > 0.0 { lo.abs() * 0.1 } else { 0.5 };
        return (lo - w, hi + w);
    }
    let pad = (hi - lo) * pad_frac;
    (lo - pad, hi + pad)
}

/// Shortens a label to at most `n` characters (with `…`).
fn ellipsize(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        let t: String = s.chars().take(n.saturating_sub(1)).collect();
        format!("{t}…")
    } else {
        s.to_string()
    }
}

/// Tick label for numbers (compact, no trailing noise).
fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".to_string()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Categorical x axis of the bar charts: bar `i` sits at `i`, the axis spans `-0.5..n-0.5`, and
/// the key points (ticks) are exactly the bar centres.
#[derive(Clone, Copy)]
struct BarAxis {
    n: usize,
}

impl Ranged for BarAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let frac = (value + 0.5) / self.n.max(1) as f64;
        limit.0 + ((limit.1 - limit.0) as f64 * frac).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.max_num_points() == 0 {
            return Vec::new();
        }
        (0..self.n).map(|i| i as f64).collect()
    }

    fn range(&self) -> std::ops::Range<f64> {
        -0.5..self.n as f64 - 0.5
    }
}

impl ValueFormatter<f64> for BarAxis {
    fn format(value: &f64) -> String {
        tick(*value)
    }
}

// ---------------------------------------------------------------------------------------------
// Drawing (generic over the backend)

fn draw_empty<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(format!("{title} (no data yet)"), (FONT, 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(0)
        .y_labels(0)
        .draw()?;
    chart.draw_series(std::iter::once(Text::new(
        "no data yet",
        (0.5, 0.5),
        TextStyle::from((FONT, 24).into_font())
            .color(&RGBColor(110, 110, 110))
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Center,
            )),
    )))?;
    Ok(())
}

fn draw_loss<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    series: &[LossSeries],
) -> DrawResult<DB> {
    let pts = || {
        series
            .iter()
            .flat_map(|s| s.train.iter().chain(s.val.iter()))
    };
    if pts().next().is_none() {
        return draw_empty(root, title);
    }
    root.fill(&WHITE)?;
    let (x_lo, x_hi) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.0), b.max(p.0))
    });
    let (y_lo, y_hi) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.1), b.max(p.1))
    });
    let (x_lo, x_hi) = if x_hi > x_lo {
        (x_lo, x_hi)
    } else {
        padded_range(x_lo, x_hi, 0.0)
    };
    let (y_lo, y_hi) = padded_range(y_lo, y_hi, 0.05);

    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)?;
    chart
        .configure_mesh()
        .max_light_lines(4)
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(210, 210, 210))
        .x_desc("step")
        .y_desc("loss")
        .x_label_formatter(&|v| {
            if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                tick(*v)
            }
        })
        .y_label_formatter(&|v| tick(*v))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()?;

    let mut any_val = false;
    for s in series {
        let style = ShapeStyle::from(&s.color).stroke_width(2);
        if !s.train.is_empty() {
            let c = s.color;
            chart
                .draw_series(LineSeries::new(s.train.iter().copied(), style))?
                .label(ellipsize(&s.name, 40))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
        }
        if !s.val.is_empty() {
            any_val = true;
            let series = DashedLineSeries::new(s.val.iter().copied(), 6, 4, style);
            if s.val.len() == 1 {
                // A single point draws no dash: mark it.
                chart.draw_series(std::iter::once(Circle::new(s.val[0], 3, s.color.filled())))?;
            }
            let anno = chart.draw_series(series)?;
            if s.train.is_empty() {
                let c = s.color;
                anno.label(ellipsize(&format!("{} (val)", s.name), 40))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                    });
            }
        }
    }
    if any_val {
        // Explain the dash style once, in grey.
        let grey = RGBColor(90, 90, 90);
        chart
            .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
            .label("dashed: validation")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 7, y)], grey.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .draw()?;
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    bars: &[BarEntry],
) -> DrawResult<DB> {
    if bars.is_empty() {
        return draw_empty(root, title);
    }
    root.fill(&WHITE)?;
    let n = bars.len();
    let mut lo = 0f64;
    let mut hi = 0f64;
    for b in bars {
        for v in [
            b.mean,
            b.paper,
            b.mean.zip(b.std).map(|(m, s)| m + s),
            b.mean.zip(b.std).map(|(m, s)| m - s),
        ]
        .into_iter()
        .flatten()
        {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    // Row labels: horizontal when they fit under their bar, otherwise rotated.
    let labels: Vec<String> = bars.iter().map(|b| ellipsize(&b.name, 28)).collect();
    let max_chars = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1);
    let slot_px = (FIGURE_SIZE.0 as f64 - 110.0) / n as f64;
    let rotate = max_chars as f64 * 7.5 > slot_px;
    let x_area = if rotate {
        (max_chars as u32 * 13 / 2 + 24).min(200)
    } else {
        40
    };

    let (y_lo, y_hi) = if hi > lo {
        let pad = (hi - lo) * 0.08;
        let y_lo = if lo < 0.0 { lo - pad } else { 0.0 };
        // Headroom at the top keeps the legend (upper right, ~60 px) clear of the bars.
        let plot_h = FIGURE_SIZE.1 as f64 - 75.0 - x_area as f64;
        let f = (65.0 / plot_h).clamp(0.05, 0.5);
        let y_hi = if hi > 0.0 {
            (hi + pad).max((hi - f * y_lo) / (1.0 - f))
        } else {
            pad
        };
        (y_lo, y_hi)
    } else {
        (0.0, 1.0)
    };

    let x_range = BarAxis { n };
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(15)
        .x_label_area_size(x_area)
        .y_label_area_size(65)
        .build_cartesian_2d(x_range, y_lo..y_hi)?;
    let label_of = |v: &f64| -> String {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
            labels[i as usize].clone()
        } else {
            String::new()
        }
    };
    // plotters centres tick labels on the tick even when rotated, which pushes rotated labels
    // into the plot; in that case the mesh draws empty labels and the names are drawn below.
    let label_of = |v: &f64| if rotate { String::new() } else { label_of(v) };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .max_light_lines(4)
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(210, 210, 210))
        .x_label_formatter(&label_of)
        .y_label_formatter(&|v| tick(*v))
        .x_label_style((FONT, 14))
        .y_label_style((FONT, 14))
        .y_desc(title)
        .axis_desc_style((FONT, 16))
        .draw()?;
    if rotate {
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        let style = TextStyle::from((FONT, 13).into_font())
            .transform(FontTransform::Rotate90)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (i, label) in labels.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64, y_lo));
            root.draw(&Text::new(label.clone(), (px, py + 8), style.clone()))?;
        }
    }

    let half = 0.35;
    let mut ours_labelled = false;
    for (i, b) in bars.iter().enumerate() {
        let x = i as f64;
        if let Some(m) = b.mean {
            let anno = chart.draw_series(std::iter::once(Rectangle::new(
                [(x - half, 0.0), (x + half, m)],
                b.color.mix(0.85).filled(),
            )))?;
            if !ours_labelled {
                ours_labelled = true;
                anno.label("ours (mean ± std)").legend(|(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 16, y + 5)], PALETTE[0].mix(0.85).filled())
                });
            }
            if let Some(s) = b.std {
                let st = BLACK.stroke_width(2);
                let cap = half * 0.35;
                chart.draw_series([
                    PathElement::new(vec![(x, m - s), (x, m + s)], st),
                    PathElement::new(vec![(x - cap, m - s), (x + cap, m - s)], st),
                    PathElement::new(vec![(x - cap, m + s), (x + cap, m + s)], st),
                ])?;
            }
        }
    }
    let paper_style = RGBColor(20, 20, 20).stroke_width(3);
    let mut paper_labelled = false;
    for (i, b) in bars.iter().enumerate() {
        if let Some(p) = b.paper {
            let x = i as f64;
            let anno = chart.draw_series([PathElement::new(
                vec![(x - half * 1.15, p), (x + half * 1.15, p)],
                paper_style,
            )])?;
            if !paper_labelled {
                paper_labelled = true;
                anno.label("paper")
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], paper_style));
            }
            chart.draw_series(std::iter::once(Cross::new(
                (x, p),
                5,
                RGBColor(214, 39, 40).stroke_width(2),
            )))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::data::fixture;

    pub(crate) fn temp_dir(tag: &str) -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "acdc-report-test-{}-{}-{}",
            std::process::id(),
            tag,
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    fn render_all(dir: &Path, d: &ReportData) {
        loss_curves(d, &dir.join("loss.png"), &dir.join("loss.svg")).unwrap();
        metric_bars(
            d,
            "synth_test/aac/bleu_4",
            &dir.join("bleu.png"),
            &dir.join("bleu.svg"),
        )
        .unwrap();
        metric_bars(
            d,
            "synth_test/aqa/token_f1",
            &dir.join("f1.png"),
            &dir.join("f1.svg"),
        )
        .unwrap();
    }

    #[test]
    fn plots_are_deterministic_and_valid() {
        let d = fixture();
        let (a, b) = (temp_dir("det-a"), temp_dir("det-b"));
        render_all(&a, &d);
        render_all(&b, &d);
        for f in [
            "loss.png", "loss.svg", "bleu.png", "bleu.svg", "f1.png", "f1.svg",
        ] {
            let x = std::fs::read(a.join(f)).unwrap();
            let y = std::fs::read(b.join(f)).unwrap();
            assert!(x.len() > 1000, "{f} too small: {} bytes", x.len());
            assert_eq!(x, y, "{f} differs between two renders");
            if f.ends_with(".png") {
                assert_eq!(&x[..8], b"\x89PNG\r\n\x1a\n", "{f} is not a PNG");
            }
        }
        let svg = std::fs::read_to_string(a.join("loss.svg")).unwrap();
        assert!(svg.contains("table2_targets: training loss"));
        let svg = std::fs::read_to_string(a.join("bleu.svg")).unwrap();
        assert!(svg.contains("synth_test/aac/bleu_4"));
        assert!(svg.contains("paper"));
        let _ = std::fs::remove_dir_all(&a);
        let _ = std::fs::remove_dir_all(&b);
    }

    #[test]
    fn empty_data_draws_placeholder() {
        let mut d = fixture();
        for r in &mut d.rows {
            r.paper.clear();
            for run in &mut r.runs {
                run.metrics.clear();
                run.loss_curve.clear();
                run.val_curve.clear();
            }
        }
        let dir = temp_dir("empty");
        loss_curves(&d, &dir.join("loss.png"), &dir.join("loss.svg")).unwrap();
        metric_bars(&d, "nope", &dir.join("m.png"), &dir.join("m.svg")).unwrap();
        let svg = std::fs::read_to_string(dir.join("m.svg")).unwrap();
        assert!(svg.contains("no data yet"));
        assert_eq!(
            &std::fs::read(dir.join("loss.png")).unwrap()[..4],
            b"\x89PNG"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_file() {
        let dir = temp_dir("missing").join("does/not/exist");
        let err =
            loss_curves(&fixture(), &dir.join("loss.png"), &dir.join("loss.svg")).unwrap_err();
        assert!(err.to_string().contains("loss.png"), "{err}");
    }

    #[test]
    fn mean_curve_common_steps() {
        let a = [(0u64, 1.0), (10, 2.0), (20, 3.0)];
        let b = [(10u64, 4.0), (20, 5.0)];
        assert_eq!(
            mean_curve([&a[..], &b[..]].into_iter()),
            vec![(10.0, 3.0), (20.0, 4.0)]
        );
        let c = [(5u64, 9.0)];
        assert_eq!(mean_curve([&c[..], &b[..]].into_iter()), vec![(5.0, 9.0)]);
    }
}
