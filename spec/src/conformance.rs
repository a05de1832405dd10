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

impl<T> PerDtype<T> {
    pub fn get(&self, dtype: Dtype) -> &T {
        match dtype {
            Dtype::F64 => &self.f64,
            Dtype::F32 => &self.f32,
            Dtype::F16 => &self.f16,
            Dtype::Bf16 => &self.bf16,
        }
    }
}

impl<T: Copy> PerDtype<T> {
    pub fn of(&self, dtype: Dtype) -> T {
        *self.get(dtype)
    }
}

/// What one case asks of the arithmetic that computes a loss: the largest |logit| and the condition
/// `kappa = 1 + the largest |argument| of an exp or log the loss evaluates` (for the two-way loss
/// max|x| / min(Tp, Tn), plus the release's offset of 100 under official masking; max|x| for the others;
/// `twoway_reference::AnyLoss::conditioning` computes it). An argument `a` carries an absolute rounding
/// error of about `u * |a|` (u the unit roundoff), so `e^a`, and every softmax or sigmoid weight built from
/// it, carries a relative error of about `u * kappa`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conditioning {
    pub max_logit: f64,
    pub kappa: f64,
}

/// How close a loss must come to the expected numbers in one dtype, for a case of [`Conditioning`] `c`
/// (`spec/data/conformance.yaml` states the derivation):
/// - a value within `value_rel * max(|want|, value_floor) + value_per_logit * c.max_logit` (a loss is a sum
///   of terms as large as the logits: the dtype resolves it to its precision times their size);
/// - a gradient entry within
///   `(grad_rel + grad_cond * c.kappa) * (|want| + grad_floor * max|want gradient|) + grad_abs * c.kappa`:
///   each entry is made of softmax / sigmoid weights (at most 1 before the mean over
///   lines) whose relative error grows with `kappa`; an entry that is the difference of two such weights
///   (softmax's e/s - 1/|P|) keeps their absolute error (`grad_abs * kappa`) even when it is far smaller,
///   and the floor keeps entries near zero, which carry the absolute error of the larger ones, from
///   demanding more than the dtype resolves. `grad_rel` is the least relative bound (and, in f16 / bf16,
///   the rounding of the returned gradient).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossTolerance {
    pub value_rel: f64,
    pub value_floor: f64,
    pub value_per_logit: f64,
    pub grad_rel: f64,
    pub grad_floor: f64,
    pub grad_cond: f64,
    pub grad_abs: f64,
}

impl LossTolerance {
    /// The largest error a value may have.
    pub fn value_bound(&self, want: f64, c: Conditioning) -> f64 {
        self.value_rel * want.abs().max(self.value_floor) + self.value_per_logit * c.max_logit
    }

    pub fn value_close(&self, got: f64, want: f64, c: Conditioning) -> bool {
        (got - want).abs() <= self.value_bound(want, c)
    }

    /// The largest error a gradient entry may have.
    pub fn grad_bound(&self, want: f64, want_max: f64, c: Conditioning) -> f64 {
        (self.grad_rel + self.grad_cond * c.kappa) * (want.abs() + self.grad_floor * want_max) + self.grad_abs * c.kappa
    }

    pub fn grad_close(&self, got: f64, want: f64, want_max: f64, c: Conditioning) -> bool {
        (got - want).abs() <= self.grad_bound(want, want_max, c)
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
    /// The largest |logit| of the random cases, per dtype: case i draws its logits within
    /// `logit_ranges[i % len]`.
    pub logit_ranges: PerDtype<Vec<f64>>,
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
pub const DIVERGENCES: [&str; 7] = [
    "release_empty_way_nan",
    "official_masking",
    "softplus_threshold",
    "half_value",
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

/// The largest finite number `dtype` holds.
pub fn largest(dtype: Dtype) -> f64 {
    match dtype {
        Dtype::F64 => f64::MAX,
        Dtype::F32 => f32::MAX as f64,
        Dtype::F16 => 65504.0,
        Dtype::Bf16 => 3.3895313892515355e38,
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
            ("grad_cond", t.grad_cond),
            ("grad_abs", t.grad_abs),
        ];
        for (name, v) in fields {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("tolerances.losses.{d}.{name}"), "must be a finite number >= 0");
            }
        }
        let ranges = c.random.logit_ranges.get(*d);
        if ranges.is_empty() {
            return bad(format!("random.logit_ranges.{d}"), "must list at least one range");
        }
        for (i, r) in ranges.iter().enumerate() {
            if !(r.is_finite() && *r > 0.0 && *r <= largest(*d)) {
                return bad(
                    format!("random.logit_ranges.{d}[{i}]"),
                    &format!("must be a number > 0 that {d} holds (at most {:e})", largest(*d)),
                );
            }
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
