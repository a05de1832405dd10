//! The spec's test vectors (`spec/vectors/*.yaml`): inputs with expected values derived from closed forms
//! (each vector carries its derivation). Every implementation runs all of them.

use crate::error::SpecError;
use crate::load::parse;
use crate::{Denominator, Loss, Mask, Reduction, ScoreKind, Ties, Undefined, Unknowns, Way};
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// Hyper-parameters of a loss, each optional: absent ones take the spec's defaults. Used by the test
/// vectors, the command line and the grid files.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossParams {
    pub tp: Option<f64>,
    pub tn: Option<f64>,
    pub way: Option<Way>,
    pub mask: Option<Mask>,
    pub reduction: Option<Reduction>,
    pub gamma: Option<f64>,
    pub alpha: Option<f64>,
    pub gamma_neg: Option<f64>,
    pub gamma_pos: Option<f64>,
    pub clip: Option<f64>,
    pub eps: Option<f64>,
    pub focus_grad: Option<bool>,
}

impl LossParams {
    /// The names of the parameters that are set.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        macro_rules! push {
            ($($f:ident),*) => { $(if self.$f.is_some() { v.push(stringify!($f)); })* };
        }
        push!(tp, tn, way, mask, reduction, gamma, alpha, gamma_neg, gamma_pos, clip, eps, focus_grad);
        v
    }
}

