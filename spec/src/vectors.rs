//! The spec's test vectors (`spec/vectors/*.yaml`): inputs with expected values derived from closed forms
//! (each vector carries its derivation). Every implementation runs all of them.

use crate::error::SpecError;
use crate::load::parse;
use crate::{Denominator, Loss, Mask, Reduction, Ties, Way};
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

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    losses: Vec<LossVector>,
    #[serde(default)]
    metrics: Vec<MetricVector>,
}

/// All vectors of the spec.
#[derive(Debug, Clone, Default)]
pub struct Vectors {
    pub losses: Vec<LossVector>,
    pub metrics: Vec<MetricVector>,
}

pub const FILES: [&str; 4] = ["twoway.yaml", "softmax.yaml", "elementwise.yaml", "metrics.yaml"];

/// The text of each file of [`FILES`], as embedded at build time.
pub const EMBEDDED: [&str; 4] = [
    include_str!("../vectors/twoway.yaml"),
    include_str!("../vectors/softmax.yaml"),
    include_str!("../vectors/elementwise.yaml"),
    include_str!("../vectors/metrics.yaml"),
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
    Ok(Vectors { losses: f.losses, metrics: f.metrics })
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
        }
        let mut names = BTreeSet::new();
        for n in all.losses.iter().map(|v| &v.name).chain(all.metrics.iter().map(|v| &v.name)) {
            assert!(names.insert(n.clone()), "duplicate vector name {n}");
        }
        all
    })
}
