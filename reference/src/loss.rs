//! The common interface of the losses and a configurable loss built from the spec's names.

use crate::{Asl, Bce, Focal, RefError, Softmax, TwoWay};
use ndarray::{Array2, ArrayView2};
use twoway_spec::conformance::Conditioning;
use twoway_spec::{params_of, Loss, LossParams, Mask, Way};

/// A loss of (logits, targets): logits B x C (samples x classes), targets of the same shape with labels
/// 1 (positive), 0 (negative), -1 (unknown).
pub trait LossFn {
    /// The loss and its gradient with respect to the logits.
    fn value_and_grad(&self, logits: ArrayView2<f64>, targets: ArrayView2<f64>)
        -> Result<(f64, Array2<f64>), RefError>;

    /// The loss alone.
    fn value(&self, logits: ArrayView2<f64>, targets: ArrayView2<f64>) -> Result<f64, RefError> {
        Ok(self.value_and_grad(logits, targets)?.0)
    }
}

/// Any loss of the spec, with its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnyLoss {
    TwoWay(TwoWay),
    Softmax(Softmax),
    Bce(Bce),
    Focal(Focal),
    Asl(Asl),
}

impl AnyLoss {
    /// `loss` with the spec's default hyper-parameters.
    pub fn default_for(loss: Loss) -> AnyLoss {
        match loss {
            Loss::Twoway => AnyLoss::TwoWay(TwoWay::default()),
            Loss::Softmax => AnyLoss::Softmax(Softmax::default()),
            Loss::Bce => AnyLoss::Bce(Bce::default()),
            Loss::Focal => AnyLoss::Focal(Focal::default()),
            Loss::Asl => AnyLoss::Asl(Asl::default()),
        }
    }

    /// The spec's name of the loss.
    pub fn kind(&self) -> Loss {
        match self {
            AnyLoss::TwoWay(_) => Loss::Twoway,
            AnyLoss::Softmax(_) => Loss::Softmax,
            AnyLoss::Bce(_) => Loss::Bce,
            AnyLoss::Focal(_) => Loss::Focal,
            AnyLoss::Asl(_) => Loss::Asl,
        }
    }

    /// What a case with logits up to `max_logit` in magnitude asks of the arithmetic: `kappa` is 1 plus
    /// the largest |argument| of an exp the loss's stable form evaluates (max|x| / min(Tp, Tn) for the
    /// two-way loss, plus the release's offset of 100 under official masking; max|x| for the others). The
    /// conformance bounds scale with it (`spec/data/conformance.yaml`).
    pub fn conditioning(&self, max_logit: f64) -> Conditioning {
        let kappa = match self {
            AnyLoss::TwoWay(l) => {
                let offset = if l.mask == Mask::Official { -crate::twoway::OFFICIAL_OFFSET } else { 0.0 };
                1.0 + max_logit / l.tp.min(l.tn) + offset
            }
            _ => 1.0 + max_logit,
        };
        Conditioning { max_logit, kappa }
    }

    /// Checks the hyper-parameters.
    pub fn validate(&self) -> Result<(), RefError> {
        match self {
            AnyLoss::TwoWay(l) => l.validate(),
            AnyLoss::Focal(l) => l.validate(),
            AnyLoss::Asl(l) => l.validate(),
            AnyLoss::Softmax(_) | AnyLoss::Bce(_) => Ok(()),
        }
    }
}

impl LossFn for AnyLoss {
    fn value_and_grad(
        &self,
        logits: ArrayView2<f64>,
        targets: ArrayView2<f64>,
    ) -> Result<(f64, Array2<f64>), RefError> {
        match self {
            AnyLoss::TwoWay(l) => l.value_and_grad(logits, targets),
            AnyLoss::Softmax(l) => l.value_and_grad(logits, targets),
            AnyLoss::Bce(l) => l.value_and_grad(logits, targets),
            AnyLoss::Focal(l) => l.value_and_grad(logits, targets),
            AnyLoss::Asl(l) => l.value_and_grad(logits, targets),
        }
    }
}

