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
    /// A dataset file's CSV: `image,<class>,...`, one row per image, values 1 / 0 / -1 or empty.
    Csv,
}

/// One split of a dataset, under its own name.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    /// Annotation files (or, for VISPR, the folder of per-image files), relative to the dataset folder, in
    /// the order their samples are read.
    pub annotations: Vec<String>,
    /// Image folder, relative to the dataset folder: every image path must stay inside it.
    pub images: String,
    /// The number of samples the paper's protocol uses, where a source states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
}

/// Which split a recipe trains on and which it evaluates on.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    pub train: String,
    pub eval: String,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
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
    /// The splits by their dataset's own names.
    pub splits: BTreeMap<String, Split>,
    pub protocol: Protocol,
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

/// The pretrained weights a backbone starts from: torchvision's weights entry and the file it downloads.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsEntry {
    /// torchvision's name of the weights, e.g. `ResNet50_Weights.IMAGENET1K_V1`.
    pub entry: String,
    /// The checkpoint file torchvision downloads for it.
    pub file: String,
}

/// A backbone's architecture: its family and the parameters that build it.
/// The residual block of a ResNet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResnetBlock {
    Basic,
    #[default]
    Bottleneck,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "family", rename_all = "snake_case", deny_unknown_fields)]
pub enum Arch {
    /// twoway's small CNN.
    Tiny,
    /// ResNet / ResNeXt with bottleneck blocks (torchvision's: stride in the 3x3 convolution).
    Resnet {
        /// `basic` (two 3x3 convolutions: ResNet18 / 34) or `bottleneck` (1x1, 3x3, 1x1; the default).
        #[serde(default)]
        block: ResnetBlock,
        layers: [usize; 4],
        groups: usize,
        width_per_group: usize,
    },
    /// DenseNet-BC.
    Densenet { growth_rate: usize, block_config: [usize; 4], num_init_features: usize, bn_size: usize },
    /// RegNetY from its block parameters; `stage_widths` / `stage_depths` are what they derive to (checked).
    Regnet {
        depth: usize,
        w_0: usize,
        w_a: f64,
        w_m: f64,
        group_width: usize,
        se_ratio: f64,
        stem_width: usize,
        stage_widths: Vec<usize>,
        stage_depths: Vec<usize>,
    },
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackboneSpec {
    /// The torchvision model name, for backbones converted from torchvision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub torchvision: Option<String>,
    /// The pretrained weights (torchvision's entry), for pretrained backbones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<WeightsEntry>,
    /// Width of the pooled feature the Linear head reads.
    pub features: usize,
    /// Trainable parameters with a 1000-class head, as torchvision counts them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<u64>,
    /// The name of the classifier module the new head replaces (`fc`, `classifier`).
    pub head: String,
    pub arch: Arch,
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
    if let Some(d) = map.keys().find(|d| !d.is_builtin()) {
        return Err(SpecError::invalid(
            file,
            d.as_str(),
            "not a built-in dataset (a user's dataset is a dataset file)",
        ));
    }
    for d in Dataset::ALL {
        let Some(spec) = map.get(d) else {
            return Err(SpecError::invalid(file, d.as_str(), "missing dataset entry"));
        };
        if spec.classes == 0 {
            return Err(SpecError::invalid(file, format!("{d}.classes"), "must be at least 1"));
        }
        require_reason(file, d.as_str(), spec.source, &spec.reason)?;
        require_reason(file, &format!("{d}.protocol"), spec.protocol.source, &spec.protocol.reason)?;
        for (role, name) in [("train", &spec.protocol.train), ("eval", &spec.protocol.eval)] {
            if !spec.splits.contains_key(name) {
                let known: Vec<&str> = spec.splits.keys().map(String::as_str).collect();
                return Err(SpecError::invalid(
                    file,
                    format!("{d}.protocol.{role}"),
                    format!("`{name}` is not a split of `{d}` ({})", known.join(", ")),
                ));
            }
        }
        for (name, split) in &spec.splits {
            if split.annotations.is_empty() {
                return Err(SpecError::invalid(file, format!("{d}.splits.{name}.annotations"), "lists no file"));
            }
        }
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
        if spec.pretrained == Pretrained::Imagenet && spec.weights.is_none() {
            return Err(SpecError::invalid(file, format!("{b}.weights"), "a pretrained backbone names its weights"));
        }
        if spec.head.is_empty() || spec.head.contains('.') {
            return Err(SpecError::invalid(file, format!("{b}.head"), "a module name without dots, e.g. `fc`"));
        }
        if let Arch::Regnet { stage_widths, stage_depths, .. } = &spec.arch {
            if stage_widths.len() != stage_depths.len() || stage_widths.last() != Some(&spec.features) {
                return Err(SpecError::invalid(
                    file,
                    format!("{b}.arch"),
                    "stage_widths and stage_depths need one entry per stage, the last width equal to `features`",
                ));
            }
        }
    }
    Ok(map)
}

/// One stage of a RegNet: its blocks' output width, how many blocks, and the group width of their 3x3
/// convolutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegnetStage {
    pub width: usize,
    pub depth: usize,
    pub group_width: usize,
}

