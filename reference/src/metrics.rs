//! Average precision and mAP@class / mAP@sample.
//!
//! AP of one score vector: entries with target -1 are dropped; a vector without a positive is skipped
//! (`None`); entries are ranked by descending score; AP = mean over the positives of the precision at
//! the positive's rank. Ties follow [`Ties`]: `grouped` (tied scores form one threshold: every positive of
//! a tied group gets the precision after the whole group; order-independent) or `index` (stable: ties
//! ranked by position). The two agree when there are no ties.
//!
//! Only the positives are sorted (they become the vector's thresholds); each negative is counted into the
//! first threshold it ranks at or above. In `grouped` mode a sample's negatives are counted at or above
//! each threshold in turn when there are few thresholds (a vectorised comparison of the whole row), and
//! otherwise placed by a bucket table over the thresholds' score range: one table load and a comparison
//! or two, with a binary search inside a crowded bucket when scores are skewed. A class's negatives are
//! tallied by bucket first (see `classes`). O((P + N) log P) worst case per vector; vectors in parallel.

use crate::RefError;
use ndarray::ArrayView2;
use rayon::prelude::*;
use twoway_spec::{Denominator, Spec, Ties};

mod classes;
mod elements;
mod rows;
mod thresholds;
use classes::{class_aps, collect_positives};
pub use elements::{Label, Score};
use rows::{ap_of_row, scan_row, RowScratch};

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

/// What the main pass keeps of one row range: its first bad entry (as a row-major position) and every
/// class's positives.
struct RangePass {
    error: Option<(usize, RefError)>,
    positives: Vec<Vec<u32>>,
}

/// The main pass over a range of rows starting at `first`: validates them, computes their AP into `out`,
/// writes their negatives as bits into `negatives` (`cols.div_ceil(64)` words a row) and collects every
/// class's positives.
#[inline(always)]
fn pass_rows_any<S: Score, L: Label>(
    s: &[S],
    t: &[L],
    cols: usize,
    first: usize,
    opts: ApOptions,
    out: &mut [Option<f64>],
    negatives: &mut [u64],
) -> RangePass {
    let mut pass = RangePass { error: None, positives: vec![Vec::new(); cols] };
    let mut scratch = RowScratch::default();
    let words = cols.div_ceil(64);
    for (r, ((srow, trow), neg)) in s.chunks(cols).zip(t.chunks(cols)).zip(negatives.chunks_mut(words)).enumerate() {
        let row = first + r;
        if let Err((col, e)) = scan_row(srow, trow, row, &mut scratch, neg) {
            pass.error = Some((row * cols + col, e));
            break;
        }
        out[r] = ap_of_row(srow, opts, &mut scratch).map(|ap| 100.0 * ap);
        collect_positives(row, &scratch.pos, &mut pass.positives);
    }
    pass
}

