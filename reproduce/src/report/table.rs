//! The results table: published numbers beside reproduced ones, in the paper's layouts, rendered as
//! Markdown, CSV, JSON or LaTeX (booktabs).
//!
//! Two views: `main` (rows dataset x loss, columns metric x backbone; each loss in its main-table way) and
//! `ways` (rows dataset x backbone x metric, columns loss x way; the set-based losses only); `twoway table
//! --all` renders both with every cell once ([`select`], [`render`]), which as CSV is a complete baseline
//! for the gate, each row's numerics fingerprint in its `numerics` column. `--metrics` picks the metrics
//! (the paper's two by default; only they have published values). Tested below, in
//! `tests/cli_table.rs` (snapshots) and `tests/cli_gate.rs`.

use crate::numerics::Fingerprint;
use crate::report::baseline::{csv_field, numerics_field};
use crate::results::{ResultFile, Summary};
use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use twoway_spec::{Backbone, CellKey, Dataset, Loss, Metric, Spec, Way};

/// Output format of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Md,
    Csv,
    Json,
    Latex,
}

/// Which of the paper's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Main,
    Ways,
}

pub use crate::report::baseline::{
    CSV_HEADER, CSV_HEADER_V1, CSV_HEADER_V2, CSV_HEADER_V3, NUMERICS_LINE, NUMERICS_UNKNOWN,
};

/// Each cell's distinct numerics fingerprints over its seeds (the results [`crate::results::summarize`]
/// counts: sweep variants left out), in first-seen order.
pub fn numerics_by_cell(results: &[(std::path::PathBuf, ResultFile)]) -> BTreeMap<CellKey, Vec<Option<Fingerprint>>> {
    let mut out: BTreeMap<CellKey, Vec<Option<Fingerprint>>> = BTreeMap::new();
    for (_, r) in results.iter().filter(|(_, r)| r.cell.variant.is_none()) {
        for m in Metric::ALL {
            if r.metric(*m).is_some() {
                let v = out.entry(r.cell.key(*m)).or_default();
                if !v.contains(&r.numerics) {
                    v.push(r.numerics.clone());
                }
            }
        }
    }
    out
}

/// One number of the table: published, reproduced (the mean over seeds), or both.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub key: CellKey,
    pub published: Option<f64>,
    pub reproduced: Option<f64>,
    pub delta: Option<f64>,
    /// Standard deviation of the reproduced value over its seeds (with at least two).
    pub sd: Option<f64>,
    /// Seeds the reproduced value averages (0 when there is none).
    pub n: usize,
}

/// A table: its view and its rows in the paper's order.
#[derive(Debug, Clone)]
pub struct TableModel {
    pub view: View,
    pub rows: Vec<Row>,
    /// The reproduced values per seed, by cell (the CSV's `seeds` column).
    pub seeds: BTreeMap<CellKey, Vec<(u64, f64)>>,
    /// The metrics shown (the paper's two by default), in the order of the table's columns.
    pub metrics: Vec<Metric>,
    /// Each cell's numerics fingerprints (the CSV's `numerics` column; [`numerics_by_cell`]). Empty: every
    /// reproduced row takes the results' fingerprints given to [`render`].
    pub numerics: BTreeMap<CellKey, Vec<Option<Fingerprint>>>,
}

impl TableModel {
    /// Builds `view` from the published numbers and `reproduced` (reproduced values over seeds by key; empty
    /// until results exist), the paper's two metrics. A cell appears when it is published or reproduced.
    pub fn build(spec: &Spec, view: View, reproduced: &BTreeMap<CellKey, Summary>) -> TableModel {
        TableModel::build_for(spec, view, reproduced, Metric::MAP)
    }

