//! PNG plots of a results folder (plotters, with an embedded DejaVu Sans font, so no system font is
//! needed): reproduced against published where both exist, per-loss bars per (dataset, backbone), and the
//! training curves of every cell.

use crate::results::ResultFile;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Once;
use twoway_spec::{Backbone, CellKey, Dataset, Metric, Spec};

const FONT: &str = "sans-serif";

fn font() -> Result<()> {
    static INIT: Once = Once::new();
    let mut ok = true;
    INIT.call_once(|| ok = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok());
    if ok {
        Ok(())
    } else {
        Err(anyhow!("cannot load the embedded plot font"))
    }
}

fn err<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> anyhow::Error + '_ {
    move |e| anyhow!("{}: cannot draw: {e}", path.display())
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.2}"))
}

fn label(k: &CellKey) -> String {
    let way = k.way.map(|w| format!(" ({w})")).unwrap_or_default();
    format!("{}{way}", k.loss.label())
}

/// Reproduced (y) against published (x), one point per cell with both.
fn scatter(path: &Path, points: &[(CellKey, f64, f64)]) -> Result<()> {
    let root = BitMapBackend::new(path, (720, 720)).into_drawing_area();
    root.fill(&WHITE).map_err(err(path))?;
    let lo = points.iter().map(|p| p.1.min(p.2)).fold(100.0f64, f64::min).floor() - 2.0;
    let hi = points.iter().map(|p| p.1.max(p.2)).fold(0.0f64, f64::max).ceil() + 2.0;
    let mut chart = ChartBuilder::on(&root)
        .caption("Reproduced vs published", (FONT, 24))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(lo..hi, lo..hi)
        .map_err(err(path))?;
    chart
        .configure_mesh()
        .x_desc("published")
        .y_desc("reproduced")
        .label_style((FONT, 14))
        .draw()
        .map_err(err(path))?;
    chart.draw_series(LineSeries::new([(lo, lo), (hi, hi)], &BLACK.mix(0.4))).map_err(err(path))?;
    chart
        .draw_series(points.iter().map(|(k, p, r)| {
            let c = if k.metric == Metric::MapClass { BLUE } else { RED };
            Circle::new((*p, *r), 4, c.filled())
        }))
        .map_err(err(path))?;
    root.present().map_err(err(path))?;
    Ok(())
}

/// Bars of every loss (rows) for one (dataset, backbone), both metrics side by side.
fn bars(path: &Path, title: &str, rows: &[(String, Option<f64>, Option<f64>)]) -> Result<()> {
    let root = BitMapBackend::new(path, (900, 120 + 44 * rows.len() as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(err(path))?;
    let n = rows.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 22))
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(10)
        .build_cartesian_2d(0.0..100.0, 0.0..n)
        .map_err(err(path))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc("mAP (0-100); blue: mAP@class, red: mAP@sample")
        .label_style((FONT, 14))
        .draw()
        .map_err(err(path))?;
    for (i, (_, class, sample)) in rows.iter().enumerate() {
        let y = n - i as f64 - 1.0;
        if let Some(v) = class {
            chart.draw_series([Rectangle::new([(0.0, y + 0.52), (*v, y + 0.9)], BLUE.filled())]).map_err(err(path))?;
        }
        if let Some(v) = sample {
            chart.draw_series([Rectangle::new([(0.0, y + 0.1), (*v, y + 0.48)], RED.filled())]).map_err(err(path))?;
        }
        let values = format!("{}  ({} / {})", rows[i].0, fmt(*class), fmt(*sample));
        chart
            .draw_series([Text::new(values, (1.0, y + 0.86), (FONT, 15).into_font().color(&WHITE))])
            .map_err(err(path))?;
    }
    root.present().map_err(err(path))?;
    Ok(())
}

