//! The element-wise baselines (BCE, focal, ASL) as differentiable tensor expressions, term for term the
//! reference's formulas; unknown entries are masked out before the reduction.

use tch::Tensor;
use twoway_reference::{Asl, Bce, Focal, Reduction};

fn reduce(terms: &Tensor, labelled: &Tensor, reduction: Reduction) -> Tensor {
    let kind = terms.kind();
    let total = terms.where_scalarother(labelled, 0.0).sum(kind);
    match reduction {
        Reduction::SumMean => total / terms.size()[0] as f64,
        Reduction::Mean => total / labelled.sum(kind).clamp_min(1.0),
        Reduction::Sum => total,
    }
}

/// s = x on positives and -x on negatives: every term below is a function of p_t = sigmoid(s), written
/// with log_sigmoid so that values and autograd gradients keep full relative precision in the tails.
fn signed(x: &Tensor, pos: &Tensor) -> Tensor {
    x.where_self(pos, &(-x))
}

pub(crate) fn bce(cfg: &Bce, x: &Tensor, pos: &Tensor, labelled: &Tensor) -> Tensor {
    // -log p_t = softplus(-s).
    let terms = -signed(x, pos).log_sigmoid();
    reduce(&terms, labelled, cfg.reduction)
}

pub(crate) fn focal(cfg: &Focal, x: &Tensor, pos: &Tensor, labelled: &Tensor) -> Tensor {
    // log p_t = log_sigmoid(s) and (1 - p_t)^gamma = exp(gamma * log_sigmoid(-s)) (finite, with a finite
    // gradient, for every s).
    let s = signed(x, pos);
    let log_pt = s.log_sigmoid();
    let focus = ((-&s).log_sigmoid() * cfg.gamma).exp();
    let mut terms = -(focus * log_pt);
    if let Some(alpha) = cfg.alpha {
        let w = Tensor::full_like(x, 1.0 - alpha).where_scalarother(&pos.logical_not(), alpha);
        terms *= w;
    }
    reduce(&terms, labelled, cfg.reduction)
}

pub(crate) fn asl(cfg: &Asl, x: &Tensor, pos: &Tensor, labelled: &Tensor) -> Tensor {
    // 1 - p = exp(log_sigmoid(-x)) and p = exp(log_sigmoid(x)): accurate values and, unlike sigmoid's
    // backward (y (1 - y)), accurate gradients in both tails.
    let one_minus_p = (-x).log_sigmoid().exp();
    let ln_eps = cfg.eps.ln();
    // Positives: log(max(p, eps)) = max(log_sigmoid(x), ln eps); the weight's base is 1 - p.
    let pos_log = x.log_sigmoid().clamp_min(ln_eps);
    // Negatives: q = min(1 - p + clip, 1) (no clamp when clip = 0); the weight's base is 1 - q.
    let (neg_log, neg_base) = if cfg.clip > 0.0 {
        let q = (&one_minus_p + cfg.clip).clamp_max(1.0);
        let base = (1.0 - cfg.clip - &one_minus_p).clamp_min(0.0);
        (q.clamp_min(cfg.eps).log(), base)
    } else {
        ((-x).log_sigmoid().clamp_min(ln_eps), x.log_sigmoid().exp())
    };
    let log = pos_log.where_self(pos, &neg_log);
    let base = one_minus_p.where_self(pos, &neg_base);
    let gamma = Tensor::full_like(x, cfg.gamma_neg).where_scalarother(&pos.logical_not(), cfg.gamma_pos);
    let weight = |b: &Tensor| {
        // base^gamma, 0^gamma = 0 for gamma > 0 and 1 for gamma = 0, with no NaN in the gradient at 0.
        let safe = b.clamp_min(1e-30);
        let w = safe.pow(&gamma).where_scalarother(&b.gt(0.0), 0.0);
        w.where_self(&gamma.gt(0.0), &Tensor::ones_like(b))
    };
    let w = if cfg.focus_grad { weight(&base) } else { weight(&base.detach()) };
    let terms = -(w * log);
    reduce(&terms, labelled, cfg.reduction)
}