/// The parameters a loss accepts.
pub fn params_of(loss: Loss) -> &'static [&'static str] {
    match loss {
        Loss::Twoway => &["tp", "tn", "way", "mask"],
        Loss::Softmax => &["way"],
        Loss::Bce => &["reduction"],
        Loss::Focal => &["gamma", "alpha", "reduction"],
        Loss::Asl => &["gamma_neg", "gamma_pos", "clip", "eps", "focus_grad", "reduction"],
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossVector {
    pub name: String,
    pub loss: Loss,
    #[serde(default)]
    pub params: LossParams,
    pub logits: Vec<Vec<f64>>,
    pub targets: Vec<Vec<f64>>,
    pub derivation: String,
    pub value: f64,
    pub grad: Vec<Vec<f64>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<f64>>, D::Error> {
    <Option<f64> as serde::Deserialize>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricVector {
    pub name: String,
    pub scores: Vec<Vec<f64>>,
    pub targets: Vec<Vec<f64>>,
    pub ties: Ties,
    #[serde(default)]
    pub denominator: Option<Denominator>,
    pub derivation: String,
    /// Expected AP x 100 of every sample (row); `null` = skipped. Absent: not checked.
    #[serde(default)]
    pub per_sample: Option<Vec<Option<f64>>>,
    #[serde(default)]
    pub per_class: Option<Vec<Option<f64>>>,
    /// Expected mAP@sample; `null` = no sample has a positive. Absent: not checked.
    #[serde(default, deserialize_with = "present")]
    pub map_sample: Option<Option<f64>>,
    #[serde(default, deserialize_with = "present")]
    pub map_class: Option<Option<f64>>,
}

/// A required value that may be `null`.
fn nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    <Option<f64> as serde::Deserialize>::deserialize(d)
}

/// How a thresholded vector's thresholds are tuned (on its `tune_scores` / `tune_targets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tune {
    /// One threshold for every class, maximising OF1.
    Global,
    /// One threshold per class, maximising each class's F1.
    PerClass,
}

/// A vector of the thresholded metrics (`thresholded.yaml`): absent options take the spec's defaults, and
/// without `top_k` or `tune` the rule is the default threshold.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdedVector {
    pub name: String,
    pub scores: Vec<Vec<f64>>,
    pub targets: Vec<Vec<f64>>,
    /// A probability threshold.
    #[serde(default)]
    pub threshold: Option<f64>,
    #[serde(default)]
    pub top_k: Option<usize>,
    #[serde(default)]
    pub score_kind: Option<ScoreKind>,
    #[serde(default)]
    pub unknown: Option<Unknowns>,
    #[serde(default)]
    pub undefined: Option<Undefined>,
    #[serde(default)]
    pub tune: Option<Tune>,
    #[serde(default)]
    pub tune_scores: Option<Vec<Vec<f64>>>,
    #[serde(default)]
    pub tune_targets: Option<Vec<Vec<f64>>>,
    pub derivation: String,
    /// The tuned thresholds on the score scale, one per class (present exactly when `tune` is).
    #[serde(default)]
    pub cuts: Option<Vec<f64>>,
    pub tp: Vec<u64>,
    pub fp: Vec<u64>,
    #[serde(rename = "fn")]
    pub fn_: Vec<u64>,
    /// The metrics (0-100); `null`: nothing to average; NaN under `undefined: nan`.
    #[serde(deserialize_with = "nullable")]
    pub cp: Option<f64>,
    #[serde(deserialize_with = "nullable")]
    pub cr: Option<f64>,
    #[serde(deserialize_with = "nullable")]
    pub cf1: Option<f64>,
    #[serde(deserialize_with = "nullable")]
    pub op: Option<f64>,
    #[serde(deserialize_with = "nullable")]
    pub or: Option<f64>,
    #[serde(deserialize_with = "nullable")]
    pub of1: Option<f64>,
    #[serde(deserialize_with = "nullable")]
    pub f1_mean: Option<f64>,
}

impl ThresholdedVector {
    /// The expected metrics by key, in `THRESHOLDED_METRICS` order.
    pub fn expected(&self) -> [(&'static str, Option<f64>); 7] {
        [
            ("cp", self.cp),
            ("cr", self.cr),
            ("cf1", self.cf1),
            ("op", self.op),
            ("or", self.or),
            ("of1", self.of1),
            ("f1_mean", self.f1_mean),
        ]
    }
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    losses: Vec<LossVector>,
    #[serde(default)]
    metrics: Vec<MetricVector>,
    #[serde(default)]
    thresholded: Vec<ThresholdedVector>,
}

/// All vectors of the spec.
#[derive(Debug, Clone, Default)]
pub struct Vectors {
    pub losses: Vec<LossVector>,
    pub metrics: Vec<MetricVector>,
    pub thresholded: Vec<ThresholdedVector>,
}

pub const FILES: [&str; 5] = ["twoway.yaml", "softmax.yaml", "elementwise.yaml", "metrics.yaml", "thresholded.yaml"];

/// The text of each file of [`FILES`], as embedded at build time.
pub const EMBEDDED: [&str; 5] = [
    include_str!("../vectors/twoway.yaml"),
    include_str!("../vectors/softmax.yaml"),
    include_str!("../vectors/elementwise.yaml"),
    include_str!("../vectors/metrics.yaml"),
    include_str!("../vectors/thresholded.yaml"),
];

fn shape(file: &str, field: &str, m: &[Vec<f64>]) -> Result<(usize, usize), SpecError> {
    let cols = m.first().map_or(0, Vec::len);
    if m.is_empty() || cols == 0 || m.iter().any(|r| r.len() != cols) {
        return Err(SpecError::invalid(file, field, "must be a non-empty rectangular matrix"));
    }
    Ok((m.len(), cols))
}

fn same_shape(file: &str, name: &str, fields: &[(&str, &[Vec<f64>])]) -> Result<(), SpecError> {
    let first = shape(file, &format!("{name}.{}", fields[0].0), fields[0].1)?;
    for (f, m) in &fields[1..] {
        if shape(file, &format!("{name}.{f}"), m)? != first {
            return Err(SpecError::invalid(file, format!("{name}.{f}"), format!("shape differs from {}", fields[0].0)));
        }
    }
    Ok(())
}

/// Parses and validates one vector file.
pub fn load(file: &str, text: &str) -> Result<Vectors, SpecError> {
    let f: File = parse(file, text)?;
    for v in &f.losses {
        let at = format!("losses[{}]", v.name);
        same_shape(file, &at, &[("logits", &v.logits), ("targets", &v.targets), ("grad", &v.grad)])?;
        for p in v.params.names() {
            if !params_of(v.loss).contains(&p) {
                return Err(SpecError::invalid(
                    file,
                    format!("{at}.params.{p}"),
                    format!("not a parameter of `{}`", v.loss),
                ));
            }
        }
    }
    for v in &f.metrics {
        let at = format!("metrics[{}]", v.name);
        same_shape(file, &at, &[("scores", &v.scores), ("targets", &v.targets)])?;
    }
    for v in &f.thresholded {
        let at = format!("thresholded[{}]", v.name);
        let (_, cols) = shape(file, &format!("{at}.scores"), &v.scores)?;
        same_shape(file, &at, &[("scores", &v.scores), ("targets", &v.targets)])?;
        for (field, counts) in [("tp", &v.tp), ("fp", &v.fp), ("fn", &v.fn_)] {
            if counts.len() != cols {
                return Err(SpecError::invalid(file, format!("{at}.{field}"), "needs one count per class"));
            }
        }
        match (v.tune, &v.tune_scores, &v.tune_targets, &v.cuts) {
            (None, None, None, None) => {}
            (Some(_), Some(s), Some(t), Some(c)) => {
                same_shape(file, &at, &[("tune_scores", s), ("tune_targets", t)])?;
                if shape(file, &format!("{at}.tune_scores"), s)?.1 != cols || c.len() != cols {
                    return Err(SpecError::invalid(file, at, "tune_scores and cuts need the scores' class count"));
                }
                if v.threshold.is_some() || v.top_k.is_some() {
                    return Err(SpecError::invalid(file, at, "a tuned vector takes no threshold or top_k"));
                }
            }
            _ => {
                return Err(SpecError::invalid(file, at, "tune, tune_scores, tune_targets and cuts go together"));
            }
        }
    }
    Ok(Vectors { losses: f.losses, metrics: f.metrics, thresholded: f.thresholded })
}

/// The vectors embedded at build time, validated; names are unique across files.
pub fn embedded() -> &'static Vectors {
    static V: OnceLock<Vectors> = OnceLock::new();
    V.get_or_init(|| {
        let mut all = Vectors::default();
        for (name, text) in FILES.iter().zip(EMBEDDED) {
            let v =
                load(&format!("spec/vectors/{name}"), text).unwrap_or_else(|e| panic!("invalid embedded vectors: {e}"));
            all.losses.extend(v.losses);
            all.metrics.extend(v.metrics);
            all.thresholded.extend(v.thresholded);
        }
        let mut names = BTreeSet::new();
        let thresholded = all.thresholded.iter().map(|v| &v.name);
        for n in all.losses.iter().map(|v| &v.name).chain(all.metrics.iter().map(|v| &v.name)).chain(thresholded) {
            assert!(names.insert(n.clone()), "duplicate vector name {n}");
        }
        all
    })
}
