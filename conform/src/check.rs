//! Comparing an answer with the expected numbers, and naming the known divergence a failure matches.
//!
//! The bounds are the spec's per dtype (`spec/data/conformance.yaml`), scaled by the case's conditioning
//! ([`AnyLoss::conditioning`]: its largest |logit| and the largest argument of an exp, max|x| / T).
//!
//! A failing case is checked against each divergence of `spec/data/conformance.yaml` that applies: the
//! answer is compared again with the reference run the divergent way (the other masking, the release's AP
//! denominator, the other tie rule, skipped lines counted as 0), with the bound widened by torch's softplus
//! gap (every loss built on softplus or log-sigmoid) or by the rounding of a half dtype (a value returned
//! in f16 / bf16), or (the release's NaN) looked at for NaN where a way is empty. A failure whose every
//! divergence the suite allows (`twoway conform --allow-divergence`, `allow=` in Python) counts as
//! passed, and says so.

use crate::cases::{expect_loss, expect_metric, Case, Expected};
use crate::{Answer, Subject, Suite};
use anyhow::Result;
use ndarray::Array2;
use twoway_reference::{evaluate, AnyLoss, ApOptions, TwoWay};
use twoway_spec::conformance::{largest, Divergence, LossTolerance};
use twoway_spec::{Denominator, Dtype, Mask, Metric, Spec, Ties, Way};

/// torch's softplus returns z for z > 20: 1 - sigmoid(20) = 2.06e-9 of relative gap.
const SOFTPLUS_GAP: f64 = 2.1e-9;

/// The gradient entry that is furthest outside (or least inside) its bound.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GradError {
    /// |got - expected|.
    pub error: f64,
    pub bound: f64,
    /// (row, column).
    pub at: (usize, usize),
    pub got: f64,
    pub expected: f64,
}

/// The verdict on one case.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outcome {
    pub name: String,
    pub exercises: String,
    pub passed: bool,
    /// The expected loss value or metric (`null` for a metric that is undefined: expected NaN).
    pub expected: Option<f64>,
    pub got: Option<f64>,
    /// The value's bound.
    pub bound: Option<f64>,
    pub grad: Option<GradError>,
    /// What went wrong, in a line (a missing output, an exception, a misshapen array, a wrong number).
    pub problem: Option<String>,
    /// The known divergences the answer matches.
    pub divergences: Vec<Divergence>,
    /// A failure that matches only divergences the suite allows: `passed` is true.
    pub allowed_divergence: bool,
}

/// Whether a loss answer is within `tol` of the expected pair; and the worst gradient entry.
fn loss_close(
    tol: &LossTolerance,
    loss: &AnyLoss,
    x: &Array2<f64>,
    (value, grad): (f64, &Array2<f64>),
    (want, want_grad): (f64, &Array2<f64>),
) -> (bool, f64, Option<GradError>) {
    let c = loss.conditioning(x.iter().fold(0.0f64, |m, t| m.max(t.abs())));
    let bound = tol.value_bound(want, c);
    let mut ok = (value - want).abs() <= bound;
    let want_max = want_grad.iter().fold(0.0f64, |m, t| m.max(t.abs()));
    let mut worst: Option<(f64, GradError)> = None;
    for ((at, g), w) in grad.indexed_iter().zip(want_grad.iter()) {
        let (error, b) = ((g - w).abs(), tol.grad_bound(*w, want_max, c));
        ok &= error <= b;
        let ratio = if error.is_nan() { f64::INFINITY } else { error / b.max(f64::MIN_POSITIVE) };
        if worst.as_ref().is_none_or(|(r, _)| ratio > *r) {
            worst = Some((ratio, GradError { error, bound: b, at, got: *g, expected: *w }));
        }
    }
    (ok, bound, worst.map(|(_, e)| e))
}

