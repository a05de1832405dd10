//! The authors' two-way loss op sequence, transcribed to tch from ../shared/paper/facts.md: a peer for the
//! benchmarks (same libtorch, same device) and a cross-check of `official` masking. It keeps the release's
//! behaviour: additive -100 masks after the division by T, four logsumexps, boolean indexing, torch's
//! softplus (threshold 20), and NaN when a way has no line with a positive.

use tch::Tensor;

pub fn release_two_way(x: &Tensor, y: &Tensor, tp: f64, tn: f64) -> Tensor {
    let kind = x.kind();
    let class_keep = y.gt(0).any_dim(0, false);
    let sample_keep = y.gt(0).any_dim(1, false);
    let pmask = Tensor::zeros_like(x).where_scalarother(&y.gt(0), -100.0);
    let nmask = Tensor::zeros_like(x).where_scalarother(&y.eq(0), -100.0);
    let p_class = ((-x / tp) + &pmask).logsumexp([0].as_slice(), false).g_mul_scalar(tp).index(&[Some(&class_keep)]);
    let p_sample = ((-x / tp) + &pmask).logsumexp([1].as_slice(), false).g_mul_scalar(tp).index(&[Some(&sample_keep)]);
    let n_class = ((x / tn) + &nmask).logsumexp([0].as_slice(), false).g_mul_scalar(tn).index(&[Some(&class_keep)]);
    let n_sample = ((x / tn) + &nmask).logsumexp([1].as_slice(), false).g_mul_scalar(tn).index(&[Some(&sample_keep)]);
    (n_class + p_class).softplus().mean(kind) + (n_sample + p_sample).softplus().mean(kind)
}
