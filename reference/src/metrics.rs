//! Average precision and mAP@class / mAP@sample.
//!
//! AP of one score vector: entries with target -1 are dropped; a vector without a positive is skipped
//! (`None`); entries are ranked by descending score; AP = mean over the positives of the precision at
//! the positive's rank. Ties follow [`Ties`]: `grouped` (tied scores form one threshold: every positive of
//! a tied group gets the precision after the whole group; order-independent) or `index` (stable: ties
//! ranked by position). The two agree when there are no ties. O(n log n) per vector; vectors in parallel.

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

/// The thresholds of one vector's positives, sorted in rank order: in `grouped` mode the distinct keys
/// with their positive counts; in `index` mode every positive's (key, position) composite, count 1.
#[derive(Default, Clone)]
struct Thresholds {
    grouped: Vec<(u64, u32)>,
    /// The keys of `grouped`, contiguous, for the batched search.
    keys: Vec<u64>,
    index: Vec<u128>,
}

/// Negatives searched together by [`Thresholds::slots_grouped`].
const LANES: usize = 16;

fn composite(key: u64, position: usize) -> u128 {
    (key as u128) << 32 | position as u128
}

impl Thresholds {
    /// From the positives' composites (any order; sorted here).
    fn build(positives: Vec<u128>, ties: Ties) -> Thresholds {
        let mut th = Thresholds { index: positives, ..Default::default() };
        th.rebuild(ties);
        th
    }

    /// Rebuilds in place from the composites left in `index` (reusing every buffer).
    fn rebuild(&mut self, ties: Ties) {
        self.index.sort_unstable();
        self.grouped.clear();
        self.keys.clear();
        if ties == Ties::Grouped {
            for &c in &self.index {
                let k = (c >> 32) as u64;
                match self.grouped.last_mut() {
                    Some((u, n)) if *u == k => *n += 1,
                    _ => self.grouped.push((k, 1)),
                }
            }
            self.keys.extend(self.grouped.iter().map(|g| g.0));
            self.index.clear();
        }
    }

    fn len(&self) -> usize {
        self.grouped.len().max(self.index.len())
    }

    /// The first threshold a negative at (key, position) counts towards: it counts at every threshold it is
    /// ranked at or above (grouped: key <= threshold key; index: (key, position) < the positive's).
    fn slot(&self, key: u64, position: usize) -> usize {
        if self.index.is_empty() {
            self.grouped.partition_point(|(u, _)| *u < key)
        } else {
            let c = composite(key, position);
            self.index.partition_point(|u| *u < c)
        }
    }

    /// Grouped mode: counts the negatives with these keys into `counts`, searching up to [`LANES`] keys in
    /// lockstep (branchless), so that their memory loads overlap instead of queueing one search after
    /// another.
    fn count_grouped(&self, keys: &[u64], counts: &mut [u32]) {
        let a = &self.keys;
        let n = a.len();
        let mut base = [0usize; LANES];
        for chunk in keys.chunks(LANES) {
            let m = chunk.len();
            base[..m].fill(0);
            let mut len = n;
            while len > 1 {
                let half = len / 2;
                for i in 0..m {
                    let b = base[i];
                    base[i] = if a[b + half] < chunk[i] { b + half } else { b };
                }
                len -= half;
            }
            for i in 0..m {
                counts[base[i] + (a[base[i]] < chunk[i]) as usize] += 1;
            }
        }
    }

    /// AP from the negatives counted per slot (`bucket`, one longer than the thresholds).
    fn ap(&self, bucket: &[u32], denominator: Denominator) -> Option<f64> {
        let (mut hits, mut negs, mut sum) = (0u64, 0u64, 0.0);
        let mut step = |j: usize, n: u32| {
            hits += n as u64;
            negs += bucket[j] as u64;
            sum += n as f64 * (hits as f64 / (hits + negs) as f64);
        };
        if self.index.is_empty() {
            self.grouped.iter().enumerate().for_each(|(j, (_, n))| step(j, *n));
        } else {
            (0..self.index.len()).for_each(|j| step(j, 1));
        }
        if hits == 0 {
            return None;
        }
        Some(match denominator {
            Denominator::Exact => sum / hits as f64,
            Denominator::Release => sum / (hits as f64 + RELEASE_EPSILON),
        })
    }
}

/// AP of one contiguous vector (a row): thresholds from its positives, its negatives counted into them.
/// Only the positives are sorted; each negative is placed by binary search: O((P + N) log P).
fn ap_of_line(scores: &[f64], targets: &[f64], opts: ApOptions, b: &mut LineScratch) -> Option<f64> {
    b.th.index.clear();
    b.th.index.extend(
        scores
            .iter()
            .zip(targets)
            .enumerate()
            .filter(|(_, (_, t))| **t == 1.0)
            .map(|(i, (s, _))| composite(descending_key(*s), i)),
    );
    if b.th.index.is_empty() {
        return None;
    }
    b.th.rebuild(opts.ties);
    b.bucket.clear();
    b.bucket.resize(b.th.len() + 1, 0);
    if opts.ties == Ties::Grouped {
        b.neg.clear();
        b.neg.extend(scores.iter().zip(targets).filter(|(_, t)| **t == 0.0).map(|(s, _)| descending_key(*s)));
        b.th.count_grouped(&b.neg, &mut b.bucket);
    } else {
        for (i, (s, t)) in scores.iter().zip(targets).enumerate() {
            if *t == 0.0 {
                b.bucket[b.th.slot(descending_key(*s), i)] += 1;
            }
        }
    }
    b.th.ap(&b.bucket, opts.denominator)
}