pub fn check(spec: &Spec, suite: &Suite, case: &Case, answer: Result<Answer>) -> Outcome {
    let mut o = Outcome {
        name: case.name.clone(),
        exercises: case.exercises.clone(),
        passed: false,
        expected: None,
        got: None,
        bound: None,
        grad: None,
        problem: None,
        divergences: Vec::new(),
        allowed_divergence: false,
    };
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            o.expected = match &case.expected {
                Expected::Loss { value, .. } => Some(*value),
                Expected::Metric(v) => *v,
            };
            o.problem = Some(format!("{e:#}"));
            return o;
        }
    };
    let c = &spec.conformance;
    match (&case.expected, answer, suite.subject) {
        (Expected::Loss { value: want, grad: want_grad }, Answer::Loss { value, grad }, Subject::Loss(loss)) => {
            let tol = c.tolerances.losses.of(suite.dtype);
            let (ok, bound, worst) = loss_close(&tol, &loss, &case.inputs, (value, &grad), (*want, want_grad));
            (o.expected, o.got, o.bound, o.grad, o.passed) = (Some(*want), Some(value), Some(bound), worst, ok);
            if !ok {
                o.problem = Some(loss_problem(&o, value, *want, bound));
                o.divergences = loss_divergences(&loss, suite.dtype, &tol, case, (value, &grad))
                    .into_iter()
                    .map(|id| c.divergence(id).clone())
                    .collect();
            }
        }
        (Expected::Metric(want), Answer::Metric(got), Subject::Metric { metric, ties }) => {
            let tol = c.tolerances.metrics.abs;
            let close = |w: Option<f64>| match w {
                None => got.is_nan(),
                Some(w) => (got - w).abs() <= tol,
            };
            (o.expected, o.got, o.bound, o.passed) = (*want, Some(got), Some(tol), close(*want));
            if !o.passed {
                let want = want.map_or("NaN (no line has a positive)".to_string(), |w| format!("{w:.12}"));
                o.problem = Some(format!("{metric} {got:.12}, expected {want} (bound {tol:e})"));
                o.divergences = metric_divergences(metric, ties, case, close)
                    .into_iter()
                    .map(|id| c.divergence(id).clone())
                    .collect();
            }
        }
        _ => o.problem = Some("internal: the answer's kind differs from the case's".into()),
    }
    if !o.passed && !o.divergences.is_empty() && o.divergences.iter().all(|d| suite.allowed.contains(&d.id)) {
        (o.passed, o.allowed_divergence) = (true, true);
    }
    o
}

fn loss_problem(o: &Outcome, value: f64, want: f64, bound: f64) -> String {
    let error = (value - want).abs();
    if error > bound || error.is_nan() {
        return format!("value {value:e}, expected {want:e} (bound {bound:.1e})");
    }
    match &o.grad {
        Some(g) => format!(
            "gradient at [{}, {}] {:e}, expected {:e} (error {:.2e}, bound {:.1e})",
            g.at.0, g.at.1, g.got, g.expected, g.error, g.bound
        ),
        None => "gradient differs".into(),
    }
}

/// Whether the targets leave a way of `way` empty (no row / column with a positive).
fn empty_way(y: &Array2<f64>, way: Way) -> bool {
    let any_pos =
        |lines: ndarray::iter::Lanes<'_, f64, ndarray::Ix1>| lines.into_iter().any(|l| l.iter().any(|t| *t == 1.0));
    let rows = !any_pos(y.rows());
    let cols = !any_pos(y.columns());
    match way {
        Way::Sample => rows,
        Way::Class => cols,
        Way::Both => rows || cols,
    }
}

/// The losses whose definition goes through softplus or log-sigmoid, which torch's `F.softplus` thresholds.
fn uses_softplus(loss: &AnyLoss) -> bool {
    !matches!(loss, AnyLoss::Softmax(_))
}

