//! The sample side of mAP: one row's scan (validation, its negatives and positives) and its AP.

use super::elements::{Label, Score};
use super::thresholds::{composite, descending_key, Thresholds};
use super::ApOptions;
use crate::RefError;
use twoway_spec::Ties;

/// Up to this many distinct thresholds, a row's negatives are counted at or above each threshold in turn
/// (a vectorised comparison of the whole row) instead of being placed one by one.
const COUNTED_THRESHOLDS: usize = 32;

/// Reusable buffers of one row's scan and AP.
#[derive(Default)]
pub(super) struct RowScratch<S> {
    th: Thresholds,
    /// The row's scores where the entry is a negative, NaN elsewhere (NaN compares false).
    masked: Vec<S>,
    /// Columns of the row's positives.
    pub(super) pos: Vec<u32>,
    /// Scores and columns of the row's negatives (the placement path only).
    neg: Vec<f64>,
    neg_cols: Vec<u32>,
    /// Negatives per slot.
    bucket: Vec<u32>,
}

/// Scans one row: on a bad entry returns its column and error; otherwise leaves the row's masked
/// negatives and its positives' columns in `b`, and its negatives as bits in `negatives` (bit `k` of
/// word `c`: column `64 c + k`). Branch-free per entry (labels
/// are random; branches on them would mispredict half the time); positives are found through a bit mask
/// per 64 entries.
#[inline(always)]
pub(super) fn scan_row<S: Score, L: Label>(
    scores: &[S],
    targets: &[L],
    row: usize,
    b: &mut RowScratch<S>,
    negatives: &mut [u64],
) -> Result<(), (usize, RefError)> {
    let n = scores.len();
    b.masked.resize(n, S::NAN);
    let mut bad = false;
    for ((w, &v), &l) in b.masked.iter_mut().zip(scores).zip(targets) {
        bad |= !v.is_finite() | !l.is_valid();
        *w = if l.is_negative() { v } else { S::NAN };
    }
    if bad {
        for (col, (&v, &l)) in scores.iter().zip(targets).enumerate() {
            if !v.is_finite() {
                return Err((col, RefError::NonFinite { what: "scores", row, col, value: v.widen() }));
            }
            if !l.is_valid() {
                return Err((col, RefError::BadLabel { row, col, value: l.value() }));
            }
        }
        unreachable!("a bad entry was flagged")
    }
    b.pos.clear();
    for ((c, chunk), word) in targets.chunks(64).enumerate().zip(negatives) {
        let (mut mask, mut neg) = (0u64, 0u64);
        for (i, &l) in chunk.iter().enumerate() {
            mask |= (l.is_positive() as u64) << i;
            neg |= (l.is_negative() as u64) << i;
        }
        *word = neg;
        while mask != 0 {
            b.pos.push((c * 64 + mask.trailing_zeros() as usize) as u32);
            mask &= mask - 1;
        }
    }
    Ok(())
}

/// Moves a scanned row's negatives (scores and columns) into `neg` / `neg_cols`, in column order.
#[inline(always)]
fn compact_negatives<S: Score>(b: &mut RowScratch<S>) -> usize {
    let n = b.masked.len();
    b.neg.resize(n, 0.0);
    b.neg_cols.resize(n, 0);
    let mut nn = 0;
    for (col, &w) in b.masked.iter().enumerate() {
        b.neg[nn] = w.widen();
        b.neg_cols[nn] = col as u32;
        // NaN marks the entries that are not negatives.
        nn += !w.is_nan() as usize;
    }
    nn
}

/// AP of a scanned row (see [`scan_row`]).
#[inline(always)]
pub(super) fn ap_of_row<S: Score>(scores: &[S], opts: ApOptions, b: &mut RowScratch<S>) -> Option<f64> {
    if b.pos.is_empty() {
        return None;
    }
    b.bucket.clear();
    if opts.ties == Ties::Grouped {
        b.th.keys.clear();
        b.th.keys.extend(b.pos.iter().map(|&c| descending_key(scores[c as usize].widen())));
        b.th.group();
        let m = b.th.counts.len();
        b.bucket.resize(m + 1, 0);
        if m <= COUNTED_THRESHOLDS {
            let mut before = 0;
            for k in 0..m {
                let upto = S::count_at_or_above(&b.masked, S::narrow(b.th.scores[k]));
                b.bucket[k] = upto - before;
                before = upto;
            }
        } else {
            b.th.build_table();
            let nn = compact_negatives(b);
            for &v in &b.neg[..nn] {
                b.bucket[b.th.slot_grouped(v)] += 1;
            }
        }
    } else {
        b.th.index.clear();
        b.th.index.extend(b.pos.iter().map(|&c| composite(descending_key(scores[c as usize].widen()), c as usize)));
        b.th.index.sort_unstable();
        b.th.counts.clear();
        b.bucket.resize(b.th.len() + 1, 0);
        let nn = compact_negatives(b);
        for (&v, &col) in b.neg[..nn].iter().zip(&b.neg_cols[..nn]) {
            b.bucket[b.th.slot_index(descending_key(v), col as usize)] += 1;
        }
    }
    b.th.ap(&b.bucket, opts.denominator)
}
