//! The thresholds of one vector (its positives in rank order) and the placement of a negative among them.

use super::elements::Score;
use super::RELEASE_EPSILON;
use twoway_spec::{Denominator, Ties};

/// Scores mapped to integers whose ascending order is the scores' descending order (-0.0 equals 0.0).
#[inline]
pub(super) fn descending_key(score: f64) -> u64 {
    let bits = (score + 0.0).to_bits();
    let ascending = if bits >> 63 == 1 { !bits } else { bits | (1 << 63) };
    !ascending
}

/// The score of a [`descending_key`] (-0.0 comes back as 0.0).
#[inline]
pub(super) fn score_of_key(key: u64) -> f64 {
    let ascending = !key;
    f64::from_bits(if ascending >> 63 == 1 { ascending & !(1 << 63) } else { !ascending })
}

/// A key and a position (a column or a row) in one integer ordered by key, then position.
#[inline]
pub(super) fn composite(key: u64, position: usize) -> u128 {
    (key as u128) << 32 | position as u128
}

/// Buckets per distinct threshold in the `grouped` bucket table.
pub(super) const BUCKETS_PER_THRESHOLD: usize = 8;

/// The bucket of `score` in a table whose first bucket starts at `top`, with `scale` buckets per unit of
/// score and `last` the last bucket: non-decreasing as the score decreases. The position below `top` is
/// clamped to [0, last] (NaN, from 0 or infinity times an infinite or zero scale, goes to 0) and rounded
/// to an integer by adding 2^52 and reading the low mantissa bits: monotone, branch-free, and the same
/// computation wherever it runs (scalar or vectorised).
#[inline(always)]
fn bucket_of(top: f64, scale: f64, last: f64, score: f64) -> u32 {
    let f = ((top - score) * scale).max(0.0).min(last);
    (f + 4_503_599_627_370_496.0).to_bits() as u32
}

/// The thresholds of one vector's positives in rank order: in `grouped` mode the distinct scores
/// (descending) with their positive counts and a bucket table; in `index` mode every positive's
/// (key, position) composite, count 1.
#[derive(Default, Clone)]
pub(super) struct Thresholds {
    /// Grouped mode's input: the positives' keys.
    pub(super) keys: Vec<u64>,
    /// Distinct scores, descending, then two -inf sentinels.
    pub(super) scores: Vec<f64>,
    pub(super) counts: Vec<u32>,
    /// `table[b]`: the first threshold whose bucket is `b` or later (`buckets + 1` entries).
    pub(super) table: Vec<u32>,
    /// Each threshold's bucket (non-decreasing).
    pub(super) homes: Vec<u32>,
    top: f64,
    pub(super) buckets: usize,
    /// Buckets per unit of score below `top`.
    scale: f64,
    /// Index mode: the positives' composites, ascending.
    pub(super) index: Vec<u128>,
}

impl Thresholds {
    /// From the positives' composites (`total` of them, any order; sorted here), with the bucket table in
    /// grouped mode.
    pub(super) fn build(composites: impl Iterator<Item = u128>, total: usize, ties: Ties) -> Thresholds {
        let mut th = Thresholds::default();
        if ties == Ties::Grouped {
            th.keys.reserve_exact(total);
            th.keys.extend(composites.map(|c| (c >> 32) as u64));
            th.group();
            th.build_table();
        } else {
            th.index.reserve_exact(total);
            th.index.extend(composites);
            th.index.sort_unstable();
        }
        th
    }

    /// Grouped mode: the distinct scores and their counts from the positives' keys left in `keys`
    /// (reusing every buffer); the table is left empty (see [`Thresholds::build_table`]).
    pub(super) fn group(&mut self) {
        self.keys.sort_unstable();
        self.scores.clear();
        self.counts.clear();
        self.table.clear();
        self.homes.clear();
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
        self.scores.extend([f64::NEG_INFINITY; 2]);
    }

    /// Grouped mode: the bucket table over the grouped thresholds ([`BUCKETS_PER_THRESHOLD`] buckets
    /// each); none without a threshold.
    pub(super) fn build_table(&mut self) {
        let m = self.counts.len();
        if m == 0 {
            return;
        }
        let (top, bottom) = (self.scores[0], self.scores[m - 1]);
        let buckets = BUCKETS_PER_THRESHOLD * m;
        let span = top - bottom;
        self.top = top;
        self.buckets = buckets;
        // One threshold (span 0) makes the scale infinite, which still splits the scores at the
        // threshold: at or above it bucket 0, below it the last bucket. A span that overflows gets a zero
        // scale, which puts everything in bucket 0.
        self.scale = if span.is_finite() { buckets as f64 / span } else { 0.0 };
        self.homes.clear();
        self.homes
            .extend(self.scores[..m].iter().map(|&score| bucket_of(top, self.scale, (buckets - 1) as f64, score)));
        // table[b] = the thresholds whose bucket lies before b: their count per bucket, summed up.
        self.table.clear();
        self.table.resize(buckets + 1, 0);
        for &b in &self.homes {
            self.table[b as usize + 1] += 1;
        }
        let mut before = 0;
        for t in &mut self.table {
            before += *t;
            *t = before;
        }
    }

