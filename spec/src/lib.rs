//! The twoway specification: the paper's published tables, registries of datasets and backbones, loss
//! and metric definitions with the source of every default, training recipes, and a validating loader.
//!
//! The YAML files under `spec/data/` are the source of truth; they are embedded in the crate, so
//! [`Spec::embedded`] works anywhere, and [`Spec::load_dir`] loads (and validates) an edited copy.

pub mod claims;
pub mod conformance;
mod error;
pub mod grids;
mod keys;
mod load;
pub mod losses;
pub mod numerics;
pub mod paper;
pub mod recipes;
pub mod registry;
pub mod stats;
pub mod vectors;

pub use error::{Location, SpecError};
pub use keys::{
    Backbone, Dataset, Denominator, Dtype, Loss, Mask, Metric, Numerics, Reduction, ScoreKind, Source, Ties, Undefined,
    UnknownKey, Unknowns, Way,
};
pub use load::{parse, Param, Printed};
pub use paper::{CellKey, Paper, Published, Table};
pub use vectors::{params_of, LossParams};

use registry::DatasetSpec;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

/// The names of the spec's data files, in load order.
pub const FILES: [&str; 8] = [
    "losses.yaml",
    "metrics.yaml",
    "paper.yaml",
    "datasets.yaml",
    "backbones.yaml",
    "recipes.yaml",
    "numerics.yaml",
    "conformance.yaml",
];

/// The text of each file of [`FILES`], as embedded at build time.
pub const EMBEDDED: [&str; 8] = [
    include_str!("../data/losses.yaml"),
    include_str!("../data/metrics.yaml"),
    include_str!("../data/paper.yaml"),
    include_str!("../data/datasets.yaml"),
    include_str!("../data/backbones.yaml"),
    include_str!("../data/recipes.yaml"),
    include_str!("../data/numerics.yaml"),
    include_str!("../data/conformance.yaml"),
];

/// The whole specification, loaded and validated.
#[derive(Debug, Clone)]
pub struct Spec {
    pub losses: losses::Losses,
    pub metrics: losses::Metrics,
    pub paper: Paper,
    pub datasets: BTreeMap<Dataset, registry::DatasetSpec>,
    pub backbones: BTreeMap<Backbone, registry::BackboneSpec>,
    pub recipes: BTreeMap<String, recipes::Recipe>,
    pub numerics: numerics::NumericsSpec,
    pub conformance: conformance::ConformanceSpec,
}

impl Spec {
    /// The spec embedded at build time (from `spec/data/`). Its validity is a test of this crate.
    pub fn embedded() -> &'static Spec {
        static SPEC: OnceLock<Spec> = OnceLock::new();
        SPEC.get_or_init(|| {
            let names = FILES.map(|f| format!("spec/data/{f}"));
            Spec::from_texts(&names, &EMBEDDED).unwrap_or_else(|e| panic!("the embedded spec is invalid: {e}"))
        })
    }

    /// Loads and validates the spec files from `dir` (a copy of `spec/data/`).
    pub fn load_dir(dir: &Path) -> Result<Spec, SpecError> {
        let mut names = Vec::new();
        let mut texts = Vec::new();
        for f in FILES {
            let path = dir.join(f);
            let label = path.display().to_string();
            let text =
                std::fs::read_to_string(&path).map_err(|source| SpecError::Io { file: label.clone(), source })?;
            names.push(label);
            texts.push(text);
        }
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        Spec::from_texts(&names, &texts)
    }

    /// The spec with the data file `name` (one of [`FILES`]) replaced by `text`, validated (what `twoway
    /// spec` does for an edited copy, one file at a time).
    pub fn with_file(name: &str, text: &str) -> Result<Spec, SpecError> {
        let Some(k) = FILES.iter().position(|f| *f == name) else {
            return Err(SpecError::invalid(name, "(file)", format!("not a spec file; expected one of {FILES:?}")));
        };
        let names = FILES.map(|f| format!("spec/data/{f}"));
        let mut texts = EMBEDDED;
        texts[k] = text;
        Spec::from_texts(&names, &texts)
    }

    fn from_texts<S: AsRef<str>>(names: &[S], texts: &[&str]) -> Result<Spec, SpecError> {
        let n = |i: usize| names[i].as_ref();
        let t = |i: usize| move |e: SpecError| e.with_line_from(texts[i]);
        let losses = losses::load_losses(n(0), texts[0]).map_err(t(0))?;
        let metrics = losses::load_metrics(n(1), texts[1]).map_err(t(1))?;
        let paper = paper::load(n(2), texts[2], |l| losses.main_way(l)).map_err(t(2))?;
        let datasets = registry::load_datasets(n(3), texts[3]).map_err(t(3))?;
        let backbones = registry::load_backbones(n(4), texts[4]).map_err(t(4))?;
        let recipes = recipes::load_recipes(n(5), texts[5]).map_err(t(5))?;
        let numerics = numerics::load(n(6), texts[6]).map_err(t(6))?;
        let conformance = conformance::load(n(7), texts[7]).map_err(t(7))?;
        Ok(Spec { losses, metrics, paper, datasets, backbones, recipes, numerics, conformance })
    }

    /// The spec of `dataset`: a built-in one's from `datasets.yaml`, a dataset file's as registered
    /// ([`registry::register_dataset_file`]).
    pub fn dataset(&self, dataset: Dataset) -> Result<&DatasetSpec, String> {
        if let Some(d) = self.datasets.get(&dataset) {
            return Ok(d);
        }
        registry::dataset_file(dataset).map(|f| &f.spec).ok_or_else(|| {
            format!(
                "dataset `{dataset}` is neither a built-in dataset ({}) nor a dataset file given to this command: \
                 pass its FILE.yaml",
                Dataset::ALL.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")
            )
        })
    }

    /// The way each loss runs with in the main table.
    pub fn main_way(&self, loss: Loss) -> Option<Way> {
        self.losses.main_way(loss)
    }

    /// The paper's claims derived from the published numbers (main table and ways ablation).
    pub fn published_claims(&self) -> claims::Claims {
        let cells: Vec<claims::Cell> = self
            .paper
            .main
            .iter()
            .chain(&self.paper.ways)
            .map(|p| claims::Cell { key: p.key, value: p.value })
            .collect();
        claims::derive(&cells, |l| self.main_way(l))
    }
}
