//! The comparison under `twoway diff`, the CI gate: the reproduced cells of a results folder against a
//! baseline (the published numbers, or the `reproduced` column of a table CSV with its numerics lines),
//! each cell's verdict, and the tolerance the gate may use when the two sides' numerics differ. The gate
//! itself (loading, composing, rendering, exit code) is [`crate::report::gate`]. Tested below and in
//! `tests/cli_gate.rs`, `tests/cli_numerics.rs`; the CSV parser is fuzzed (`fuzz/`).

use crate::numerics::Fingerprint;
pub use crate::report::table::NUMERICS_LINE;
use crate::report::table::{CSV_HEADER, CSV_HEADER_V1};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;
use twoway_spec::{CellKey, Metric, Spec, Way};

/// One compared cell.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub key: CellKey,
    pub baseline: f64,
    /// The drop this cell may take: the tolerance, or K baseline sd's when that is larger.
    pub allowed: f64,
    pub reproduced: Option<f64>,
    pub delta: Option<f64>,
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
}

/// A baseline value, with its standard deviation over seeds when the baseline had several.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub value: f64,
    pub sd: Option<f64>,
}

/// A baseline CSV: its cells, and the numerics fingerprints of the results it was made from.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvBaseline {
    pub cells: BTreeMap<CellKey, Baseline>,
    /// From its `# numerics: {...}` lines; empty for a baseline written before twoway recorded them.
    pub numerics: Vec<Fingerprint>,
}

/// The `reproduced` (and `sd`) columns of a table CSV (as printed by `twoway table --format csv`, or its
/// earlier 8-column form), and its numerics lines; rows with an empty `reproduced` are not baselines.
pub fn read_csv_baseline(path: &Path) -> Result<CsvBaseline> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    parse_csv_baseline(&text, path)
}

/// Parses the text of a table CSV as a baseline (`path` names it in errors). Lines before the header that
/// start with `#` are comments; `# numerics: {...}` ones carry fingerprints.
pub fn parse_csv_baseline(text: &str, path: &Path) -> Result<CsvBaseline> {
    let mut lines = text.lines().enumerate().peekable();
    let mut numerics = Vec::new();
    while let Some((i, line)) = lines.next_if(|(_, l)| l.starts_with('#')) {
        if let Some(json) = line.strip_prefix(NUMERICS_LINE) {
            let f: Fingerprint = serde_json::from_str(json)
                .with_context(|| format!("{}:{}: not a numerics fingerprint", path.display(), i + 1))?;
            numerics.push(f);
        }
    }
    let columns = match lines.next() {
        Some((_, h)) if h.trim_end() == CSV_HEADER => 10,
        Some((_, h)) if h.trim_end() == CSV_HEADER_V1 => 8,
        Some((i, h)) => bail!("{}:{}: header `{h}`, expected `{CSV_HEADER}`", path.display(), i + 1),
        None => bail!("{}: empty file", path.display()),
    };
    let mut out = BTreeMap::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let at = |field: &str, what: &str| anyhow::anyhow!("{}:{}: field `{field}`: {what}", path.display(), i + 1);
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != columns {
            bail!("{}:{}: {} fields, expected {columns}", path.display(), i + 1, f.len());
        }
        let key = CellKey {
            dataset: f[0].parse().map_err(|e| at("dataset", &format!("{e}")))?,
            backbone: f[1].parse().map_err(|e| at("backbone", &format!("{e}")))?,
            loss: f[2].parse().map_err(|e| at("loss", &format!("{e}")))?,
            way: if f[3].is_empty() {
                None
            } else {
                Some(f[3].parse::<Way>().map_err(|e| at("way", &format!("{e}")))?)
            },
            metric: f[4].parse().map_err(|e| at("metric", &format!("{e}")))?,
        };
        if f[6].is_empty() {
            continue;
        }
        let v: f64 = f[6].parse().map_err(|_| at("reproduced", &format!("`{}` is not a number", f[6])))?;
        if !v.is_finite() {
            bail!("{}:{}: field `reproduced`: not finite", path.display(), i + 1);
        }
        let sd = match f.get(8) {
            Some(t) if !t.is_empty() => {
                let sd: f64 = t.parse().map_err(|_| at("sd", &format!("`{t}` is not a number")))?;
                if !(sd.is_finite() && sd >= 0.0) {
                    return Err(at("sd", "must be a finite number >= 0"));
                }
                Some(sd)
            }
            _ => None,
        };
        if out.insert(key, Baseline { value: v, sd }).is_some() {
            bail!("{}:{}: the same cell appears twice", path.display(), i + 1);
        }
    }
    if out.is_empty() {
        bail!("{}: no row has a `reproduced` value to compare against", path.display());
    }
    Ok(CsvBaseline { cells: out, numerics })
}

/// How the numerics of the results compare with the baseline's.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NumericsCheck {
    /// One fingerprint on each side, and the two give bit-identical results.
    pub identical: bool,
    /// The distinct fingerprints of the results (`None`: a result without one).
    pub results: Vec<Option<Fingerprint>>,
    pub baseline: Vec<Fingerprint>,
}

impl NumericsCheck {
    /// `results`: the distinct fingerprints of the results ([`crate::results::fingerprints`]).
    pub fn new(results: Vec<Option<Fingerprint>>, baseline: &[Fingerprint]) -> NumericsCheck {
        let identical = match (results.as_slice(), baseline) {
            ([Some(r)], [b]) => r.same_numerics(b),
            _ => false,
        };
        NumericsCheck { identical, results, baseline: baseline.to_vec() }
    }

