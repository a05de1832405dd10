//! The set-based losses (two-way, softmax) on tensors, with their closed-form gradients.
//!
//! Each way is computed in one sweep of tensor ops (no autograd graph): the masked, scaled logits of the
//! negative and positive sets are built once and shared by both ways; each way takes one max, one exp and
//! one sum per set; the gradient reuses those exponentials (softmax weights scaled by sigmoid(z)). The
//! gradient is then attached to the value with [`attach`], so autograd sees a single node.
//! Empty sets are exact: an empty negative set gives logsumexp = -inf, a zero term and a zero gradient;
//! a way without a line holding a positive contributes 0 (no NaN anywhere).

use tch::{Kind, TchError, Tensor};
use twoway_reference::{Mask, Softmax, TwoWay, Way};
use twoway_spec::Way as W;

const NEG_INF: f64 = f64::NEG_INFINITY;

/// The dims a way reduces over: the sample way runs over classes (dim 1), the class way over samples (dim 0).
pub(crate) fn dims(way: Way) -> &'static [i64] {
    match way {
        W::Sample => &[1],
        W::Class => &[0],
        W::Both => &[1, 0],
    }
}

/// ln(1 + e^z), exact (also for z = -inf, where it is 0).
pub(crate) fn softplus(z: &Tensor) -> Result<Tensor, TchError> {
    z.f_clamp_min(0.0)?.f_add(&z.f_abs()?.f_neg()?.f_exp()?.f_log1p()?)
}

/// `value` (no graph) carrying the gradient `grad` with respect to `x`: v + (s - s.detach()) with
/// s = sum(x * grad) equals v exactly, and its gradient is `grad`. First-order only.
pub(crate) fn attach(x: &Tensor, value: Tensor, grad: Option<Tensor>) -> Result<Tensor, TchError> {
    let Some(grad) = grad.filter(|_| x.requires_grad()) else { return Ok(value) };
    let kind = grad.kind();
    let s = x.f_to_kind(kind)?.f_mul(&grad)?.f_sum(kind)?;
    value.f_add(&s.f_sub(&s.detach())?)
}

/// One set's logsumexp along `dim` (keepdim): the shift, the exponentials and their sum.
struct Lse {
    shift: Tensor,
    exps: Tensor,
    sum: Tensor,
}

impl Lse {
    fn new(v: &Tensor, dim: i64, kind: Kind) -> Result<Lse, TchError> {
        let m = v.f_amax([dim].as_slice(), true)?;
        // An all -inf line keeps shift 0, so its exponentials are 0 and its sum 0 (logsumexp -inf).
        let shift = m.f_where_scalarother(&m.f_isfinite()?, 0.0)?;
        let exps = v.f_sub(&shift)?.f_exp()?;
        let sum = exps.f_sum_dim_intlist([dim].as_slice(), true, kind)?;
        Ok(Lse { shift, exps, sum })
    }

    fn value(&self) -> Result<Tensor, TchError> {
        self.sum.f_log()?.f_add(&self.shift)
    }

    /// exps * c / sum, with 0 where the set is empty.
    fn weighted(&self, c: &Tensor) -> Result<Tensor, TchError> {
        let per_line = c.f_div(&self.sum)?.f_where_scalarother(&self.sum.f_gt(0.0)?, 0.0)?;
        self.exps.f_mul(&per_line)
    }
}