/// Reusable buffers of [`ap_of_line`].
#[derive(Default)]
struct LineScratch {
    th: Thresholds,
    neg: Vec<u64>,
    bucket: Vec<u32>,
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

/// Rows per parallel task: one contiguous range per thread (each task keeps per-class state, so fewer,
/// larger tasks are cheaper).
fn chunk_rows(rows: usize) -> usize {
    rows.div_ceil(rayon::current_num_threads().max(1)).max(1)
}

/// Rows per cache block of the class pass: the block's scores and targets stay in cache while every class
/// walks down its column.
const BLOCK_BYTES: usize = 512 * 1024;

type Pass1 = (Option<(usize, RefError)>, Vec<Vec<u128>>);

/// Evaluates a score matrix (samples x classes) against its targets (1, 0, -1).
///
/// No transposition and no full sort. Pass 1 (row-major, parallel over row ranges) validates the inputs,
/// computes every sample's AP and collects every class's positives. Each class's positives are sorted
/// into thresholds. Pass 2 (parallel over row ranges, in cache-sized row blocks, column by column)
/// counts every negative into its class's thresholds by binary search. Errors name the first bad entry in
/// row-major order.
pub fn evaluate(scores: ArrayView2<f64>, targets: ArrayView2<f64>, opts: ApOptions) -> Result<MapReport, RefError> {
    if scores.dim() != targets.dim() {
        return Err(RefError::ShapeMismatch { logits: scores.dim(), targets: targets.dim() });
    }
    let (rows, cols) = scores.dim();
    if rows == 0 || cols == 0 {
        return Err(RefError::EmptyBatch { shape: (rows, cols) });
    }
    let s = scores.as_standard_layout();
    let t = targets.as_standard_layout();
    let (s, t) = (s.as_slice().expect("standard layout"), t.as_slice().expect("standard layout"));
    let range = chunk_rows(rows);
    let step = range * cols;

    // Pass 1: validation, sample AP, class positives.
    let mut per_sample = vec![None; rows];
    let (error, positives): Pass1 = per_sample
        .par_chunks_mut(range)
        .zip(s.par_chunks(step).zip(t.par_chunks(step)))
        .enumerate()
        .map(|(c, (out, (sc, tc)))| {
            let mut pos = vec![Vec::new(); cols];
            let mut scratch = LineScratch::default();
            for (r, (srow, trow)) in sc.chunks(cols).zip(tc.chunks(cols)).enumerate() {
                let row = c * range + r;
                for (col, (v, l)) in srow.iter().zip(trow).enumerate() {
                    if !v.is_finite() {
                        return (
                            Some((row * cols + col, RefError::NonFinite { what: "scores", row, col, value: *v })),
                            pos,
                        );
                    }
                    if *l == 1.0 {
                        pos[col].push(composite(descending_key(*v), row));
                    } else if *l != 0.0 && *l != -1.0 {
                        return (Some((row * cols + col, RefError::BadLabel { row, col, value: *l })), pos);
                    }
                }
                out[r] = ap_of_line(srow, trow, opts, &mut scratch).map(|ap| 100.0 * ap);
            }
            (None, pos)
        })
        .reduce(
            || (None, vec![Vec::new(); cols]),
            |(ea, mut pa), (eb, pb)| {
                let e = match (ea, eb) {
                    (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
                    (a, b) => a.or(b),
                };
                for (x, y) in pa.iter_mut().zip(pb) {
                    x.extend(y);
                }
                (e, pa)
            },
        );
    if let Some((_, e)) = error {
        return Err(e);
    }
    let classes: Vec<Thresholds> = positives.into_par_iter().map(|p| Thresholds::build(p, opts.ties)).collect();

    // Pass 2: negatives counted into their class's thresholds; per-range counts, summed.
    let block = (BLOCK_BYTES / (16 * cols)).max(1);
    let counts = s
        .par_chunks(step)
        .zip(t.par_chunks(step))
        .enumerate()
        .map(|(c, (sc, tc))| {
            let mut counts: Vec<Vec<u32>> = classes.iter().map(|th| vec![0u32; th.len() + 1]).collect();
            let n = sc.len() / cols;
            let mut keys = Vec::with_capacity(block);
            for r0 in (0..n).step_by(block) {
                let r1 = (r0 + block).min(n);
                for (j, (th, cnt)) in classes.iter().zip(counts.iter_mut()).enumerate() {
                    if th.len() == 0 {
                        continue;
                    }
                    if opts.ties == Ties::Grouped {
                        keys.clear();
                        keys.extend(
                            (r0..r1).filter(|r| tc[r * cols + j] == 0.0).map(|r| descending_key(sc[r * cols + j])),
                        );
                        th.count_grouped(&keys, cnt);
                    } else {
                        for r in r0..r1 {
                            if tc[r * cols + j] == 0.0 {
                                cnt[th.slot(descending_key(sc[r * cols + j]), c * range + r)] += 1;
                            }
                        }
                    }
                }
            }
            counts
        })
        .reduce_with(|mut a, b| {
            for (x, y) in a.iter_mut().zip(b) {
                x.iter_mut().zip(y).for_each(|(p, q)| *p += q);
            }
            a
        })
        .expect("at least one row");
    let per_class: Vec<Option<f64>> =
        classes.iter().zip(&counts).map(|(c, n)| c.ap(n, opts.denominator).map(|ap| 100.0 * ap)).collect();
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
