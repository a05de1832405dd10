//! Training recipes (`data/recipes.yaml`).

use crate::error::SpecError;
use crate::load::parse;
use crate::Source;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub epochs: usize,
    pub batch_size: usize,
    pub drop_last: bool,
    pub optimizer: Optimizer,
    pub schedule: Schedule,
    pub precision: Precision,
    pub transforms: Transforms,
    /// Train on the first N samples of the train split only (a reduced run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_train_samples: Option<usize>,
    /// Evaluate on the first N samples of the eval split only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_eval_samples: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    Sgd,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Optimizer {
    pub kind: OptimizerKind,
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
    /// Learning rate of the new Linear head.
    pub lr_head: f64,
    /// The backbone's learning rate is `lr_head * backbone_lr_mult`.
    pub backbone_lr_mult: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// Factor 0.5 (1 + cos(pi t / T)).
    Cosine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchedulePer {
    Iteration,
    Epoch,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub kind: ScheduleKind,
    pub per: SchedulePer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardPrecision {
    /// Mixed precision on CUDA (bf16 autocast), f32 on CPU.
    Autocast,
    F32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossPrecision {
    F32,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Precision {
    pub forward: ForwardPrecision,
    pub loss: LossPrecision,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transforms {
    pub train: TrainTransform,
    pub eval: EvalTransform,
    pub normalize: Normalize,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainTransform {
    /// Output side of RandomResizedCrop.
    pub random_resized_crop: u32,
    /// Area fraction range of RandomResizedCrop (torchvision's default: 0.08 to 1).
    #[serde(default = "default_scale")]
    pub scale: [f64; 2],
    /// Aspect-ratio range of RandomResizedCrop (torchvision's default: 3/4 to 4/3).
    #[serde(default = "default_ratio")]
    pub ratio: [f64; 2],
    pub hflip: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color_jitter: Option<ColorJitter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lighting: Option<Lighting>,
}

fn default_scale() -> [f64; 2] {
    [0.08, 1.0]
}

fn default_ratio() -> [f64; 2] {
    [3.0 / 4.0, 4.0 / 3.0]
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColorJitter {
    pub brightness: f64,
    pub contrast: f64,
    pub saturation: f64,
}

/// AlexNet-style PCA lighting noise.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lighting {
    pub alphastd: f64,
    pub eigval: [f64; 3],
    pub eigvec: [[f64; 3]; 3],
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalTransform {
    pub resize: u32,
    pub center_crop: u32,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalize {
    pub mean: [f64; 3],
    pub std: [f64; 3],
}

pub(crate) fn load_recipes(file: &str, text: &str) -> Result<BTreeMap<String, Recipe>, SpecError> {
    let map: BTreeMap<String, Recipe> = parse(file, text)?;
    if !map.contains_key("release") {
        return Err(SpecError::invalid(file, "release", "missing the authors' release recipe"));
    }
    for (name, r) in &map {
        let bad = |field: &str, rule: &str| Err(SpecError::invalid(file, format!("{name}.{field}"), rule.to_string()));
        if r.epochs == 0 {
            return bad("epochs", "must be at least 1");
        }
        if r.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        let o = &r.optimizer;
        if !(o.lr_head.is_finite() && o.lr_head > 0.0) {
            return bad("optimizer.lr_head", "must be finite and > 0");
        }
        if !(0.0..1.0).contains(&o.momentum) {
            return bad("optimizer.momentum", "must lie in [0, 1)");
        }
        if !(o.weight_decay >= 0.0 && o.backbone_lr_mult >= 0.0) {
            return bad("optimizer", "weight_decay and backbone_lr_mult must be >= 0");
        }
        let t = &r.transforms.train;
        if !(0.0 < t.scale[0] && t.scale[0] <= t.scale[1] && t.scale[1] <= 1.0) {
            return bad("transforms.train.scale", "must be 0 < low <= high <= 1");
        }
        if !(0.0 < t.ratio[0] && t.ratio[0] <= t.ratio[1]) {
            return bad("transforms.train.ratio", "must be 0 < low <= high");
        }
        if t.random_resized_crop == 0
            || r.transforms.eval.center_crop == 0
            || r.transforms.eval.resize < r.transforms.eval.center_crop
        {
            return bad("transforms", "crops must be at least 1 pixel and the eval resize at least the centre crop");
        }
        if r.transforms.normalize.std.iter().any(|s| *s <= 0.0) {
            return bad("transforms.normalize.std", "must be > 0");
        }
        if r.source == Source::Ours && r.reason.as_deref().unwrap_or("").trim().is_empty() {
            return bad("reason", "source `ours` must give its reason");
        }
    }
    Ok(map)
}
