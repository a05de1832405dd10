//! The comparison under `twoway diff`, the CI gate: the reproduced cells of a results folder against a
//! baseline (the published numbers, or the `reproduced` column of a table CSV with its per-seed values and
//! numerics, read by [`crate::report::baseline`]), compared on the seeds both sides have, and each cell's
//! verdict at its allowance ([`Allowance`]: the tolerance, K baseline sd's, or across numerics the column's
//! kernel spread). The gate
//! itself (loading, composing, rendering, exit code) is [`crate::report::gate`]. Tested in
//! `tests/gate_verdicts.rs`, `tests/cli_gate.rs`, `tests/cli_numerics.rs`; the CSV parser is fuzzed
//! (`fuzz/`).

use crate::numerics::Fingerprint;
pub use crate::report::baseline::NUMERICS_LINE;
pub use crate::report::baseline::{parse_csv_baseline, read_csv_baseline, Baseline, CsvBaseline};
use crate::report::noise::Yardsticks;
use crate::results::Summary;
use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet};
use twoway_spec::{CellKey, Metric, Spec};

/// One compared cell.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub key: CellKey,
    pub baseline: f64,
    /// The drop this cell may take: the tolerance, or K baseline sd's when that is larger.
    pub allowed: f64,
    /// Where `allowed` comes from when it is not the tolerance itself (`2.0 sd of the baseline`).
    pub allowance: Option<String>,
    pub reproduced: Option<f64>,
    pub delta: Option<f64>,
    /// The seeds compared (both sides have them); empty for a published baseline, which has none.
    pub seeds: Vec<u64>,
    /// Why the seeds do not match (the verdict is then `seeds`), or which seeds were left out.
    pub seeds_note: Option<String>,
    /// Serialised as `status` (the JSON of `twoway diff --format json`).
    #[serde(rename = "status")]
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    /// Below the baseline by more than the tolerance.
    Dropped,
    /// In the baseline, not in the results.
    Missing,
    /// The two sides' seeds cannot be compared: no seed in common, or a baseline that records only its seed
    /// count and a different count.
    Seeds,
}

/// How the numerics of the results compare with the baseline's.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NumericsCheck {
    /// One fingerprint on each side, and the two give bit-identical results.
    pub identical: bool,
    /// The distinct fingerprints of the results (`None`: a result without one).
    pub results: Vec<Option<Fingerprint>>,
    pub baseline: Vec<Option<Fingerprint>>,
}

/// Fingerprints grouped by [`Fingerprint::same_numerics`] (portable results of two CPUs are one group);
/// `None` (unknown numerics) is a group of its own.
fn groups(all: &[Option<Fingerprint>]) -> Vec<Option<Fingerprint>> {
    let mut out: Vec<Option<Fingerprint>> = Vec::new();
    for f in all {
        let same = |g: &Option<Fingerprint>| match (g, f) {
            (Some(a), Some(b)) => a.same_numerics(b) || a == b,
            (None, None) => true,
            _ => false,
        };
        if !out.iter().any(same) {
            out.push(f.clone());
        }
    }
    out
}

impl NumericsCheck {
    /// `results`: the distinct fingerprints of the results ([`crate::results::fingerprints`]); `baseline`:
    /// the baseline's. Identical when both sides are one numerics: every fingerprint known, and all of them
    /// bit-identical under [`Fingerprint::same_numerics`] (in portable mode the CPU model does not count).
    pub fn new(results: Vec<Option<Fingerprint>>, baseline: &[Option<Fingerprint>]) -> NumericsCheck {
        let (results, baseline) = (groups(&results), groups(baseline));
        let identical = match (results.as_slice(), baseline.as_slice()) {
            ([Some(r)], [Some(b)]) => r.same_numerics(b),
            _ => false,
        };
        NumericsCheck { identical, results, baseline }
    }