    /// The bucket of a score ([`bucket_of`]): thresholds in earlier buckets outrank it and thresholds in
    /// later buckets rank below it.
    #[inline(always)]
    pub(super) fn bucket(&self, score: f64) -> usize {
        bucket_of(self.top, self.scale, (self.buckets - 1) as f64, score) as usize
    }

    pub(super) fn len(&self) -> usize {
        self.counts.len().max(self.index.len())
    }

    /// Grouped mode: the first threshold a negative with this score counts towards, i.e. the number of
    /// thresholds with a strictly higher score.
    ///
    /// Thresholds before `table[b]` outrank the score and those after its bucket rank below it, so only
    /// the bucket's own thresholds need comparing. The first two are compared without branching (the
    /// scores end in two -inf sentinels, and a threshold of a later bucket never compares higher); the
    /// rest of a crowded bucket is binary-searched.
    #[inline(always)]
    pub(super) fn slot_grouped(&self, score: f64) -> usize {
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

    /// Grouped mode: adds to `count` (negatives per slot) the negatives tallied by bucket in `tally`
    /// (twice the negatives in each bucket, plus 1 in the buckets that hold a threshold, whose negatives
    /// are placed one by one elsewhere). The buckets strictly between the homes of thresholds i - 1 and i
    /// send their negatives to slot i (slot 0: the buckets before the first home; the last slot: those
    /// after the last home).
    pub(super) fn add_tally(&self, tally: &[u32], count: &mut [u32]) {
        let mut from = 0;
        for (slot, &home) in self.homes.iter().chain([&(self.buckets as u32)]).enumerate() {
            let run = &tally[from.min(home as usize)..home as usize];
            count[slot] += (run.iter().map(|&h| h as u64).sum::<u64>() >> 1) as u32;
            from = home as usize + 1;
        }
    }

    /// Index mode: the first threshold a negative at (key, position) counts towards: the number of
    /// positives ranked before it ((key, position) order).
    #[inline(always)]
    pub(super) fn slot_index(&self, key: u64, position: usize) -> usize {
        let c = composite(key, position);
        self.index.partition_point(|u| *u < c)
    }

    /// AP from the negatives counted per slot (`bucket`, one longer than the thresholds).
    pub(super) fn ap(&self, bucket: &[u32], denominator: Denominator) -> Option<f64> {
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

/// One vector's negatives counted per slot as they come, a part at a time.
///
/// In `grouped` mode a negative is first counted in its bucket only: `tally[b]` holds twice the
/// negatives in bucket `b`, plus 1 when the bucket holds a threshold. All the negatives of a bucket
/// without a threshold share one slot and are moved there bucket by bucket at the end
/// ([`Thresholds::add_tally`]); those in a bucket with a threshold (kept in `near`, about one in
/// [`BUCKETS_PER_THRESHOLD`]) are placed one by one at the end of each call. No branch depends on a score,
/// and the buckets are
/// computed a block at a time (vectorised).
pub(super) struct Counter {
    count: Vec<u32>,
    tally: Vec<u32>,
    near: Vec<f64>,
}

impl Counter {
    pub(super) fn new(th: &Thresholds) -> Counter {
        let mut tally = vec![0; th.homes.len().min(1) * th.buckets];
        for &b in &th.homes {
            tally[b as usize] = 1;
        }
        Counter { count: vec![0; th.len() + 1], tally, near: Vec::new() }
    }

    /// Grouped mode: counts `negatives`.
    #[inline(always)]
    pub(super) fn add_grouped<S: Score>(&mut self, th: &Thresholds, negatives: &[S]) {
        const BLOCK: usize = 256;
        let mut buckets = [0u32; BLOCK];
        let mut n = 0;
        self.near.resize(negatives.len(), 0.0);
        for block in negatives.chunks(BLOCK) {
            for (b, &v) in buckets.iter_mut().zip(block) {
                *b = th.bucket(v.widen()) as u32;
            }
            for (&b, &v) in buckets.iter().zip(block) {
                let h = self.tally[b as usize];
                self.tally[b as usize] = h + 2;
                self.near[n] = v.widen();
                n += (h & 1) as usize;
            }
        }
        // Placed per call (a tile of rows) rather than at the end: `near` stays a tile's size, not an
        // eighth of the column.
        for &v in &self.near[..n] {
            self.count[th.slot_grouped(v)] += 1;
        }
    }

    /// Index mode: counts `negatives` at `positions`.
    #[inline(always)]
    pub(super) fn add_index<S: Score>(&mut self, th: &Thresholds, negatives: &[S], positions: &[u32]) {
        for (&v, &at) in negatives.iter().zip(positions) {
            self.count[th.slot_index(descending_key(v.widen()), at as usize)] += 1;
        }
    }

    /// The negatives per slot.
    pub(super) fn finish(mut self, th: &Thresholds) -> Vec<u32> {
        if !self.tally.is_empty() {
            th.add_tally(&self.tally, &mut self.count);
        }
        self.count
    }
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
        let positives: Vec<u128> = (0..m).map(|k| composite(descending_key(10.0 + k as f64), k)).collect();
        let th = Thresholds::build(positives.iter().copied(), m, Ties::Grouped);
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
