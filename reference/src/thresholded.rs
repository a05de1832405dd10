//! The thresholded metrics of `spec/data/metrics.yaml` (`thresholded`): a decision rule predicts a set of
//! classes per sample (a threshold, or the top k with or without a threshold), the predictions are counted
//! per class against the targets (TP, FP, FN), and the counts give CP, CR, CF1, OP, OR, OF1 and the
//! per-class F1 mean (0-100 scale). Threshold tuning is in [`crate::tuning`].
//!
//! Thresholds here are on the score scale ([`Cut`]): a probability threshold t becomes `ln(t / (1 - t))`
//! for logits ([`ThresholdOptions::cut`]), exactly 0 at t = 0.5. Every comparison is `score >= cut` with
//! the score widened to f64 (exact), so f32 and f64 scores decide alike.

use crate::metrics::{Label, Score};
use crate::RefError;
use ndarray::ArrayView2;
use rayon::prelude::*;
use twoway_spec::{ScoreKind, Spec, Undefined, Unknowns};

/// The conventions of a thresholded metric (the spec's defaults by [`Default`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThresholdOptions {
    pub score_kind: ScoreKind,
    pub unknown: Unknowns,
    pub undefined: Undefined,
}

impl Default for ThresholdOptions {
    fn default() -> Self {
        let t = &Spec::embedded().metrics.thresholded;
        ThresholdOptions {
            score_kind: t.score_kind.default,
            unknown: t.unknown.default,
            undefined: t.undefined.default,
        }
    }
}

impl ThresholdOptions {
    /// The score-scale cut of the probability threshold `t` in [0, 1]: `ln(t / (1 - t))` for logits (0 at
    /// t = 0.5, -inf at 0, +inf at 1), `t` for probabilities.
    pub fn cut(&self, t: f64) -> Result<f64, RefError> {
        if !(0.0..=1.0).contains(&t) {
            return Err(RefError::BadParam { name: "threshold", value: t, rule: "must be a probability in [0, 1]" });
        }
        Ok(match self.score_kind {
            ScoreKind::Probability => t,
            ScoreKind::Logit if t == 0.5 => 0.0,
            ScoreKind::Logit => (t / (1.0 - t)).ln(),
        })
    }

    /// The probability of a score-scale cut (the inverse of [`ThresholdOptions::cut`]).
    pub fn probability(&self, cut: f64) -> f64 {
        match self.score_kind {
            ScoreKind::Probability => cut,
            ScoreKind::Logit => 1.0 / (1.0 + (-cut).exp()),
        }
    }

    /// True when an entry with this target enters the counts.
    #[inline(always)]
    pub(crate) fn counts<L: Label>(&self, l: L) -> bool {
        l.is_positive() || l.is_negative() || self.unknown == Unknowns::Negative
    }
}

/// Score-scale thresholds: one for every class, or one per class.
#[derive(Debug, Clone, PartialEq)]
pub enum Cut {
    One(f64),
    PerClass(Vec<f64>),
}

impl Cut {
    #[inline(always)]
    fn of(&self, class: usize) -> f64 {
        match self {
            Cut::One(c) => *c,
            Cut::PerClass(v) => v[class],
        }
    }
}

/// Which classes a sample is predicted to have.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Every class whose score is at or above its cut.
    Threshold(Cut),
    /// The k highest-scoring classes (ties in class order), each only if it also passes the cut, if any.
    TopK { k: usize, cut: Option<Cut> },
}

/// A class's counts: predicted and positive, predicted and negative, not predicted and positive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClassCounts {
    pub tp: u64,
    pub fp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
}

impl ClassCounts {
    fn add(&mut self, o: &ClassCounts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
    }

    /// Counted positives.
    pub fn positives(&self) -> u64 {
        self.tp + self.fn_
    }
}