    /// What a person needs to see: both sides, and where they differ.
    pub fn describe(&self) -> String {
        let side = |v: &[Option<Fingerprint>]| match v {
            [] => "none recorded".to_string(),
            [one] => one.as_ref().map_or("none recorded (unknown numerics)".into(), |f| f.summary()),
            many => format!(
                "{} different: {}",
                many.len(),
                many.iter()
                    .map(|f| f.as_ref().map_or("none recorded (unknown numerics)".into(), |f| f.summary()))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
        };
        let (results, baseline) = (side(&self.results), side(&self.baseline));
        if self.identical {
            return format!("numerics: identical ({results})");
        }
        let fields = match (self.results.as_slice(), self.baseline.as_slice()) {
            ([Some(r)], [Some(b)]) => {
                let d: Vec<String> =
                    r.differences(b).into_iter().map(|(f, x, y)| format!("{f} `{x}` vs `{y}`")).collect();
                if d.is_empty() {
                    "; CUDA results are never taken as bit-identical".to_string()
                } else {
                    format!("; they differ in {}", d.join(", "))
                }
            }
            _ => String::new(),
        };
        format!("numerics: DIFFERENT\n  results:  {results}\n  baseline: {baseline}{fields}")
    }
}

/// The tolerance a user gave (`--tolerance`): one number for every selected metric, or per metric
/// (`map_class=0.5,map_sample=0.3,cf1=1`); a metric left out takes the gate's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GivenTolerance {
    /// A bare number: the tolerance of every metric.
    pub uniform: Option<f64>,
    /// `METRIC=POINTS` pairs.
    pub per: BTreeMap<Metric, f64>,
}

impl GivenTolerance {
    pub fn uniform(t: f64) -> GivenTolerance {
        GivenTolerance { uniform: Some(t), per: BTreeMap::new() }
    }

    pub fn is_given(&self) -> bool {
        self.uniform.is_some() || !self.per.is_empty()
    }

    /// The tolerance given for `m`, if any.
    pub fn of(&self, m: Metric) -> Option<f64> {
        self.per.get(&m).copied().or(self.uniform)
    }

    /// Every number given (to check them).
    pub fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.uniform.into_iter().chain(self.per.values().copied())
    }

    /// As JSON: each of `metrics` (and each metric given by name) with its tolerance, `null` where none is
    /// given.
    pub fn to_json(&self, metrics: &[Metric]) -> serde_json::Value {
        let mut keys: Vec<Metric> = metrics.to_vec();
        keys.extend(self.per.keys().filter(|m| !metrics.contains(m)));
        let map: serde_json::Map<String, serde_json::Value> =
            keys.iter().map(|m| (m.as_str().to_string(), serde_json::json!(self.of(*m)))).collect();
        serde_json::Value::Object(map)
    }
}

impl std::str::FromStr for GivenTolerance {
    type Err = String;
    fn from_str(s: &str) -> Result<GivenTolerance, String> {
        let points = |v: &str| -> Result<f64, String> {
            match v.trim().parse::<f64>() {
                Ok(t) if t.is_finite() && t >= 0.0 => Ok(t),
                _ => Err(format!("`{v}` is not a finite number of points >= 0")),
            }
        };
        if !s.contains('=') {
            return points(s).map(GivenTolerance::uniform);
        }
        let mut g = GivenTolerance::default();
        for part in s.split(',') {
            let Some((metric, value)) = part.split_once('=') else {
                return Err(format!("`{part}`: expected METRIC=POINTS (map_class=0.5,map_sample=0.3) or one number"));
            };
            let m: Metric = metric.trim().parse().map_err(|e: twoway_spec::UnknownKey| e.to_string())?;
            if g.per.insert(m, points(value)?).is_some() {
                return Err(format!("`{}` is given twice", metric.trim()));
            }
        }
        Ok(g)
    }
}

/// What each cell may fall below its baseline: the tolerance given (`--tolerance`), else 0.5 points when
/// the two sides' numerics are identical and the column's kernel spread when they differ; or `tolerance_sd`
/// of the baseline's standard deviations where that is larger.
#[derive(Debug, Clone)]
pub struct Allowance<'a> {
    pub given: GivenTolerance,
    pub tolerance_sd: f64,
    /// The two sides' numerics differ.
    pub different: bool,
    pub yardsticks: &'a Yardsticks,
}

/// The tolerance of a metric with identical numerics, when none is given.
pub const IDENTICAL_TOLERANCE: f64 = 0.5;

