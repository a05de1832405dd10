//! Average precision and mAP@class / mAP@sample.
//!
//! AP of one score vector: entries with target -1 are dropped; a vector without a positive is skipped
//! (`None`); entries are ranked by descending score; AP = mean over the positives of the precision at
//! the positive's rank. Ties follow [`Ties`]: `grouped` (tied scores form one threshold: every positive of
//! a tied group gets the precision after the whole group; order-independent) or `index` (stable: ties
//! ranked by position). The two agree when there are no ties. O(n log n) per vector; vectors in parallel.

use crate::check;
use crate::numerics::transpose;
use crate::RefError;
use ndarray::ArrayView2;
use rayon::prelude::*;
use twoway_spec::{Denominator, Spec, Ties};

/// The release's epsilon in its AP denominator (`positives + 1e-8`).
pub const RELEASE_EPSILON: f64 = 1e-8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApOptions {
    pub ties: Ties,
    pub denominator: Denominator,
}

impl Default for ApOptions {
    /// The spec's defaults (grouped ties, exact denominator).
    fn default() -> Self {
        let ap = &Spec::embedded().metrics.ap;
        ApOptions { ties: ap.ties.default, denominator: ap.denominator.default }
    }
}

/// Scores mapped to integers whose ascending order is the scores' descending order (-0.0 equals 0.0).
#[inline]
fn descending_key(score: f64) -> u64 {
    let bits = (score + 0.0).to_bits();
    let ascending = if bits >> 63 == 1 { !bits } else { bits | (1 << 63) };
    !ascending
}

/// AP (in [0, 1]) of `scores` against labels `targets` (1, 0, -1); `None` without a positive.
/// The scores must be finite (the public entry points check).
fn ap_with(scores: &[f64], targets: &[i8], opts: ApOptions, keys: &mut Vec<(u64, u32)>) -> Option<f64> {
    keys.clear();
    let mut positives = 0usize;
    for (i, (&s, &t)) in scores.iter().zip(targets).enumerate() {
        if t >= 0 {
            keys.push((descending_key(s), i as u32));
            positives += (t == 1) as usize;
        }
    }
    if positives == 0 {
        return None;
    }
    // (key, index) ascending = score descending, ties by ascending index: the `index` order.
    keys.sort_unstable();
    let mut sum = 0.0;
    let (mut seen, mut hits) = (0usize, 0usize);
    match opts.ties {
        Ties::Index => {
            for &(_, i) in keys.iter() {
                seen += 1;
                if targets[i as usize] == 1 {
                    hits += 1;
                    sum += hits as f64 / seen as f64;
                }
            }
        }
        Ties::Grouped => {
            let mut k = 0;
            while k < keys.len() {
                let key = keys[k].0;
                let mut group_hits = 0usize;
                while k < keys.len() && keys[k].0 == key {
                    group_hits += (targets[keys[k].1 as usize] == 1) as usize;
                    seen += 1;
                    k += 1;
                }
                hits += group_hits;
                sum += group_hits as f64 * (hits as f64 / seen as f64);
            }
        }
    }
    let denom = match opts.denominator {
        Denominator::Exact => positives as f64,
        Denominator::Release => positives as f64 + RELEASE_EPSILON,
    };
    Some(sum / denom)
}

/// AP in [0, 1] of one score vector; `Ok(None)` when it has no positive.
pub fn average_precision(scores: &[f64], targets: &[f64], opts: ApOptions) -> Result<Option<f64>, RefError> {
    let s = ndarray::ArrayView2::from_shape((1, scores.len()), scores)
        .map_err(|_| RefError::EmptyBatch { shape: (1, 0) })?;
    let t = ndarray::ArrayView2::from_shape((1, targets.len()), targets)
        .map_err(|_| RefError::EmptyBatch { shape: (1, 0) })?;
    let r = evaluate(s, t, opts)?;
    Ok(r.per_sample[0].map(|v| v / 100.0))
}

/// mAP@class and mAP@sample with the AP of every class and every sample (all on the 0-100 scale).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MapReport {
    /// Mean AP over the classes with a positive; `None` when no class has one.
    pub map_class: Option<f64>,
    /// Mean AP over the samples with a positive; `None` when no sample has one.
    pub map_sample: Option<f64>,
    /// AP x 100 of every class (`None`: skipped, no positive).
    pub per_class: Vec<Option<f64>>,
    /// AP x 100 of every sample (`None`: skipped, no positive).
    pub per_sample: Vec<Option<f64>>,
}

fn mean(aps: &[Option<f64>]) -> Option<f64> {
    let kept: Vec<f64> = aps.iter().flatten().copied().collect();
    (!kept.is_empty()).then(|| kept.iter().sum::<f64>() / kept.len() as f64)
}

/// AP x 100 of every line (of length `len`) of a row-major matrix, in parallel.
fn per_line(scores: &[f64], targets: &[i8], len: usize, opts: ApOptions) -> Vec<Option<f64>> {
    scores
        .par_chunks(len)
        .zip(targets.par_chunks(len))
        .map_init(Vec::new, |keys, (s, t)| ap_with(s, t, opts, keys).map(|ap| 100.0 * ap))
        .collect()
}

/// Evaluates a score matrix (samples x classes) against its targets (1, 0, -1).
pub fn evaluate(scores: ArrayView2<f64>, targets: ArrayView2<f64>, opts: ApOptions) -> Result<MapReport, RefError> {
    if scores.dim() != targets.dim() {
        return Err(RefError::ShapeMismatch { logits: scores.dim(), targets: targets.dim() });
    }
    check::finite("scores", scores)?;
    let labels = check::Labels::new(targets)?;
    let (rows, cols) = scores.dim();
    let s = scores.as_standard_layout();
    let s = s.as_slice().expect("standard layout");
    let y = labels.y.as_slice().expect("standard layout");
    let per_sample = per_line(s, y, cols, opts);
    let mut st = vec![0.0; rows * cols];
    let mut yt = vec![0i8; rows * cols];
    transpose(s, rows, cols, &mut st);
    transpose(y, rows, cols, &mut yt);
    let per_class = per_line(&st, &yt, rows, opts);
    Ok(MapReport { map_class: mean(&per_class), map_sample: mean(&per_sample), per_class, per_sample })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descending_key_orders_scores_descending() {
        let xs = [f64::MAX, 3.0, 0.5, 0.0, -0.0, -1e-300, -2.0, f64::MIN];
        for w in xs.windows(2) {
            assert!(descending_key(w[0]) <= descending_key(w[1]), "{w:?}");
        }
        assert_eq!(descending_key(0.0), descending_key(-0.0));
    }
}