/// [`pass_rows_any`] built for AVX2 and for AVX-512 (chosen at run time), where the scan and the
/// comparisons of whole rows run a vector of scores a step; the arithmetic is the same.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn pass_rows_avx2<S: Score, L: Label>(
    s: &[S],
    t: &[L],
    cols: usize,
    first: usize,
    opts: ApOptions,
    out: &mut [Option<f64>],
    negatives: &mut [u64],
) -> RangePass {
    pass_rows_any(s, t, cols, first, opts, out, negatives)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
fn pass_rows_avx512<S: Score, L: Label>(
    s: &[S],
    t: &[L],
    cols: usize,
    first: usize,
    opts: ApOptions,
    out: &mut [Option<f64>],
    negatives: &mut [u64],
) -> RangePass {
    pass_rows_any(s, t, cols, first, opts, out, negatives)
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    use std::arch::is_x86_feature_detected as has;
    has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512dq")
}

fn pass_rows<S: Score, L: Label>(
    s: &[S],
    t: &[L],
    cols: usize,
    first: usize,
    opts: ApOptions,
    out: &mut [Option<f64>],
    negatives: &mut [u64],
) -> RangePass {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU has the AVX-512 subsets the build enables, checked just above.
        return unsafe { pass_rows_avx512(s, t, cols, first, opts, out, negatives) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { pass_rows_avx2(s, t, cols, first, opts, out, negatives) };
    }
    pass_rows_any(s, t, cols, first, opts, out, negatives)
}

/// Evaluates a score matrix (samples x classes) against its targets (1, 0, -1).
pub fn evaluate(scores: ArrayView2<f64>, targets: ArrayView2<f64>, opts: ApOptions) -> Result<MapReport, RefError> {
    evaluate_as(scores, targets, opts)
}

/// [`evaluate`], reading the matrices in their own element types, without widening them: scores f64 or
/// f32, targets f64, f32 or i8 (see [`Score`] and [`Label`]). The results are those of the matrices
/// widened to f64.
///
/// No transposition of the inputs and no full sort. The main pass (row-major, parallel over row ranges)
/// validates the inputs, computes every sample's AP and collects every class's positives. The class pass
/// (parallel over blocks of classes) sorts each class's positives into thresholds and reads the block's
/// columns again, a tile of rows at a time, counting each negative into its class's thresholds. Extra
/// memory: 4 bytes per positive, and per thread a few tables per class of the block. Errors name the
/// first bad entry in row-major order.
pub fn evaluate_as<S: Score, L: Label>(
    scores: ArrayView2<S>,
    targets: ArrayView2<L>,
    opts: ApOptions,
) -> Result<MapReport, RefError> {
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

    let mut per_sample = vec![None; rows];
    let words = cols.div_ceil(64);
    let mut negatives = vec![0u64; rows * words];
    let ranges: Vec<RangePass> = per_sample
        .par_chunks_mut(range)
        .zip(negatives.par_chunks_mut(range * words))
        .zip(s.par_chunks(step).zip(t.par_chunks(step)))
        .enumerate()
        .map(|(c, ((out, neg), (sc, tc)))| pass_rows(sc, tc, cols, c * range, opts, out, neg))
        .collect();
    if let Some((_, e)) = ranges.iter().filter_map(|p| p.error.clone()).min_by_key(|(at, _)| *at) {
        return Err(e);
    }
    let positives: Vec<Vec<Vec<u32>>> = ranges.into_iter().map(|p| p.positives).collect();
    let per_class = class_aps(s, &negatives, cols, &positives, opts);
    Ok(MapReport { map_class: mean(&per_class), map_sample: mean(&per_sample), per_class, per_sample })
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::testing::Rng;

    type Pass<'a> = &'a dyn Fn(&mut [Option<f64>], &mut [u64]) -> RangePass;

    /// What a build of the main pass leaves: the sample APs (as bits), the negatives' bits and the
    /// classes' positives.
    fn main_pass(run: Pass, rows: usize, cols: usize) -> (Vec<Option<u64>>, Vec<u64>, Vec<Vec<u32>>) {
        let (mut out, mut neg) = (vec![None; rows], vec![0; rows * cols.div_ceil(64)]);
        let pass = run(&mut out, &mut neg);
        assert!(pass.error.is_none());
        (out.iter().map(|v| v.map(f64::to_bits)).collect(), neg, pass.positives)
    }

    /// Rows with few positives (the counting path) and with many (the bucket-table path), ties, columns
    /// wider than a 64-bit word of negatives.
    fn inputs<S: Score, L: Label>(
        narrow: impl Fn(f64) -> S,
        label: impl Fn(f64) -> L,
    ) -> (Vec<S>, Vec<L>, usize, usize) {
        let (rows, cols) = (300, 150);
        let (s, mut y) = Rng::new(3).batch(rows, cols, 3.0, 0.1, 0.3);
        for j in 0..cols {
            y[[7, j]] = if j % 5 == 0 { 0.0 } else { 1.0 };
        }
        let s = s.mapv(|v| (v * 4.0).round() / 4.0);
        (s.iter().map(|&v| narrow(v)).collect(), y.iter().map(|&l| label(l)).collect(), rows, cols)
    }

    /// Every build of the main pass and of the class pass (baseline, AVX2 and AVX-512 where the CPU has
    /// them) gives the same results, bit for bit, in f64 and in f32 / i8.
    #[test]
    fn every_build_of_both_passes_agrees() {
        let mut compared = 0;
        compared += builds_agree(inputs(|v| v, |l| l));
        compared += builds_agree(inputs(|v| v as f32, |l| l as i8));
        if std::arch::is_x86_feature_detected!("avx2") {
            assert!(compared >= 8, "compared {compared} builds");
        }
    }

    fn builds_agree<S: Score, L: Label>((s, t, rows, cols): (Vec<S>, Vec<L>, usize, usize)) -> usize {
        let mut compared = 0;
        for ties in Ties::ALL {
            let opts = ApOptions { ties: *ties, denominator: Denominator::Exact };
            let any = main_pass(&|out, neg| pass_rows_any(&s, &t, cols, 0, opts, out, neg), rows, cols);
            let mut builds: Vec<(Pass, &str)> = Vec::new();
            let avx2 = |out: &mut [Option<f64>], neg: &mut [u64]| {
                // SAFETY: only called when the CPU has AVX2 (below).
                unsafe { pass_rows_avx2(&s, &t, cols, 0, opts, out, neg) }
            };
            let avx512 = |out: &mut [Option<f64>], neg: &mut [u64]| {
                // SAFETY: only called when the CPU has the AVX-512 subsets (below).
                unsafe { pass_rows_avx512(&s, &t, cols, 0, opts, out, neg) }
            };
            if std::arch::is_x86_feature_detected!("avx2") {
                builds.push((&avx2, "avx2"));
            }
            if has_avx512() {
                builds.push((&avx512, "avx512"));
            }
            for (run, name) in builds {
                assert!(main_pass(run, rows, cols) == any, "{ties}: the {name} main pass differs");
                compared += 1;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                let (_, neg, positives) = &any;
                for j0 in [0, 16, 144] {
                    let block = j0..(j0 + 16).min(cols);
                    let want =
                        classes::count_block_any(&s, neg, cols, block.clone(), std::slice::from_ref(positives), opts);
                    // SAFETY: the CPU has AVX2, checked just above.
                    let got = unsafe {
                        classes::count_block_avx2(&s, neg, cols, block, std::slice::from_ref(positives), opts)
                    };
                    let bits = |v: &[Option<f64>]| v.iter().map(|a| a.map(f64::to_bits)).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&want), "{ties}: the AVX2 class pass differs at {j0}");
                    assert!(want.iter().flatten().count() > 0);
                    compared += 1;
                }
            }
        }
        compared
    }
}
