//! The figures of a results folder, drawn once for any plotters backend: PNG files (`twoway plots`, the end
//! of `twoway run`) and inline SVG (`twoway report`). Made to be put in a paper: a legend on every figure,
//! the Okabe-Ito palette (told apart with any colour vision), axes that span the data rather than 0-100,
//! error bars of ± one sd over seeds, and the published number marked beside the reproduced one; means
//! are dots (a bar that starts anywhere but 0 would exaggerate their differences), epochs integer ticks.
//! [`figures`] says what to draw; [`draw`] draws one. Tested through `tests/cli_run.rs` (the PNGs) and
//! `tests/report.rs` (the SVGs in a browser).

use crate::results::{ResultFile, Summary};
use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use twoway_spec::{Backbone, CellKey, Dataset, Metric, Spec};

pub const FONT: &str = "sans-serif";

/// Okabe & Ito's colour-blind-safe palette: blue, vermillion, bluish green, orange, reddish purple, sky
/// blue, yellow.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(230, 159, 0),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(240, 228, 66),
];

/// A reproduced number over seeds, with the published one when the paper has the cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    pub mean: f64,
    pub sd: Option<f64>,
    pub published: Option<f64>,
}

/// A metric's (mean, sd) over seeds at one point of a sweep.
pub type Point = [Option<(f64, Option<f64>)>; 2];

/// One figure's data.
#[derive(Debug, Clone)]
pub enum Figure {
    /// Reproduced (y, ± sd) against published (x), both metrics.
    Scatter(Vec<(CellKey, Stat)>),
    /// Per loss (rows) of one (dataset, backbone): a panel per metric, each loss's reproduced mean as a dot
    /// with ± sd error bars and its published mark (`rows[i].1[m]`: metric `metrics[m]`).
    Dots { title: String, metrics: Vec<Metric>, rows: Vec<(String, Vec<Option<Stat>>)> },
    /// Both metrics against a swept recipe key, one line per series, ± sd over seeds.
    Sweep { key: String, series: Series },
    /// One cell's training loss and evaluation mAP per epoch.
    Curves(Box<ResultFile>),
}

impl Figure {
    /// Its size in pixels.
    pub fn size(&self) -> (u32, u32) {
        match self {
            Figure::Scatter(_) => (720, 720),
            Figure::Dots { rows, metrics, .. } => (500 * metrics.len().max(1) as u32, 150 + 40 * rows.len() as u32),
            Figure::Sweep { .. } => (1200, 520),
            Figure::Curves(_) => (960, 420),
        }
    }
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("cannot draw: {e}")
}

fn loss_label(k: &CellKey) -> String {
    let way = k.way.map(|w| format!(" ({w})")).unwrap_or_default();
    format!("{}{way}", k.loss.label())
}

/// An axis range around `values` with a margin, rounded outwards to whole points.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 100.0);
    }
    let pad = ((hi - lo) * 0.08).max(1.0);
    ((lo - pad).floor().max(0.0), (hi + pad).ceil().min(100.0).max((lo - pad).floor() + 1.0))
}

/// Integer epoch ticks from 1 to `last` (at most 11): every epoch up to 10, else the multiples of the
/// smallest step of 2, 5, 10, 20, 50, ... that keeps them to 10, with epoch 1.
pub fn epoch_ticks(last: usize) -> Vec<usize> {
    let last = last.max(1);
    let mut step = 1;
    for k in 0.. {
        if last / step <= 10 {
            break;
        }
        step = [2, 5, 10][k % 3] * 10usize.pow(k as u32 / 3);
    }
    let mut ticks = vec![1];
    ticks.extend((1..=last / step).map(|i| i * step).filter(|t| *t > 1));
    ticks
}

/// What `twoway plots` and `twoway report` draw for these results: (file name, title, figure), mAP.
pub fn figures(
    spec: &Spec,
    results: &[(PathBuf, ResultFile)],
    cells: &BTreeMap<CellKey, Summary>,
) -> Vec<(String, String, Figure)> {
    figures_for(spec, results, cells, Metric::MAP)
}