impl Allowance<'_> {
    /// The column's kernel spread of `key`'s metric, when known.
    fn spread(&self, key: &CellKey) -> Option<f64> {
        self.yardsticks.of(key.dataset, key.backbone).and_then(|a| a.points.of(key.metric))
    }

    /// The points `key` may fall, and where they come from when it is not the tolerance alone; `None` when
    /// the numerics differ, no tolerance is given and the column's spread is unknown.
    pub fn of(&self, key: &CellKey, b: &Baseline) -> Option<(f64, Option<String>)> {
        let (base, why) = match self.given.of(key.metric) {
            Some(t) => (t, None),
            None if !self.different => (IDENTICAL_TOLERANCE, None),
            None => (self.spread(key)?, Some("the column's kernel spread".to_string())),
        };
        let by_sd = self.tolerance_sd * b.sd.unwrap_or(0.0);
        if by_sd > base {
            return Some((
                by_sd,
                Some(format!("{} sd of the baseline ({:.2})", self.tolerance_sd, b.sd.unwrap_or(0.0))),
            ));
        }
        Some((base, why))
    }

    /// With different numerics (and unless `allow`): an error naming the cells whose allowance does not
    /// cover their column's kernel spread, or whose column has no known spread.
    pub fn check<'b>(
        &self,
        baseline: impl IntoIterator<Item = (&'b CellKey, &'b Baseline)>,
        check: &NumericsCheck,
        allow: bool,
    ) -> Result<()> {
        if !self.different || allow {
            return Ok(());
        }
        let mut short = Vec::new();
        let mut unknown = BTreeSet::new();
        let mut unmeasurable = BTreeSet::new();
        for (k, b) in baseline {
            match (self.spread(k), self.of(k, b)) {
                (Some(s), Some((a, _))) if a >= s => {}
                (Some(s), Some((a, _))) => short.push(format!("{} {}: {a} < {s}", cell_label(k), k.metric)),
                _ if !k.metric.is_map() => {
                    unmeasurable.insert(format!("{}/{} {}", k.dataset.as_str(), k.backbone.as_str(), k.metric));
                }
                _ => {
                    unknown.insert(format!("{}/{}", k.dataset.as_str(), k.backbone.as_str()));
                }
            }
        }
        if !unknown.is_empty() {
            let cols: Vec<String> = unknown.into_iter().collect();
            bail!(
                "the results and the baseline were made under different numerics, and the kernel spread of {} is \
                 not known, so no tolerance can be told from the machine's noise:\n{}\nmeasure it with `twoway \
                 noise --results DIR -- --grid GRID` (it reruns the cells under each kernel setting and stores the spread), or gate at \
                 a --tolerance of your own with --allow-different-numerics; a baseline made in portable numerics on \
                 any x86-64 CPU allows an exact gate",
                cols.join(", "),
                check.describe()
            );
        }
        if !unmeasurable.is_empty() {
            let cells: Vec<String> = unmeasurable.into_iter().collect();
            bail!(
                "the results and the baseline were made under different numerics, and no kernel spread is measured \
                 for the thresholded metrics ({}: `twoway noise` measures mAP@class and mAP@sample only), so no \
                 tolerance of theirs can be told from the machine's noise:\n{}\ngate them at a --tolerance of your \
                 own with --allow-different-numerics, leave them out of --metrics, or use a baseline made under the \
                 same numerics (portable numerics on any x86-64 CPU allow an exact gate)",
                cells.join(", "),
                check.describe()
            );
        }
        if !short.is_empty() {
            let n = short.len();
            short.truncate(8);
            bail!(
                "the results and the baseline were made under different numerics, and the allowance of {n} cell(s) \
                 is below its column's kernel spread, so it cannot tell a change from the machine's noise: {}\n{}\n\
                 leave --tolerance out (each column then gates at its spread), give one of at least the spread, or \
                 --allow-different-numerics to gate at it anyway (--tolerance-sd alone does not: a cell without an sd \
                 has no allowance from it); a baseline made with `twoway run --numerics portable` on any x86-64 CPU \
                 allows an exact gate",
                short.join(", "),
                check.describe()
            );
        }
        Ok(())
    }
}

/// `dataset/backbone/loss[/way]`.
pub fn cell_label(k: &CellKey) -> String {
    let way = k.way.map(|w| format!("/{w}")).unwrap_or_default();
    format!("{}/{}/{}{way}", k.dataset, k.backbone, k.loss)
}

