//! Dataset and backbone registries (`data/datasets.yaml`, `data/backbones.yaml`).

use crate::error::SpecError;
use crate::load::parse;
use crate::{Backbone, Dataset, Source};
use std::collections::BTreeMap;

/// What one sample of a dataset is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// The whole image.
    Image,
    /// A crop of one annotated box (a person, an object instance).
    BoxCrop,
}

/// The on-disk annotation format of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    CocoInstances,
    Vispr,
    Vaw,
    WiderAttribute,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    /// Annotation file(s), relative to the dataset root.
    pub annotations: String,
    /// Image folder, relative to the dataset root.
    pub images: String,
    /// The number of samples the paper's protocol uses, where a source states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Splits {
    pub train: Split,
    pub eval: Split,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encoding {
    /// How the dataset's annotation values map onto 1 / 0 / -1.
    pub summary: String,
    /// Whether the dataset has unknown (-1) labels.
    pub unknown_labels: bool,
}

/// How twoway generates a dataset (the embedded one).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    pub seed: u64,
    pub train: usize,
    pub eval: usize,
    /// Side of the square images in pixels.
    pub size: u32,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    pub name: String,
    pub classes: usize,
    pub unit: Unit,
    pub format: Format,
    pub splits: Splits,
    pub encoding: Encoding,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<Generate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Whether a backbone starts from pretrained weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pretrained {
    Imagenet,
    None,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackboneSpec {
    /// The torchvision model name, for backbones converted from torchvision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub torchvision: Option<String>,
    /// Width of the pooled feature the Linear head reads.
    pub features: usize,
    pub pretrained: Pretrained,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn require_reason(file: &str, key: &str, source: Source, reason: &Option<String>) -> Result<(), SpecError> {
    if source == Source::Ours && reason.as_deref().unwrap_or("").trim().is_empty() {
        return Err(SpecError::invalid(file, format!("{key}.reason"), "source `ours` must give its reason"));
    }
    Ok(())
}

pub(crate) fn load_datasets(file: &str, text: &str) -> Result<BTreeMap<Dataset, DatasetSpec>, SpecError> {
    let map: BTreeMap<Dataset, DatasetSpec> = parse(file, text)?;
    for d in Dataset::ALL {
        let Some(spec) = map.get(d) else {
            return Err(SpecError::invalid(file, d.as_str(), "missing dataset entry"));
        };
        if spec.classes == 0 {
            return Err(SpecError::invalid(file, format!("{d}.classes"), "must be at least 1"));
        }
        require_reason(file, d.as_str(), spec.source, &spec.reason)?;
        if let Some(g) = &spec.generate {
            if g.train == 0 || g.eval == 0 || !(16..=512).contains(&g.size) {
                return Err(SpecError::invalid(
                    file,
                    format!("{d}.generate"),
                    "needs train, eval >= 1 and a size of 16..=512 px",
                ));
            }
        }
    }
    if map[&Dataset::Embedded].generate.is_none() {
        return Err(SpecError::invalid(
            file,
            "embedded.generate",
            "the embedded dataset needs its generation parameters",
        ));
    }
    Ok(map)
}

pub(crate) fn load_backbones(file: &str, text: &str) -> Result<BTreeMap<Backbone, BackboneSpec>, SpecError> {
    let map: BTreeMap<Backbone, BackboneSpec> = parse(file, text)?;
    for b in Backbone::ALL {
        let Some(spec) = map.get(b) else {
            return Err(SpecError::invalid(file, b.as_str(), "missing backbone entry"));
        };
        if spec.features == 0 {
            return Err(SpecError::invalid(file, format!("{b}.features"), "must be at least 1"));
        }
        require_reason(file, b.as_str(), spec.source, &spec.reason)?;
    }
    Ok(map)
}
