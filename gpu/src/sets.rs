//! The set-based losses (two-way, softmax) on tensors, with their closed-form gradients.
//!
//! Each way is computed in one sweep of tensor ops (no autograd graph): the masked, scaled logits of the
//! negative and positive sets are built once and shared by both ways; each way takes one max, one exp and
//! one sum per set; the gradient reuses those exponentials (softmax weights scaled by sigmoid(z)). The
//! gradient is then attached to the value with [`attach`], so autograd sees a single node.
//! Empty sets are exact: an empty negative set gives logsumexp = -inf, a zero term and a zero gradient;
//! a way without a line holding a positive contributes 0 (no NaN anywhere).

use tch::{Kind, Tensor};
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
pub(crate) fn softplus(z: &Tensor) -> Tensor {
    z.clamp_min(0.0) + (-z.abs()).exp().log1p()
}

/// `value` (no graph) carrying the gradient `grad` with respect to `x`: v + (s - s.detach()) with
/// s = sum(x * grad) equals v exactly, and its gradient is `grad`. First-order only.
pub(crate) fn attach(x: &Tensor, value: Tensor, grad: Tensor) -> Tensor {
    if !x.requires_grad() {
        return value;
    }
    let kind = grad.kind();
    let s = (x.to_kind(kind) * grad).sum(kind);
    value + (&s - s.detach())
}

/// One set's logsumexp along `dim` (keepdim): the shift, the exponentials and their sum.
struct Lse {
    shift: Tensor,
    exps: Tensor,
    sum: Tensor,
}

impl Lse {
    fn new(v: &Tensor, dim: i64, kind: Kind) -> Lse {
        let m = v.amax([dim].as_slice(), true);
        // An all -inf line keeps shift 0, so its exponentials are 0 and its sum 0 (logsumexp -inf).
        let shift = m.where_scalarother(&m.isfinite(), 0.0);
        let exps = (v - &shift).exp();
        let sum = exps.sum_dim_intlist([dim].as_slice(), true, kind);
        Lse { shift, exps, sum }
    }

    fn value(&self) -> Tensor {
        self.sum.log() + &self.shift
    }

    /// exps * c / sum, with 0 where the set is empty.
    fn weighted(&self, c: &Tensor) -> Tensor {
        let per_line = (c / &self.sum).where_scalarother(&self.sum.gt(0.0), 0.0);
        &self.exps * per_line
    }
}

/// Value and gradient of the two-way loss on `x` (already in the compute kind) with boolean sets.
pub(crate) fn two_way(cfg: &TwoWay, x: &Tensor, pos: &Tensor, neg: &Tensor) -> (Tensor, Tensor) {
    let kind = x.kind();
    let xn = x * (1.0 / cfg.tn);
    let xp = x * (-1.0 / cfg.tp);
    let (a, b) = match cfg.mask {
        Mask::Exact => (xn.where_scalarother(neg, NEG_INF), xp.where_scalarother(pos, NEG_INF)),
        Mask::Official => {
            let off = twoway_reference::OFFICIAL_OFFSET;
            (xn.where_self(neg, &(&xn + off)), xp.where_self(pos, &(&xp + off)))
        }
    };
    let mut value = Tensor::zeros([], (kind, x.device()));
    let mut grad = Tensor::zeros_like(x);
    for &dim in dims(cfg.way) {
        let (n, p) = (Lse::new(&a, dim, kind), Lse::new(&b, dim, kind));
        let z = n.value() * cfg.tn + p.value() * cfg.tp;
        let valid = pos.any_dim(dim, true);
        let count = valid.sum(kind).clamp_min(1.0);
        value += softplus(&z).where_scalarother(&valid, 0.0).sum(kind) / &count;
        let c = z.sigmoid().where_scalarother(&valid, 0.0) / &count;
        grad += n.weighted(&c) - p.weighted(&c);
    }
    (value, grad)
}

/// Value and gradient of the multi-label softmax loss.
pub(crate) fn softmax(cfg: &Softmax, x: &Tensor, pos: &Tensor, labelled: &Tensor) -> (Tensor, Tensor) {
    let kind = x.kind();
    let a = x.where_scalarother(labelled, NEG_INF);
    let pos_f = pos.to_kind(kind);
    let x_pos = x.where_scalarother(pos, 0.0);
    let mut value = Tensor::zeros([], (kind, x.device()));
    let mut grad = Tensor::zeros_like(x);
    for &dim in dims(cfg.way) {
        let d = [dim];
        let l = Lse::new(&a, dim, kind);
        let n_pos = pos_f.sum_dim_intlist(d.as_slice(), true, kind);
        let valid = n_pos.gt(0.0);
        let count = valid.sum(kind).clamp_min(1.0);
        let inv_pos = n_pos.clamp_min(1.0).reciprocal();
        let line = l.value() - x_pos.sum_dim_intlist(d.as_slice(), true, kind) * &inv_pos;
        value += line.where_scalarother(&valid, 0.0).sum(kind) / &count;
        // Negatives: c e / s. Positives: c (|P| e - s_pos - s_neg) / (|P| s), which does not cancel
        // against 1 when one positive dominates (the reference's form).
        let c = valid.to_kind(kind) / &count;
        let s_pos = (&l.exps * &pos_f).sum_dim_intlist(d.as_slice(), true, kind);
        let s_neg = l.exps.where_scalarother(&pos.logical_not(), 0.0).sum_dim_intlist(d.as_slice(), true, kind);
        let neg_part = l.weighted(&c).where_scalarother(&pos.logical_not(), 0.0);
        let per_line = (c * &inv_pos / &l.sum).where_scalarother(&l.sum.gt(0.0), 0.0);
        let pos_part = ((&l.exps * &n_pos - &s_pos - &s_neg) * per_line).where_scalarother(pos, 0.0);
        grad += neg_part + pos_part;
    }
    (value, grad)
}