    /// [`TableModel::build`] with the cells of `metrics` (only the paper's two have published values).
    pub fn build_for(
        spec: &Spec,
        view: View,
        reproduced: &BTreeMap<CellKey, Summary>,
        metrics: &[Metric],
    ) -> TableModel {
        let in_view = |k: &CellKey| {
            metrics.contains(&k.metric)
                && match view {
                    View::Main => k.way == spec.main_way(k.loss),
                    View::Ways => k.loss.has_ways() && k.way.is_some(),
                }
        };
        let published: BTreeMap<CellKey, f64> = match view {
            View::Main => &spec.paper.main,
            View::Ways => &spec.paper.ways,
        }
        .iter()
        .filter(|p| metrics.contains(&p.key.metric))
        .map(|p| (p.key, p.value))
        .collect();
        let keys: BTreeSet<CellKey> =
            published.keys().copied().chain(reproduced.keys().copied().filter(in_view)).collect();
        let mut rows: Vec<Row> = keys
            .into_iter()
            .map(|key| {
                let p = published.get(&key).copied();
                let s = reproduced.get(&key);
                let r = s.map(|s| s.mean);
                let (sd, n) = s.map_or((None, 0), |s| (s.sd, s.n()));
                Row { key, published: p, reproduced: r, delta: p.zip(r).map(|(p, r)| r - p), sd, n }
            })
            .collect();
        rows.sort_by_key(|r| order(view, &r.key, metrics));
        let seeds = rows.iter().filter_map(|r| Some((r.key, reproduced.get(&r.key)?.values.clone()))).collect();
        TableModel { view, rows, seeds, metrics: metrics.to_vec(), numerics: BTreeMap::new() }
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Csv => self.csv(&[]),
            Format::Json => self.json(),
            Format::Md => self.grid().markdown(),
            Format::Latex => self.grid().latex(),
        }
    }

    /// The CSV, each reproduced row's `numerics` from [`TableModel::numerics`], else `results` (the
    /// fingerprints of all the results).
    fn csv(&self, results: &[Option<Fingerprint>]) -> String {
        let mut out = String::from(CSV_HEADER);
        out.push('\n');
        for r in &self.rows {
            let k = &r.key;
            let full = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
            let numerics = match (r.reproduced, self.numerics.get(k)) {
                (None, _) => String::new(),
                (Some(_), Some(n)) => numerics_field(n),
                (Some(_), None) => numerics_field(results),
            };
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{}",
                k.dataset,
                k.backbone,
                k.loss,
                k.way.map(|w| w.as_str()).unwrap_or(""),
                k.metric,
                num(r.published),
                full(r.reproduced),
                full(r.delta),
                full(r.sd),
                if r.n > 0 { r.n.to_string() } else { String::new() },
                self.seeds.get(k).map_or(String::new(), |v| {
                    v.iter().map(|(s, x)| format!("{s}:{x}")).collect::<Vec<_>>().join(" ")
                }),
                csv_field(&numerics)
            );
        }
        out
    }

    fn json(&self) -> String {
        let view = match self.view {
            View::Main => "main",
            View::Ways => "ways",
        };
        let v = serde_json::json!({ "table": view, "rows": self.rows });
        serde_json::to_string_pretty(&v).expect("table rows serialise") + "\n"
    }

    /// The 2-D layout of the view: row groups, row labels, column groups and cells.
    fn grid(&self) -> Grid {
        let mut g = Grid::default();
        match self.view {
            View::Main => {
                let backbones: BTreeSet<Backbone> = self.rows.iter().map(|r| r.key.backbone).collect();
                g.row_header = vec!["Dataset".into(), "Loss".into()];
                for m in &self.metrics {
                    g.col_groups.push((m.label().to_string(), backbones.len()));
                    g.cols.extend(backbones.iter().map(|b| b.label().to_string()));
                }
                let rows: BTreeSet<(Dataset, Loss)> = self.rows.iter().map(|r| (r.key.dataset, r.key.loss)).collect();
                for (d, l) in rows {
                    let mut cells = Vec::new();
                    for m in &self.metrics {
                        for b in &backbones {
                            cells.push(
                                self.find(|k| k.dataset == d && k.loss == l && k.metric == *m && k.backbone == *b),
                            );
                        }
                    }
                    g.rows.push((d.label().to_string(), vec![d.label().to_string(), l.label().to_string()], cells));
                }
            }
            View::Ways => {
                let cols: BTreeSet<(Loss, Way)> =
                    self.rows.iter().filter_map(|r| r.key.way.map(|w| (r.key.loss, w))).collect();
                let cols: Vec<(Loss, Way)> = {
                    let mut c: Vec<_> = cols.into_iter().collect();
                    c.sort_by_key(|(l, w)| (std::cmp::Reverse(*l == Loss::Twoway), *l, *w));
                    c
                };
                g.row_header = vec!["Dataset".into(), "Backbone".into(), "Metric".into()];
                for (l, _) in &cols {
                    match g.col_groups.last_mut() {
                        Some((label, n)) if label == l.label() => *n += 1,
                        _ => g.col_groups.push((l.label().to_string(), 1)),
                    }
                }
                g.cols = cols.iter().map(|(_, w)| w.label().to_string()).collect();
                let rows: BTreeSet<(Dataset, Backbone, Metric)> =
                    self.rows.iter().map(|r| (r.key.dataset, r.key.backbone, r.key.metric)).collect();
                for (d, b, m) in rows {
                    let cells = cols
                        .iter()
                        .map(|(l, w)| {
                            self.find(|k| {
                                k.dataset == d && k.backbone == b && k.metric == m && k.loss == *l && k.way == Some(*w)
                            })
                        })
                        .collect();
                    let group = format!("{}/{}", d.label(), b.label());
                    g.rows.push((
                        group,
                        vec![d.label().to_string(), b.label().to_string(), m.label().to_string()],
                        cells,
                    ));
                }
            }
        }
        g.mark_best(self.view);
        g
    }

    fn find(&self, pred: impl Fn(&CellKey) -> bool) -> Option<Row> {
        self.rows.iter().find(|r| pred(&r.key)).copied()
    }
}

