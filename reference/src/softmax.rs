//! The multi-label softmax loss: for a line with positives P and labelled entries L = P u N,
//! `l = logsumexp_L(x) - mean_P(x)` (the mean over P of -log softmax_L(x)_p), with gradient
//! `softmax_L(x)_k - [k in P] / |P|` on L and 0 on unknown entries.

use crate::check;
use crate::ways::{apply, LineLoss};
use crate::{LossFn, RefError};
use ndarray::{Array2, ArrayView2};
use twoway_spec::{Spec, Way};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Softmax {
    pub way: Way,
}

impl Default for Softmax {
    /// The spec's default: the sample way (the paper's Softmax baseline).
    fn default() -> Self {
        Softmax { way: Spec::embedded().losses.softmax.params.way.default }
    }
}

impl LossFn for Softmax {
    fn value_and_grad(
        &self,
        logits: ArrayView2<f64>,
        targets: ArrayView2<f64>,
    ) -> Result<(f64, Array2<f64>), RefError> {
        let labels = check::inputs(logits, targets)?;
        let (rows, cols) = logits.dim();
        let x = logits.as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let y = labels.y.as_slice().expect("standard layout");
        let (value, grad) = apply(self.way, x, y, rows, cols, &SoftmaxLine);
        Ok((value, Array2::from_shape_vec((rows, cols), grad).expect("shape")))
    }
}

struct SoftmaxLine;

impl LineLoss for SoftmaxLine {
    fn line(&self, x: &[f64], y: &[i8], grad: &mut [f64], scale: f64, buf: &mut Vec<f64>) -> f64 {
        let mut m = f64::NEG_INFINITY;
        let (mut n_pos, mut sum_pos) = (0usize, 0.0);
        for (&xk, &yk) in x.iter().zip(y) {
            if yk >= 0 {
                m = m.max(xk);
            }
            if yk == 1 {
                n_pos += 1;
                sum_pos += xk;
            }
        }
        buf.clear();
        buf.resize(x.len(), 0.0);
        let (mut s_pos, mut s_neg) = (0.0, 0.0);
        for ((&xk, &yk), e) in x.iter().zip(y).zip(buf.iter_mut()) {
            if yk >= 0 {
                *e = (xk - m).exp();
                if yk == 1 {
                    s_pos += *e;
                } else {
                    s_neg += *e;
                }
            }
        }
        let s = s_pos + s_neg;
        let inv_pos = 1.0 / n_pos as f64;
        // On a positive, e/s - 1/|P| = (|P| e - s_pos - s_neg) / (|P| s): no cancellation against 1 when
        // one positive dominates (with one positive it is exactly -s_neg / s).
        let (cn, cp) = (scale / s, scale * inv_pos / s);
        for ((g, &e), &yk) in grad.iter_mut().zip(buf.iter()).zip(y) {
            match yk {
                0 => *g += e * cn,
                1 => *g += (n_pos as f64 * e - s_pos - s_neg) * cp,
                _ => {}
            }
        }
        m + s.ln() - sum_pos * inv_pos
    }
}
