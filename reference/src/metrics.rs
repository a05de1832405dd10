//! Average precision and mAP@class / mAP@sample.
//!
//! AP of one score vector: entries with target -1 are dropped; a vector without a positive is skipped
//! (`None`); entries are ranked by descending score; AP = mean over the positives of the precision at
//! the positive's rank. Ties follow [`Ties`]: `grouped` (tied scores form one threshold: every positive of
//! a tied group gets the precision after the whole group; order-independent) or `index` (stable: ties
//! ranked by position). The two agree when there are no ties.
//!
//! Only the positives are sorted (they become the vector's thresholds); each negative is counted into the
//! first threshold it ranks at or above. In `grouped` mode a negative is compared with every threshold
//! when there are few, and otherwise placed by a bucket table over the thresholds' score range: one table
//! load and a comparison or two, with a binary search inside a crowded bucket when scores are skewed.
//! O((P + N) log P) worst case per vector; vectors in parallel.

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

/// The score of a [`descending_key`] (-0.0 comes back as 0.0).
#[inline]
fn score_of_key(key: u64) -> f64 {
    let ascending = !key;
    f64::from_bits(if ascending >> 63 == 1 { ascending & !(1 << 63) } else { !ascending })
}

fn composite(key: u64, position: usize) -> u128 {
    (key as u128) << 32 | position as u128
}

/// Up to this many distinct thresholds, `grouped` mode compares a score with each instead of using a
/// bucket table.
const LINEAR_THRESHOLDS: usize = 8;

/// Buckets per distinct threshold in the `grouped` search table.
const BUCKETS_PER_THRESHOLD: usize = 2;

/// The thresholds of one vector's positives in rank order: in `grouped` mode the distinct scores
/// (descending) with their positive counts and a bucket table; in `index` mode every positive's
/// (key, position) composite, count 1.
#[derive(Default, Clone)]
struct Thresholds {
    /// Grouped mode's input: the positives' keys.
    keys: Vec<u64>,
    /// Distinct scores, descending, then two -inf sentinels.
    scores: Vec<f64>,
    counts: Vec<u32>,
    /// `table[b]`: the first threshold whose bucket is `b` or later (`buckets + 1` entries; empty when
    /// there are at most [`LINEAR_THRESHOLDS`] thresholds).
    table: Vec<u32>,
    top: f64,
    buckets: usize,
    /// Buckets per unit of score below `top` (0: one bucket holds everything).
    scale: f64,
    index: Vec<u128>,
}

impl Thresholds {
    /// From the positives' composites (any order; sorted here).
    fn build(positives: Vec<u128>, ties: Ties) -> Thresholds {
        let mut th = Thresholds { index: positives, ..Default::default() };
        if ties == Ties::Grouped {
            th.keys.extend(th.index.drain(..).map(|c| (c >> 32) as u64));
            th.rebuild_grouped();
        } else {
            th.index.sort_unstable();
        }
        th
    }

    /// Grouped mode: rebuilds in place from the positives' keys left in `keys` (reusing every buffer).
    fn rebuild_grouped(&mut self) {
        self.keys.sort_unstable();
        self.scores.clear();
        self.counts.clear();
        self.table.clear();
        self.index.clear();
        let mut last = None;
        for &key in &self.keys {
            if last == Some(key) {
                *self.counts.last_mut().expect("a group") += 1;
            } else {
                self.scores.push(score_of_key(key));
                self.counts.push(1);
                last = Some(key);
            }
        }
        let m = self.scores.len();
        self.scores.extend([f64::NEG_INFINITY; 2]);
        if m <= LINEAR_THRESHOLDS {
            return;
        }
        let (top, bottom) = (self.scores[0], self.scores[m - 1]);
        let buckets = BUCKETS_PER_THRESHOLD * m;
        let span = top - bottom;
        self.top = top;
        self.buckets = buckets;
        // The thresholds are distinct, so span > 0; a zero scale (a span that overflows) puts everything in
        // bucket 0.
        self.scale = if span.is_finite() { buckets as f64 / span } else { 0.0 };
        let mut i = 0;
        for b in 0..=buckets {
            while i < m && self.bucket(self.scores[i]) < b {
                i += 1;
            }
            self.table.push(i as u32);
        }
    }

