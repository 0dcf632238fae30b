//! Reports rendered from the store only: `reports/<experiment>/README.md` with one table (rows =
//! labels, columns = the parameters that vary, the metrics, the paper's number and our delta,
//! mean ± std over seeds), comparisons of rows (differences with paired-bootstrap intervals,
//! [`compare`]), plus loss curves and metric bar charts as PNG and SVG. The same store gives the
//! same bytes.

pub mod compare;
pub mod data;
pub mod from_store;
pub mod markdown;
pub mod plot;
pub mod render;

use std::path::{Path, PathBuf};

use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum WriteReportError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Render(#[from] plot::ReportError),
}

/// Render `experiment`'s report into `out_dir`; returns the files written.
pub fn write_report(
    store: &Store,
    experiment: &str,
    out_dir: &Path,
) -> Result<Vec<PathBuf>, WriteReportError> {
    let data = from_store::gather(store, experiment)?;
    Ok(render::render_report(&data, out_dir)?)
}
