//! A classifier with its optimiser, and one optimisation step as the recipe defines it:
//! - **replicas**: the batch is split into `replicas` chunks, each run forward in train mode (BatchNorm
//!   statistics over the chunk) with its own loss (the class way compares the chunk's samples); the gradients
//!   are averaged over the chunks, as DDP's all-reduce does, and the BatchNorm running statistics are
//!   replica 0's, as DDP's buffer broadcast leaves them;
//! - **head learning rate**: the parameters picked by the recipe's rule (`release`: names containing `fc.`;
//!   `new_head`: the new Linear) train at `lr_head`, the others at `lr_head x backbone_lr_mult`;
//! - **precision**: on CUDA the forward pass runs under autocast (f16 or bf16) and the loss in f32; with
//!   loss scaling the loss is scaled before backward, the gradients unscaled, and a step with inf / NaN
//!   gradients skipped ([`LossScaler`]). On CPU the forward pass is f32 (or f64 for exactness tests).

use super::optim::Sgd;
use super::scaler::LossScaler;
use crate::backbones::{weights, Classifier, BACKBONE_GROUP, HEAD_GROUP};
use crate::data::pipeline;
use anyhow::{Context, Result};
use std::path::Path;
use tch::{nn, Device, Kind, Tensor};
use twoway_gpu::MultiLabelLoss;
use twoway_spec::recipes::{EvalPrecision, ForwardPrecision, HeadLr, Recipe, ScalerLifetime};
use twoway_spec::{Backbone, Spec};

/// A classifier with its optimiser and loss scaler: what one cell trains.
pub struct Model {
    pub vs: nn::VarStore,
    pub net: Classifier,
    pub opt: Sgd,
    /// The dynamic loss scale, when the recipe scales and the forward pass is f16 on CUDA.
    pub scaler: Option<LossScaler>,
    /// The autocast kind of the forward pass (CUDA only).
    autocast: Option<Kind>,
    /// The autocast kind of the evaluation's forward pass (`None` with `precision.eval: f32`).
    eval_autocast: Option<Kind>,
    /// Each replica's loss is scaled by the whole scale, the gradients then averaged (`per_replica`).
    per_replica: bool,
    /// BatchNorm running statistics (to keep replica 0's).
    bn_buffers: Vec<Tensor>,
    /// Steps skipped for inf / NaN gradients.
    pub skipped: usize,
}

/// The autocast kinds of training's and evaluation's forward passes under `recipe` (`None`: f32), on CUDA
/// (`cuda`) or not (always `None` on CPU).
pub fn autocast_kinds(recipe: &Recipe, cuda: bool) -> (Option<Kind>, Option<Kind>) {
    let train = match recipe.precision.forward {
        ForwardPrecision::F16 if cuda => Some(Kind::Half),
        ForwardPrecision::Bf16 if cuda => Some(Kind::BFloat16),
        _ => None,
    };
    let eval = match recipe.precision.eval {
        EvalPrecision::Forward => train,
        EvalPrecision::F32 => None,
    };
    (train, eval)
}

/// The optimiser group of the new head under a head-lr rule: the release's rule looks for `fc.` in the
/// parameter names (no trunk parameter of the registered backbones has it: tested in `backbones`).
pub fn head_group(rule: HeadLr, head_name: &str) -> usize {
    match rule {
        HeadLr::NewHead => HEAD_GROUP,
        HeadLr::Release if format!("{head_name}.weight").contains("fc.") => HEAD_GROUP,
        HeadLr::Release => BACKBONE_GROUP,
    }
}

