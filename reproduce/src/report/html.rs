//! `twoway report`: a results folder as one self-contained HTML page: no script, no network fetch (figures
//! as inline SVG, styles inline), readable printed to PDF. It holds the grid's status, the table
//! (reproduced as mean ± sd over seeds beside published, deltas coloured by sign), every figure of
//! [`super::figures`], the claims with their per-seed counts and paired tests, and each cell's provenance.
//! Tested in a real headless Chromium in `tests/report.rs`.

use super::claims::{self, SeedClaims};
use super::figures;
use super::table::{self, Row, Tables};
use crate::results::{self, ResultFile};
use anyhow::Result;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use twoway_spec::{CellKey, Spec};

type Cells = std::collections::BTreeMap<CellKey, results::Summary>;

const STYLE: &str =
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}\
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}\
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.25em .55em}\
th{background:#f2f2f2;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}\
.up{color:#0072b2;font-weight:bold}.down{color:#d55e00;font-weight:bold}\
figure{margin:1em 0;break-inside:avoid}figure svg{max-width:100%;height:auto}figcaption{font-size:.9em;color:#555}\
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.85em;white-space:pre-wrap}\
details{margin:.3em 0}summary{cursor:pointer}.ok{color:#009e73}.bad{color:#d55e00}\
@media print{body{max-width:none;margin:0}h2{break-after:avoid}details{display:block}details>*{display:block}}";

/// `text` with HTML's special characters escaped.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The report of the results under `dir`, on mAP.
pub fn report(spec: &Spec, dir: &Path) -> Result<String> {
    report_for(spec, dir, twoway_spec::Metric::MAP)
}

/// The report of the results under `dir`, its table, figures and claims on `metrics` (`--metrics`).
pub fn report_for(spec: &Spec, dir: &Path, metrics: &[twoway_spec::Metric]) -> Result<String> {
    let all = results::load_dir(dir)?;
    let cells = results::summarize(&all);
    let mut o = String::new();
    let title = format!("twoway report: {}", dir.display());
    let _ =
        write!(o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>", esc(&title));
    let _ = write!(o, "<style>{STYLE}</style></head><body>\n<h1>{}</h1>\n", esc(&title));
    let _ = writeln!(
        o,
        "<p>{} result file(s) of the Two-way Multi-Label Loss (Kobayashi, CVPR 2023), written by twoway {}.</p>",
        all.len(),
        env!("CARGO_PKG_VERSION")
    );
    status(&mut o, spec, dir, &all, &cells);
    let models = table::select_for(spec, Tables::All, &cells, &[], metrics)?;
    o.push_str("<h2>Results table</h2>\n<p>The paper's cells in the (dataset, backbone) columns these results reproduce. Reproduced: mean ± sample sd over the seeds (n); delta: reproduced − published, <span class=\"up\">blue</span> above and <span class=\"down\">vermillion</span> below the paper.</p>\n");
    let columns: std::collections::BTreeSet<_> = cells.keys().map(|k| (k.dataset, k.backbone)).collect();
    if columns.is_empty() {
        o.push_str(
            "<p>No cell of the paper's tables is reproduced here (the results of a sweep are in the figures).</p>\n",
        );
    }
    for m in &models {
        let rows: Vec<Row> =
            m.rows.iter().filter(|r| columns.contains(&(r.key.dataset, r.key.backbone))).copied().collect();
        table_html(&mut o, &rows);
    }
    o.push_str("<h2>Figures</h2>\n");
    for (name, caption, fig) in figures::figures_for(spec, &all, &cells, metrics) {
        let svg = super::plots::svg(&fig)?;
        let svg = svg.trim_start_matches(|c| c != '<');
        let svg = svg.strip_prefix("<?xml").map_or(svg, |r| r.split_once("?>").map_or(r, |x| x.1));
        let _ = writeln!(o, "<figure id=\"{}\">{svg}<figcaption>{}</figcaption></figure>", esc(&name), esc(&caption));
    }
    let c = claims::report_of(spec, Some((dir, all.as_slice())), metrics)?;
    o.push_str("<h2>Claims</h2>\n");
    if let Some(r) = &c.reproduced {
        let notes: String = r.notes.iter().map(|n| format!("note: {n}\n")).collect();
        let _ = writeln!(
            o,
            "<h3>Reproduced, on the means over seeds</h3>\n<pre>{}{}</pre>",
            esc(&notes),
            esc(&r.means.to_string())
        );
        seeds_html(&mut o, &r.per_seed);
    }
    let _ = writeln!(o, "<h3>Published</h3>\n<pre>{}</pre>", esc(&c.published.to_string()));
    provenance(&mut o, &all);
    o.push_str("</body></html>\n");
    Ok(o)
}

/// The grid's status: finished cells, those running, partial or failed, and the published cells of the
/// reproduced (dataset, backbone) columns that have no result.
fn status(o: &mut String, spec: &Spec, dir: &Path, all: &[(PathBuf, ResultFile)], cells: &Cells) {
    let u = crate::grid::status::unfinished(dir, std::time::Duration::from_secs(600));
    let columns: std::collections::BTreeSet<_> = cells.keys().map(|k| (k.dataset, k.backbone)).collect();
    let missing: Vec<String> = spec
        .paper
        .main
        .iter()
        .chain(&spec.paper.ways)
        .filter(|p| columns.contains(&(p.key.dataset, p.key.backbone)) && !cells.contains_key(&p.key))
        .map(|p| {
            let k = p.key;
            let way = k.way.map(|w| format!("/{w}")).unwrap_or_default();
            format!("{}/{}/{}{way} {}", k.dataset, k.backbone, k.loss, k.metric)
        })
        .collect();
    o.push_str("<h2>Status of the grid</h2>\n<table><tr><th>state</th><th>cells</th><th>which</th></tr>\n");
    let row = |o: &mut String, state: &str, items: &[String]| {
        let which = if items.is_empty() {
            "–".to_string()
        } else {
            items.iter().map(|s| esc(s)).collect::<Vec<_>>().join("<br>")
        };
        let _ = writeln!(o, "<tr><td>{state}</td><td class=\"num\">{}</td><td>{which}</td></tr>", items.len());
    };
    let finished: Vec<String> = all.iter().map(|(_, r)| r.cell.label()).collect();
    let _ = writeln!(
        o,
        "<tr><td>finished</td><td class=\"num\">{}</td><td>see the provenance below</td></tr>",
        finished.len()
    );
    let pairs = |v: &[(String, String)]| v.iter().map(|(c, w)| format!("{c}: {w}")).collect::<Vec<_>>();
    row(o, "running", &pairs(&u.running));
    row(o, "partial (a checkpoint)", &pairs(&u.partial));
    row(o, "failed", &pairs(&u.failed));
    row(o, "missing (published, not reproduced)", &missing);
    o.push_str("</table>\n");
}

fn table_html(o: &mut String, rows: &[Row]) {
    if rows.is_empty() {
        return;
    }
    o.push_str("<table><tr><th>dataset</th><th>backbone</th><th>loss</th><th>way</th><th>metric</th><th>published</th><th>reproduced</th><th>delta</th></tr>\n");
    for r in rows {
        let k = &r.key;
        let f = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.2}"));
        let reproduced = match (r.reproduced, r.sd) {
            (Some(v), Some(sd)) => format!("{v:.2} ± {sd:.2} (n={})", r.n),
            (Some(v), None) => format!("{v:.2} (n={})", r.n),
            (None, _) => "–".to_string(),
        };
        let (class, delta) = match r.delta {
            Some(d) if d >= 0.0 => ("num up", format!("{d:+.2}")),
            Some(d) => ("num down", format!("{d:+.2}")),
            None => ("num", "–".to_string()),
        };
        let way = k.way.map_or("–".to_string(), |w| w.to_string());
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{way}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{reproduced}</td><td class=\"{class}\">{delta}</td></tr>",
            k.dataset.label(),
            k.backbone.label(),
            k.loss.label(),
            k.metric.label(),
            f(r.published)
        );
    }
    o.push_str("</table>\n");
}

fn seeds_html(o: &mut String, s: &SeedClaims) {
    let seeds: Vec<String> = s.seeds.iter().map(u64::to_string).collect();
    let _ = writeln!(
        o,
        "<h3>Per seed ({} seed(s): {})</h3>\n<table><tr><th>claim</th><th>holds in</th></tr>",
        s.seeds.len(),
        seeds.join(", ")
    );
    for c in &s.counts {
        let _ = writeln!(o, "<tr><td>{}</td><td class=\"num\">{} of {}</td></tr>", esc(&c.text), c.holds, c.seeds);
    }
    o.push_str("</table>\n<h3>Ours against every baseline, paired over the seeds both have</h3>\n<table><tr><th>column</th><th>metric</th><th>baseline</th><th>Ours − baseline per seed</th><th>mean</th><th>t</th><th>p (two-sided)</th><th>Holm p</th><th>95% CI</th><th>kernel spread</th></tr>\n");
    for p in &s.paired {
        for c in &p.comparisons {
            let diffs: Vec<String> =
                c.differences.iter().map(|(seed, d)| format!("{seed}: {}", claims::signed(*d))).collect();
            let (mean, t, pv, ci) = match &c.test {
                Some(t) => (
                    claims::signed(t.mean),
                    if t.t.is_finite() { format!("{:.2}", t.t) } else { format!("{}", t.t) },
                    format!("{:.3}", t.p),
                    format!("[{}, {}]", claims::signed(t.ci95.0), claims::signed(t.ci95.1)),
                ),
                None => ("–".into(), "–".into(), "no test below two shared seeds".into(), "–".into()),
            };
            let holm = c.p_holm.map_or("–".to_string(), |q| format!("{q:.3}"));
            let noise = match &p.noise {
                Some(n) => match n.points.of(p.metric) {
                    Some(points) if c.within_noise => format!("{points:.2}: within it, not a finding"),
                    Some(points) => format!("{points:.2}"),
                    None => "not measured".into(),
                },
                None => "not measured".into(),
            };
            let _ = writeln!(
                o,
                "<tr><td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{mean}</td><td class=\"num\">{t}</td><td class=\"num\">{pv}</td><td class=\"num\">{holm}</td><td>{ci}</td><td>{}</td></tr>",
                p.dataset.label(),
                p.backbone.label(),
                p.metric.label(),
                c.baseline.label(),
                diffs.join(", "),
                esc(&noise)
            );
        }
        let _ = writeln!(o, "<tr><td colspan=\"10\">{}</td></tr>", esc(&claims::verdict_text(p)));
    }
    o.push_str("</table>\n");
    for u in &s.unmeasured {
        let _ = writeln!(o, "<p>{}</p>", esc(u));
    }
}

/// Each cell's provenance: configuration hash, recipe after overrides, dataset fingerprint, weights,
/// versions, device, threads, wall time and numerics.
fn provenance(o: &mut String, all: &[(PathBuf, ResultFile)]) {
    o.push_str("<h2>Provenance of each cell</h2>\n");
    for (path, r) in all {
        let c = &r.config;
        let json = |v: &serde_json::Value| esc(&serde_json::to_string_pretty(v).unwrap_or_default());
        let numerics = r.numerics.as_ref().map_or("not recorded".to_string(), |f| f.summary());
        let _ = writeln!(
            o,
            "<details><summary><code>{}</code>: config {}</summary><table>\
             <tr><th>result file</th><td><code>{}</code></td></tr>\
             <tr><th>configuration hash</th><td><code>{}</code></td></tr>\
             <tr><th>recipe (after overrides)</th><td><pre>{}</pre></td></tr>\
             <tr><th>loss</th><td><pre>{}</pre></td></tr>\
             <tr><th>dataset fingerprint</th><td><pre>{}</pre></td></tr>\
             <tr><th>weights SHA-256</th><td><code>{}</code></td></tr>\
             <tr><th>versions</th><td>twoway {}, libtorch {}</td></tr>\
             <tr><th>device, threads</th><td>{}, {}</td></tr>\
             <tr><th>wall time</th><td>{:.1} s</td></tr>\
             <tr><th>numerics</th><td>{}</td></tr></table></details>",
            esc(&r.cell.label()),
            &r.config_hash[..12.min(r.config_hash.len())],
            esc(&path.display().to_string()),
            esc(&r.config_hash),
            json(&c["recipe"]),
            json(&c["loss"]),
            json(&c["data"]),
            c["weights_sha256"].as_str().map_or("– (trained from scratch)".to_string(), esc),
            esc(&r.versions.twoway),
            esc(&r.versions.libtorch),
            esc(&r.device),
            r.threads,
            r.wall_seconds,
            esc(&numerics)
        );
    }
}