/// Training loss and the two metrics per epoch of one cell.
fn curves(path: &Path, r: &ResultFile) -> Result<()> {
    let root = BitMapBackend::new(path, (960, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err(path))?;
    let (left, right) = root.split_horizontally(480);
    let e = &r.epochs;
    let last = e.len().max(1) as f64;
    let max_loss = e.iter().map(|x| x.train_loss).fold(0.0f64, f64::max) * 1.1 + 1e-9;
    let mut a = ChartBuilder::on(&left)
        .caption(format!("{}: training loss", r.cell.label()), (FONT, 16))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(50)
        .build_cartesian_2d(1.0..last, 0.0..max_loss)
        .map_err(err(path))?;
    a.configure_mesh().x_desc("epoch").label_style((FONT, 12)).draw().map_err(err(path))?;
    a.draw_series(LineSeries::new(e.iter().map(|x| (x.epoch as f64, x.train_loss)), &BLACK)).map_err(err(path))?;
    let mut b = ChartBuilder::on(&right)
        .caption("eval mAP (blue: class, red: sample)", (FONT, 16))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(50)
        .build_cartesian_2d(1.0..last, 0.0..100.0)
        .map_err(err(path))?;
    b.configure_mesh().x_desc("epoch").label_style((FONT, 12)).draw().map_err(err(path))?;
    b.draw_series(LineSeries::new(e.iter().filter_map(|x| x.map_class.map(|v| (x.epoch as f64, v))), &BLUE))
        .map_err(err(path))?;
    b.draw_series(LineSeries::new(e.iter().filter_map(|x| x.map_sample.map(|v| (x.epoch as f64, v))), &RED))
        .map_err(err(path))?;
    root.present().map_err(err(path))?;
    Ok(())
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

/// Writes every plot of `results` into `out`; returns the files written.
pub fn write_all(
    spec: &Spec,
    results: &[(PathBuf, ResultFile)],
    cells: &BTreeMap<CellKey, f64>,
    out: &Path,
) -> Result<Vec<PathBuf>> {
    font()?;
    std::fs::create_dir_all(out.join("curves")).map_err(|e| anyhow!("{}: cannot create: {e}", out.display()))?;
    let mut written = Vec::new();
    let points: Vec<(CellKey, f64, f64)> =
        cells.iter().filter_map(|(k, r)| spec.paper.lookup(k).map(|p| (*k, p, *r))).collect();
    if !points.is_empty() {
        let p = out.join("reproduced_vs_published.png");
        atomically(&p, |t| scatter(t, &points))?;
        written.push(p);
    }
    let columns: BTreeSet<(Dataset, Backbone)> = cells.keys().map(|k| (k.dataset, k.backbone)).collect();
    for (d, b) in columns {
        let mut rows: BTreeMap<String, (Option<f64>, Option<f64>)> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for (k, v) in cells.iter().filter(|(k, _)| k.dataset == d && k.backbone == b) {
            let name = label(k);
            if !order.contains(&name) {
                order.push(name.clone());
            }
            let e = rows.entry(name).or_default();
            match k.metric {
                Metric::MapClass => e.0 = Some(*v),
                Metric::MapSample => e.1 = Some(*v),
            }
        }
        let rows: Vec<(String, Option<f64>, Option<f64>)> =
            order.into_iter().map(|n| (n.clone(), rows[&n].0, rows[&n].1)).collect();
        let p = out.join(format!("losses_{d}_{b}.png"));
        atomically(&p, |t| bars(t, &format!("{} / {}: reproduced mAP per loss", d.label(), b.label()), &rows))?;
        written.push(p);
    }
    for (key, series) in sweeps(results) {
        let p = out.join(format!("sweep_{}.png", key.replace(['/', '.'], "_")));
        atomically(&p, |t| sweep_plot(t, &key, &series))?;
        written.push(p);
    }
    for (_, r) in results {
        let p = out.join("curves").join(format!("{}.png", r.cell.label().replace('/', "_")));
        atomically(&p, |t| curves(t, r))?;
        written.push(p);
    }
    Ok(written)
}

/// Per swept key (a sweep of one numeric recipe key): per (dataset/backbone/loss) series, the mean over seeds
/// of (value, mAP@class, mAP@sample), by value.
type Series = BTreeMap<String, Vec<(f64, Option<f64>, Option<f64>)>>;

/// Per series, per swept value (by its bits): the value and the metrics of its seeds.
type Points = BTreeMap<String, BTreeMap<u64, (f64, Vec<f64>, Vec<f64>)>>;

fn sweeps(results: &[(PathBuf, ResultFile)]) -> BTreeMap<String, Series> {
    let mut acc: BTreeMap<String, Points> = BTreeMap::new();
    for (_, r) in results {
        let Some(v) = &r.cell.variant else { continue };
        let Some((key, value)) = v.split_once('=') else { continue };
        let Ok(x) = value.parse::<f64>() else { continue };
        if key.contains(',') || value.contains(',') || !x.is_finite() || x <= 0.0 {
            continue;
        }
        let c = &r.cell;
        let way = c.way.map(|w| format!(" ({w})")).unwrap_or_default();
        let name = format!("{}/{} {}{way}", c.dataset.label(), c.backbone.label(), c.loss.label());
        let e = acc.entry(key.to_string()).or_default().entry(name).or_default().entry(x.to_bits()).or_insert((
            x,
            vec![],
            vec![],
        ));
        e.1.extend(r.metrics.map_class);
        e.2.extend(r.metrics.map_sample);
    }
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    acc.into_iter()
        .map(|(k, series)| {
            let series = series
                .into_iter()
                .map(|(name, pts)| {
                    let mut pts: Vec<(f64, Option<f64>, Option<f64>)> =
                        pts.into_values().map(|(x, c, s)| (x, mean(&c), mean(&s))).collect();
                    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                    (name, pts)
                })
                .collect();
            (k, series)
        })
        .collect()
}

/// mAP@class and mAP@sample against a swept key (log scale), one line per series.
fn sweep_plot(path: &Path, key: &str, series: &Series) -> Result<()> {
    let root = BitMapBackend::new(path, (1200, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(err(path))?;
    let xs: Vec<f64> = series.values().flatten().map(|p| p.0).collect();
    let (xlo, xhi) = (xs.iter().cloned().fold(f64::INFINITY, f64::min), xs.iter().cloned().fold(0.0, f64::max));
    let panels = root.split_evenly((1, 2));
    for (panel, (metric, pick)) in panels.iter().zip([
        (
            "mAP@class",
            (|p: &(f64, Option<f64>, Option<f64>)| p.1) as fn(&(f64, Option<f64>, Option<f64>)) -> Option<f64>,
        ),
        ("mAP@sample", |p| p.2),
    ]) {
        let ys: Vec<f64> = series.values().flatten().filter_map(pick).collect();
        let (ylo, yhi) = (
            ys.iter().cloned().fold(100.0f64, f64::min).floor() - 1.0,
            ys.iter().cloned().fold(0.0f64, f64::max).ceil() + 1.0,
        );
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{metric} against {key}"), (FONT, 20))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d((xlo * 0.9..xhi * 1.1).log_scale(), ylo..yhi)
            .map_err(err(path))?;
        chart.configure_mesh().x_desc(key).y_desc(metric).label_style((FONT, 13)).draw().map_err(err(path))?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let colour = Palette99::pick(i).to_rgba();
            let line: Vec<(f64, f64)> = pts.iter().filter_map(|p| pick(p).map(|y| (p.0, y))).collect();
            chart
                .draw_series(LineSeries::new(line.clone(), colour.stroke_width(2)))
                .map_err(err(path))?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
            chart.draw_series(line.iter().map(|p| Circle::new(*p, 4, colour.filled()))).map_err(err(path))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 13))
            .draw()
            .map_err(err(path))?;
    }
    root.present().map_err(err(path))?;
    Ok(())
}