impl Model {
    /// Builds `backbone` with a new head of `classes` outputs under `recipe`, in `kind` (f32 for training,
    /// f64 for exactness tests) on `device`. Pretrained backbones load the trunk from `weights` (the new head
    /// keeps its initialisation). The seed fixes every random initialisation.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spec: &Spec,
        recipe: &Recipe,
        backbone: Backbone,
        classes: usize,
        seed: u64,
        weights: Option<&Path>,
        kind: Kind,
        device: Device,
    ) -> Result<Model> {
        tch::manual_seed(seed as i64);
        let mut vs = nn::VarStore::new(device);
        let head = &spec.backbones[&backbone].head;
        let group = head_group(recipe.head_lr, head);
        let net = Classifier::new(&vs, spec, backbone, classes, group);
        vs.set_kind(kind);
        if let Some(w) = weights {
            weights::load(&vs, w, Some(&net.head_name))?;
        }
        let o = &recipe.optimizer;
        let opt = Sgd::new(&vs, o.momentum, o.nesterov, o.weight_decay, o.lr_head);
        let mut names: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(n, _)| n.ends_with(".running_mean") || n.ends_with(".running_var"))
            .collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        let (autocast, eval_autocast) = autocast_kinds(recipe, device.is_cuda());
        let scaler = match (&recipe.precision.loss_scaling, autocast) {
            (Some(ls), Some(Kind::Half)) => Some(LossScaler::new(ls)),
            _ => None,
        };
        let per_replica = scaler.is_some() && recipe.precision.loss_scaling.as_ref().is_some_and(|ls| ls.per_replica);
        let bn_buffers = names.into_iter().map(|(_, t)| t).collect();
        Ok(Model { vs, net, opt, scaler, autocast, eval_autocast, per_replica, bn_buffers, skipped: 0 })
    }

    /// At an epoch's start: a new loss scaler when the recipe's scaler lives one epoch.
    pub fn begin_epoch(&mut self, recipe: &Recipe) {
        if let (Some(s), Some(ls)) = (&mut self.scaler, &recipe.precision.loss_scaling) {
            if ls.lifetime == ScalerLifetime::Epoch {
                *s = LossScaler::new(ls);
            }
        }
    }

    /// The autocast kind of the forward pass (`None` off CUDA, or with an f32 recipe).
    pub fn autocast_kind(&self) -> Option<Kind> {
        self.autocast
    }

    /// Computes the step's gradients (zeroed first) over `replicas` chunks of the batch, scaled by `scale`,
    /// leaving the BatchNorm running statistics at replica 0's. Returns the mean of the chunks' losses.
    pub fn gradients(
        &mut self,
        criterion: &MultiLabelLoss,
        x: &Tensor,
        y: &Tensor,
        replicas: usize,
        scale: f64,
    ) -> Result<f64> {
        self.opt.zero_grad();
        let x = x.to_kind(self.vs.kind());
        let n = x.size()[0];
        let r = (replicas as i64).clamp(1, n.max(1));
        let xs = x.chunk(r, 0);
        let ys = y.chunk(r, 0);
        let mut replica0 = None;
        let mut total = 0.0;
        for (k, (xk, yk)) in xs.iter().zip(&ys).enumerate() {
            let logits = twoway_gpu::autocast(self.autocast, || self.net.forward_t(xk, true));
            let logits = logits.to_kind(twoway_gpu::compute_kind(self.vs.kind()));
            let l = criterion.forward(&logits, yk).with_context(|| format!("replica {k}"))?;
            total += l.double_value(&[]);
            // DDP: each replica's loss times the whole scale, the summed gradients averaged below.
            (l * if self.per_replica { scale } else { scale / r as f64 }).backward();
            if k == 0 && r > 1 {
                replica0 = Some(tch::no_grad(|| self.bn_buffers.iter().map(Tensor::copy).collect::<Vec<_>>()));
            }
        }
        if self.per_replica && r > 1 {
            tch::no_grad(|| {
                for g in self.opt.grads() {
                    let _ = g.shallow_clone().f_mul_scalar_(1.0 / r as f64);
                }
            });
        }
        if let Some(saved) = replica0 {
            tch::no_grad(|| {
                for (b, s) in self.bn_buffers.iter_mut().zip(&saved) {
                    b.copy_(s);
                }
            });
        }
        Ok(total / r as f64)
    }

    /// One optimisation step on a batch at the head's learning rate `lr_head` (the backbone's is the recipe's
    /// multiple of it). Returns the loss (the mean over the replicas).
    pub fn step(
        &mut self,
        recipe: &Recipe,
        criterion: &MultiLabelLoss,
        x: &Tensor,
        y: &Tensor,
        lr_head: f64,
    ) -> Result<f64> {
        self.opt.set_lr(HEAD_GROUP, lr_head);
        self.opt.set_lr(BACKBONE_GROUP, lr_head * recipe.optimizer.backbone_lr_mult);
        let scale = self.scaler.as_ref().map_or(1.0, |s| s.scale);
        let loss = self.gradients(criterion, x, y, recipe.replicas, scale)?;
        let take = match &mut self.scaler {
            None => true,
            Some(s) => {
                let grads = self.opt.grads();
                let finite = grads.iter().all(|g| g.isfinite().all().int64_value(&[]) != 0);
                if finite {
                    tch::no_grad(|| {
                        grads.iter().for_each(|g| {
                            let _ = g.shallow_clone().f_mul_scalar_(1.0 / scale);
                        })
                    });
                }
                s.update(!finite)
            }
        };
        if take {
            self.opt.step();
        } else {
            self.skipped += 1;
        }
        Ok(loss)
    }

    /// Scores (logits) of the whole eval split, in batches, in f64.
    pub fn scores(
        &self,
        split: &crate::data::Split,
        tf: &crate::data::transforms::EvalTf,
        pipe: pipeline::Config,
        device: Device,
        batch: usize,
    ) -> Result<ndarray::Array2<f64>> {
        let n = split.len();
        let c = split.labels.ncols();
        let mut out = Vec::with_capacity(n * c);
        let order: Vec<usize> = (0..n).collect();
        pipeline::run(split, &order, batch, pipeline::Mode::Eval { tf }, pipe, |b| {
            let x = b.tensor(device).to_kind(self.vs.kind());
            let logits = tch::no_grad(|| twoway_gpu::autocast(self.eval_autocast, || self.net.forward_t(&x, false)))
                .to_kind(Kind::Double)
                .to_device(Device::Cpu);
            out.extend(Vec::<f64>::try_from(&logits.view([-1]))?);
            Ok(())
        })?;
        Ok(ndarray::Array2::from_shape_vec((n, c), out)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twoway_reference::AnyLoss;

    fn tiny(kind: Kind, scale: Option<f64>) -> (Model, Recipe) {
        let spec = Spec::embedded();
        let recipe = spec.recipes["embedded"].clone();
        let mut m = Model::new(spec, &recipe, Backbone::Tiny, 5, 3, None, kind, Device::Cpu).unwrap();
        m.scaler = scale.map(|s| {
            let mut c = spec.recipes["release"].precision.loss_scaling.clone().unwrap();
            c.init_scale = s;
            LossScaler::new(&c)
        });
        (m, recipe)
    }

    /// A fixed batch (drawn without libtorch's global generator, which parallel tests share).
    fn batch(kind: Kind) -> (Tensor, Tensor) {
        let mut rng = twoway_reference::testing::Rng::new(11);
        let v: Vec<f64> = (0..6 * 3 * 16 * 16).map(|_| rng.uniform(-2.0, 2.0)).collect();
        let x = Tensor::from_slice(&v).view([6, 3, 16, 16]).to_kind(kind);
        let y = Tensor::from_slice(&[
            1f32, 0., 0., -1., 1., 0., 1., 1., 0., 0., 0., 0., 1., 0., 1., 0., 0., 1., 1., 0., 0., 0., 0., 1., 0., 1.,
            0., 0., 0., 1.,
        ])
        .view([6, 5]);
        (x, y)
    }

    #[test]
    fn the_release_evaluates_in_f32_and_renews_its_scaler_every_epoch() {
        let spec = Spec::embedded();
        let (release, embedded) = (&spec.recipes["release"], &spec.recipes["embedded"]);
        assert_eq!(autocast_kinds(release, true), (Some(Kind::Half), None));
        assert_eq!(autocast_kinds(embedded, true), (Some(Kind::BFloat16), Some(Kind::BFloat16)));
        assert_eq!(autocast_kinds(release, false), (None, None));
        let run = release.with_override("precision.loss_scaling.lifetime", "run").unwrap();
        for (recipe, renewed) in [(release, true), (&run, false)] {
            let (mut m, _) = tiny(Kind::Float, Some(65536.0));
            // An overflow halves the scale and resets the growth count.
            assert!(!m.scaler.as_mut().unwrap().update(true));
            assert_eq!(m.scaler.as_ref().unwrap().scale, 32768.0);
            m.begin_epoch(recipe);
            assert_eq!(m.scaler.as_ref().unwrap().scale, if renewed { 65536.0 } else { 32768.0 });
        }
    }

    #[test]
    fn ddp_scaling_per_replica_gives_the_same_gradients_in_f64() {
        let (x, y) = batch(Kind::Double);
        let mut grads = Vec::new();
        for per_replica in [false, true] {
            let (mut m, _) = tiny(Kind::Double, Some(65536.0));
            m.per_replica = per_replica;
            let loss = m.gradients(&criterion(), &x, &y, 3, 65536.0).unwrap();
            grads.push((loss, m.opt.grads().iter().map(|g| g.copy()).collect::<Vec<_>>()));
        }
        assert_eq!(grads[0].0, grads[1].0);
        let mut compared = 0;
        for (a, b) in grads[0].1.iter().zip(&grads[1].1) {
            let scale = a.abs().max().double_value(&[]).max(1e-300);
            let err = (a - b).abs().max().double_value(&[]);
            assert!(err <= 1e-12 * scale, "{err} vs {scale}");
            compared += 1;
        }
        assert!(compared > 4, "{compared} gradients compared");
    }

    fn params(m: &Model) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = m.vs.variables().into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    fn criterion() -> MultiLabelLoss {
        MultiLabelLoss::new(AnyLoss::from_params(twoway_spec::Loss::Twoway, &Default::default()).unwrap())
    }

    #[test]
    fn a_power_of_two_loss_scale_changes_nothing_in_f64() {
        let (mut plain, recipe) = tiny(Kind::Double, None);
        let (mut scaled, _) = tiny(Kind::Double, Some(1024.0));
        // The same start (libtorch's generator is shared with the tests running beside this one).
        scaled.vs.copy(&plain.vs).unwrap();
        let (x, y) = batch(Kind::Double);
        for _ in 0..2 {
            let a = plain.step(&recipe, &criterion(), &x, &y, 0.1).unwrap();
            let b = scaled.step(&recipe, &criterion(), &x, &y, 0.1).unwrap();
            assert_eq!(a.to_bits(), b.to_bits());
        }
        let mut compared = 0;
        for ((n, a), (_, b)) in params(&plain).iter().zip(params(&scaled)) {
            assert!(a.equal(&b), "{n}");
            compared += 1;
        }
        assert!(compared > 10);
        assert_eq!(scaled.skipped, 0);
        assert_eq!(scaled.scaler.as_ref().unwrap().growth_tracker, 2);
    }

    #[test]
    fn an_overflowing_scale_skips_the_step_and_backs_off() {
        // A scale beyond f32's range: the scaled loss and its gradients are inf / NaN.
        let (mut m, recipe) = tiny(Kind::Float, Some(1e300));
        let before: Vec<Tensor> = params(&m).iter().map(|(_, t)| t.copy()).collect();
        let (x, y) = batch(Kind::Float);
        m.step(&recipe, &criterion(), &x, &y, 0.1).unwrap();
        assert_eq!(m.skipped, 1);
        assert_eq!(m.scaler.as_ref().unwrap().scale, 5e299);
        // Trainable parameters unchanged (BatchNorm statistics do move in the forward pass).
        for ((n, t), b) in params(&m).iter().zip(&before) {
            if !n.contains("running") {
                assert!(t.equal(b), "{n} moved on a skipped step");
            }
        }
    }

    #[test]
    fn the_release_rule_trains_densenets_head_at_the_backbone_rate() {
        assert_eq!(head_group(HeadLr::Release, "fc"), HEAD_GROUP);
        assert_eq!(head_group(HeadLr::Release, "classifier"), BACKBONE_GROUP);
        assert_eq!(head_group(HeadLr::NewHead, "classifier"), HEAD_GROUP);
    }

    #[test]
    fn replicas_change_the_gradient_of_the_class_way_and_keep_replica_0s_statistics() {
        let (mut m, _) = tiny(Kind::Double, None);
        let (x, y) = batch(Kind::Double);
        let grads = |m: &Model| -> Vec<Tensor> { m.vs.trainable_variables().iter().map(|v| v.grad().copy()).collect() };
        let bn = |m: &Model| -> Vec<Tensor> { m.bn_buffers.iter().map(Tensor::copy).collect() };
        let start = bn(&m);
        m.gradients(&criterion(), &x, &y, 1, 1.0).unwrap();
        let one = grads(&m);
        // Reset the statistics, then two replicas.
        tch::no_grad(|| {
            m.bn_buffers.iter_mut().zip(&start).for_each(|(b, s)| {
                b.copy_(s);
            })
        });
        m.gradients(&criterion(), &x, &y, 2, 1.0).unwrap();
        let two = grads(&m);
        let after_two = bn(&m);
        let differ = one.iter().zip(&two).any(|(a, b)| (a - b).abs().max().double_value(&[]) > 1e-9);
        assert!(differ, "two replicas gave one replica's gradients");
        // By hand: replica 0 alone, from the same statistics, gives the statistics two replicas leave.
        tch::no_grad(|| {
            m.bn_buffers.iter_mut().zip(&start).for_each(|(b, s)| {
                b.copy_(s);
            })
        });
        m.gradients(&criterion(), &x.narrow(0, 0, 3), &y.narrow(0, 0, 3), 1, 1.0).unwrap();
        for (a, b) in bn(&m).iter().zip(&after_two) {
            assert!(a.equal(b));
        }
    }
}