    /// What a person needs to see: both sides, and where they differ.
    pub fn describe(&self) -> String {
        let side = |v: Vec<Option<&Fingerprint>>| match v.as_slice() {
            [] => "none recorded".to_string(),
            [one] => one.map_or("none recorded".into(), |f| f.summary()),
            many => format!(
                "{} different: {}",
                many.len(),
                many.iter().map(|f| f.map_or("none recorded".into(), |f| f.summary())).collect::<Vec<_>>().join(" | ")
            ),
        };
        let results = side(self.results.iter().map(Option::as_ref).collect());
        let baseline = side(self.baseline.iter().map(Some).collect());
        if self.identical {
            return format!("numerics: identical ({results})");
        }
        let fields = match (self.results.as_slice(), self.baseline.as_slice()) {
            ([Some(r)], [b]) => {
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

/// The tolerance of each metric: points a cell may fall below its baseline.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Tolerance {
    pub map_class: f64,
    pub map_sample: f64,
}

impl Tolerance {
    pub fn of(&self, m: Metric) -> f64 {
        match m {
            Metric::MapClass => self.map_class,
            Metric::MapSample => self.map_sample,
        }
    }
}

impl std::fmt::Display for Tolerance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.map_class == self.map_sample {
            write!(f, "{} point(s)", self.map_class)
        } else {
            write!(f, "{} point(s) of mAP@class and {} of mAP@sample", self.map_class, self.map_sample)
        }
    }
}

/// The tolerance a user gave (`--tolerance`): one number for both metrics, or per metric
/// (`map_class=0.5,map_sample=0.3`); a metric left out takes the gate's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct GivenTolerance {
    pub map_class: Option<f64>,
    pub map_sample: Option<f64>,
}

impl GivenTolerance {
    pub fn uniform(t: f64) -> GivenTolerance {
        GivenTolerance { map_class: Some(t), map_sample: Some(t) }
    }

    pub fn is_given(&self) -> bool {
        self.map_class.is_some() || self.map_sample.is_some()
    }

    fn of(&self, m: Metric) -> Option<f64> {
        match m {
            Metric::MapClass => self.map_class,
            Metric::MapSample => self.map_sample,
        }
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
            let slot = match metric.trim() {
                "map_class" => &mut g.map_class,
                "map_sample" => &mut g.map_sample,
                other => return Err(format!("`{other}` is not a metric: use map_class or map_sample")),
            };
            if slot.replace(points(value)?).is_some() {
                return Err(format!("`{}` is given twice", metric.trim()));
            }
        }
        Ok(g)
    }
}

/// The gate's tolerance given the numerics: `given` (`--tolerance`), a metric not given at 0.5 when they are
/// identical and at the spec's cross-numerics tolerance when they differ; with different numerics a given
/// tolerance below the cross-numerics one is an error naming both sides, unless `--tolerance-sd` or `allow`
/// (`--allow-different-numerics`) says how to treat the noise.
pub fn gate_tolerance(
    spec: &Spec,
    check: Option<&NumericsCheck>,
    given: GivenTolerance,
    tolerance_sd: f64,
    allow: bool,
) -> Result<Tolerance> {
    let cross = &spec.numerics.gate.cross_numerics_tolerance;
    let different = check.filter(|c| !c.identical);
    let default = |m: Metric| if different.is_some() { cross.of(m) } else { 0.5 };
    let pick = |m: Metric| given.of(m).unwrap_or_else(|| default(m));
    let t = Tolerance { map_class: pick(Metric::MapClass), map_sample: pick(Metric::MapSample) };
    if let Some(c) = different {
        let covered = Metric::ALL.iter().all(|m| t.of(*m) >= cross.of(*m));
        if !(covered || tolerance_sd > 0.0 || allow) {
            bail!(
                "the results and the baseline were made under different numerics, so a tolerance of {t} cannot \
                 tell a change from the machine's noise:\n{}\nuse a tolerance of at least {} (mAP@class) and {} \
                 (mAP@sample) points (the spread measured across kernel choices, spec/data/numerics.yaml; or leave \
                 --tolerance out), --tolerance-sd K, or --allow-different-numerics to gate at {t} anyway; a baseline \
                 made with `twoway run --numerics portable` on any x86-64 CPU allows an exact gate",
                c.describe(),
                cross.map_class,
                cross.map_sample
            );
        }
    }
    Ok(t)
}

/// The published numbers as a baseline.
pub fn published_baseline(spec: &Spec) -> BTreeMap<CellKey, Baseline> {
    spec.paper.main.iter().chain(&spec.paper.ways).map(|p| (p.key, Baseline { value: p.value, sd: None })).collect()
}

/// Compares `reproduced` with `baseline`: a cell may fall below its baseline by its metric's `tolerance`, or by
/// `tolerance_sd` of the baseline's standard deviations when that is more. With the published numbers as
/// baseline, only the cells that were run are compared (the paper has many more); with a CSV, every
/// baseline cell must be there.
pub fn compare(
    baseline: &BTreeMap<CellKey, Baseline>,
    reproduced: &BTreeMap<CellKey, f64>,
    tolerance: Tolerance,
    tolerance_sd: f64,
    require_all: bool,
) -> Vec<Row> {
    baseline
        .iter()
        .filter(|(k, _)| require_all || reproduced.contains_key(k))
        .map(|(k, b)| {
            let allowed = tolerance.of(k.metric).max(tolerance_sd * b.sd.unwrap_or(0.0));
            let r = reproduced.get(k).copied();
            let delta = r.map(|r| r - b.value);
            let verdict = match delta {
                None => Verdict::Missing,
                Some(d) if d < -allowed => Verdict::Dropped,
                Some(_) => Verdict::Ok,
            };
            Row { key: *k, baseline: b.value, allowed, reproduced: r, delta, verdict }
        })
        .collect()
}
