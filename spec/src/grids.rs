//! Experiment grids (`spec/grids/*.yaml`): which (dataset, backbone, loss, way, seed) cells to run, with
//! which recipe.

use crate::error::SpecError;
use crate::load::parse;
use crate::{params_of, Backbone, Dataset, Loss, LossParams, Spec, Way};
use std::collections::BTreeMap;

/// One run of a grid: a loss (with its way and any hyper-parameter overrides), optionally restricted to
/// some datasets / backbones.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    pub loss: Loss,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub way: Option<Way>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<LossParams>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasets: Option<Vec<Dataset>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backbones: Option<Vec<Backbone>>,
}

impl Run {
    /// The run's hyper-parameters, its way included.
    pub fn loss_params(&self) -> LossParams {
        let mut p = self.params.clone().unwrap_or_default();
        if self.way.is_some() {
            p.way = self.way;
        }
        p
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub description: String,
    pub recipe: String,
    pub datasets: Vec<Dataset>,
    pub backbones: Vec<Backbone>,
    pub seeds: Vec<u64>,
    pub runs: Vec<Run>,
    /// Recipe keys swept over: every cell runs once per combination of values, each a variant with its
    /// own configuration (e.g. `{batch_size: [32, 64, 128]}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sweep: BTreeMap<String, Vec<serde_yaml::Value>>,
    /// A template: its datasets and backbones are placeholders that `--datasets` and `--backbones`
    /// replace (in other grids they filter).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub template: bool,
}

/// One cell of a grid.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Cell {
    pub dataset: Dataset,
    pub backbone: Backbone,
    pub loss: Loss,
    pub params: LossParams,
    pub seed: u64,
    /// The swept recipe keys and this cell's values of them (YAML text), in key order; empty without a sweep.
    pub sweep: Vec<(String, String)>,
}

impl Cell {
    /// The sweep values as a label, e.g. `batch_size=32` (`None` without a sweep).
    pub fn variant(&self) -> Option<String> {
        (!self.sweep.is_empty())
            .then(|| self.sweep.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
    }
}

fn yaml_text(v: &serde_yaml::Value) -> String {
    serde_yaml::to_string(v).map(|s| s.trim().to_string()).unwrap_or_default()
}

impl Grid {
    /// The combinations of the sweep's values, in key order (one empty combination without a sweep).
    pub fn sweep_points(&self) -> Vec<Vec<(String, String)>> {
        let mut points = vec![Vec::new()];
        for (key, values) in &self.sweep {
            points = points
                .into_iter()
                .flat_map(|p| {
                    values.iter().map(move |v| {
                        let mut q = p.clone();
                        q.push((key.clone(), yaml_text(v)));
                        q
                    })
                })
                .collect();
        }
        points
    }

    /// Every cell, in grid order (run, dataset, backbone, sweep point, seed).
    pub fn cells(&self) -> Vec<Cell> {
        let points = self.sweep_points();
        let mut out = Vec::new();
        for run in &self.runs {
            for d in &self.datasets {
                if run.datasets.as_ref().is_some_and(|ds| !ds.contains(d)) {
                    continue;
                }
                for b in &self.backbones {
                    if run.backbones.as_ref().is_some_and(|bs| !bs.contains(b)) {
                        continue;
                    }
                    for point in &points {
                        for s in &self.seeds {
                            out.push(Cell {
                                dataset: *d,
                                backbone: *b,
                                loss: run.loss,
                                params: run.loss_params(),
                                seed: *s,
                                sweep: point.clone(),
                            });
                        }
                    }
                }
            }
        }
        out
    }

    /// Parses and checks a grid file against the spec (its recipe exists, each run's parameters belong
    /// to its loss, ways only on the set-based losses).
    pub fn parse(file: &str, text: &str, spec: &Spec) -> Result<Grid, SpecError> {
        Grid::parse_with(file, text, spec, &mut |entry| Err(format!("`{entry}`: dataset files are read by twoway run")))
    }