/// The thresholded metrics (0-100 scale). `None`: nothing to average (no class with a counted positive for
/// CP, CR, the F1 mean and OR; under `undefined: skip`, no precision defined); NaN only under
/// `undefined: nan`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ThresholdReport {
    pub cp: Option<f64>,
    pub cr: Option<f64>,
    pub cf1: Option<f64>,
    pub op: Option<f64>,
    pub or: Option<f64>,
    pub of1: Option<f64>,
    pub f1_mean: Option<f64>,
    /// Classes with a counted positive (the classes CP, CR and the F1 mean average over).
    pub classes_evaluated: usize,
    /// Classes with a counted positive that were never predicted (their precision is `undefined`).
    pub classes_never_predicted: usize,
    /// Predictions counted (TP + FP over every class).
    pub predicted: u64,
    /// Every class's counts.
    pub per_class: Vec<ClassCounts>,
}

/// Validates the inputs (shape, finite scores, probabilities in [0, 1] where scores are probabilities,
/// labels in {-1, 0, 1}); errors name the first bad entry in row-major order.
pub(crate) fn validate<S: Score, L: Label>(
    scores: &ArrayView2<S>,
    targets: &ArrayView2<L>,
    opts: &ThresholdOptions,
) -> Result<(), RefError> {
    if scores.dim() != targets.dim() {
        return Err(RefError::ShapeMismatch { logits: scores.dim(), targets: targets.dim() });
    }
    let (rows, cols) = scores.dim();
    if rows == 0 || cols == 0 {
        return Err(RefError::EmptyBatch { shape: (rows, cols) });
    }
    let probability = opts.score_kind == ScoreKind::Probability;
    for (((row, col), &s), &l) in scores.indexed_iter().zip(targets.iter()) {
        if !s.is_finite() {
            return Err(RefError::NonFinite { what: "scores", row, col, value: s.widen() });
        }
        if probability && !(0.0..=1.0).contains(&s.widen()) {
            return Err(RefError::NotProbability { row, col, value: s.widen() });
        }
        if !l.is_valid() {
            return Err(RefError::BadLabel { row, col, value: l.value() });
        }
    }
    Ok(())
}

fn check_decision(decision: &Decision, cols: usize) -> Result<(), RefError> {
    let cut = match decision {
        Decision::Threshold(c) => Some(c),
        Decision::TopK { k, cut } => {
            if *k == 0 {
                return Err(RefError::BadParam { name: "top_k", value: 0.0, rule: "must be at least 1" });
            }
            cut.as_ref()
        }
    };
    match cut {
        Some(Cut::PerClass(v)) if v.len() != cols => Err(RefError::BadParam {
            name: "thresholds",
            value: v.len() as f64,
            rule: "there must be one threshold per class",
        }),
        Some(Cut::One(c)) if c.is_nan() => Err(RefError::BadParam { name: "threshold", value: *c, rule: "is NaN" }),
        Some(Cut::PerClass(v)) if v.iter().any(|c| c.is_nan()) => {
            Err(RefError::BadParam { name: "thresholds", value: f64::NAN, rule: "must not hold NaN" })
        }
        _ => Ok(()),
    }
}

/// The classes of one row that the decision predicts, as a mask in `predicted`.
fn decide_row<S: Score>(row: &[S], decision: &Decision, order: &mut Vec<u32>, predicted: &mut [bool]) {
    match decision {
        Decision::Threshold(cut) => {
            for (j, (p, &s)) in predicted.iter_mut().zip(row).enumerate() {
                *p = s.widen() >= cut.of(j);
            }
        }
        Decision::TopK { k, cut } => {
            predicted.iter_mut().for_each(|p| *p = false);
            let k = (*k).min(row.len());
            order.clear();
            order.extend(0..row.len() as u32);
            // Descending score, then ascending class: a total order (scores are finite), so the k first are
            // those of a stable descending sort.
            let before = |a: &u32, b: &u32| {
                let (sa, sb) = (row[*a as usize].widen(), row[*b as usize].widen());
                sb.partial_cmp(&sa).expect("finite scores").then(a.cmp(b))
            };
            if k < row.len() {
                order.select_nth_unstable_by(k - 1, before);
            }
            for &j in &order[..k] {
                let j = j as usize;
                predicted[j] = cut.as_ref().is_none_or(|c| row[j].widen() >= c.of(j));
            }
        }
    }
}