/// The stages of a RegNet from its block parameters, derived as torchvision's `BlockParams` does (in f32
/// arithmetic, as torch's default dtype, with round-half-to-even): per-block widths
/// `w_0 * w_m^round(log((w_0 + i w_a) / w_0) / log(w_m))` quantised to multiples of 8, runs of equal width
/// grouped into stages, then each stage width made divisible by its group width (the group width capped at
/// the stage width). The bottleneck multiplier is 1, as in every RegNetY of torchvision.
pub fn regnet_stages(depth: usize, w_0: usize, w_a: f64, w_m: f64, group_width: usize) -> Vec<RegnetStage> {
    const QUANT: f32 = 8.0;
    let (w0, wa, wm) = (w_0 as f32, w_a as f32, w_m as f32);
    let log_wm = w_m.ln() as f32;
    let widths: Vec<usize> = (0..depth)
        .map(|i| {
            let cont = i as f32 * wa + w0;
            let capacity = ((cont / w0).ln() / log_wm).round_ties_even();
            ((w0 * wm.powf(capacity) / QUANT).round_ties_even() * QUANT) as usize
        })
        .collect();
    let mut stages: Vec<RegnetStage> = Vec::new();
    for w in widths {
        match stages.last_mut() {
            Some(s) if s.width == w => s.depth += 1,
            _ => stages.push(RegnetStage { width: w, depth: 1, group_width }),
        }
    }
    for s in &mut stages {
        let g = group_width.min(s.width);
        s.group_width = g;
        s.width = make_divisible(s.width as f64, g);
    }
    stages
}

/// The nearest multiple of `divisor` to `v` (halves up), at least `divisor`, and not below 90% of `v`.
fn make_divisible(v: f64, divisor: usize) -> usize {
    let d = divisor as f64;
    let mut n = (((v + d / 2.0) as usize) / divisor * divisor).max(divisor);
    if (n as f64) < 0.9 * v {
        n += divisor;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regnet_stages_derive_to_the_listed_widths() {
        let spec = crate::Spec::embedded();
        let mut checked = 0;
        for (b, s) in &spec.backbones {
            if let Arch::Regnet { depth, w_0, w_a, w_m, group_width, stage_widths, stage_depths, .. } = &s.arch {
                let stages = regnet_stages(*depth, *w_0, *w_a, *w_m, *group_width);
                let widths: Vec<usize> = stages.iter().map(|s| s.width).collect();
                let depths: Vec<usize> = stages.iter().map(|s| s.depth).collect();
                assert_eq!(&widths, stage_widths, "{b}");
                assert_eq!(&depths, stage_depths, "{b}");
                assert_eq!(depths.iter().sum::<usize>(), *depth, "{b}");
                checked += 1;
            }
        }
        assert_eq!(checked, 15, "the 7 RegNetX and 8 RegNetY");
    }

    #[test]
    fn make_divisible_rounds_to_the_nearest_multiple_and_keeps_ninety_percent() {
        assert_eq!(make_divisible(100.0, 8), 104);
        assert_eq!(make_divisible(3.0, 8), 8);
        assert_eq!(make_divisible(696.0, 232), 696);
        assert_eq!(make_divisible(700.0, 232), 696);
        // 17 rounds down to 16 with divisor 16, above 90% of 17.
        assert_eq!(make_divisible(17.0, 16), 16);
        // 19 would round down to 16, below 90% of 19 (17.1): one more divisor.
        assert_eq!(make_divisible(19.0, 16), 32);
    }
}

/// A user's dataset file, registered: the spec of its dataset (as the built-in ones have in
/// `datasets.yaml`), the folder its paths are relative to, and the file itself.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetFile {
    pub spec: DatasetSpec,
    pub dir: std::path::PathBuf,
    pub file: std::path::PathBuf,
}

type FileTable = std::sync::Mutex<BTreeMap<Dataset, &'static DatasetFile>>;

fn dataset_files() -> &'static FileTable {
    static FILES: std::sync::OnceLock<FileTable> = std::sync::OnceLock::new();
    FILES.get_or_init(Default::default)
}

/// Registers a dataset file under its spec's `name`; returns its [`Dataset`]. The same name registered
/// again from the same file is the same dataset; from another file, or a built-in key, it is an error.
pub fn register_dataset_file(file: DatasetFile) -> Result<Dataset, String> {
    let name = file.spec.name.clone();
    let Some(d) = Dataset::named(&name).filter(|d| !d.is_builtin()) else {
        return Err(match Dataset::named(&name) {
            Some(_) => format!("name `{name}` is a built-in dataset's key; choose another"),
            None => format!(
                "name `{name}` is not a valid dataset name (1 to 64 of a-z, 0-9, `_`, `-`, starting with a letter)"
            ),
        });
    };
    let mut table = dataset_files().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = table.get(&d) {
        if known.file != file.file {
            return Err(format!(
                "two dataset files are named `{name}`: {} and {}",
                known.file.display(),
                file.file.display()
            ));
        }
        return Ok(d);
    }
    table.insert(d, Box::leak(Box::new(file)));
    Ok(d)
}

/// The registered dataset file of `dataset` (none for the built-in ones and unregistered names).
pub fn dataset_file(dataset: Dataset) -> Option<&'static DatasetFile> {
    dataset_files().lock().unwrap_or_else(|e| e.into_inner()).get(&dataset).copied()
}