    /// [`Grid::parse`], where a `datasets` entry that names a dataset file (`.yaml`, or a path) is handed
    /// to `dataset_file`, which loads it (relative to the grid file) and returns its dataset.
    pub fn parse_with(
        file: &str,
        text: &str,
        spec: &Spec,
        dataset_file: &mut dyn FnMut(&str) -> Result<crate::Dataset, String>,
    ) -> Result<Grid, SpecError> {
        let mut doc: serde_yaml::Value = parse(file, text).map_err(|e| e.with_line_from(text))?;
        let mut changed = false;
        let mut resolve = |list: Option<&mut serde_yaml::Value>, field: &str| -> Result<(), SpecError> {
            let Some(serde_yaml::Value::Sequence(entries)) = list else { return Ok(()) };
            for (i, e) in entries.iter_mut().enumerate() {
                let Some(entry) = e.as_str().filter(|s| s.ends_with(".yaml") || s.ends_with(".yml") || s.contains('/'))
                else {
                    continue;
                };
                let d = dataset_file(entry)
                    .map_err(|m| SpecError::invalid(file, format!("{field}[{i}]"), m).with_line_from(text))?;
                *e = serde_yaml::Value::String(d.as_str().to_string());
                changed = true;
            }
            Ok(())
        };
        resolve(doc.get_mut("datasets"), "datasets")?;
        if let Some(serde_yaml::Value::Sequence(runs)) = doc.get_mut("runs") {
            for (i, r) in runs.iter_mut().enumerate() {
                resolve(r.get_mut("datasets"), &format!("runs[{i}].datasets"))?;
            }
        }
        // Without dataset files the text itself is parsed (its errors keep their line and field).
        let g: Grid = if changed {
            serde_yaml::from_value(doc)
                .map_err(|e| SpecError::invalid(file, "(document)", e.to_string()).with_line_from(text))?
        } else {
            parse(file, text).map_err(|e| e.with_line_from(text))?
        };
        let bad = |field: String, msg: String| Err(SpecError::invalid(file, field, msg).with_line_from(text));
        if !spec.recipes.contains_key(&g.recipe) {
            let known: Vec<&str> = spec.recipes.keys().map(String::as_str).collect();
            return bad("recipe".into(), format!("unknown recipe `{}`; the spec has: {}", g.recipe, known.join(", ")));
        }
        if g.datasets.is_empty() || g.backbones.is_empty() || g.seeds.is_empty() || g.runs.is_empty() {
            return bad(
                "(document)".into(),
                "datasets, backbones, seeds and runs must each list at least one entry".into(),
            );
        }
        let recipe = &spec.recipes[&g.recipe];
        for (key, values) in &g.sweep {
            if values.is_empty() {
                return bad(format!("sweep.{key}"), "lists no value".into());
            }
            for v in values {
                if let Err(e) = recipe.with_override(key, &yaml_text(v)) {
                    return bad(format!("sweep.{key}"), format!("{e}"));
                }
            }
        }
        for (i, r) in g.runs.iter().enumerate() {
            if r.way.is_some() && !r.loss.has_ways() {
                return bad(format!("runs[{i}].way"), format!("`{}` has no ways", r.loss));
            }
            for p in r.loss_params().names() {
                if !params_of(r.loss).contains(&p) {
                    return bad(format!("runs[{i}].params.{p}"), format!("not a parameter of `{}`", r.loss));
                }
            }
        }
        Ok(g)
    }
}

/// The grids that ship with the spec, by name.
pub const BUILTIN: [(&str, &str); 7] = [
    ("embedded", include_str!("../grids/embedded.yaml")),
    ("embedded-ci", include_str!("../grids/embedded-ci.yaml")),
    ("paper", include_str!("../grids/paper.yaml")),
    ("batch-size", include_str!("../grids/batch-size.yaml")),
    ("data-order", include_str!("../grids/data-order.yaml")),
    ("compare", include_str!("../grids/compare.yaml")),
    ("thresholds", include_str!("../grids/thresholds.yaml")),
];

/// A built-in grid by name.
pub fn builtin(name: &str, spec: &Spec) -> Option<Result<Grid, SpecError>> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(n, text)| Grid::parse(&format!("spec/grids/{n}.yaml"), text, spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_grids_load_with_the_expected_cell_counts() {
        let spec = Spec::embedded();
        let cells = |n: &str| builtin(n, spec).unwrap().unwrap().cells();
        // 9 runs (the main table's five losses and the ways ablation) x 3 seeds.
        assert_eq!(cells("embedded").len(), 27);
        assert_eq!(cells("embedded-ci").len(), 3);
        // The main table's five losses x 3 seeds, with a held-out tuning slice.
        assert_eq!(cells("thresholds").len(), 15);
        // 4 x 4 x 5 main cells + 4 ablation cells (MS-COCO, ResNet50).
        assert_eq!(cells("paper").len(), 84);
        // 3 losses x 5 batch sizes.
        let sweep = cells("batch-size");
        assert_eq!(sweep.len(), 15);
        assert_eq!(sweep[0].variant().as_deref(), Some("batch_size=16"));
        let order = cells("data-order");
        assert_eq!(order.len(), 20);
        assert_eq!(order[0].variant().as_deref(), Some("data_order=shuffle"));
        let e = Grid::parse(
            "g.yaml",
            "description: x\nrecipe: embedded\ndatasets: [embedded]\nbackbones: [tiny]\nseeds: [0]\nruns: [{loss: bce}]\nsweep: {batch_size: [64, 0]}\n",
            spec,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("sweep.batch_size") && e.contains("batch_size=0"), "{e}");
        let e = Grid::parse(
            "g.yaml",
            "description: x\nrecipe: nope\ndatasets: [coco]\nbackbones: [tiny]\nseeds: [0]\nruns: [{loss: bce}]\n",
            spec,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown recipe `nope`"), "{e}");
        let e = Grid::parse("g.yaml", "description: x\nrecipe: release\ndatasets: [coco]\nbackbones: [tiny]\nseeds: [0]\nruns: [{loss: bce, way: class}]\n", spec)
            .unwrap_err()
            .to_string();
        assert!(e.contains("runs[0].way") && e.contains("has no ways"), "{e}");
    }
}