/// The paper's order: datasets, then losses (main) or backbones (ways), then metric and backbone / way.
/// The tables `twoway table` shows: the main table, the ways ablation, or both with every cell once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tables {
    Main,
    Ways,
    All,
}

/// The tables of `which` over `cells`, only the rows of `datasets` (all when empty). With [`Tables::All`] a
/// cell of both tables (Ours/both, Softmax/sample) is listed once, in the main table. An error when no row
/// is left.
pub fn select(
    spec: &Spec,
    which: Tables,
    cells: &BTreeMap<CellKey, Summary>,
    datasets: &[Dataset],
) -> Result<Vec<TableModel>> {
    select_for(spec, which, cells, datasets, Metric::MAP)
}

/// [`select`] with the cells of `metrics` (`--metrics`).
pub fn select_for(
    spec: &Spec,
    which: Tables,
    cells: &BTreeMap<CellKey, Summary>,
    datasets: &[Dataset],
    metrics: &[Metric],
) -> Result<Vec<TableModel>> {
    let views = match which {
        Tables::Main => vec![View::Main],
        Tables::Ways => vec![View::Ways],
        Tables::All => vec![View::Main, View::Ways],
    };
    let mut models: Vec<TableModel> = Vec::new();
    for view in views {
        let mut model = TableModel::build_for(spec, view, cells, metrics);
        if !datasets.is_empty() {
            model.rows.retain(|r| datasets.contains(&r.key.dataset));
        }
        let seen: Vec<CellKey> = models.iter().flat_map(|m| m.rows.iter().map(|r| r.key)).collect();
        model.rows.retain(|r| !seen.contains(&r.key));
        models.push(model);
    }
    if models.iter().all(|m| m.rows.is_empty()) {
        bail!("no row of the table is for {:?}", datasets.iter().map(|d| d.as_str()).collect::<Vec<_>>());
    }
    Ok(models)
}

