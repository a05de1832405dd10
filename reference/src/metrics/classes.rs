//! The class side of mAP. The main pass collects every class's positives and writes every row's
//! negatives as bits; the class pass then reads the scores again, a block of classes at a time (in
//! parallel over blocks): it sorts the block's positives into thresholds, gathers the negatives of the
//! block's columns a tile of rows at a time and counts them class by class (see [`Counter`]), with the
//! block's tables in cache throughout. Nothing the size of the score matrix is allocated.

use super::elements::Score;
use super::thresholds::{composite, descending_key, Counter, Thresholds};
use super::ApOptions;
use rayon::prelude::*;
use twoway_spec::Ties;

/// Classes per task of the class pass: their tables stay in cache while their columns are read.
const BLOCK_CLASSES: usize = 16;
// A block's negatives in a row are read as one 64-bit word.
const _: () = assert!(BLOCK_CLASSES <= 64);

/// Rows per tile: a tile's negatives are gathered by class, then counted class by class.
const TILE_ROWS: usize = 512;

/// Slots per class in the gather buffer: a tile, and a cache line more ([`TILE_ROWS`] + 16), so that the
/// classes' slots do not lie a multiple of 4 KiB apart.
const ROOM: usize = 528;
// Not a multiple of 4 KiB for 4- and 8-byte entries.
const _: () = assert!(ROOM >= TILE_ROWS && !ROOM.is_multiple_of(512));

/// How many rows ahead of the gather the block's next rows are fetched: each row of a block lies in a
/// page of its own, where the hardware prefetchers do not follow.
const PREFETCH_ROWS: usize = 16;

/// The positives of a row (columns `pos`) added to their classes' lists as the row's index (4 bytes a
/// positive; the class pass reads their scores back).
#[inline(always)]
pub(super) fn collect_positives(row: usize, pos: &[u32], positives: &mut [Vec<u32>]) {
    for &col in pos {
        positives[col as usize].push(row as u32);
    }
}

/// Classes per task: at most [`BLOCK_CLASSES`], and at least four tasks a thread.
fn chunk_classes(cols: usize) -> usize {
    cols.div_ceil(4 * rayon::current_num_threads().max(1)).clamp(1, BLOCK_CLASSES)
}

/// Every class's AP x 100 (`None`: no positive), from the positives the main pass collected (one list
/// per class for each row range), the scores and the negatives as bits (`cols.div_ceil(64)` words a
/// row).
pub(super) fn class_aps<S: Score>(
    s: &[S],
    negatives: &[u64],
    cols: usize,
    positives: &[Vec<Vec<u32>>],
    opts: ApOptions,
) -> Vec<Option<f64>> {
    let block = chunk_classes(cols);
    (0..cols)
        .step_by(block)
        .collect::<Vec<_>>()
        .into_par_iter()
        .flat_map_iter(|j0| count_block(s, negatives, cols, j0..(j0 + block).min(cols), positives, opts))
        .collect()
}

/// Asks for the block's entries of row `r` + [`PREFETCH_ROWS`] (the last row near the end) ahead of
/// their use: the first, middle and last entries, every cache line of a block of up to 16 f64.
#[inline(always)]
fn prefetch_ahead<S>(s: &[S], (rows, cols): (usize, usize), block: &std::ops::Range<usize>, r: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let ahead = (r + PREFETCH_ROWS).min(rows - 1) * cols + block.start;
        for at in [ahead, ahead + block.len() / 2, ahead + block.len() - 1] {
            // SAFETY: SSE is part of x86-64; a prefetch reads nothing and never faults (the addresses
            // are inside the slices anyway).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(s[at..].as_ptr() as *const i8) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (s, rows, cols, block, r);
}

/// The 64 bits of a row's bit set (`words`) from column `at` on (0 past the last column).
#[inline(always)]
fn bits_at(words: &[u64], at: usize) -> u64 {
    let (w, shift) = (at / 64, at % 64);
    let low = words[w] >> shift;
    let high = if shift == 0 { 0 } else { words.get(w + 1).map_or(0, |h| h << (64 - shift)) };
    low | high
}

/// The class pass over the classes `block` (`negatives`: the rows' negatives as bits, see `pass_rows`).
#[inline(always)]
pub(super) fn count_block_any<S: Score>(
    s: &[S],
    negatives: &[u64],
    cols: usize,
    block: std::ops::Range<usize>,
    positives: &[Vec<Vec<u32>>],
    opts: ApOptions,
) -> Vec<Option<f64>> {
    let th: Vec<Thresholds> = block
        .clone()
        .map(|j| {
            let total = positives.iter().map(|p| p[j].len()).sum();
            let rows = positives.iter().flat_map(|p| p[j].iter().map(|&r| r as usize));
            let composites = rows.map(|r| composite(descending_key(s[r * cols + j].widen()), r));
            Thresholds::build(composites, total, opts.ties)
        })
        .collect();
    let (rows, width, words) = (s.len() / cols, block.len(), cols.div_ceil(64));
    let mut counters: Vec<Counter> = th.iter().map(Counter::new).collect();
    let keep_rows = opts.ties == Ties::Index;
    let mut neg = vec![S::default(); width * ROOM];
    let mut neg_rows = vec![0u32; if keep_rows { width * ROOM } else { 0 }];
    let mut filled = [0usize; BLOCK_CLASSES];
    for r0 in (0..rows).step_by(TILE_ROWS) {
        // The tile's negatives, class by class, gathered without branching.
        filled.fill(0);
        for r in r0..(r0 + TILE_ROWS).min(rows) {
            prefetch_ahead(s, (rows, cols), &block, r);
            let at = r * cols + block.start;
            let bits = bits_at(&negatives[r * words..(r + 1) * words], block.start);
            for (k, &v) in s[at..at + width].iter().enumerate() {
                neg[k * ROOM + filled[k]] = v;
                if keep_rows {
                    neg_rows[k * ROOM + filled[k]] = r as u32;
                }
                filled[k] += (bits >> k) as usize & 1;
            }
        }
        for (k, (counter, th)) in counters.iter_mut().zip(&th).enumerate() {
            let seg = k * ROOM..k * ROOM + filled[k];
            if th.len() == 0 {
                continue;
            }
            if keep_rows {
                counter.add_index(th, &neg[seg.clone()], &neg_rows[seg]);
            } else {
                counter.add_grouped(th, &neg[seg]);
            }
        }
    }
    counters
        .into_iter()
        .zip(&th)
        .map(|(counter, th)| th.ap(&counter.finish(th), opts.denominator).map(|ap| 100.0 * ap))
        .collect()
}

/// [`count_block_any`] built for AVX2 (chosen at run time), where the buckets of a run of negatives are
/// computed a vector at a time; the arithmetic is the same.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) fn count_block_avx2<S: Score>(
    s: &[S],
    negatives: &[u64],
    cols: usize,
    block: std::ops::Range<usize>,
    positives: &[Vec<Vec<u32>>],
    opts: ApOptions,
) -> Vec<Option<f64>> {
    count_block_any(s, negatives, cols, block, positives, opts)
}

fn count_block<S: Score>(
    s: &[S],
    negatives: &[u64],
    cols: usize,
    block: std::ops::Range<usize>,
    positives: &[Vec<Vec<u32>>],
    opts: ApOptions,
) -> Vec<Option<f64>> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { count_block_avx2(s, negatives, cols, block, positives, opts) };
    }
    count_block_any(s, negatives, cols, block, positives, opts)
}
