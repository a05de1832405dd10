//! Loss and metric definitions (`data/losses.yaml`, `data/metrics.yaml`): every hyper-parameter's default
//! and its source.

use crate::error::SpecError;
use crate::load::{parse, Param};
use crate::{Denominator, Loss, Mask, Reduction, Source, Ties, Way};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Losses {
    pub twoway: LossDef<TwoWayParams>,
    pub softmax: LossDef<SoftmaxParams>,
    pub bce: LossDef<BceParams>,
    pub focal: LossDef<FocalParams>,
    pub asl: LossDef<AslParams>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossDef<P> {
    pub definition: String,
    pub params: P,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoWayParams {
    pub tp: Param<f64>,
    pub tn: Param<f64>,
    pub way: Param<Way>,
    pub mask: Param<Mask>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftmaxParams {
    pub way: Param<Way>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BceParams {
    pub reduction: Param<Reduction>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FocalParams {
    pub gamma: Param<f64>,
    pub alpha: Param<Option<f64>>,
    pub reduction: Param<Reduction>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AslParams {
    pub gamma_neg: Param<f64>,
    pub gamma_pos: Param<f64>,
    pub clip: Param<f64>,
    pub eps: Param<f64>,
    pub focus_grad: Param<bool>,
    pub reduction: Param<Reduction>,
}

impl Losses {
    /// The way of a loss's main-table row: its default way for the set-based losses, none otherwise.
    pub fn main_way(&self, loss: Loss) -> Option<Way> {
        match loss {
            Loss::Twoway => Some(self.twoway.params.way.default),
            Loss::Softmax => Some(self.softmax.params.way.default),
            Loss::Bce | Loss::Focal | Loss::Asl => None,
        }
    }

    /// The definition text of a loss.
    pub fn definition(&self, loss: Loss) -> &str {
        match loss {
            Loss::Twoway => &self.twoway.definition,
            Loss::Softmax => &self.softmax.definition,
            Loss::Bce => &self.bce.definition,
            Loss::Focal => &self.focal.definition,
            Loss::Asl => &self.asl.definition,
        }
    }
}

fn check(file: &str, field: &str, ok: bool, rule: &str) -> Result<(), SpecError> {
    if ok {
        Ok(())
    } else {
        Err(SpecError::invalid(file, field, rule.to_string()))
    }
}

pub(crate) fn load_losses(file: &str, text: &str) -> Result<Losses, SpecError> {
    let l: Losses = parse(file, text)?;
    let t = &l.twoway.params;
    for (name, p) in [("twoway.params.tp", &t.tp), ("twoway.params.tn", &t.tn)] {
        check(
            file,
            &format!("{name}.default"),
            p.default.is_finite() && p.default > 0.0,
            "a temperature must be finite and > 0",
        )?;
        p.check_reason(file, name)?;
    }
    t.way.check_reason(file, "twoway.params.way")?;
    t.mask.check_reason(file, "twoway.params.mask")?;
    l.softmax.params.way.check_reason(file, "softmax.params.way")?;
    l.bce.params.reduction.check_reason(file, "bce.params.reduction")?;
    let f = &l.focal.params;
    check(
        file,
        "focal.params.gamma.default",
        f.gamma.default.is_finite() && f.gamma.default >= 0.0,
        "gamma must be finite and >= 0",
    )?;
    if let Some(a) = f.alpha.default {
        check(file, "focal.params.alpha.default", (0.0..=1.0).contains(&a), "alpha must lie in [0, 1]")?;
    }
    f.gamma.check_reason(file, "focal.params.gamma")?;
    f.alpha.check_reason(file, "focal.params.alpha")?;
    f.reduction.check_reason(file, "focal.params.reduction")?;
    let a = &l.asl.params;
    for (name, p) in [("asl.params.gamma_neg", &a.gamma_neg), ("asl.params.gamma_pos", &a.gamma_pos)] {
        check(
            file,
            &format!("{name}.default"),
            p.default.is_finite() && p.default >= 0.0,
            "gamma must be finite and >= 0",
        )?;
        p.check_reason(file, name)?;
    }
    check(file, "asl.params.clip.default", (0.0..1.0).contains(&a.clip.default), "clip must lie in [0, 1)")?;
    check(file, "asl.params.eps.default", a.eps.default > 0.0 && a.eps.default < 1.0, "eps must lie in (0, 1)")?;
    a.clip.check_reason(file, "asl.params.clip")?;
    a.eps.check_reason(file, "asl.params.eps")?;
    a.focus_grad.check_reason(file, "asl.params.focus_grad")?;
    a.reduction.check_reason(file, "asl.params.reduction")?;
    Ok(l)
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    pub ap: ApDef,
    pub map_class: MetricDef,
    pub map_sample: MetricDef,
    pub thresholded: ThresholdedDef,
}

/// The thresholded metrics (CP, CR, CF1, OP, OR, OF1, the per-class F1 mean) and their conventions.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdedDef {
    pub definition: String,
    /// Each metric's definition, by its key (`cp`, `cr`, `cf1`, `op`, `or`, `of1`, `f1_mean`).
    pub metrics: std::collections::BTreeMap<String, String>,
    pub metrics_source: Source,
    /// The decision rules (`threshold`, `top_k`), each defined.
    pub decision: std::collections::BTreeMap<String, String>,
    /// The probability threshold t.
    pub threshold: Param<f64>,
    /// The k of top-k.
    pub top_k: Param<usize>,
    pub score_kind: Param<crate::ScoreKind>,
    pub unknown: Param<crate::Unknowns>,
    pub undefined: Param<crate::Undefined>,
    pub tuning: String,
}

/// The keys of [`ThresholdedDef::metrics`], in their order of report.
pub const THRESHOLDED_METRICS: [&str; 7] = ["cp", "cr", "cf1", "op", "or", "of1", "f1_mean"];

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApDef {
    pub definition: String,
    pub ties: Param<Ties>,
    pub denominator: Param<Denominator>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricDef {
    pub definition: String,
    pub source: Source,
}

pub(crate) fn load_metrics(file: &str, text: &str) -> Result<Metrics, SpecError> {
    let m: Metrics = parse(file, text)?;
    m.ap.ties.check_reason(file, "ap.ties")?;
    m.ap.denominator.check_reason(file, "ap.denominator")?;
    let t = &m.thresholded;
    t.score_kind.check_reason(file, "thresholded.score_kind")?;
    t.unknown.check_reason(file, "thresholded.unknown")?;
    t.undefined.check_reason(file, "thresholded.undefined")?;
    let keys: Vec<&str> = t.metrics.keys().map(String::as_str).collect();
    let mut want = THRESHOLDED_METRICS.to_vec();
    want.sort_unstable();
    if keys != want {
        return Err(SpecError::invalid(
            file,
            "thresholded.metrics",
            format!("must define exactly {}", want.join(", ")),
        ));
    }
    if !(t.threshold.default > 0.0 && t.threshold.default < 1.0) {
        return Err(SpecError::invalid(file, "thresholded.threshold.default", "must lie in (0, 1)"));
    }
    if t.top_k.default == 0 {
        return Err(SpecError::invalid(file, "thresholded.top_k.default", "must be at least 1"));
    }
    for rule in ["threshold", "top_k"] {
        if !t.decision.contains_key(rule) {
            return Err(SpecError::invalid(file, format!("thresholded.decision.{rule}"), "missing"));
        }
    }
    Ok(m)
}
