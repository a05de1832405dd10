//! The CI gate of `twoway diff`: a results folder against a baseline (`published` or a table CSV), at the
//! tolerance [`crate::report::diff::gate_tolerance`] allows for the two sides' numerics, and its rendering
//! as a Markdown table with a verdict line, or JSON. [`Gate::passed`] decides the exit code (0 pass, 1 a cell
//! dropped or is missing). Tested in `tests/cli_gate.rs` and `tests/cli_numerics.rs`.

use crate::report::diff::{self, NumericsCheck, Row, Tolerance, Verdict};
use crate::results;
use anyhow::{bail, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use twoway_spec::Spec;

/// What to gate: the results, the baseline and the tolerances as the user gave them.
#[derive(Debug, Clone)]
pub struct GateRequest {
    pub results: PathBuf,
    /// `published`, or the path of a table CSV.
    pub against: String,
    /// Points a cell may fall below its baseline (`None`: 0.5, or the cross-numerics tolerance).
    pub tolerance: Option<f64>,
    /// Standard deviations of the baseline's seeds a cell may also fall.
    pub tolerance_sd: f64,
    pub allow_different_numerics: bool,
}

/// The gate's outcome: every compared cell with its verdict.
#[derive(Debug, Clone)]
pub struct Gate {
    pub request: GateRequest,
    pub tolerance: Tolerance,
    /// The two sides' numerics (`None` against the published numbers).
    pub check: Option<NumericsCheck>,
    pub rows: Vec<Row>,
}

/// Compares the request's results with its baseline.
pub fn check(spec: &Spec, request: GateRequest) -> Result<Gate> {
    if let Some(t) = request.tolerance.filter(|t| !(t.is_finite() && *t >= 0.0)) {
        bail!("--tolerance must be a finite number of points >= 0, got {t}");
    }
    let sd = request.tolerance_sd;
    if !(sd.is_finite() && sd >= 0.0) {
        bail!("--tolerance-sd must be a finite number >= 0, got {sd}");
    }
    let all = results::load_dir(&request.results)?;
    let mine = results::aggregate(&all);
    // The published numbers come from the paper's GPUs: no fingerprint to compare with.
    let (baseline, check, require_all) = if request.against == "published" {
        (diff::published_baseline(spec), None, false)
    } else {
        let b = diff::read_csv_baseline(Path::new(&request.against))?;
        (b.cells, Some(NumericsCheck::new(results::fingerprints(&all), &b.numerics)), true)
    };
    let tolerance =
        diff::gate_tolerance(spec, check.as_ref(), request.tolerance, sd, request.allow_different_numerics)?;
    let rows = diff::compare(&baseline, &mine, tolerance, sd, require_all);
    if rows.is_empty() {
        bail!("no cell of {} has a baseline in `{}`", request.results.display(), request.against);
    }
    Ok(Gate { request, tolerance, check, rows })
}

fn cell_name(r: &Row) -> String {
    let k = &r.key;
    let way = k.way.map(|w| format!("/{w}")).unwrap_or_default();
    format!("{}/{}/{}{way}", k.dataset, k.backbone, k.loss)
}

impl Gate {
    /// The cells below their baseline or missing.
    pub fn failed(&self) -> Vec<&Row> {
        self.rows.iter().filter(|r| r.verdict != Verdict::Ok).collect()
    }

    pub fn passed(&self) -> bool {
        self.failed().is_empty()
    }

    pub fn to_json(&self) -> serde_json::Value {
        let q = &self.request;
        serde_json::json!({"against": q.against, "tolerance": self.tolerance, "tolerance_sd": q.tolerance_sd,
            "numerics": self.check, "passed": self.passed(), "rows": self.rows})
    }

    /// The numerics of both sides, a Markdown table of the cells and the verdict.
    pub fn render_text(&self) -> String {
        let (q, tolerance) = (&self.request, self.tolerance);
        let mut o = String::new();
        if let Some(c) = &self.check {
            let _ = writeln!(o, "{}", c.describe());
            if !c.identical && q.tolerance.is_none() {
                let _ = writeln!(o, "gating at the cross-numerics tolerance: {tolerance}");
            }
            let _ = writeln!(o);
        }
        let _ = writeln!(o, "| cell | metric | baseline | reproduced | delta | status |");
        let _ = writeln!(o, "|---|---|---:|---:|---:|---|");
        for r in &self.rows {
            let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
            let d = r.delta.map_or("-".to_string(), |v| format!("{v:+.2}"));
            let verdict = match r.verdict {
                Verdict::Ok => "ok",
                Verdict::Dropped => "DROPPED",
                Verdict::Missing => "MISSING",
            };
            let (name, metric) = (cell_name(r), r.key.metric.label());
            let _ = writeln!(o, "| {name} | {metric} | {:.2} | {} | {d} | {verdict} |", r.baseline, f(r.reproduced));
        }
        let failed = self.failed();
        if failed.is_empty() {
            let _ = writeln!(o, "\npassed: {} cell(s) within {tolerance} of `{}`", self.rows.len(), q.against);
            return o;
        }
        // The first 20 by name (the table above lists them all).
        let mut names: Vec<String> =
            failed.iter().take(20).map(|r| format!("{} {}", cell_name(r), r.key.metric)).collect();
        if failed.len() > 20 {
            names.push(format!("and {} more", failed.len() - 20));
        }
        let _ = writeln!(
            o,
            "\nFAILED: {} of {} cell(s) below `{}` by more than {tolerance} or missing: {}",
            failed.len(),
            self.rows.len(),
            q.against,
            names.join(", ")
        );
        o
    }
}