/// Renders selected tables: two as one CSV (one header) or one JSON document, else one after the other.
/// A CSV row's `numerics` is its cell's fingerprints ([`TableModel::numerics`]), or `numerics` (those of
/// all the results) where the model has none.
pub fn render(models: &[TableModel], format: Format, numerics: &[Option<Fingerprint>]) -> Result<String> {
    let mut out = String::new();
    match (format, models) {
        (Format::Csv, [main, ways]) => {
            out.push_str(&main.csv(numerics));
            out.push_str(ways.csv(numerics).split_once('\n').map_or("", |x| x.1));
        }
        (Format::Csv, [one]) => out.push_str(&one.csv(numerics)),
        (Format::Json, [main, ways]) => {
            let mut rows = main.rows.clone();
            rows.extend(ways.rows.iter().copied());
            let v = serde_json::json!({"table": "all", "rows": rows});
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v)?);
        }
        _ => {
            let texts: Vec<String> = models.iter().filter(|m| !m.rows.is_empty()).map(|m| m.render(format)).collect();
            out.push_str(&texts.join("\n"));
        }
    }
    Ok(out)
}

/// The paper's order; the metrics in the order of `metrics` (`--metrics`).
fn order(view: View, k: &CellKey, metrics: &[Metric]) -> (twoway_spec::Dataset, [u8; 4]) {
    let way = k.way.map_or(0, |w| w as u8 + 1);
    let m = metrics.iter().position(|m| *m == k.metric).unwrap_or(metrics.len()) as u8;
    let (b, l) = (k.backbone as u8, k.loss as u8);
    match view {
        View::Main => (k.dataset, [l, m, b, way]),
        View::Ways => (k.dataset, [b, (k.loss != Loss::Twoway) as u8, way, m]),
    }
}

fn num(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_default()
}

#[derive(Default)]
struct Grid {
    row_header: Vec<String>,
    col_groups: Vec<(String, usize)>,
    cols: Vec<String>,
    /// (group, labels, cells)
    rows: Vec<(String, Vec<String>, Vec<Option<Row>>)>,
    /// best[row][col]: the published (or, without one, reproduced) value is the best of its comparison group.
    best: Vec<Vec<bool>>,
}

impl Grid {
    /// Main view: the best loss per (dataset, metric, backbone) column. Ways view: nothing is marked.
    fn mark_best(&mut self, view: View) {
        self.best = self.rows.iter().map(|r| vec![false; r.2.len()]).collect();
        if view != View::Main {
            return;
        }
        let value = |c: &Option<Row>| c.and_then(|r| r.published.or(r.reproduced));
        let groups: BTreeSet<String> = self.rows.iter().map(|r| r.0.clone()).collect();
        for group in groups {
            let idx: Vec<usize> = (0..self.rows.len()).filter(|i| self.rows[*i].0 == group).collect();
            for c in 0..self.cols.len() {
                let max = idx.iter().filter_map(|i| value(&self.rows[*i].2[c])).fold(f64::NEG_INFINITY, f64::max);
                for i in &idx {
                    if value(&self.rows[*i].2[c]) == Some(max) {
                        self.best[*i][c] = true;
                    }
                }
            }
        }
    }

    /// A cell's text, the side that was compared for the best marked by `bold` (the published value where
    /// there is one, else the reproduced one).
    fn cell_text(cell: &Option<Row>, best: bool, bold: impl Fn(&str) -> String) -> String {
        let mark = |t: String| if best { bold(&t) } else { t };
        match cell {
            None => String::new(),
            Some(r) => {
                // Reproduced: mean ± sd (n) over several seeds, the value (1) with one.
                let n = match r.sd {
                    Some(sd) => format!(" ± {sd:.2} ({})", r.n),
                    None => format!(" ({})", r.n),
                };
                match (r.published, r.reproduced) {
                    (Some(p), None) => mark(format!("{p:.2}")),
                    (None, Some(x)) => mark(format!("{x:.2}")) + &n,
                    (Some(p), Some(x)) => {
                        format!("{} / {x:.2}{n} ({})", mark(format!("{p:.2}")), super::claims::signed(x - p))
                    }
                    (None, None) => String::new(),
                }
            }
        }
    }

