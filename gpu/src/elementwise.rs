//! The element-wise baselines (BCE, focal, ASL) as differentiable tensor expressions, term for term the
//! reference's formulas; unknown entries are masked out before the reduction.

use tch::{TchError, Tensor};
use twoway_reference::{Asl, Bce, Focal, Reduction};

fn reduce(terms: &Tensor, labelled: &Tensor, reduction: Reduction) -> Result<Tensor, TchError> {
    let kind = terms.kind();
    let total = terms.f_where_scalarother(labelled, 0.0)?.f_sum(kind)?;
    match reduction {
        Reduction::SumMean => total.f_div_scalar(terms.size()[0] as f64),
        Reduction::Mean => total.f_div(&labelled.f_sum(kind)?.f_clamp_min(1.0)?),
        Reduction::Sum => Ok(total),
    }
}

/// s = x on positives and -x on negatives: every term below is a function of p_t = sigmoid(s), written
/// with log_sigmoid so that values and autograd gradients keep full relative precision in the tails.
fn signed(x: &Tensor, pos: &Tensor) -> Result<Tensor, TchError> {
    x.f_where_self(pos, &x.f_neg()?)
}

pub(crate) fn bce(cfg: &Bce, x: &Tensor, pos: &Tensor, labelled: &Tensor) -> Result<Tensor, TchError> {
    // -log p_t = softplus(-s).
    let terms = signed(x, pos)?.f_log_sigmoid()?.f_neg()?;
    reduce(&terms, labelled, cfg.reduction)
}

pub(crate) fn focal(cfg: &Focal, x: &Tensor, pos: &Tensor, labelled: &Tensor) -> Result<Tensor, TchError> {
    // log p_t = log_sigmoid(s) and (1 - p_t)^gamma = exp(gamma * log_sigmoid(-s)) (finite, with a finite
    // gradient, for every s).
    let s = signed(x, pos)?;
    let log_pt = s.f_log_sigmoid()?;
    let focus = s.f_neg()?.f_log_sigmoid()?.f_mul_scalar(cfg.gamma)?.f_exp()?;
    let mut terms = focus.f_mul(&log_pt)?.f_neg()?;
    if let Some(alpha) = cfg.alpha {
        let w = x.f_full_like(1.0 - alpha)?.f_where_scalarother(&pos.f_logical_not()?, alpha)?;
        terms = terms.f_mul(&w)?;
    }
    reduce(&terms, labelled, cfg.reduction)
}

pub(crate) fn asl(cfg: &Asl, x: &Tensor, pos: &Tensor, labelled: &Tensor) -> Result<Tensor, TchError> {
    // 1 - p = exp(log_sigmoid(-x)) and p = exp(log_sigmoid(x)): accurate values and, unlike sigmoid's
    // backward (y (1 - y)), accurate gradients in both tails.
    let one_minus_p = x.f_neg()?.f_log_sigmoid()?.f_exp()?;
    let ln_eps = cfg.eps.ln();
    // Positives: log(max(p, eps)) = max(log_sigmoid(x), ln eps); the weight's base is 1 - p.
    let pos_log = x.f_log_sigmoid()?.f_clamp_min(ln_eps)?;
    // Negatives: q = min(1 - p + clip, 1) (no clamp when clip = 0); the weight's base is 1 - q.
    let (neg_log, neg_base) = if cfg.clip > 0.0 {
        let q = one_minus_p.f_add_scalar(cfg.clip)?.f_clamp_max(1.0)?;
        let base = one_minus_p.f_neg()?.f_add_scalar(1.0 - cfg.clip)?.f_clamp_min(0.0)?;
        (q.f_clamp_min(cfg.eps)?.f_log()?, base)
    } else {
        (x.f_neg()?.f_log_sigmoid()?.f_clamp_min(ln_eps)?, x.f_log_sigmoid()?.f_exp()?)
    };
    let not_pos = pos.f_logical_not()?;
    let log = pos_log.f_where_self(pos, &neg_log)?;
    let base = one_minus_p.f_where_self(pos, &neg_base)?;
    let gamma = x.f_full_like(cfg.gamma_neg)?.f_where_scalarother(&not_pos, cfg.gamma_pos)?;
    let weight = |b: &Tensor| -> Result<Tensor, TchError> {
        // base^gamma, 0^gamma = 0 for gamma > 0 and 1 for gamma = 0, with no NaN in the gradient at 0.
        let safe = b.f_clamp_min(1e-30)?;
        let w = safe.f_pow(&gamma)?.f_where_scalarother(&b.f_gt(0.0)?, 0.0)?;
        w.f_where_self(&gamma.f_gt(0.0)?, &b.f_ones_like()?)
    };
    let w = if cfg.focus_grad { weight(&base)? } else { weight(&base.detach())? };
    let terms = w.f_mul(&log)?.f_neg()?;
    reduce(&terms, labelled, cfg.reduction)
}
