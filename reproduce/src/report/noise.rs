//! The kernel spread of a column: how far its cells move between kernel choices alone (same seed, same
//! configuration), measured by `twoway noise` and stored in the results folder as
//! `noise/<dataset>.<backbone>.<recipe>.json`, or stated in `spec/data/numerics.yaml` for the columns it was
//! measured on. The claims report calls a lead of Ours within its column's spread no finding, and the gate
//! needs a tolerance that covers it when the two sides' numerics differ. A column with neither has no
//! known spread: the claims say so and name the command that measures it.
//!
//! Invariant: a spread applies to the (dataset, backbone, recipe) it was measured on and to no other.
//! Tested below and in `tests/cli_noise.rs`.

use crate::layout::NOISE;
use crate::results::ResultFile;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use twoway_spec::{Backbone, Dataset, Loss, Metric, Spec, Way};

pub const FORMAT: &str = "twoway-noise-v1";

/// One cell's values under each setting.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellNoise {
    pub loss: Loss,
    pub way: Option<Way>,
    pub metric: Metric,
    /// setting → the cell's final value.
    pub values: BTreeMap<String, f64>,
    /// max − min over the settings.
    pub spread: f64,
}

/// Points of mAP per metric.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Points {
    pub map_class: f64,
    pub map_sample: f64,
}

impl Points {
    /// The spread of `m`; `None` for the metrics the kernel spread is not measured for (the thresholded
    /// ones: `twoway noise` measures mAP@class and mAP@sample).
    pub fn of(&self, m: Metric) -> Option<f64> {
        match m {
            Metric::MapClass => Some(self.map_class),
            Metric::MapSample => Some(self.map_sample),
            _ => None,
        }
    }
}

/// What `twoway noise` measured for one column.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnNoise {
    pub format: String,
    pub dataset: Dataset,
    pub backbone: Backbone,
    pub recipe: String,
    /// `cpu` or `cuda`: which settings were run.
    pub device: String,
    pub seed: u64,
    pub settings: Vec<String>,
    /// The largest spread of a cell of the column, per metric.
    pub spread: Points,
    pub cells: Vec<CellNoise>,
}

impl ColumnNoise {
    /// Its file under the results folder `root`.
    pub fn path(&self, root: &Path) -> PathBuf {
        file_of(root, self.dataset, self.backbone, &self.recipe)
    }
}

/// `root/noise/<dataset>.<backbone>.<recipe>.json`.
pub fn file_of(root: &Path, dataset: Dataset, backbone: Backbone, recipe: &str) -> PathBuf {
    root.join(NOISE).join(format!("{}.{}.{recipe}.json", dataset.as_str(), backbone.as_str()))
}

/// The recipe a result was trained with (its configuration's `recipe.name`).
pub fn recipe_of(r: &ResultFile) -> String {
    r.config.pointer("/recipe/name").and_then(|v| v.as_str()).unwrap_or("unknown").to_string()
}

/// The spreads measured under `root` (none when it has no `noise` folder). A malformed file is an error
/// naming it.
pub fn load(root: &Path) -> Result<Vec<ColumnNoise>> {
    let dir = root.join(NOISE);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("{}: cannot list", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.retain(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"));
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).with_context(|| format!("{}: cannot read", p.display()))?;
        let c: ColumnNoise =
            serde_json::from_str(&text).with_context(|| format!("{}: not a twoway noise file", p.display()))?;
        if c.format != FORMAT {
            bail!("{}: format `{}`, expected `{FORMAT}`", p.display(), c.format);
        }
        let valid = [c.spread.map_class, c.spread.map_sample].iter().all(|v| v.is_finite() && *v >= 0.0);
        if !valid {
            bail!("{}: field `spread`: finite numbers of points >= 0", p.display());
        }
        out.push(c);
    }
    Ok(out)
}

/// The spread that applies to a column, and where it comes from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Applied {
    pub points: Points,
    /// `measured` (by `twoway noise`, in the results folder) or `spec` (numerics.yaml's scope).
    pub source: String,
    /// One line: which settings on which seed, or numerics.yaml's scope.
    pub detail: String,
}

/// The spreads known for the columns of some results: measured ones first, then numerics.yaml's where its
/// scope covers the column.
#[derive(Debug, Clone)]
pub struct Yardsticks {
    measured: Vec<ColumnNoise>,
    /// The recipes of each column's results.
    recipes: BTreeMap<(Dataset, Backbone), BTreeSet<String>>,
    spec: twoway_spec::numerics::CrossTolerance,
}

impl Yardsticks {
    pub fn new(spec: &Spec, measured: Vec<ColumnNoise>, results: &[(PathBuf, ResultFile)]) -> Yardsticks {
        let mut recipes: BTreeMap<(Dataset, Backbone), BTreeSet<String>> = BTreeMap::new();
        for (_, r) in results {
            recipes.entry((r.cell.dataset, r.cell.backbone)).or_default().insert(recipe_of(r));
        }
        Yardsticks { measured, recipes, spec: spec.numerics.gate.cross_numerics_tolerance.clone() }
    }

    /// The results folder's measured spreads and numerics.yaml's, for `results` read from `root`.
    pub fn of_folder(spec: &Spec, root: &Path, results: &[(PathBuf, ResultFile)]) -> Result<Yardsticks> {
        Ok(Yardsticks::new(spec, load(root)?, results))
    }