    /// The bucket of a score: non-decreasing as the score decreases, so thresholds in earlier buckets
    /// outrank it and thresholds in later buckets rank below it. The position below `top` is clamped to
    /// [0, last bucket] (NaN, from infinity times a zero scale, goes to 0) and rounded to an integer by
    /// adding 2^52 and reading the low mantissa bits: monotone, branch-free.
    #[inline]
    fn bucket(&self, score: f64) -> usize {
        let f = ((self.top - score) * self.scale).max(0.0).min((self.buckets - 1) as f64);
        (f + 4_503_599_627_370_496.0).to_bits() as u32 as usize
    }

    fn len(&self) -> usize {
        self.counts.len().max(self.index.len())
    }

    /// Grouped mode: the first threshold a negative with this score counts towards, i.e. the number of
    /// thresholds with a strictly higher score.
    ///
    /// Thresholds before `table[b]` outrank the score and those after its bucket rank below it, so only
    /// the bucket's own thresholds need comparing. The first two are compared without branching (the
    /// scores end in two -inf sentinels, and a threshold of a later bucket never compares higher); the
    /// rest of a crowded bucket is binary-searched.
    #[inline]
    fn slot_grouped(&self, score: f64) -> usize {
        if self.table.is_empty() {
            // Few thresholds: count them all.
            return self.scores[..self.counts.len()].iter().map(|t| (*t > score) as usize).sum();
        }
        let b = self.bucket(score);
        let lo = self.table[b] as usize;
        let second = self.scores[lo + 1] > score;
        let slot = lo + (self.scores[lo] > score) as usize + second as usize;
        let hi = self.table[b + 1] as usize;
        if second && slot < hi {
            return slot + self.scores[slot..hi].partition_point(|t| *t > score);
        }
        slot
    }