/// The relative half-unit of a half dtype's precision (the largest relative error of rounding to it).
fn half_rounding(dtype: Dtype) -> Option<f64> {
    match dtype {
        Dtype::F16 => Some(2f64.powi(-11)),
        Dtype::Bf16 => Some(2f64.powi(-8)),
        Dtype::F64 | Dtype::F32 => None,
    }
}

/// The divergences of a failing loss answer.
fn loss_divergences(
    loss: &AnyLoss,
    dtype: Dtype,
    tol: &LossTolerance,
    case: &Case,
    (value, grad): (f64, &Array2<f64>),
) -> Vec<&'static str> {
    let matches = |loss: &AnyLoss, tol: &LossTolerance| -> bool {
        match expect_loss(loss, &case.inputs, &case.targets) {
            Ok(Expected::Loss { value: w, grad: wg }) => loss_close(tol, loss, &case.inputs, (value, grad), (w, &wg)).0,
            _ => false,
        }
    };
    if let Some(half) = half_rounding(dtype) {
        // The value is a number of the half dtype (or its overflow) within its rounding of the expected one,
        // and the gradient passes: computed in f32 and cast back.
        let in_dtype = crate::cases::round(dtype, value) == value || value.is_infinite();
        let Ok(Expected::Loss { value: want, grad: want_grad }) = expect_loss(loss, &case.inputs, &case.targets) else {
            return Vec::new();
        };
        let overflow = value.is_infinite() && want.abs() > largest(dtype) && value.signum() == want.signum();
        let grad_ok = loss_close(tol, loss, &case.inputs, (want, grad), (want, &want_grad)).0;
        if in_dtype && grad_ok && (overflow || matches(loss, &tol.widened(half))) {
            return vec!["half_value"];
        }
    }
    let softplus = uses_softplus(loss);
    let wide = tol.widened(SOFTPLUS_GAP);
    let AnyLoss::TwoWay(l) = loss else {
        return if softplus && matches(loss, &wide) { vec!["softplus_threshold"] } else { Vec::new() };
    };
    if (value.is_nan() || grad.iter().any(|g| g.is_nan())) && empty_way(&case.targets, l.way) {
        return vec!["release_empty_way_nan"];
    }
    let other =
        AnyLoss::TwoWay(TwoWay { mask: if l.mask == Mask::Exact { Mask::Official } else { Mask::Exact }, ..*l });
    if matches(&other, tol) {
        vec!["official_masking"]
    } else if matches(loss, &wide) {
        vec!["softplus_threshold"]
    } else if matches(&other, &wide) {
        vec!["official_masking", "softplus_threshold"]
    } else {
        Vec::new()
    }
}

/// The divergences of a failing metric answer.
fn metric_divergences(
    metric: Metric,
    ties: Ties,
    case: &Case,
    close: impl Fn(Option<f64>) -> bool,
) -> Vec<&'static str> {
    let (s, y) = (&case.inputs, &case.targets);
    let at = |ties, denominator| expect_metric(metric, ApOptions { ties, denominator }, s, y).ok();
    let other = if ties == Ties::Grouped { Ties::Index } else { Ties::Grouped };
    if at(ties, Denominator::Release).is_some_and(&close) {
        return vec!["ap_denominator_epsilon"];
    }
    if at(other, Denominator::Exact).is_some_and(&close) {
        return vec!["tie_rule"];
    }
    let zero = |ties| -> Option<f64> {
        let r = evaluate(s.view(), y.view(), ApOptions { ties, denominator: Denominator::Exact }).ok()?;
        let aps = if metric == Metric::MapClass { r.per_class } else { r.per_sample };
        Some(aps.iter().map(|a| a.unwrap_or(0.0)).sum::<f64>() / aps.len() as f64)
    };
    if zero(ties).is_some_and(|z| close(Some(z))) {
        return vec!["skipped_counted_as_zero"];
    }
    if zero(other).is_some_and(|z| close(Some(z))) {
        return vec!["skipped_counted_as_zero", "tie_rule"];
    }
    Vec::new()
}
