//! `twoway diff`: the CI gate. Compares the reproduced cells of a results folder with a baseline (the
//! published numbers, or the `reproduced` column of a table CSV) and fails when a cell falls below its
//! baseline by more than the tolerance. Exit codes: 0 pass, 1 a cell dropped (or is missing), 2 bad input.

use crate::table::{CSV_HEADER, CSV_HEADER_V1};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;
use twoway_spec::{CellKey, Spec, Way};

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
    pub status: Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
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

/// The `reproduced` (and `sd`) columns of a table CSV (as printed by `twoway table --format csv`, or its
/// earlier 8-column form); rows with an empty `reproduced` are not baselines.
pub fn read_csv_baseline(path: &Path) -> Result<BTreeMap<CellKey, Baseline>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    parse_csv_baseline(&text, path)
}

/// Parses the text of a table CSV as a baseline (`path` names it in errors).
pub fn parse_csv_baseline(text: &str, path: &Path) -> Result<BTreeMap<CellKey, Baseline>> {
    let mut lines = text.lines().enumerate();
    let columns = match lines.next() {
        Some((_, h)) if h.trim_end() == CSV_HEADER => 10,
        Some((_, h)) if h.trim_end() == CSV_HEADER_V1 => 8,
        Some((_, h)) => bail!("{}:1: header `{h}`, expected `{CSV_HEADER}`", path.display()),
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
    Ok(out)
}

/// The published numbers as a baseline.
pub fn published_baseline(spec: &Spec) -> BTreeMap<CellKey, Baseline> {
    spec.paper.main.iter().chain(&spec.paper.ways).map(|p| (p.key, Baseline { value: p.value, sd: None })).collect()
}

/// Compares `reproduced` with `baseline`: a cell may fall below its baseline by `tolerance` points, or by
/// `tolerance_sd` of the baseline's standard deviations when that is more. With the published numbers as
/// baseline, only the cells that were run are compared (the paper has many more); with a CSV, every
/// baseline cell must be there.
pub fn compare(
    baseline: &BTreeMap<CellKey, Baseline>,
    reproduced: &BTreeMap<CellKey, f64>,
    tolerance: f64,
    tolerance_sd: f64,
    require_all: bool,
) -> Vec<Row> {
    baseline
        .iter()
        .filter(|(k, _)| require_all || reproduced.contains_key(k))
        .map(|(k, b)| {
            let allowed = tolerance.max(tolerance_sd * b.sd.unwrap_or(0.0));
            let r = reproduced.get(k).copied();
            let delta = r.map(|r| r - b.value);
            let status = match delta {
                None => Status::Missing,
                Some(d) if d < -allowed => Status::Dropped,
                Some(_) => Status::Ok,
            };
            Row { key: *k, baseline: b.value, allowed, reproduced: r, delta, status }
        })
        .collect()
}
