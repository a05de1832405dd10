//! The ways of the set-based losses (two-way, softmax): a loss of one line (a row or a column) applied to
//! every row (sample way), every column (class way) or both. Lines without a positive are dropped; a way is
//! the mean over the remaining lines, and a way with no line left contributes 0 with gradient 0.

use crate::numerics::transpose;
use rayon::prelude::*;
use twoway_spec::Way;

/// A loss of one line with at least one positive.
pub(crate) trait LineLoss: Sync {
    /// Returns the loss of the line `x` (labels `y`) and adds `scale` times its gradient into `grad`.
    /// `buf` is scratch space the implementation may resize.
    fn line(&self, x: &[f64], y: &[i8], grad: &mut [f64], scale: f64, buf: &mut Vec<f64>) -> f64;
}

/// Applies `f` in `way` to the row-major `rows x cols` logits `x` with labels `y`; returns the value and
/// the gradient (row-major).
pub(crate) fn apply(way: Way, x: &[f64], y: &[i8], rows: usize, cols: usize, f: &impl LineLoss) -> (f64, Vec<f64>) {
    let mut grad = vec![0.0; rows * cols];
    let mut value = 0.0;
    if matches!(way, Way::Sample | Way::Both) {
        value += mean_over_lines(x, y, cols, f, &mut grad);
    }
    if matches!(way, Way::Class | Way::Both) {
        // Columns become contiguous lines of the transpose.
        let mut xt = vec![0.0; rows * cols];
        let mut yt = vec![0i8; rows * cols];
        transpose(x, rows, cols, &mut xt);
        transpose(y, rows, cols, &mut yt);
        let mut gt = vec![0.0; rows * cols];
        value += mean_over_lines(&xt, &yt, rows, f, &mut gt);
        // Back to row-major, added to the sample way's gradient.
        transpose(&gt, cols, rows, &mut xt);
        grad.par_iter_mut().zip(xt.par_iter()).for_each(|(g, c)| *g += c);
    }
    (value, grad)
}

/// Mean of `f` over the lines (of length `len`) that hold a positive; adds the gradient into `grad`.
fn mean_over_lines(x: &[f64], y: &[i8], len: usize, f: &impl LineLoss, grad: &mut [f64]) -> f64 {
    let valid = y.chunks(len).filter(|l| l.contains(&1)).count();
    if valid == 0 {
        return 0.0;
    }
    let scale = 1.0 / valid as f64;
    let losses: Vec<f64> = grad
        .par_chunks_mut(len)
        .zip(x.par_chunks(len))
        .zip(y.par_chunks(len))
        .map_init(Vec::new, |buf, ((g, xl), yl)| if yl.contains(&1) { f.line(xl, yl, g, scale, buf) } else { 0.0 })
        .collect();
    // Summed in line order, so the value does not depend on the thread count.
    losses.iter().sum::<f64>() * scale
}