/// Every class's counts under the decision.
pub fn count<S: Score, L: Label>(
    scores: ArrayView2<S>,
    targets: ArrayView2<L>,
    decision: &Decision,
    opts: &ThresholdOptions,
) -> Result<Vec<ClassCounts>, RefError> {
    validate(&scores, &targets, opts)?;
    let cols = scores.ncols();
    check_decision(decision, cols)?;
    let s = scores.as_standard_layout();
    let t = targets.as_standard_layout();
    let (s, t) = (s.as_slice().expect("standard layout"), t.as_slice().expect("standard layout"));
    let rows_per_task = scores.nrows().div_ceil(rayon::current_num_threads().max(1)).max(1);
    let partial: Vec<Vec<ClassCounts>> = s
        .par_chunks(rows_per_task * cols)
        .zip(t.par_chunks(rows_per_task * cols))
        .map(|(sc, tc)| {
            let mut counts = vec![ClassCounts::default(); cols];
            let (mut order, mut predicted) = (Vec::new(), vec![false; cols]);
            for (srow, trow) in sc.chunks(cols).zip(tc.chunks(cols)) {
                decide_row(srow, decision, &mut order, &mut predicted);
                for ((c, &p), &l) in counts.iter_mut().zip(&predicted).zip(trow) {
                    if !opts.counts(l) {
                        continue;
                    }
                    let positive = l.is_positive();
                    c.tp += (p && positive) as u64;
                    c.fp += (p && !positive) as u64;
                    c.fn_ += (!p && positive) as u64;
                }
            }
            counts
        })
        .collect();
    let mut counts = vec![ClassCounts::default(); cols];
    for part in &partial {
        counts.iter_mut().zip(part).for_each(|(c, p)| c.add(p));
    }
    Ok(counts)
}

/// `num / den` in percent; a zero denominator follows `undefined` (`None` = skipped).
fn ratio(num: u64, den: u64, undefined: Undefined) -> Option<f64> {
    if den > 0 {
        return Some(100.0 * num as f64 / den as f64);
    }
    match undefined {
        Undefined::Zero => Some(0.0),
        Undefined::Skip => None,
        Undefined::Nan => Some(f64::NAN),
    }
}

fn harmonic(p: Option<f64>, r: Option<f64>) -> Option<f64> {
    let (p, r) = (p?, r?);
    Some(if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) })
}

fn mean(v: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let kept: Vec<f64> = v.flatten().collect();
    (!kept.is_empty()).then(|| kept.iter().sum::<f64>() / kept.len() as f64)
}

/// The metrics of given counts.
pub fn report(counts: Vec<ClassCounts>, undefined: Undefined) -> ThresholdReport {
    let evaluated: Vec<&ClassCounts> = counts.iter().filter(|c| c.positives() > 0).collect();
    let cp = mean(evaluated.iter().map(|c| ratio(c.tp, c.tp + c.fp, undefined)));
    let cr = mean(evaluated.iter().map(|c| ratio(c.tp, c.positives(), undefined)));
    let f1_mean = mean(evaluated.iter().map(|c| ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn_, undefined)));
    let mut total = ClassCounts::default();
    counts.iter().for_each(|c| total.add(c));
    let predicted = total.tp + total.fp;
    let op = ratio(total.tp, predicted, undefined);
    let or = (total.positives() > 0).then(|| 100.0 * total.tp as f64 / total.positives() as f64);
    ThresholdReport {
        cf1: harmonic(cp, cr),
        of1: harmonic(op, or),
        cp,
        cr,
        op,
        or,
        f1_mean,
        classes_evaluated: evaluated.len(),
        classes_never_predicted: evaluated.iter().filter(|c| c.tp + c.fp == 0).count(),
        predicted,
        per_class: counts,
    }
}

/// The thresholded metrics of a score matrix (samples x classes) against its targets under a decision.
pub fn thresholded<S: Score, L: Label>(
    scores: ArrayView2<S>,
    targets: ArrayView2<L>,
    decision: &Decision,
    opts: &ThresholdOptions,
) -> Result<ThresholdReport, RefError> {
    Ok(report(count(scores, targets, decision, opts)?, opts.undefined))
}