/// [`figures`] whose means per loss show `metrics` (`--metrics`), a panel each.
pub fn figures_for(
    spec: &Spec,
    results: &[(PathBuf, ResultFile)],
    cells: &BTreeMap<CellKey, Summary>,
    metrics: &[Metric],
) -> Vec<(String, String, Figure)> {
    let stat = |k: &CellKey, s: &Summary| Stat { mean: s.mean, sd: s.sd, published: spec.paper.lookup(k) };
    let mut out = Vec::new();
    let points: Vec<(CellKey, Stat)> = cells
        .iter()
        .filter(|(k, _)| metrics.contains(&k.metric))
        .map(|(k, s)| (*k, stat(k, s)))
        .filter(|(_, s)| s.published.is_some())
        .collect();
    if !points.is_empty() {
        out.push((
            "reproduced_vs_published.png".into(),
            "Reproduced against published".into(),
            Figure::Scatter(points),
        ));
    }
    let what = if metrics.iter().all(|m| m.is_map()) { "mAP" } else { "metrics" };
    let columns: BTreeSet<(Dataset, Backbone)> = cells.keys().map(|k| (k.dataset, k.backbone)).collect();
    for (d, b) in columns {
        let mut rows: Vec<(String, Vec<Option<Stat>>)> = Vec::new();
        for (k, s) in cells.iter().filter(|(k, _)| k.dataset == d && k.backbone == b) {
            let Some(m) = metrics.iter().position(|m| *m == k.metric) else { continue };
            let name = loss_label(k);
            if rows.last().is_none_or(|r| r.0 != name) {
                rows.push((name, vec![None; metrics.len()]));
            }
            rows.last_mut().expect("pushed").1[m] = Some(stat(k, s));
        }
        if rows.is_empty() {
            continue;
        }
        let title = format!("{} / {}: {what} per loss", d.label(), b.label());
        let fig = Figure::Dots { title: title.clone(), metrics: metrics.to_vec(), rows };
        out.push((format!("losses_{d}_{b}.png"), title, fig));
    }
    for (key, series) in sweeps(results) {
        let title = format!("mAP against {key}");
        out.push((format!("sweep_{}.png", key.replace(['/', '.'], "_")), title, Figure::Sweep { key, series }));
    }
    for (_, r) in results {
        let name = format!("curves/{}.png", r.cell.label().replace('/', "_"));
        out.push((name, format!("{}: training", r.cell.label()), Figure::Curves(Box::new(r.clone()))));
    }
    out
}

/// Draws a figure on a backend's drawing area (white background first).
pub fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    match fig {
        Figure::Scatter(points) => scatter(root, points),
        Figure::Dots { title, metrics, rows } => {
            let panels = root.split_evenly((1, metrics.len().max(1)));
            for (m, panel) in panels.iter().enumerate().take(metrics.len()) {
                dots(panel, title, metrics[m], rows, m)?;
            }
            Ok(())
        }
        Figure::Sweep { key, series } => {
            let panels = root.split_evenly((1, 2));
            for (m, panel) in panels.iter().enumerate() {
                sweep(panel, key, series, m)?;
            }
            Ok(())
        }
        Figure::Curves(r) => curves(root, r),
    }?;
    root.present().map_err(err)
}

fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.5))
        .label_font((FONT, 13))
        .draw()
        .map_err(err)
}