    /// What the cells and the bold mean, under a table.
    fn legend(&self, bold: &str) -> String {
        let marked = self.best.iter().flatten().any(|b| *b);
        let mut o = String::from(
            "Each cell: published / reproduced mean ± sd over seeds (n), and (reproduced − published); one seed: \
             the value (1).",
        );
        if marked {
            o.push_str(&format!(
                " {bold}: the best of its column, on the published values (the reproduced ones where the paper has \
                 none)."
            ));
        }
        o
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        let mut header: Vec<String> = self.row_header.clone();
        let mut ci = 0;
        for (g, n) in &self.col_groups {
            for _ in 0..*n {
                header.push(format!("{g} {}", self.cols[ci]));
                ci += 1;
            }
        }
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let align: Vec<&str> =
            (0..header.len()).map(|i| if i < self.row_header.len() { "---" } else { "---:" }).collect();
        let _ = writeln!(out, "|{}|", align.join("|"));
        for (ri, (_, labels, cells)) in self.rows.iter().enumerate() {
            let mut line: Vec<String> = labels.clone();
            for (c, cell) in cells.iter().enumerate() {
                line.push(Self::cell_text(cell, self.best[ri][c], |t| format!("**{t}**")));
            }
            let _ = writeln!(out, "| {} |", line.join(" | "));
        }
        let _ = writeln!(out, "\n{}", self.legend("**Bold**"));
        out
    }

    fn latex(&self) -> String {
        let esc = |s: &str| s.replace('_', "\\_");
        let nr = self.row_header.len();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\\begin{{tabular}}{{{}{}}}",
            "l".repeat(nr),
            self.col_groups.iter().map(|(_, n)| "r".repeat(*n)).collect::<Vec<_>>().join("")
        );
        let _ = writeln!(out, "\\toprule");
        let mut line = vec![String::new(); nr];
        let mut rules = Vec::new();
        let mut start = nr + 1;
        for (g, n) in &self.col_groups {
            line.push(format!("\\multicolumn{{{n}}}{{c}}{{{}}}", esc(g)));
            rules.push(format!("\\cmidrule(lr){{{}-{}}}", start, start + n - 1));
            start += n;
        }
        let _ = writeln!(out, "{} \\\\", line.join(" & "));
        let _ = writeln!(out, "{}", rules.join(" "));
        let header: Vec<String> = self.row_header.iter().chain(&self.cols).map(|s| esc(s)).collect();
        let _ = writeln!(out, "{} \\\\", header.join(" & "));
        let _ = writeln!(out, "\\midrule");
        let mut prev_group: Option<&str> = None;
        for (ri, (group, labels, cells)) in self.rows.iter().enumerate() {
            if prev_group.is_some_and(|p| p != group) {
                let _ = writeln!(out, "\\midrule");
            }
            let mut line: Vec<String> = labels
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    // The group label only on the group's first row.
                    if i == 0 && prev_group == Some(group.as_str()) {
                        String::new()
                    } else {
                        esc(l)
                    }
                })
                .collect();
            for (c, cell) in cells.iter().enumerate() {
                line.push(Self::cell_text(cell, self.best[ri][c], |t| format!("\\textbf{{{t}}}")));
            }
            let _ = writeln!(out, "{} \\\\", line.join(" & "));
            prev_group = Some(group.as_str());
        }
        let _ = writeln!(out, "\\bottomrule");
        let _ = writeln!(out, "\\end{{tabular}}");
        let _ = writeln!(out, "% {}", self.legend("Bold"));
        out
    }
}
