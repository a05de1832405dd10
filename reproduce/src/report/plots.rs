//! The figures of a results folder as files: PNGs (plotters' bitmap backend, with an embedded DejaVu Sans
//! font, so no system font is needed) written atomically under `RESULTS/plots`, and the same figures as
//! inline SVG for `twoway report`. What each figure shows is [`super::figures`].

use super::figures::{self, Figure};
use crate::results::{ResultFile, Summary};
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Once;
use twoway_spec::{CellKey, Metric, Spec};

fn font() -> Result<()> {
    static INIT: Once = Once::new();
    let mut ok = true;
    INIT.call_once(|| {
        ok = plotters::style::register_font(figures::FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow!("cannot load the embedded plot font"))
    }
}

/// Draws `path` through a temp file in the same folder, renamed into place when complete.
fn atomically(path: &Path, draw: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy().to_string();
    let tmp = path.with_file_name(format!(".{}.tmp.png", name.trim_end_matches(".png")));
    let r = draw(&tmp).and_then(|_| std::fs::rename(&tmp, path).map_err(|e| anyhow!("{}: {e}", path.display())));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// Writes every figure of `results` (`cells`: their table cells over seeds) into `out` as PNG; returns the
/// files written.
pub fn write_all(
    spec: &Spec,
    results: &[(PathBuf, ResultFile)],
    cells: &BTreeMap<CellKey, Summary>,
    out: &Path,
) -> Result<Vec<PathBuf>> {
    write_all_for(spec, results, cells, out, Metric::MAP)
}

/// [`write_all`] whose means per loss show `metrics` (`--metrics`).
pub fn write_all_for(
    spec: &Spec,
    results: &[(PathBuf, ResultFile)],
    cells: &BTreeMap<CellKey, Summary>,
    out: &Path,
    metrics: &[Metric],
) -> Result<Vec<PathBuf>> {
    font()?;
    std::fs::create_dir_all(out.join("curves")).map_err(|e| anyhow!("{}: cannot create: {e}", out.display()))?;
    let mut written = Vec::new();
    for (name, _, fig) in figures::figures_for(spec, results, cells, metrics) {
        let p = out.join(name);
        atomically(&p, |t| {
            let root = BitMapBackend::new(t, fig.size()).into_drawing_area();
            figures::draw(&root, &fig).map_err(|e| anyhow!("{}: {e:#}", p.display()))
        })?;
        written.push(p);
    }
    Ok(written)
}

/// A figure as an SVG document (text as text, in the page's sans-serif font).
pub fn svg(fig: &Figure) -> Result<String> {
    font()?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, fig.size()).into_drawing_area();
        figures::draw(&root, fig)?;
    }
    Ok(text)
}