fn scatter<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, points: &[(CellKey, Stat)]) -> Result<()> {
    let (lo, hi) = span(points.iter().flat_map(|(_, s)| [s.mean, s.published.unwrap_or(s.mean)]));
    let mut chart = ChartBuilder::on(root)
        .caption("Reproduced against published", (FONT, 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(54)
        .build_cartesian_2d(lo..hi, lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("published")
        .y_desc("reproduced (mean ± sd)")
        .label_style((FONT, 14))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new([(lo, lo), (hi, hi)], BLACK.mix(0.4)))
        .map_err(err)?
        .label("reproduced = published")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.4)));
    for (i, metric) in Metric::MAP.iter().enumerate() {
        let c = PALETTE[i];
        let mine: Vec<(f64, f64, f64)> = points
            .iter()
            .filter(|(k, _)| k.metric == *metric)
            .map(|(_, s)| (s.published.unwrap_or(s.mean), s.mean, s.sd.unwrap_or(0.0)))
            .collect();
        chart
            .draw_series(mine.iter().map(|(p, r, sd)| ErrorBar::new_vertical(*p, r - sd, *r, r + sd, c.filled(), 6)))
            .map_err(err)?;
        let marker = move |(x, y): (f64, f64)| -> DynElement<'static, DB, (f64, f64)> {
            if i == 0 {
                Circle::new((x, y), 4, c.filled()).into_dyn()
            } else {
                TriangleMarker::new((x, y), 5, c.filled()).into_dyn()
            }
        };
        chart
            .draw_series(mine.iter().map(|(p, r, _)| marker((*p, *r))))
            .map_err(err)?
            .label(metric.label())
            .legend(move |(x, y)| Circle::new((x + 9, y), 4, c.filled()));
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// One metric's panel of a dots figure: per loss a dot at its mean with ± sd error bars, on an axis that
/// spans the data, and the published number as a black cross.
fn dots<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    title: &str,
    metric: Metric,
    rows: &[(String, Vec<Option<Stat>>)],
    m: usize,
) -> Result<()> {
    let stats: Vec<&Stat> = rows.iter().filter_map(|r| r.1.get(m)?.as_ref()).collect();
    let (lo, hi) = span(
        stats
            .iter()
            .flat_map(|s| [s.mean - s.sd.unwrap_or(0.0), s.mean + s.sd.unwrap_or(0.0)].into_iter().chain(s.published)),
    );
    let n = rows.len() as f64;
    let mut chart = ChartBuilder::on(panel)
        .caption(format!("{title}: {}", metric.label()), (FONT, 17))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(150)
        // A free row at the bottom holds the legend.
        .build_cartesian_2d(lo..hi, -1.6..n - 0.5)
        .map_err(err)?;
    let names: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows.len().max(1) * 2 + 1)
        .y_label_formatter(&|y| {
            let i = n - 1.0 - y;
            if (i - i.round()).abs() < 1e-6 && i >= 0.0 {
                names.get(i.round() as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc(format!("{} (points)", metric.label()))
        .label_style((FONT, 13))
        .draw()
        .map_err(err)?;
    let c = PALETTE[m % PALETTE.len()];
    let at = |i: usize| n - 1.0 - i as f64;
    let dot_rows: Vec<(f64, &Stat)> =
        rows.iter().enumerate().filter_map(|(i, r)| r.1.get(m)?.as_ref().map(|s| (at(i), s))).collect();
    chart
        .draw_series(dot_rows.iter().filter(|(_, s)| s.sd.is_some()).map(|(y, s)| {
            let sd = s.sd.unwrap_or(0.0);
            ErrorBar::new_horizontal(*y, s.mean - sd, s.mean, s.mean + sd, c.stroke_width(2), 10)
        }))
        .map_err(err)?;
    chart
        .draw_series(dot_rows.iter().map(|(y, s)| Circle::new((s.mean, *y), 5, c.filled())))
        .map_err(err)?
        .label("reproduced (mean ± sd over seeds)")
        .legend(move |(x, y)| Circle::new((x + 8, y), 5, c.filled()));
    let value = |s: &Stat| format!("{:.2}", s.mean);
    chart
        .draw_series(dot_rows.iter().map(|(y, s)| {
            Text::new(
                value(s),
                (s.mean, y + 0.42),
                (FONT, 12).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Bottom)),
            )
        }))
        .map_err(err)?;
    chart
        .draw_series(
            dot_rows.iter().filter_map(|(y, s)| s.published.map(|p| Cross::new((p, *y), 5, BLACK.stroke_width(2)))),
        )
        .map_err(err)?
        .label("published")
        .legend(|(x, y)| Cross::new((x + 8, y), 5, BLACK.stroke_width(2)));
    legend(&mut chart, SeriesLabelPosition::LowerRight)
}

/// One metric's panel of a sweep: a line per series against the swept value (log scale), ± sd.
fn sweep<DB: DrawingBackend>(panel: &DrawingArea<DB, Shift>, key: &str, series: &Series, m: usize) -> Result<()> {
    let metric = Metric::MAP[m];
    let xs: Vec<f64> = series.values().flatten().map(|p| p.0).collect();
    let (xlo, xhi) = (xs.iter().copied().fold(f64::INFINITY, f64::min), xs.iter().copied().fold(0.0, f64::max));
    let ys = series
        .values()
        .flatten()
        .filter_map(|p| p.1[m])
        .flat_map(|(v, sd)| [v - sd.unwrap_or(0.0), v + sd.unwrap_or(0.0)]);
    let (ylo, yhi) = span(ys);
    let mut chart = ChartBuilder::on(panel)
        .caption(format!("{} against {key}", metric.label()), (FONT, 19))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((xlo * 0.9..xhi * 1.1).log_scale(), ylo..yhi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(key)
        .y_desc(format!("{} (mean ± sd)", metric.label()))
        .label_style((FONT, 13))
        .draw()
        .map_err(err)?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        let line: Vec<(f64, f64, f64)> =
            pts.iter().filter_map(|p| p.1[m].map(|(v, sd)| (p.0, v, sd.unwrap_or(0.0)))).collect();
        chart
            .draw_series(LineSeries::new(line.iter().map(|p| (p.0, p.1)), c.stroke_width(2)))
            .map_err(err)?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        chart
            .draw_series(line.iter().map(|(x, v, sd)| ErrorBar::new_vertical(*x, v - sd, *v, v + sd, c.filled(), 6)))
            .map_err(err)?;
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)
}

fn curves<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, r: &ResultFile) -> Result<()> {
    let (left, right) = root.split_horizontally((root.dim_in_pixel().0 / 2) as i32);
    let e = &r.epochs;
    // An integer epoch axis: its ticks are whole epochs ([`epoch_ticks`]).
    let last = e.len().max(2) as i32;
    let ticks: Vec<i32> = epoch_ticks(e.len().max(2)).into_iter().map(|t| t as i32).collect();
    let max_loss = e.iter().map(|x| x.train_loss).fold(0.0f64, f64::max) * 1.1 + 1e-9;
    let mut a = ChartBuilder::on(&left)
        .caption(format!("{}: training loss", r.cell.label()), (FONT, 15))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(54)
        .build_cartesian_2d((1..last).with_key_points(ticks.clone()), 0.0..max_loss)
        .map_err(err)?;
    a.configure_mesh().x_desc("epoch").y_desc("loss").label_style((FONT, 12)).draw().map_err(err)?;
    a.draw_series(LineSeries::new(e.iter().map(|x| (x.epoch as i32, x.train_loss)), BLACK.stroke_width(2)))
        .map_err(err)?
        .label("train loss (epoch mean)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(2)));
    legend(&mut a, SeriesLabelPosition::UpperRight)?;
    let values = e.iter().flat_map(|x| [x.map_class, x.map_sample]).flatten();
    let (lo, hi) = span(values);
    let mut b = ChartBuilder::on(&right)
        .caption("evaluation mAP", (FONT, 15))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(50)
        .build_cartesian_2d((1..last).with_key_points(ticks), lo..hi)
        .map_err(err)?;
    b.configure_mesh().x_desc("epoch").y_desc("mAP (points)").label_style((FONT, 12)).draw().map_err(err)?;
    for (i, metric) in Metric::MAP.iter().enumerate() {
        let c = PALETTE[i];
        let pick = |x: &crate::results::Epoch| if i == 0 { x.map_class } else { x.map_sample };
        let line: Vec<(i32, f64)> = e.iter().filter_map(|x| pick(x).map(|v| (x.epoch as i32, v))).collect();
        b.draw_series(LineSeries::new(line.clone(), c.stroke_width(2)))
            .map_err(err)?
            .label(metric.label())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        b.draw_series(line.iter().map(|p| Circle::new(*p, 3, c.filled()))).map_err(err)?;
    }
    legend(&mut b, SeriesLabelPosition::LowerRight)
}

/// Per swept key (a sweep of one numeric recipe key): per (dataset/backbone/loss) series, by value, the
/// value and each metric's (mean, sd) over seeds.
pub type Series = BTreeMap<String, Vec<(f64, Point)>>;

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
    let stat = |v: &[f64]| {
        (!v.is_empty()).then(|| {
            let s = crate::results::summary(v.iter().enumerate().map(|(i, x)| (i as u64, *x)).collect());
            (s.mean, s.sd)
        })
    };
    acc.into_iter()
        .map(|(k, series)| {
            let series = series
                .into_iter()
                .map(|(name, pts)| {
                    let mut pts: Vec<(f64, Point)> =
                        pts.into_values().map(|(x, c, s)| (x, [stat(&c), stat(&s)])).collect();
                    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                    (name, pts)
                })
                .collect();
            (k, series)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::epoch_ticks;

    #[test]
    fn epoch_ticks_are_whole_epochs_and_few() {
        assert_eq!(epoch_ticks(2), [1, 2]);
        assert_eq!(epoch_ticks(3), [1, 2, 3]);
        assert_eq!(epoch_ticks(10), (1..=10).collect::<Vec<_>>());
        assert_eq!(epoch_ticks(11), [1, 2, 4, 6, 8, 10]);
        assert_eq!(epoch_ticks(30), [1, 5, 10, 15, 20, 25, 30]);
        assert_eq!(epoch_ticks(100), [1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
        assert_eq!(epoch_ticks(250), [1, 50, 100, 150, 200, 250]);
        for last in 1..2000 {
            let t = epoch_ticks(last);
            assert!(t.len() <= 11 && t[0] == 1 && *t.last().unwrap() <= last, "{last}: {t:?}");
            assert!(t.windows(2).all(|w| w[0] < w[1]), "{last}: {t:?}");
        }
    }
}
