//! The CI gate of `twoway diff`: a results folder against a baseline (`published` or a table CSV), on the
//! seeds both sides have, each cell at the allowance [`crate::report::diff::Allowance`] gives it for the two
//! sides' numerics (and its column's kernel spread), and its renderings:
//! text (a Markdown table with a verdict line), JSON, JUnit XML for CI test reporters (one test case per
//! compared cell and metric) and Markdown for a pull-request comment (the cells below their baseline
//! first). [`Gate::passed`] decides the exit code (0 pass, 1 a cell dropped or is missing). Tested in
//! `tests/cli_gate.rs` (the JUnit report read by a JUnit reader) and `tests/cli_numerics.rs`.

use crate::report::diff::{self, cell_label as cell_name, Allowance, GivenTolerance, NumericsCheck, Row, Verdict};
use crate::report::noise::Yardsticks;
use crate::report::xml;
use crate::results;
use anyhow::{bail, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use twoway_spec::{Metric, Spec};

/// What to gate: the results, the baseline and the tolerances as the user gave them.
#[derive(Debug, Clone)]
pub struct GateRequest {
    pub results: PathBuf,
    /// `published`, or the path of a table CSV.
    pub against: String,
    /// Points a cell may fall below its baseline, per metric (not given: 0.5, or the cross-numerics
    /// tolerance).
    pub tolerance: GivenTolerance,
    /// Standard deviations of the baseline's seeds a cell may also fall.
    pub tolerance_sd: f64,
    pub allow_different_numerics: bool,
    /// The metrics compared (`--metrics`; the paper's two by default): a baseline cell of another metric
    /// is not compared.
    pub metrics: Vec<Metric>,
}

/// The gate's outcome: every compared cell with its verdict.
#[derive(Debug, Clone)]
pub struct Gate {
    pub request: GateRequest,
    /// The rule of the cells' allowances, in words (`0.5 point(s)`, `each column's kernel spread`).
    pub rule: String,
    /// The two sides' numerics (`None` against the published numbers).
    pub check: Option<NumericsCheck>,
    pub rows: Vec<Row>,
    /// Selected metrics the baseline has no cell of (the paper publishes mAP alone): not compared, and said.
    pub notes: Vec<String>,
}

/// Compares the request's results with its baseline.
pub fn check(spec: &Spec, request: GateRequest) -> Result<Gate> {
    if let Some(t) = request.tolerance.values().find(|t| !(t.is_finite() && *t >= 0.0)) {
        bail!("--tolerance must be a finite number of points >= 0, got {t}");
    }
    if request.metrics.is_empty() {
        bail!("--metrics: give at least one metric (map_class,map_sample by default)");
    }
    let sd = request.tolerance_sd;
    if !(sd.is_finite() && sd >= 0.0) {
        bail!("--tolerance-sd must be a finite number >= 0, got {sd}");
    }
    let all = results::load_dir(&request.results)?;
    let mine = results::summarize(&all);
    // The published numbers come from the paper's GPUs: no fingerprint to compare with.
    let (mut baseline, check, require_all) = if request.against == "published" {
        (diff::published_baseline(spec), None, false)
    } else {
        let b = diff::read_csv_baseline(Path::new(&request.against))?;
        (b.cells, Some(NumericsCheck::new(results::fingerprints(&all), &b.numerics)), true)
    };
    baseline.retain(|k, _| request.metrics.contains(&k.metric));
    let notes = uncovered(&request, &baseline, &mine);
    let yardsticks = Yardsticks::of_folder(spec, &request.results, &all)?;
    let different = check.as_ref().is_some_and(|c| !c.identical);
    let allowance =
        Allowance { given: request.tolerance.clone(), tolerance_sd: sd, different, yardsticks: &yardsticks };
    if let Some(c) = &check {
        let compared = baseline.iter().filter(|(k, _)| require_all || mine.contains_key(k));
        allowance.check(compared, c, request.allow_different_numerics)?;
    }
    let rows = diff::compare(&baseline, &mine, &allowance, require_all);
    if rows.is_empty() {
        let why = notes.iter().map(|n| format!("\n{n}")).collect::<String>();
        bail!("no cell of {} has a baseline in `{}`{why}", request.results.display(), request.against);
    }
    let rule = rule_text(&request.tolerance, &request.metrics, different, sd);
    Ok(Gate { request, rule, check, rows, notes })
}

/// A line for each selected metric that the results have and the baseline has no cell of: those numbers
/// are not gated, and the gate says so rather than pass them in silence.
fn uncovered(
    request: &GateRequest,
    baseline: &std::collections::BTreeMap<twoway_spec::CellKey, diff::Baseline>,
    mine: &std::collections::BTreeMap<twoway_spec::CellKey, results::Summary>,
) -> Vec<String> {
    let mut notes = Vec::new();
    for m in &request.metrics {
        let reproduced = mine.keys().filter(|k| k.metric == *m).count();
        if reproduced == 0 || baseline.keys().any(|k| k.metric == *m) {
            continue;
        }
        let why = if request.against == "published" {
            "the paper publishes no value of it (only mAP@class and mAP@sample); gate it against a table CSV \
             (`twoway table --all --format csv --metrics ...`)"
                .to_string()
        } else {
            format!(
                "`{}` has no row of it; remake the baseline with `twoway table --all --format csv --metrics ...`",
                request.against
            )
        };
        notes.push(format!("NOT COMPARED: {} ({m}) of {reproduced} reproduced cell(s): {why}", m.label()));
    }
    notes
}

/// The allowance rule in words.
fn rule_text(given: &GivenTolerance, metrics: &[Metric], different: bool, sd: f64) -> String {
    let of = |m: Option<f64>| match m {
        Some(t) => format!("{t} point(s)"),
        None if different => "the column's kernel spread".to_string(),
        None => format!("{} point(s)", diff::IDENTICAL_TOLERANCE),
    };
    let each: Vec<(String, &str)> = metrics.iter().map(|m| (of(given.of(*m)), m.label())).collect();
    let base = if each.iter().all(|e| e.0 == each[0].0) {
        each[0].0.clone()
    } else {
        let parts: Vec<String> = each.iter().map(|(t, l)| format!("{t} of {l}")).collect();
        match parts.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        }
    };
    if sd > 0.0 {
        format!("{base}, or {sd} sd of the baseline where larger")
    } else {
        base
    }
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
        let mut v = serde_json::json!({"against": q.against, "tolerance": q.tolerance.to_json(&q.metrics),
            "allowance": self.rule, "tolerance_sd": q.tolerance_sd, "numerics": self.check, "passed": self.passed(),
            "rows": self.rows});
        if !self.notes.is_empty() {
            v["not_compared"] = serde_json::json!(self.notes);
        }
        v
    }

    /// The numerics of both sides, a Markdown table of the cells (each with its allowance) and the verdict.
    pub fn render_text(&self) -> String {
        let q = &self.request;
        let mut o = String::new();
        if let Some(c) = &self.check {
            let _ = writeln!(o, "{}", c.describe());
            if !c.identical && !q.tolerance.is_given() {
                let _ = writeln!(o, "gating at each column's kernel spread (measured, or numerics.yaml's)");
            }
            let _ = writeln!(o);
        }
        let _ = writeln!(o, "| cell | metric | baseline | reproduced | delta | allowed | status |");
        let _ = writeln!(o, "|---|---|---:|---:|---:|---:|---|");
        for r in &self.rows {
            let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
            let d = r.delta.map_or("-".to_string(), super::claims::signed);
            let verdict = match r.verdict {
                Verdict::Ok => "ok",
                Verdict::Dropped => "DROPPED",
                Verdict::Missing => "MISSING",
                Verdict::Seeds => "SEEDS DIFFER",
            };
            let why = r.allowance.as_ref().map_or(String::new(), |w| format!(" ({w})"));
            let note = r.seeds_note.as_ref().map_or(String::new(), |n| format!(": {n}"));
            let (name, metric) = (cell_name(&r.key), r.key.metric.label());
            let _ = writeln!(
                o,
                "| {name} | {metric} | {:.2} | {} | {d} | -{:.2}{why} | {verdict}{note} |",
                r.baseline,
                f(r.reproduced),
                r.allowed
            );
        }
        for n in &self.notes {
            let _ = writeln!(o, "\n{n}");
        }
        let failed = self.failed();
        if failed.is_empty() {
            let widest = self.rows.iter().map(|r| r.allowed).fold(0.0, f64::max);
            let _ = writeln!(
                o,
                "\npassed: {} cell(s) within their allowance of `{}` ({}; the largest allowed: {widest:.2} points)",
                self.rows.len(),
                q.against,
                self.rule
            );
            return o;
        }
        // The first 20 by name (the table above lists them all).
        let mut names: Vec<String> =
            failed.iter().take(20).map(|r| format!("{} {}", cell_name(&r.key), r.key.metric)).collect();
        if failed.len() > 20 {
            names.push(format!("and {} more", failed.len() - 20));
        }
        let _ = writeln!(
            o,
            "\nFAILED: {} of {} cell(s) below `{}` by more than their allowance ({}), missing, or of other seeds: {}",
            failed.len(),
            self.rows.len(),
            q.against,
            self.rule,
            names.join(", ")
        );
        o
    }

    /// JUnit XML: one test case per compared cell and metric, a failure for each below its baseline (or
    /// missing) with the published, baseline and reproduced numbers in its message.
    pub fn render_junit(&self, spec: &Spec) -> String {
        let failed = self.failed().len();
        let suite = format!("twoway diff against {}", self.request.against);
        let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let head = format!("tests=\"{}\" failures=\"{failed}\" errors=\"0\"", self.rows.len());
        let _ = writeln!(o, "<testsuites name=\"twoway diff\" {head}>");
        let _ = writeln!(o, "  <testsuite name=\"{}\" {head}>", xml(&suite));
        for r in &self.rows {
            let (class, name) = (format!("twoway.{}", cell_name(&r.key).replace('/', ".")), r.key.metric.to_string());
            let _ = write!(o, "    <testcase classname=\"{}\" name=\"{}\"", xml(&class), xml(&name));
            if r.verdict == Verdict::Ok {
                let _ = writeln!(o, "/>");
                continue;
            }
            let message = self.numbers(spec, r);
            let kind = match r.verdict {
                Verdict::Missing => "missing",
                Verdict::Seeds => "seeds",
                _ => "dropped",
            };
            let _ = writeln!(
                o,
                ">\n      <failure type=\"{kind}\" message=\"{}\">{}</failure>",
                xml(&message),
                xml(&message)
            );
            let _ = writeln!(o, "    </testcase>");
        }
        if !self.notes.is_empty() {
            // Selected metrics the baseline has none of: no test case, but said.
            let _ = writeln!(o, "    <system-out>{}</system-out>", xml(&self.notes.join("\n")));
        }
        let _ = writeln!(o, "  </testsuite>\n</testsuites>");
        o
    }

    /// A Markdown table of the compared cells, those below their baseline first, under a verdict line.
    pub fn render_markdown(&self, spec: &Spec) -> String {
        let failed = self.failed();
        let mut o = if failed.is_empty() {
            format!(
                "**twoway diff: passed**: {} number(s) within their allowance ({}) of `{}`\n\n",
                self.rows.len(),
                self.rule,
                self.request.against
            )
        } else {
            format!(
                "**twoway diff: FAILED**: {} of {} number(s) below `{}` by more than their allowance ({}), missing, or \
                 of other seeds\n\n",
                failed.len(),
                self.rows.len(),
                self.request.against,
                self.rule
            )
        };
        for n in &self.notes {
            let _ = writeln!(o, "**{n}**\n");
        }
        o.push_str(
            "| | cell | metric | published | baseline | reproduced | delta |\n|---|---|---|---:|---:|---:|---:|\n",
        );
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        rows.sort_by_key(|r| r.verdict == Verdict::Ok);
        for r in rows {
            let f = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.2}"));
            let mark = match r.verdict {
                Verdict::Ok => "✅",
                Verdict::Dropped => "❌ dropped",
                Verdict::Missing => "❌ missing",
                Verdict::Seeds => "❌ seeds differ",
            };
            let published = spec.paper.lookup(&r.key);
            let delta = r.delta.map_or("–".to_string(), super::claims::signed);
            let _ = writeln!(
                o,
                "| {mark} | `{}` | {} | {} | {:.2} | {} | {delta} |",
                cell_name(&r.key),
                r.key.metric.label(),
                f(published),
                r.baseline,
                f(r.reproduced)
            );
        }
        o
    }

    /// "published P, baseline B, reproduced R (delta D, allowed A)" for a compared cell.
    fn numbers(&self, spec: &Spec, r: &Row) -> String {
        let f = |v: Option<f64>| v.map_or("none".to_string(), |v| format!("{v:.4}"));
        let why = r.allowance.as_ref().map_or(String::new(), |w| format!(": {w}"));
        let delta = r.delta.map_or(String::new(), |d| format!(" (delta {d:+.4}, allowed -{:.4}{why})", r.allowed));
        let seeds = r.seeds_note.as_ref().map_or(String::new(), |n| format!("; {n}"));
        format!(
            "{} {}: published {}, baseline {:.4}, reproduced {}{delta}{seeds}",
            cell_name(&r.key),
            r.key.metric,
            f(spec.paper.lookup(&r.key)),
            r.baseline,
            f(r.reproduced)
        )
    }
}