    /// Index mode: the first threshold a negative at (key, position) counts towards: the number of
    /// positives ranked before it ((key, position) order).
    fn slot_index(&self, key: u64, position: usize) -> usize {
        let c = composite(key, position);
        self.index.partition_point(|u| *u < c)
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
            self.counts.iter().enumerate().for_each(|(j, n)| step(j, *n));
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

/// Reusable buffers of one row's AP. The entry buffers keep the row's length; `np` and `nn` say how
/// many entries of the last scanned row they hold.
#[derive(Default)]
struct RowScratch {
    th: Thresholds,
    /// Columns of the row's positives.
    pos: Vec<u32>,
    np: usize,
    /// Scores and columns of the row's negatives.
    neg: Vec<f64>,
    neg_cols: Vec<u32>,
    nn: usize,
    bucket: Vec<u32>,
}

impl RowScratch {
    fn positives(&self) -> &[u32] {
        &self.pos[..self.np]
    }
    fn negatives(&self) -> (&[f64], &[u32]) {
        (&self.neg[..self.nn], &self.neg_cols[..self.nn])
    }
}

/// Scans one row: on a bad entry returns its column and error; otherwise leaves the row's positives and
/// negatives in `b`.
/// Branch-free per entry (labels are random; branches on them would mispredict half the time).
#[inline]
fn scan_row(scores: &[f64], targets: &[f64], row: usize, b: &mut RowScratch) -> Result<(), (usize, RefError)> {
    let n = scores.len();
    if b.pos.len() != n {
        b.pos.resize(n, 0);
        b.neg.resize(n, 0.0);
        b.neg_cols.resize(n, 0);
    }
    let (pos, neg, neg_cols) = (&mut b.pos[..n], &mut b.neg[..n], &mut b.neg_cols[..n]);
    let (mut np, mut nn, mut bad) = (0, 0, false);
    for (col, (&v, &l)) in scores.iter().zip(targets).enumerate() {
        bad |= !v.is_finite() | ((l != 1.0) & (l != 0.0) & (l != -1.0));
        pos[np] = col as u32;
        np += (l == 1.0) as usize;
        neg[nn] = v;
        neg_cols[nn] = col as u32;
        nn += (l == 0.0) as usize;
    }
    (b.np, b.nn) = (np, nn);
    if !bad {
        return Ok(());
    }
    for (col, (&v, &l)) in scores.iter().zip(targets).enumerate() {
        if !v.is_finite() {
            return Err((col, RefError::NonFinite { what: "scores", row, col, value: v }));
        }
        if l != 1.0 && l != 0.0 && l != -1.0 {
            return Err((col, RefError::BadLabel { row, col, value: l }));
        }
    }
    unreachable!("a bad entry was flagged")
}

/// AP of a scanned row (see [`scan_row`]).
fn ap_of_row(scores: &[f64], opts: ApOptions, b: &mut RowScratch) -> Option<f64> {
    if b.np == 0 {
        return None;
    }
    if opts.ties == Ties::Grouped {
        b.th.keys.clear();
        b.th.keys.extend(b.pos[..b.np].iter().map(|&c| descending_key(scores[c as usize])));
        b.th.rebuild_grouped();
    } else {
        b.th.index.clear();
        b.th.index.extend(b.pos[..b.np].iter().map(|&c| composite(descending_key(scores[c as usize]), c as usize)));
        b.th.index.sort_unstable();
        b.th.counts.clear();
    }
    b.bucket.clear();
    b.bucket.resize(b.th.len() + 1, 0);
    if opts.ties == Ties::Grouped {
        for &v in &b.neg[..b.nn] {
            b.bucket[b.th.slot_grouped(v)] += 1;
        }
    } else {
        for (&v, &col) in b.neg[..b.nn].iter().zip(&b.neg_cols[..b.nn]) {
            b.bucket[b.th.slot_index(descending_key(v), col as usize)] += 1;
        }
    }
    b.th.ap(&b.bucket, opts.denominator)
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

/// What pass 1 keeps of one row range: its first bad entry, every class's positives, and every class's
/// negatives (scores, and rows for `index` ties) in one column-major buffer with `capacity` slots per
/// class, `filled` of them used.
struct RangePass {
    error: Option<(usize, RefError)>,
    positives: Vec<Vec<u128>>,
    capacity: usize,
    filled: Vec<usize>,
    neg_scores: Vec<f64>,
    neg_rows: Vec<u32>,
}

impl RangePass {
    fn new(cols: usize, capacity: usize, ties: Ties) -> RangePass {
        // Zeroed allocations: pages are only touched as negatives arrive.
        let rows = if ties == Ties::Index { cols * capacity } else { 0 };
        RangePass {
            error: None,
            positives: vec![Vec::new(); cols],
            capacity,
            filled: vec![0; cols],
            neg_scores: vec![0.0; cols * capacity],
            neg_rows: vec![0; rows],
        }
    }

    /// Files a scanned row's entries: positives as class thresholds, negatives into their class's buffer.
    fn file_row(&mut self, scores: &[f64], row: usize, r: usize, b: &RowScratch) {
        for &col in b.positives() {
            self.positives[col as usize].push(composite(descending_key(scores[col as usize]), row));
        }
        let keep_rows = !self.neg_rows.is_empty();
        let (neg, neg_cols) = b.negatives();
        for (&v, &j) in neg.iter().zip(neg_cols) {
            let j = j as usize;
            let at = j * self.capacity + self.filled[j];
            self.neg_scores[at] = v;
            if keep_rows {
                self.neg_rows[at] = r as u32;
            }
            self.filled[j] += 1;
        }
    }

    /// Class `j`'s negatives: scores and rows within the range.
    fn negatives(&self, j: usize) -> (&[f64], &[u32]) {
        let at = j * self.capacity;
        let rows = if self.neg_rows.is_empty() { &[][..] } else { &self.neg_rows[at..at + self.filled[j]] };
        (&self.neg_scores[at..at + self.filled[j]], rows)
    }
}

/// Evaluates a score matrix (samples x classes) against its targets (1, 0, -1).
///
/// No transposition of the inputs and no full sort. Pass 1 (row-major, parallel over row ranges)
/// validates the inputs, computes every sample's AP and files every entry under its class: positives as
/// thresholds, negatives into a per-class buffer (extra memory: 8 bytes per negative, 12 with `index`
/// ties). Pass 2 (parallel over classes) sorts each class's positives into thresholds and counts its
/// negatives into them. Errors name the first bad entry in row-major order.
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

    // Pass 1: validation, sample AP, entries filed by class.
    let mut per_sample = vec![None; rows];
    let ranges: Vec<RangePass> = per_sample
        .par_chunks_mut(range)
        .zip(s.par_chunks(step).zip(t.par_chunks(step)))
        .enumerate()
        .map(|(c, (out, (sc, tc)))| {
            let mut pass = RangePass::new(cols, out.len(), opts.ties);
            let mut scratch = RowScratch::default();
            for (r, (srow, trow)) in sc.chunks(cols).zip(tc.chunks(cols)).enumerate() {
                let row = c * range + r;
                if let Err((col, e)) = scan_row(srow, trow, row, &mut scratch) {
                    pass.error = Some((row * cols + col, e));
                    break;
                }
                pass.file_row(srow, row, r, &scratch);
                out[r] = ap_of_row(srow, opts, &mut scratch).map(|ap| 100.0 * ap);
            }
            pass
        })
        .collect();
    if let Some((_, e)) = ranges.iter().filter_map(|p| p.error.clone()).min_by_key(|(at, _)| *at) {
        return Err(e);
    }

    // Pass 2: per class, thresholds from its positives and its negatives counted into them.
    let per_class: Vec<Option<f64>> = (0..cols)
        .into_par_iter()
        .map(|j| {
            let positives = ranges.iter().flat_map(|p| p.positives[j].iter().copied()).collect();
            let th = Thresholds::build(positives, opts.ties);
            if th.len() == 0 {
                return None;
            }
            let mut count = vec![0u32; th.len() + 1];
            for (c, pass) in ranges.iter().enumerate() {
                let (neg, at) = pass.negatives(j);
                if opts.ties == Ties::Grouped {
                    neg.iter().for_each(|&v| count[th.slot_grouped(v)] += 1);
                } else {
                    for (&v, &r) in neg.iter().zip(at) {
                        count[th.slot_index(descending_key(v), c * range + r as usize)] += 1;
                    }
                }
            }
            th.ap(&count, opts.denominator).map(|ap| 100.0 * ap)
        })
        .collect();
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

    #[test]
    fn score_of_key_inverts_descending_key() {
        for x in [f64::MAX, 3.0, 0.5, 5e-324, 0.0, -1e-300, -2.0, f64::MIN, f64::MIN_POSITIVE] {
            assert_eq!(score_of_key(descending_key(x)).to_bits(), x.to_bits(), "{x}");
        }
        assert_eq!(score_of_key(descending_key(-0.0)).to_bits(), 0.0f64.to_bits());
    }

    /// The grouped bucket table against its definition (`table[b]` = the number of thresholds whose bucket
    /// lies before `b`), and its spread: evenly spaced thresholds get a bucket each, the top one the first
    /// and the bottom one the last, so a lookup compares a score with at most one or two of them.
    #[test]
    fn the_bucket_table_follows_its_definition_and_spreads_even_thresholds() {
        let m = 100;
        let positives = (0..m).map(|k| composite(descending_key(10.0 + k as f64), k)).collect();
        let th = Thresholds::build(positives, Ties::Grouped);
        assert_eq!(th.counts, vec![1; m]);
        assert_eq!(th.buckets, BUCKETS_PER_THRESHOLD * m);
        assert_eq!(th.table.len(), th.buckets + 1);
        for b in 0..=th.buckets {
            let before = th.scores[..m].iter().filter(|s| th.bucket(**s) < b).count();
            assert_eq!(th.table[b] as usize, before, "table[{b}]");
        }
        assert_eq!(th.bucket(th.scores[0]), 0);
        assert_eq!(th.bucket(th.scores[m - 1]), th.buckets - 1);
        let crowded = (0..th.buckets).map(|b| th.table[b + 1] - th.table[b]).max();
        assert_eq!(crowded, Some(1), "evenly spaced thresholds share a bucket");
    }
}
