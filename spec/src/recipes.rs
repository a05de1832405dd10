//! Training recipes (`data/recipes.yaml`).

use crate::error::SpecError;
use crate::load::parse;
use crate::{Mask, Numerics, Source};
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
    /// Data-parallel replicas of one optimisation step: each computes BatchNorm statistics and the loss (the
    /// class way compares the samples of its batch) over its `batch_size / replicas` samples, and their
    /// gradients are averaged.
    pub replicas: usize,
    /// Which parameters train at the head's learning rate.
    pub head_lr: HeadLr,
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
    /// Hold out the last N samples of the train split (before `max_train_samples` caps the rest, so the
    /// slice is the same images under any cap): not trained on; the final evaluation tunes the thresholds
    /// of the tuned CF1 / OF1 on them (`metrics.yaml`, `thresholded.tuning`). Absent (the default): every
    /// train sample is trained on, no tuned metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<usize>,
    /// How libtorch's CPU kernels are chosen (`numerics.yaml`): `portable` gives the same bits on any
    /// x86-64 CPU for a seed and thread count, `native` (the default) lets each library choose by CPU. Left
    /// out of the serialised recipe when native, so native configurations hash as before the key existed.
    #[serde(default, skip_serializing_if = "Numerics::is_native")]
    pub numerics: Numerics,
    /// Which training samples meet in which batch: `shuffle` (the default) draws a new order every epoch
    /// from the run's seed; `release` is the release's `DistributedSampler` (see [`DataOrder`]).
    #[serde(default, skip_serializing_if = "DataOrder::is_shuffle")]
    pub data_order: DataOrder,
    /// The seed of the release order's permutation and of the padded evaluation: the release's samplers
    /// keep their default seed 0, whatever the run's seed is.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sampler_seed: u64,
    /// The two-way loss's masking for the cells whose grid does not set it (the release masks with -100:
    /// `official`); unset, the loss's own default (`exact`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<Mask>,
    /// Evaluate as the release's padded `DistributedSampler` does: the eval split padded to a multiple of
    /// `replicas` by repeating the head of the sampler's permutation, so up to `replicas - 1` images count
    /// twice in mAP.
    #[serde(default, skip_serializing_if = "is_false")]
    pub eval_padding: bool,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// The order of a run's training samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataOrder {
    /// A permutation of the train split per (seed, epoch), cut into batches of `batch_size`.
    #[default]
    Shuffle,
    /// The release's `DistributedSampler(train_dataset)` with its defaults and `set_epoch` never called:
    /// one permutation of the dataset's index order (`randperm(N)` from a generator seeded `sampler_seed`),
    /// padded by repeating its head to a multiple of `replicas`, replica r taking every `replicas`-th index
    /// from r, each replica batched by `batch_size / replicas` with drop_last; the same batches every epoch.
    Release,
}

impl DataOrder {
    pub fn is_shuffle(&self) -> bool {
        *self == DataOrder::Shuffle
    }
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
    /// The steps an epoch counts for the schedule's length (see [`StepsPerEpoch`]).
    #[serde(default, skip_serializing_if = "StepsPerEpoch::is_run")]
    pub steps_per_epoch: StepsPerEpoch,
}

/// How many steps an epoch counts in the cosine's length T = epochs x steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepsPerEpoch {
    /// The iterations an epoch runs: the factor reaches 0 at the last step.
    #[default]
    Run,
    /// ceil(N / batch_size) for a train split of N samples, as the release computes `train_len`; with
    /// drop_last per replica fewer steps run, and the factor never reaches 0.
    Ceil,
}

impl StepsPerEpoch {
    pub fn is_run(&self) -> bool {
        *self == StepsPerEpoch::Run
    }
}

/// The rule that picks the parameters trained at `lr_head`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadLr {
    /// The release's rule: parameters whose name contains `fc.` (so DenseNet's new `classifier` head trains
    /// at the backbone's rate).
    Release,
    /// The newly initialised Linear head, whatever its name.
    NewHead,
}

/// The kind of the forward pass on CUDA (on CPU it is always f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardPrecision {
    /// CUDA autocast in f16 (the release's `torch.cuda.amp.autocast()`).
    F16,
    /// CUDA autocast in bf16.
    Bf16,
    F32,
}

/// Dynamic loss scaling (the release's `GradScaler`): the loss is multiplied by `scale` before backward and
/// the gradients divided by it; a step whose gradients hold inf or NaN is skipped and the scale multiplied
/// by `backoff_factor`; after `growth_interval` steps in a row without, it is multiplied by
/// `growth_factor`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossScaling {
    pub init_scale: f64,
    pub growth_factor: f64,
    pub backoff_factor: f64,
    pub growth_interval: u32,
    /// `run` (the default): one scaler for the whole run; `epoch`: a new one at every epoch's start, as the
    /// release builds a new `GradScaler()` in every call of its `train` (the scale restarts at init_scale).
    #[serde(default, skip_serializing_if = "ScalerLifetime::is_run")]
    pub lifetime: ScalerLifetime,
    /// Each replica back-propagates its loss times the whole scale and the summed gradients are divided by
    /// the replica count, as DDP averages the replicas' scaled gradients (`false`: each replica's loss is
    /// scaled by scale / replicas; the same in exact arithmetic, not in f16's range).
    #[serde(default, skip_serializing_if = "is_false")]
    pub per_replica: bool,
}

/// How long a loss scaler lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalerLifetime {
    #[default]
    Run,
    Epoch,
}

