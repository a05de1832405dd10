//! The element-wise baselines: BCE, focal and ASL. Each labelled entry contributes its own term; unknown
//! entries contribute nothing. The terms are reduced as the loss's `reduction` says.

use crate::check;
use crate::numerics::{sigmoid, softplus};
use crate::{LossFn, RefError};
use ndarray::{Array2, ArrayView2, Zip};
use twoway_spec::{Reduction, Spec};

/// One entry's loss and its derivative with respect to the logit.
trait Entry {
    fn entry(&self, x: f64, positive: bool) -> (f64, f64);
    fn reduction(&self) -> Reduction;
}

fn reduce(e: &impl Entry, logits: ArrayView2<f64>, targets: ArrayView2<f64>) -> Result<(f64, Array2<f64>), RefError> {
    let labels = check::inputs(logits, targets)?;
    let mut grad = Array2::<f64>::zeros(logits.dim());
    let mut total = 0.0;
    let mut labelled = 0usize;
    // Sequential row-major order: the sum does not depend on any thread count.
    Zip::from(&mut grad).and(&logits).and(labels.view()).for_each(|g, &x, &y| {
        if y >= 0 {
            let (l, d) = e.entry(x, y == 1);
            total += l;
            *g = d;
            labelled += 1;
        }
    });
    let denom = match e.reduction() {
        Reduction::SumMean => logits.nrows() as f64,
        Reduction::Mean => labelled.max(1) as f64,
        Reduction::Sum => 1.0,
    };
    grad.mapv_inplace(|g| g / denom);
    Ok((total / denom, grad))
}

/// Binary cross-entropy on logits: softplus(-x) for a positive, softplus(x) for a negative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bce {
    pub reduction: Reduction,
}

impl Default for Bce {
    fn default() -> Self {
        Bce { reduction: Spec::embedded().losses.bce.params.reduction.default }
    }
}

impl Entry for Bce {
    fn entry(&self, x: f64, positive: bool) -> (f64, f64) {
        if positive {
            (softplus(-x), -sigmoid(-x))
        } else {
            (softplus(x), sigmoid(x))
        }
    }
    fn reduction(&self) -> Reduction {
        self.reduction
    }
}

impl LossFn for Bce {
    fn value_and_grad(
        &self,
        logits: ArrayView2<f64>,
        targets: ArrayView2<f64>,
    ) -> Result<(f64, Array2<f64>), RefError> {
        reduce(self, logits, targets)
    }
}

/// Focal loss: -alpha_t (1 - p_t)^gamma log p_t, p = sigmoid(x).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Focal {
    pub gamma: f64,
    /// Weight of the positives (negatives get 1 - alpha); `None` weighs every entry 1.
    pub alpha: Option<f64>,
    pub reduction: Reduction,
}

impl Default for Focal {
    fn default() -> Self {
        let p = &Spec::embedded().losses.focal.params;
        Focal { gamma: p.gamma.default, alpha: p.alpha.default, reduction: p.reduction.default }
    }
}

impl Focal {
    pub fn validate(&self) -> Result<(), RefError> {
        check::param("gamma", self.gamma, self.gamma >= 0.0, "must be finite and >= 0")?;
        if let Some(a) = self.alpha {
            check::param("alpha", a, (0.0..=1.0).contains(&a), "must lie in [0, 1]")?;
        }
        Ok(())
    }
}

impl Entry for Focal {
    /// With q = p_t, log q = -softplus(-s) where s = x for a positive and -x for a negative:
    /// l = -(1 - q)^g log q and dl/ds = (1 - q)^g (g q log q - (1 - q)); dl/dx = dl/ds * ds/dx.
    fn entry(&self, x: f64, positive: bool) -> (f64, f64) {
        let (s, sign, w) = match (positive, self.alpha) {
            (true, a) => (x, 1.0, a.unwrap_or(1.0)),
            (false, a) => (-x, -1.0, a.map_or(1.0, |a| 1.0 - a)),
        };
        let q = sigmoid(s);
        let one_minus_q = sigmoid(-s);
        let log_q = -softplus(-s);
        let focus = one_minus_q.powf(self.gamma);
        let l = -focus * log_q;
        let d = focus * (self.gamma * q * log_q - one_minus_q);
        (w * l, sign * w * d)
    }
    fn reduction(&self) -> Reduction {
        self.reduction
    }
}