/// The published numbers as a baseline.
pub fn published_baseline(spec: &Spec) -> BTreeMap<CellKey, Baseline> {
    spec.paper.main.iter().chain(&spec.paper.ways).map(|p| (p.key, Baseline::of(p.value))).collect()
}

fn list(seeds: &[u64]) -> String {
    let v: Vec<String> = seeds.iter().map(u64::to_string).collect();
    format!("{{{}}}", v.join(", "))
}

fn mean_over(values: &[(u64, f64)], seeds: &[u64]) -> f64 {
    let v: Vec<f64> = values.iter().filter(|x| seeds.contains(&x.0)).map(|x| x.1).collect();
    v.iter().sum::<f64>() / v.len() as f64
}

/// The (baseline value, reproduced value, seeds compared, note) of a cell, over the seeds both sides have;
/// `Err(note)` when its seeds cannot be compared.
fn like_with_like(b: &Baseline, r: &Summary) -> std::result::Result<(f64, f64, Vec<u64>, Option<String>), String> {
    let mine: Vec<u64> = r.values.iter().map(|v| v.0).collect();
    match (&b.seeds, b.n) {
        (Some(theirs), _) => {
            let their_seeds: Vec<u64> = theirs.iter().map(|v| v.0).collect();
            let common: Vec<u64> = mine.iter().copied().filter(|s| their_seeds.contains(s)).collect();
            if common.is_empty() {
                return Err(format!("no seed in common: results {}, baseline {}", list(&mine), list(&their_seeds)));
            }
            let note = (common.len() != mine.len() || common.len() != their_seeds.len()).then(|| {
                format!(
                    "compared on seed(s) {} of results {}, baseline {}",
                    list(&common),
                    list(&mine),
                    list(&their_seeds)
                )
            });
            Ok((mean_over(theirs, &common), mean_over(&r.values, &common), common, note))
        }
        (None, Some(n)) if n != mine.len() => Err(format!(
            "the baseline has {n} seed(s) (which ones it does not record: remake it with `twoway table --format csv`), \
             the results {} {}",
            mine.len(),
            list(&mine)
        )),
        (None, Some(_)) => Ok((b.value, r.mean, mine, None)),
        (None, None) => Ok((b.value, r.mean, Vec::new(), None)),
    }
}

/// Compares `reproduced` with `baseline`, on the seeds both sides have: a cell may fall below its baseline
/// by its `allowance` ([`Allowance::of`]). With the published numbers as baseline, only the cells that were
/// run are compared (the paper has many more); with a CSV, every baseline cell must be there.
pub fn compare(
    baseline: &BTreeMap<CellKey, Baseline>,
    reproduced: &BTreeMap<CellKey, Summary>,
    allowance: &Allowance,
    require_all: bool,
) -> Vec<Row> {
    baseline
        .iter()
        .filter(|(k, _)| require_all || reproduced.contains_key(k))
        .map(|(k, b)| {
            // Only with --allow-different-numerics can a cell of unknown spread get here: it gates at 0.
            let (allowed, why) = allowance
                .of(k, b)
                .unwrap_or((0.0, Some("no kernel spread known for its column: 0, as allowed".to_string())));
            let mut row = Row {
                key: *k,
                baseline: b.value,
                allowed,
                allowance: why,
                reproduced: None,
                delta: None,
                seeds: Vec::new(),
                seeds_note: None,
                verdict: Verdict::Missing,
            };
            let Some(r) = reproduced.get(k) else { return row };
            match like_with_like(b, r) {
                Err(note) => {
                    row.reproduced = Some(r.mean);
                    row.seeds = r.values.iter().map(|v| v.0).collect();
                    row.seeds_note = Some(note);
                    row.verdict = Verdict::Seeds;
                }
                Ok((base, mine, seeds, note)) => {
                    let d = mine - base;
                    row.baseline = base;
                    row.reproduced = Some(mine);
                    row.delta = Some(d);
                    row.seeds = seeds;
                    row.seeds_note = note;
                    row.verdict = if d < -allowed { Verdict::Dropped } else { Verdict::Ok };
                }
            }
            row
        })
        .collect()
}