impl ScalerLifetime {
    pub fn is_run(&self) -> bool {
        *self == ScalerLifetime::Run
    }
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
    /// Dynamic loss scaling, when set (used on CUDA with an f16 forward pass; without effect otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_scaling: Option<LossScaling>,
    /// The kind of the evaluation's forward pass: `forward` (the default) as in training, `f32` without
    /// autocast (the release's `validate` runs under `no_grad` only).
    #[serde(default, skip_serializing_if = "EvalPrecision::is_forward")]
    pub eval: EvalPrecision,
}

/// The evaluation's forward precision (on CUDA; on CPU it is always f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalPrecision {
    #[default]
    Forward,
    F32,
}

impl EvalPrecision {
    pub fn is_forward(&self) -> bool {
        *self == EvalPrecision::Forward
    }
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
        r.check(file, &format!("{name}."))?;
    }
    Ok(map)
}

/// Parses a recipe file (one recipe, the fields of an entry of `recipes.yaml`) and checks it.
pub fn parse_recipe(file: &str, text: &str) -> Result<Recipe, SpecError> {
    let r: Recipe = parse(file, text).map_err(|e| e.with_line_from(text))?;
    r.check(file, "")?;
    Ok(r)
}

impl Recipe {
    /// Checks the recipe's values; errors name `file` and the field (prefixed with `prefix`).
    pub fn check(&self, file: &str, prefix: &str) -> Result<(), SpecError> {
        let r = self;
        let bad = |field: &str, rule: &str| Err(SpecError::invalid(file, format!("{prefix}{field}"), rule.to_string()));
        if r.epochs == 0 {
            return bad("epochs", "must be at least 1");
        }
        if r.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if r.replicas == 0 || !r.batch_size.is_multiple_of(r.replicas) {
            return bad("replicas", "must be at least 1 and divide batch_size");
        }
        if r.data_order == DataOrder::Release && !r.drop_last {
            return bad("data_order", "`release` batches each replica with drop_last: set drop_last: true");
        }
        if let Some(ls) = &r.precision.loss_scaling {
            let scale_ok = ls.init_scale.is_finite() && ls.init_scale > 0.0;
            let growth_ok = ls.growth_factor.is_finite() && ls.growth_factor >= 1.0;
            let backoff_ok = 0.0 < ls.backoff_factor && ls.backoff_factor < 1.0;
            let valid = scale_ok && growth_ok && backoff_ok && ls.growth_interval > 0;
            if !valid {
                return bad(
                    "precision.loss_scaling",
                    "needs init_scale > 0, growth_factor >= 1, 0 < backoff_factor < 1 and growth_interval >= 1",
                );
            }
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
        Ok(())
    }
}

impl Recipe {
    /// This recipe with the dotted `key` (e.g. `batch_size`, `optimizer.lr_head`,
    /// `precision.loss_scaling.growth_interval`) set to `value` (YAML: a number, `true`, a word, `[1, 2]`,
    /// `null` to unset an optional key), checked against the recipe's schema and rules. Errors name the key.
    pub fn with_override(&self, key: &str, value: &str) -> Result<Recipe, SpecError> {
        let at = format!("--set {key}={value}");
        let bad = |message: String| SpecError::invalid(&at, key, message);
        let parsed: serde_json::Value =
            serde_yaml::from_str(value).map_err(|e| bad(format!("`{value}` is not a YAML value: {e}")))?;
        let mut doc = serde_json::to_value(self).expect("a recipe serialises");
        let parts: Vec<&str> = key.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad("not a dotted recipe key".into()));
        }
        let mut node = &mut doc;
        for (i, part) in parts.iter().enumerate() {
            let serde_json::Value::Object(map) = node else {
                return Err(bad(format!("`{}` is not a section of the recipe", parts[..i].join("."))));
            };
            if i + 1 == parts.len() {
                if parsed.is_null() {
                    map.remove(*part);
                } else {
                    map.insert(part.to_string(), parsed.clone());
                }
                break;
            }
            node = map
                .get_mut(*part)
                .ok_or_else(|| bad(format!("the recipe has no section `{}`", parts[..=i].join("."))))?;
        }
        let r: Recipe = serde_json::from_value(doc).map_err(|e| bad(format!("{e}")))?;
        r.check(&at, "")?;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use crate::Spec;

    #[test]
    fn overrides_set_recipe_keys_and_refuse_unknown_ones() {
        let release = &Spec::embedded().recipes["release"];
        let r = release.with_override("batch_size", "256").unwrap().with_override("replicas", "2").unwrap();
        assert_eq!((r.batch_size, r.replicas), (256, 2));
        let r = release.with_override("optimizer.lr_head", "0.02").unwrap();
        assert_eq!(r.optimizer.lr_head, 0.02);
        let r = release.with_override("max_train_samples", "100").unwrap();
        assert_eq!(r.max_train_samples, Some(100));
        let r = r.with_override("max_train_samples", "null").unwrap();
        assert_eq!(r.max_train_samples, None);
        let r = release.with_override("head_lr", "new_head").unwrap();
        assert_eq!(r.head_lr, super::HeadLr::NewHead);
        for (key, value, want) in [
            ("batch_szie", "3", "unknown field `batch_szie`"),
            ("optimizer.nesterov", "maybe", "expected a boolean"),
            ("replicas", "3", "must be at least 1 and divide batch_size"),
            ("optimiser.lr_head", "1", "no section `optimiser`"),
            ("epochs.x", "1", "`epochs` is not a section"),
            ("head_lr", "sometimes", "unknown variant `sometimes`"),
        ] {
            let e = release.with_override(key, value).unwrap_err().to_string();
            assert!(e.contains(&format!("--set {key}={value}")) && e.contains(want), "{key}: {e}");
        }
    }
}
