//! The conformance spec (`data/conformance.yaml`): the bounds an implementation of a loss or a metric is
//! held to per dtype, the range of the random cases, and the known divergences a failing case is checked
//! against (`twoway conform`, and the tch twin's conformance suite).

use crate::error::SpecError;
use crate::load::parse;
use crate::{Dtype, Source};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConformanceSpec {
    pub tolerances: Tolerances,
    pub random: Random,
    pub divergences: Vec<Divergence>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tolerances {
    pub source: Source,
    pub reason: String,
    pub losses: PerDtype<LossTolerance>,
    pub metrics: MetricTolerance,
}

/// One value per dtype.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerDtype<T> {
    pub f64: T,
    pub f32: T,
    pub f16: T,
    pub bf16: T,
}

impl<T: Copy> PerDtype<T> {
    pub fn of(&self, dtype: Dtype) -> T {
        match dtype {
            Dtype::F64 => self.f64,
            Dtype::F32 => self.f32,
            Dtype::F16 => self.f16,
            Dtype::Bf16 => self.bf16,
        }
    }
}

/// How close a loss must come to the expected numbers: a value within
/// `value_rel * max(|want|, value_floor) + value_per_logit * max|logit|` (a loss near zero is the
/// difference of terms as large as the logits, so a dtype cannot resolve it below its precision times their
/// size); a gradient entry within `grad_rel * (|want| + grad_floor * max|want gradient|) + grad_abs` (the
/// floor keeps entries near zero, which carry the absolute error of the larger ones, from demanding more
/// than the dtype's precision; `grad_abs` is the dtype's underflow).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossTolerance {
    pub value_rel: f64,
    pub value_floor: f64,
    pub value_per_logit: f64,
    pub grad_rel: f64,
    pub grad_floor: f64,
    pub grad_abs: f64,
}

impl LossTolerance {
    /// The largest error a value may have.
    pub fn value_bound(&self, want: f64, max_logit: f64) -> f64 {
        self.value_rel * want.abs().max(self.value_floor) + self.value_per_logit * max_logit
    }

    pub fn value_close(&self, got: f64, want: f64, max_logit: f64) -> bool {
        (got - want).abs() <= self.value_bound(want, max_logit)
    }

    /// The largest error a gradient entry may have.
    pub fn grad_bound(&self, want: f64, want_max: f64) -> f64 {
        self.grad_rel * (want.abs() + self.grad_floor * want_max) + self.grad_abs
    }

    pub fn grad_close(&self, got: f64, want: f64, want_max: f64) -> bool {
        (got - want).abs() <= self.grad_bound(want, want_max)
    }

    /// This bound with `rel` added to both relative terms.
    pub fn widened(&self, rel: f64) -> LossTolerance {
        LossTolerance { value_rel: self.value_rel + rel, grad_rel: self.grad_rel + rel, ..*self }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricTolerance {
    /// Absolute, on the 0-100 scale.
    pub abs: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Random {
    pub source: Source,
    pub reason: String,
    pub logit_range: PerDtype<f64>,
    pub max_rows: usize,
    pub max_cols: usize,
}

/// What a divergence concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppliesTo {
    Loss,
    Metric,
}

/// A known divergence from the spec.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Divergence {
    pub id: String,
    pub applies_to: AppliesTo,
    /// The spec entry that defines what the divergence departs from (`file#path`).
    pub spec: String,
    pub what: String,
}

/// The ids twoway knows how to recognise; the file must list each once, and nothing else.
pub const DIVERGENCES: [&str; 6] = [
    "release_empty_way_nan",
    "official_masking",
    "softplus_threshold",
    "ap_denominator_epsilon",
    "skipped_counted_as_zero",
    "tie_rule",
];

impl ConformanceSpec {
    /// The divergence `id` (one of [`DIVERGENCES`]; the loader checks that each is present).
    pub fn divergence(&self, id: &str) -> &Divergence {
        self.divergences.iter().find(|d| d.id == id).expect("the loader checks every divergence is listed")
    }
}

pub(crate) fn load(file: &str, text: &str) -> Result<ConformanceSpec, SpecError> {
    let c: ConformanceSpec = parse(file, text)?;
    let bad = |field: String, rule: &str| Err(SpecError::invalid(file, field, rule.to_string()));
    for d in Dtype::ALL {
        let t = c.tolerances.losses.of(*d);
        let fields = [
            ("value_rel", t.value_rel),
            ("value_floor", t.value_floor),
            ("value_per_logit", t.value_per_logit),
            ("grad_rel", t.grad_rel),
            ("grad_floor", t.grad_floor),
            ("grad_abs", t.grad_abs),
        ];
        for (name, v) in fields {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("tolerances.losses.{d}.{name}"), "must be a finite number >= 0");
            }
        }
        let r = c.random.logit_range.of(*d);
        if !(r.is_finite() && r > 0.0) {
            return bad(format!("random.logit_range.{d}"), "must be a finite number > 0");
        }
    }
    if !(c.tolerances.metrics.abs.is_finite() && c.tolerances.metrics.abs >= 0.0) {
        return bad("tolerances.metrics.abs".into(), "must be a finite number >= 0");
    }
    if c.random.max_rows == 0 || c.random.max_cols == 0 {
        return bad("random.max_rows".into(), "the random shapes must allow at least 1 x 1");
    }
    for (i, d) in c.divergences.iter().enumerate() {
        if !DIVERGENCES.contains(&d.id.as_str()) {
            return bad(format!("divergences[{i}].id"), &format!("`{}` is not one of {DIVERGENCES:?}", d.id));
        }
        if c.divergences[..i].iter().any(|e| e.id == d.id) {
            return bad(format!("divergences[{i}].id"), &format!("`{}` is listed twice", d.id));
        }
    }
    if let Some(missing) = DIVERGENCES.iter().find(|id| !c.divergences.iter().any(|d| d.id == **id)) {
        return bad("divergences".into(), &format!("`{missing}` is missing"));
    }
    Ok(c)
}
