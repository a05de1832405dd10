//! Threshold tuning (`spec/data/metrics.yaml`, `thresholded.tuning`): on a tuning split, the one threshold
//! that maximises OF1 (global) or each class's threshold that maximises its F1 (per class), to be applied
//! to the evaluation split with [`crate::thresholded`].
//!
//! A sweep over the counted scores in descending order: after each group of equal scores the predictions
//! are the scores at or above it, so TP and FP are running counts and F1 = 2 TP / (TP + FP + P). The best
//! group wins (the first, that is the highest, on ties in F1); the cut lies halfway between its score and
//! the next lower distinct score, or at its score where no float lies strictly between (or none is lower).

use crate::metrics::{Label, Score};
use crate::thresholded::{validate, ThresholdOptions};
use crate::RefError;
use ndarray::ArrayView2;
use rayon::prelude::*;

/// A tuned cut (score scale) with the F1 (percent) it gives on the tuning split; `f1` is `None` where
/// nothing was tuned (no counted positive) and the cut is the default's.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Tuned {
    pub cut: f64,
    pub f1: Option<f64>,
}

/// The F1-maximising cut of (score, positive) pairs, `None` without a positive. Sorts `pairs`.
fn best_cut(pairs: &mut [(f64, bool)]) -> Option<Tuned> {
    let positives = pairs.iter().filter(|p| p.1).count() as u64;
    if positives == 0 {
        return None;
    }
    pairs.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp) = (0u64, 0u64);
    // (F1's numerator and denominator, the group's last index): compared as fractions, exactly.
    let mut best: Option<(u64, u64, usize)> = None;
    let mut i = 0;
    while i < pairs.len() {
        let score = pairs[i].0;
        while i < pairs.len() && pairs[i].0 == score {
            tp += pairs[i].1 as u64;
            fp += !pairs[i].1 as u64;
            i += 1;
        }
        let (num, den) = (2 * tp, tp + fp + positives);
        // num / den > bnum / bden, in integers (u128: no overflow).
        if best.is_none_or(|(bn, bd, _)| num as u128 * bd as u128 > bn as u128 * den as u128) {
            best = Some((num, den, i - 1));
        }
    }
    let (num, den, last) = best.expect("a positive gives a group");
    let kept = pairs[last].0;
    let cut = match pairs.get(last + 1) {
        Some(&(lower, _)) => {
            let mid = kept / 2.0 + lower / 2.0;
            if mid > lower && mid <= kept {
                mid
            } else {
                kept
            }
        }
        None => kept,
    };
    Some(Tuned { cut, f1: Some(100.0 * num as f64 / den as f64) })
}

fn pair<S: Score, L: Label>(s: S, l: L, opts: &ThresholdOptions) -> Option<(f64, bool)> {
    opts.counts(l).then(|| (s.widen(), l.is_positive()))
}

/// The one cut that maximises OF1 over the tuning split's counted entries; `default` (a score-scale cut)
/// when none is positive.
pub fn tune_global<S: Score, L: Label>(
    scores: ArrayView2<S>,
    targets: ArrayView2<L>,
    default: f64,
    opts: &ThresholdOptions,
) -> Result<Tuned, RefError> {
    validate(&scores, &targets, opts)?;
    let mut pairs: Vec<(f64, bool)> =
        scores.iter().zip(targets.iter()).filter_map(|(&s, &l)| pair(s, l, opts)).collect();
    Ok(best_cut(&mut pairs).unwrap_or(Tuned { cut: default, f1: None }))
}

/// Every class's cut, each maximising its F1 over the tuning split; `default` for a class without a
/// counted positive.
pub fn tune_per_class<S: Score, L: Label>(
    scores: ArrayView2<S>,
    targets: ArrayView2<L>,
    default: f64,
    opts: &ThresholdOptions,
) -> Result<Vec<Tuned>, RefError> {
    validate(&scores, &targets, opts)?;
    Ok((0..scores.ncols())
        .into_par_iter()
        .map(|j| {
            let mut pairs: Vec<(f64, bool)> =
                scores.column(j).iter().zip(targets.column(j).iter()).filter_map(|(&s, &l)| pair(s, l, opts)).collect();
            best_cut(&mut pairs).unwrap_or(Tuned { cut: default, f1: None })
        })
        .collect())
}