impl LossFn for Focal {
    fn value_and_grad(
        &self,
        logits: ArrayView2<f64>,
        targets: ArrayView2<f64>,
    ) -> Result<(f64, Array2<f64>), RefError> {
        self.validate()?;
        reduce(self, logits, targets)
    }
}

/// Asymmetric loss (ASL), p = sigmoid(x). Positive: -(1 - p)^gamma_pos log(max(p, eps)). Negative, with
/// q = min(1 - p + clip, 1) (no clamp when clip = 0) and p_m = 1 - q: -p_m^gamma_neg log(max(q, eps)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Asl {
    pub gamma_neg: f64,
    pub gamma_pos: f64,
    pub clip: f64,
    pub eps: f64,
    /// Whether the focusing weight is differentiated (false: treated as a constant, as ASL's authors trained).
    pub focus_grad: bool,
    pub reduction: Reduction,
}

impl Default for Asl {
    fn default() -> Self {
        let p = &Spec::embedded().losses.asl.params;
        Asl {
            gamma_neg: p.gamma_neg.default,
            gamma_pos: p.gamma_pos.default,
            clip: p.clip.default,
            eps: p.eps.default,
            focus_grad: p.focus_grad.default,
            reduction: p.reduction.default,
        }
    }
}

impl Asl {
    pub fn validate(&self) -> Result<(), RefError> {
        check::param("gamma_neg", self.gamma_neg, self.gamma_neg >= 0.0, "must be finite and >= 0")?;
        check::param("gamma_pos", self.gamma_pos, self.gamma_pos >= 0.0, "must be finite and >= 0")?;
        check::param("clip", self.clip, (0.0..1.0).contains(&self.clip), "must lie in [0, 1)")?;
        check::param("eps", self.eps, self.eps > 0.0 && self.eps < 1.0, "must lie in (0, 1)")
    }
}

impl Entry for Asl {
    fn entry(&self, x: f64, positive: bool) -> (f64, f64) {
        let p = sigmoid(x);
        // dp/dx = p (1 - p).
        let dp = p * sigmoid(-x);
        // base = the probability inside the log, one_minus = 1 - base (computed without cancellation),
        // dbase = d base / dx (0 where a clamp is active).
        let (base, one_minus, dbase, gamma) = if positive {
            (p, sigmoid(-x), dp, self.gamma_pos)
        } else {
            // Without clip, shifted = 1 - p exactly and the clamp never applies.
            let shifted = sigmoid(-x) + self.clip;
            if shifted <= 1.0 {
                (shifted, p - self.clip, -dp, self.gamma_neg)
            } else {
                (1.0, 0.0, 0.0, self.gamma_neg)
            }
        };
        // ln(base) near 1 from its complement (ln_1p), where base.ln() would keep only the digits of base - 1.
        let ln_base = if base >= 0.5 { (-one_minus).ln_1p() } else { base.ln() };
        let (log, dlog) = if base >= self.eps { (ln_base, dbase / base) } else { (self.eps.ln(), 0.0) };
        // Focusing weight w = (1 - base)^gamma and its derivative.
        let w = one_minus.powf(gamma);
        let dw = if self.focus_grad && gamma > 0.0 && one_minus > 0.0 {
            -gamma * one_minus.powf(gamma - 1.0) * dbase
        } else {
            0.0
        };
        (-w * log, -(dw * log + w * dlog))
    }
    fn reduction(&self) -> Reduction {
        self.reduction
    }
}

impl LossFn for Asl {
    fn value_and_grad(
        &self,
        logits: ArrayView2<f64>,
        targets: ArrayView2<f64>,
    ) -> Result<(f64, Array2<f64>), RefError> {
        self.validate()?;
        reduce(self, logits, targets)
    }
}
