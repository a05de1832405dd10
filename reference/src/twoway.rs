//! The two-way multi-label loss.
//!
//! For an index set with positives P and negatives N:
//! `l = softplus(Tn * logsumexp_{n in N}(x_n / Tn) + Tp * logsumexp_{p in P}(-x_p / Tp))`.
//! With `z` the argument of the softplus, the gradient is `dl/dx_n = sigmoid(z) * softmax_N(x / Tn)_n` and
//! `dl/dx_p = -sigmoid(z) * softmax_P(-x / Tp)_p`: each logsumexp's softmax weights, scaled by sigmoid(z).

use crate::check;
use crate::numerics::{sigmoid, softplus};
use crate::ways::{apply, LineLoss};
use crate::{LossFn, RefError};
use ndarray::{Array2, ArrayView2};
use twoway_spec::{Mask, Spec, Way};

/// The release's additive offset for excluded entries (after division by T) in `official` masking.
pub const OFFICIAL_OFFSET: f64 = -100.0;

/// The two-way loss with its temperatures, way and masking.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoWay {
    pub tp: f64,
    pub tn: f64,
    pub way: Way,
    pub mask: Mask,
}

impl Default for TwoWay {
    /// The spec's defaults (Tp = 4, Tn = 1, both ways, exact masking).
    fn default() -> Self {
        let p = &Spec::embedded().losses.twoway.params;
        TwoWay { tp: p.tp.default, tn: p.tn.default, way: p.way.default, mask: p.mask.default }
    }
}

impl TwoWay {
    /// The loss with temperatures `tp`, `tn` and the spec's default way and masking.
    pub fn new(tp: f64, tn: f64) -> Self {
        TwoWay { tp, tn, ..TwoWay::default() }
    }

    pub fn way(self, way: Way) -> Self {
        TwoWay { way, ..self }
    }

    pub fn mask(self, mask: Mask) -> Self {
        TwoWay { mask, ..self }
    }

    pub fn validate(&self) -> Result<(), RefError> {
        check::temperature("Tp", self.tp)?;
        check::temperature("Tn", self.tn)
    }
}

impl LossFn for TwoWay {
    fn value_and_grad(
        &self,
        logits: ArrayView2<f64>,
        targets: ArrayView2<f64>,
    ) -> Result<(f64, Array2<f64>), RefError> {
        self.validate()?;
        let labels = check::inputs(logits, targets)?;
        let (rows, cols) = logits.dim();
        let x = logits.as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let y = labels.y.as_slice().expect("standard layout");
        let (value, grad) = match self.mask {
            Mask::Exact => apply(self.way, x, y, rows, cols, &Exact { tp: self.tp, tn: self.tn }),
            Mask::Official => apply(self.way, x, y, rows, cols, &Official { tp: self.tp, tn: self.tn }),
        };
        Ok((value, Array2::from_shape_vec((rows, cols), grad).expect("shape")))
    }
}

/// Exact set semantics: excluded entries are -inf inside the logsumexp.
struct Exact {
    tp: f64,
    tn: f64,
}

impl LineLoss for Exact {
    fn line(&self, x: &[f64], y: &[i8], grad: &mut [f64], scale: f64, buf: &mut Vec<f64>) -> f64 {
        let (itn, itp) = (1.0 / self.tn, 1.0 / self.tp);
        let (mut mn, mut mp) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        for (&xk, &yk) in x.iter().zip(y) {
            match yk {
                0 => mn = mn.max(xk * itn),
                1 => mp = mp.max(-xk * itp),
                _ => {}
            }
        }
        buf.clear();
        buf.resize(x.len(), 0.0);
        let (mut sn, mut sp) = (0.0, 0.0);
        for ((&xk, &yk), e) in x.iter().zip(y).zip(buf.iter_mut()) {
            match yk {
                0 => {
                    *e = (xk * itn - mn).exp();
                    sn += *e;
                }
                1 => {
                    *e = (-xk * itp - mp).exp();
                    sp += *e;
                }
                _ => {}
            }
        }
        // A non-empty N has sn >= 1 (its maximum adds e^0); an empty one has mn = -inf and sn = 0, so its
        // logsumexp is -inf, z = -inf, the loss is 0 and sigmoid(z) = 0.
        let lse_n = mn + sn.ln();
        let z = self.tn * lse_n + self.tp * (mp + sp.ln());
        let c = sigmoid(z) * scale;
        if c > 0.0 {
            let (cn, cp) = (c / sn, -c / sp);
            for ((g, &e), &yk) in grad.iter_mut().zip(buf.iter()).zip(y) {
                match yk {
                    0 => *g += e * cn,
                    1 => *g += e * cp,
                    _ => {}
                }
            }
        }
        softplus(z)
    }
}

/// The release's masking: excluded entries get an additive -100 after division by T, so every entry enters
/// both logsumexps (excluded ones with weight about e^-100).
struct Official {
    tp: f64,
    tn: f64,
}

impl LineLoss for Official {
    fn line(&self, x: &[f64], y: &[i8], grad: &mut [f64], scale: f64, buf: &mut Vec<f64>) -> f64 {
        let (itn, itp) = (1.0 / self.tn, 1.0 / self.tp);
        let n = x.len();
        let vn = |xk: f64, yk: i8| xk * itn + if yk == 0 { 0.0 } else { OFFICIAL_OFFSET };
        let vp = |xk: f64, yk: i8| -xk * itp + if yk == 1 { 0.0 } else { OFFICIAL_OFFSET };
        let (mut mn, mut mp) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        for (&xk, &yk) in x.iter().zip(y) {
            mn = mn.max(vn(xk, yk));
            mp = mp.max(vp(xk, yk));
        }
        buf.clear();
        buf.resize(2 * n, 0.0);
        let (en, ep) = buf.split_at_mut(n);
        let (mut sn, mut sp) = (0.0, 0.0);
        for k in 0..n {
            en[k] = (vn(x[k], y[k]) - mn).exp();
            ep[k] = (vp(x[k], y[k]) - mp).exp();
            sn += en[k];
            sp += ep[k];
        }
        let z = self.tn * (mn + sn.ln()) + self.tp * (mp + sp.ln());
        let c = sigmoid(z) * scale;
        let (cn, cp) = (c / sn, c / sp);
        for k in 0..n {
            grad[k] += en[k] * cn - ep[k] * cp;
        }
        softplus(z)
    }
}