impl AnyLoss {
    /// `loss` with the spec's defaults overridden by `params`; a parameter the loss does not take is an error.
    pub fn from_params(loss: Loss, params: &LossParams) -> Result<AnyLoss, RefError> {
        if let Some(name) = params.names().into_iter().find(|n| !params_of(loss).contains(n)) {
            return Err(RefError::UnknownParam { loss, name });
        }
        let l = match AnyLoss::default_for(loss) {
            AnyLoss::TwoWay(d) => AnyLoss::TwoWay(TwoWay {
                tp: params.tp.unwrap_or(d.tp),
                tn: params.tn.unwrap_or(d.tn),
                way: params.way.unwrap_or(d.way),
                mask: params.mask.unwrap_or(d.mask),
            }),
            AnyLoss::Softmax(d) => AnyLoss::Softmax(Softmax { way: params.way.unwrap_or(d.way) }),
            AnyLoss::Bce(d) => AnyLoss::Bce(Bce { reduction: params.reduction.unwrap_or(d.reduction) }),
            AnyLoss::Focal(d) => AnyLoss::Focal(Focal {
                gamma: params.gamma.unwrap_or(d.gamma),
                alpha: params.alpha.or(d.alpha),
                reduction: params.reduction.unwrap_or(d.reduction),
            }),
            AnyLoss::Asl(d) => AnyLoss::Asl(Asl {
                gamma_neg: params.gamma_neg.unwrap_or(d.gamma_neg),
                gamma_pos: params.gamma_pos.unwrap_or(d.gamma_pos),
                clip: params.clip.unwrap_or(d.clip),
                eps: params.eps.unwrap_or(d.eps),
                focus_grad: params.focus_grad.unwrap_or(d.focus_grad),
                reduction: params.reduction.unwrap_or(d.reduction),
            }),
        };
        l.validate()?;
        Ok(l)
    }

    /// One line: the loss and every hyper-parameter, e.g. `twoway (way both, Tp 4, Tn 1, mask exact)`.
    pub fn describe(&self) -> String {
        match self {
            AnyLoss::TwoWay(l) => format!("twoway (way {}, Tp {}, Tn {}, mask {})", l.way, l.tp, l.tn, l.mask),
            AnyLoss::Softmax(l) => format!("softmax (way {})", l.way),
            AnyLoss::Bce(l) => format!("bce (reduction {})", l.reduction),
            AnyLoss::Focal(l) => {
                let alpha = l.alpha.map_or("none".to_string(), |a| a.to_string());
                format!("focal (gamma {}, alpha {alpha}, reduction {})", l.gamma, l.reduction)
            }
            AnyLoss::Asl(l) => format!(
                "asl (gamma_neg {}, gamma_pos {}, clip {}, eps {}, focus_grad {}, reduction {})",
                l.gamma_neg, l.gamma_pos, l.clip, l.eps, l.focus_grad, l.reduction
            ),
        }
    }

    /// The way the loss runs in (`None` for the element-wise losses).
    pub fn way(&self) -> Option<Way> {
        match self {
            AnyLoss::TwoWay(l) => Some(l.way),
            AnyLoss::Softmax(l) => Some(l.way),
            _ => None,
        }
    }
}

impl AnyLoss {
    /// Every configuration worth testing, named: the two-way loss in every way and masking, softmax in every
    /// way, the element-wise losses in every reduction, focal with alpha, ASL with the focusing gradient.
    pub fn every_config() -> Vec<(String, AnyLoss)> {
        use twoway_spec::{Mask, Reduction};
        let build = |loss, p: LossParams| AnyLoss::from_params(loss, &p).expect("valid configuration");
        let mut out = Vec::new();
        for way in Way::ALL {
            for mask in Mask::ALL {
                let p = LossParams { way: Some(*way), mask: Some(*mask), ..Default::default() };
                out.push((format!("twoway/{way}/{mask}"), build(Loss::Twoway, p)));
            }
            let p = LossParams { way: Some(*way), ..Default::default() };
            out.push((format!("softmax/{way}"), build(Loss::Softmax, p)));
        }
        for loss in [Loss::Bce, Loss::Focal, Loss::Asl] {
            for r in Reduction::ALL {
                let p = LossParams { reduction: Some(*r), ..Default::default() };
                out.push((format!("{loss}/{r}"), build(loss, p)));
            }
        }
        out.push((
            "focal/alpha0.25".into(),
            build(Loss::Focal, LossParams { alpha: Some(0.25), ..Default::default() }),
        ));
        let p = LossParams { focus_grad: Some(true), gamma_pos: Some(1.0), ..Default::default() };
        out.push(("asl/focus_grad".into(), build(Loss::Asl, p)));
        out
    }
}