/// Value and gradient (when `need_grad`) of the two-way loss on `x` (already in the compute kind) with
/// boolean sets.
pub(crate) fn two_way(
    cfg: &TwoWay,
    x: &Tensor,
    pos: &Tensor,
    neg: &Tensor,
    need_grad: bool,
) -> Result<(Tensor, Option<Tensor>), TchError> {
    let kind = x.kind();
    let xn = x.f_mul_scalar(1.0 / cfg.tn)?;
    let xp = x.f_mul_scalar(-1.0 / cfg.tp)?;
    let (a, b) = match cfg.mask {
        Mask::Exact => (xn.f_where_scalarother(neg, NEG_INF)?, xp.f_where_scalarother(pos, NEG_INF)?),
        Mask::Official => {
            let off = twoway_reference::OFFICIAL_OFFSET;
            (xn.f_where_self(neg, &xn.f_add_scalar(off)?)?, xp.f_where_self(pos, &xp.f_add_scalar(off)?)?)
        }
    };
    let mut value = Tensor::f_zeros([], (kind, x.device()))?;
    let mut grad = if need_grad { Some(x.f_zeros_like()?) } else { None };
    for &dim in dims(cfg.way) {
        let (n, p) = (Lse::new(&a, dim, kind)?, Lse::new(&b, dim, kind)?);
        let z = n.value()?.f_mul_scalar(cfg.tn)?.f_add(&p.value()?.f_mul_scalar(cfg.tp)?)?;
        let valid = pos.f_any_dim(dim, true)?;
        let count = valid.f_sum(kind)?.f_clamp_min(1.0)?;
        value = value.f_add(&softplus(&z)?.f_where_scalarother(&valid, 0.0)?.f_sum(kind)?.f_div(&count)?)?;
        if let Some(g) = grad.as_mut() {
            let c = z.f_sigmoid()?.f_where_scalarother(&valid, 0.0)?.f_div(&count)?;
            *g = g.f_add(&n.weighted(&c)?.f_sub(&p.weighted(&c)?)?)?;
        }
    }
    Ok((value, grad))
}

/// Value and gradient (when `need_grad`) of the multi-label softmax loss.
pub(crate) fn softmax(
    cfg: &Softmax,
    x: &Tensor,
    pos: &Tensor,
    labelled: &Tensor,
    need_grad: bool,
) -> Result<(Tensor, Option<Tensor>), TchError> {
    let kind = x.kind();
    let a = x.f_where_scalarother(labelled, NEG_INF)?;
    let pos_f = pos.f_to_kind(kind)?;
    let not_pos = pos.f_logical_not()?;
    let x_pos = x.f_where_scalarother(pos, 0.0)?;
    let mut value = Tensor::f_zeros([], (kind, x.device()))?;
    let mut grad = if need_grad { Some(x.f_zeros_like()?) } else { None };
    for &dim in dims(cfg.way) {
        let d = [dim];
        let l = Lse::new(&a, dim, kind)?;
        let n_pos = pos_f.f_sum_dim_intlist(d.as_slice(), true, kind)?;
        let valid = n_pos.f_gt(0.0)?;
        let count = valid.f_sum(kind)?.f_clamp_min(1.0)?;
        let inv_pos = n_pos.f_clamp_min(1.0)?.f_reciprocal()?;
        let line = l.value()?.f_sub(&x_pos.f_sum_dim_intlist(d.as_slice(), true, kind)?.f_mul(&inv_pos)?)?;
        value = value.f_add(&line.f_where_scalarother(&valid, 0.0)?.f_sum(kind)?.f_div(&count)?)?;
        if let Some(g) = grad.as_mut() {
            // Negatives: c e / s. Positives: c (|P| e - s_pos - s_neg) / (|P| s), which does not cancel
            // against 1 when one positive dominates (the reference's form).
            let c = valid.f_to_kind(kind)?.f_div(&count)?;
            let s_pos = l.exps.f_mul(&pos_f)?.f_sum_dim_intlist(d.as_slice(), true, kind)?;
            let s_neg = l.exps.f_where_scalarother(&not_pos, 0.0)?.f_sum_dim_intlist(d.as_slice(), true, kind)?;
            let neg_part = l.weighted(&c)?.f_where_scalarother(&not_pos, 0.0)?;
            let per_line = c.f_mul(&inv_pos)?.f_div(&l.sum)?.f_where_scalarother(&l.sum.f_gt(0.0)?, 0.0)?;
            let pos_part =
                l.exps.f_mul(&n_pos)?.f_sub(&s_pos)?.f_sub(&s_neg)?.f_mul(&per_line)?.f_where_scalarother(pos, 0.0)?;
            *g = g.f_add(&neg_part.f_add(&pos_part)?)?;
        }
    }
    Ok((value, grad))
}