    /// The recipes the column's results were trained with.
    pub fn recipes(&self, dataset: Dataset, backbone: Backbone) -> Vec<String> {
        self.recipes.get(&(dataset, backbone)).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }

    /// The spread of the column; `None` when one of its recipes has none (measured or in scope). With
    /// several recipes in one column, the largest applies.
    pub fn of(&self, dataset: Dataset, backbone: Backbone) -> Option<Applied> {
        let recipes = self.recipes(dataset, backbone);
        let mut out: Option<Applied> = None;
        for recipe in &recipes {
            let one = self.of_recipe(dataset, backbone, recipe)?;
            out = Some(match out {
                None => one,
                Some(a) => Applied {
                    points: Points {
                        map_class: a.points.map_class.max(one.points.map_class),
                        map_sample: a.points.map_sample.max(one.points.map_sample),
                    },
                    source: if a.source == one.source { a.source } else { "measured and spec".into() },
                    detail: format!("{}; {}", a.detail, one.detail),
                },
            });
        }
        out
    }

    fn of_recipe(&self, dataset: Dataset, backbone: Backbone, recipe: &str) -> Option<Applied> {
        let measured = self.measured.iter().filter(|c| c.dataset == dataset && c.backbone == backbone);
        if let Some(c) = measured.filter(|c| c.recipe == recipe).max_by(|a, b| a.settings.len().cmp(&b.settings.len()))
        {
            return Some(Applied {
                points: c.spread,
                source: "measured".into(),
                detail: format!(
                    "measured by `twoway noise` ({} {} setting(s), seed {}, recipe {recipe})",
                    c.settings.len(),
                    c.device,
                    c.seed
                ),
            });
        }
        let s = &self.spec;
        s.scope.covers(dataset, backbone, recipe).then(|| Applied {
            points: Points { map_class: s.map_class, map_sample: s.map_sample },
            source: "spec".into(),
            detail: format!("numerics.yaml, measured for recipe {recipe} on this column"),
        })
    }
}

/// The command that measures a column's spread (GRID: the grid that made the results, which they do not
/// record).
pub fn how_to_measure(dataset: Dataset, backbone: Backbone, root: &Path, recipes: &[String]) -> String {
    let recipe = match recipes {
        [one] => format!(" --recipe {one}"),
        _ => String::new(),
    };
    format!(
        "twoway noise --results {} -- --grid GRID{recipe} --datasets {} --backbones {}",
        root.display(),
        dataset.as_str(),
        backbone.as_str()
    )
}

/// The spread of each column of the results of each setting (`runs`: setting name → its results, all
/// at one seed): every cell must be there under every setting.
pub fn measure(device: &str, runs: &[(String, Vec<(PathBuf, ResultFile)>)]) -> Result<Vec<ColumnNoise>> {
    type Column = (Dataset, Backbone, String);
    type CellAt = (Loss, Option<Way>, Metric);
    let mut by_column: BTreeMap<Column, BTreeMap<CellAt, BTreeMap<String, f64>>> = BTreeMap::new();
    let mut seeds = BTreeSet::new();
    for (setting, results) in runs {
        for (_, r) in results.iter().filter(|(_, r)| r.cell.variant.is_none()) {
            seeds.insert(r.cell.seed);
            let column = (r.cell.dataset, r.cell.backbone, recipe_of(r));
            for m in Metric::MAP {
                if let Some(v) = r.metric(*m) {
                    let cell = by_column.entry(column.clone()).or_default().entry((r.cell.loss, r.cell.way, *m));
                    cell.or_default().insert(setting.clone(), v);
                }
            }
        }
    }
    let [seed] = seeds.into_iter().collect::<Vec<_>>()[..] else {
        bail!("the reruns of `twoway noise` must all be of one seed");
    };
    let settings: Vec<String> = runs.iter().map(|(s, _)| s.clone()).collect();
    let mut out = Vec::new();
    for ((dataset, backbone, recipe), cells) in by_column {
        let mut spread = Points { map_class: 0.0, map_sample: 0.0 };
        let mut list = Vec::new();
        for ((loss, way, metric), values) in cells {
            if let Some(missing) = settings.iter().find(|s| !values.contains_key(*s)) {
                bail!(
                    "{}/{}/{loss} {metric}: no result under the setting `{missing}` (rerun `twoway noise` to finish it)",
                    dataset.as_str(),
                    backbone.as_str()
                );
            }
            let lo = values.values().copied().fold(f64::INFINITY, f64::min);
            let hi = values.values().copied().fold(f64::NEG_INFINITY, f64::max);
            let s = hi - lo;
            match metric {
                Metric::MapClass => spread.map_class = spread.map_class.max(s),
                Metric::MapSample => spread.map_sample = spread.map_sample.max(s),
                _ => unreachable!("only mAP is measured"),
            }
            list.push(CellNoise { loss, way, metric, values, spread: s });
        }
        out.push(ColumnNoise {
            format: FORMAT.into(),
            dataset,
            backbone,
            recipe,
            device: device.into(),
            seed,
            settings: settings.clone(),
            spread,
            cells: list,
        });
    }
    Ok(out)
}
