//! Training and evaluation of one cell: a backbone with a Linear head, trained with the gpu crate's loss
//! under the recipe (SGD with Nesterov momentum and weight decay, two learning-rate groups, per-iteration
//! cosine decay), evaluated by the reference's mAP@class and mAP@sample after every epoch.
//!
//! Determinism: for a given seed and thread count, training on CPU is bit-for-bit repeatable: the weights
//! are initialised from `tch::manual_seed(seed)`, the sample order and every augmentation draw come from
//! SplitMix64 streams keyed by (seed, epoch, sample), and libtorch's CPU kernels are deterministic for a
//! fixed number of threads.

use crate::backbones::{weights, Classifier, BACKBONE_GROUP, HEAD_GROUP};
use crate::data::pipeline::{self, Mode};
use crate::data::transforms::{stream_key, EvalTf, TrainAug};
use crate::data::Split;
use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use std::path::Path;
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};
use twoway_gpu::{MultiLabelLoss, Validation};
use twoway_reference::testing::Rng;
use twoway_reference::{evaluate, AnyLoss, ApOptions};
use twoway_spec::recipes::{ForwardPrecision, Recipe, SchedulePer};
use twoway_spec::{Backbone, Spec};

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Epoch {
    pub epoch: usize,
    /// Mean training loss over the epoch's iterations.
    pub train_loss: f64,
    pub map_class: Option<f64>,
    pub map_sample: Option<f64>,
    /// Learning rate of the head at the epoch's last iteration.
    pub lr_head: f64,
    pub seconds: f64,
}

/// The outcome of a cell: the final metrics are the last epoch's.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Trained {
    pub epochs: Vec<Epoch>,
}

/// The cosine factor 0.5 (1 + cos(pi t / T)) at step t of T.
pub fn cosine(t: usize, total: usize) -> f64 {
    0.5 * (1.0 + (std::f64::consts::PI * t as f64 / total.max(1) as f64).cos())
}

/// A seeded permutation of 0..n (Fisher-Yates), one per (seed, epoch).
pub fn shuffled(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut rng = Rng::new(stream_key(seed, epoch, u64::MAX));
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
    v
}

fn batch_tensor(b: &pipeline::Batch, device: Device) -> Tensor {
    let side = b.side as i64;
    Tensor::from_slice(&b.images).view([b.samples.len() as i64, 3, side, side]).to_device(device)
}

fn labels(split: &Split, idx: &[usize], device: Device) -> Tensor {
    let c = split.labels.ncols();
    let mut v = Vec::with_capacity(idx.len() * c);
    for &i in idx {
        v.extend(split.labels.row(i).iter().map(|&l| l as f32));
    }
    Tensor::from_slice(&v).view([idx.len() as i64, c as i64]).to_device(device)
}

/// A classifier with its optimiser: what one cell trains.
pub struct Model {
    pub vs: nn::VarStore,
    pub net: Classifier,
    pub opt: nn::Optimizer,
}

impl Model {
    /// Builds `backbone` with a new head of `classes` outputs under `recipe`'s optimiser, in `kind` (f32 for
    /// training, f64 for exactness tests) on `device`. Pretrained backbones load the trunk from `weights`
    /// (the new head keeps its initialisation). The seed fixes every random initialisation.
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
        let net = Classifier::new(&vs, spec, backbone, classes, HEAD_GROUP);
        vs.set_kind(kind);
        if let Some(w) = weights {
            weights::load(&vs, w, Some(&net.head_name))?;
        }
        let o = &recipe.optimizer;
        let opt = nn::Sgd { momentum: o.momentum, dampening: 0.0, wd: o.weight_decay, nesterov: o.nesterov }
            .build(&vs, o.lr_head)?;
        Ok(Model { vs, net, opt })
    }

    /// One optimisation step on a batch at the head's learning rate `lr_head` (the backbone's is the recipe's
    /// multiple of it): forward in train mode, the loss (in f32, or f64 for an f64 model), backward, SGD.
    /// Returns the loss.
    pub fn step(
        &mut self,
        recipe: &Recipe,
        criterion: &MultiLabelLoss,
        x: &Tensor,
        y: &Tensor,
        lr_head: f64,
        autocast: bool,
    ) -> Result<f64> {
        self.opt.set_lr_group(HEAD_GROUP, lr_head);
        self.opt.set_lr_group(BACKBONE_GROUP, lr_head * recipe.optimizer.backbone_lr_mult);
        let x = x.to_kind(self.vs.kind());
        // bf16 mixed precision for the forward pass on CUDA; the loss in f32.
        let logits = twoway_gpu::autocast_bf16(autocast, || self.net.forward_t(&x, true));
        let logits = logits.to_kind(twoway_gpu::compute_kind(self.vs.kind()));
        let l = criterion.forward(&logits, y)?;
        self.opt.backward_step(&l);
        Ok(l.double_value(&[]))
    }

    /// Scores (logits) of the whole eval split, in batches, in f64.
    fn scores(
        &self,
        split: &Split,
        tf: &EvalTf,
        pipe: pipeline::Config,
        device: Device,
        batch: usize,
    ) -> Result<ndarray::Array2<f64>> {
        let n = split.len();
        let c = split.labels.ncols();
        let mut out = Vec::with_capacity(n * c);
        let order: Vec<usize> = (0..n).collect();
        pipeline::run(split, &order, batch, Mode::Eval { tf }, pipe, |b| {
            let x = batch_tensor(&b, device).to_kind(self.vs.kind());
            let logits = tch::no_grad(|| self.net.forward_t(&x, false)).to_kind(Kind::Double).to_device(Device::Cpu);
            out.extend(Vec::<f64>::try_from(&logits.view([-1]))?);
            Ok(())
        })?;
        Ok(ndarray::Array2::from_shape_vec((n, c), out)?)
    }
}

/// What a cell trains: the backbone, where its pretrained weights are, the loss and the seed.
pub struct Job<'a> {
    pub spec: &'a Spec,
    pub recipe: &'a Recipe,
    pub backbone: Backbone,
    pub weights: Option<&'a Path>,
    pub loss: &'a AnyLoss,
    pub seed: u64,
    pub device: Device,
}

/// Trains the job's backbone under its recipe and evaluates after every epoch, streaming the images through
/// the data pipeline. `bar` shows iterations.
pub fn train(
    job: &Job,
    train_split: &Split,
    eval_split: &Split,
    pipe: pipeline::Config,
    bar: &ProgressBar,
) -> Result<Trained> {
    let (recipe, seed, device) = (job.recipe, job.seed, job.device);
    let classes = train_split.labels.ncols();
    let b = recipe.batch_size;
    let n = train_split.len();
    let iters = if recipe.drop_last { n / b } else { n.div_ceil(b) };
    if iters == 0 {
        bail!("the train split has {n} samples, fewer than one batch of {b}");
    }
    if recipe.schedule.per != SchedulePer::Iteration {
        bail!("only per-iteration cosine schedules are implemented");
    }
    let mut model = Model::new(job.spec, recipe, job.backbone, classes, seed, job.weights, Kind::Float, device)
        .with_context(|| format!("backbone `{}`", job.backbone))?;
    let o = &recipe.optimizer;
    let criterion = MultiLabelLoss::new(*job.loss).validation(Validation::Shape);
    let aug = TrainAug::from_recipe(recipe);
    let tf = EvalTf::from_recipe(recipe);
    let total = iters * recipe.epochs;
    let autocast = recipe.precision.forward == ForwardPrecision::Autocast && device.is_cuda();
    bar.set_length(total as u64);
    let mut epochs = Vec::new();
    for epoch in 0..recipe.epochs {
        let started = std::time::Instant::now();
        let (mut sum, mut lr) = (0.0, o.lr_head);
        let mut order = shuffled(n, seed, epoch as u64);
        order.truncate((iters * b).min(n));
        let mode = Mode::Train { aug: &aug, seed, epoch: epoch as u64 };
        pipeline::run(train_split, &order, b, mode, pipe, |batch| {
            let it = batch.number;
            lr = o.lr_head * cosine(epoch * iters + it, total);
            let x = batch_tensor(&batch, device);
            let y = labels(train_split, &batch.samples, device);
            let v = model.step(recipe, &criterion, &x, &y, lr, autocast)?;
            if !v.is_finite() {
                bail!("the training loss became {v} at epoch {}, iteration {}", epoch + 1, it + 1);
            }
            sum += v;
            bar.set_message(format!("epoch {}/{} loss {:.4}", epoch + 1, recipe.epochs, sum / (it + 1) as f64));
            bar.inc(1);
            Ok(())
        })?;
        let s = model.scores(eval_split, &tf, pipe, device, 256)?;
        let r = evaluate(s.view(), eval_split.labels.mapv(f64::from).view(), ApOptions::default())?;
        epochs.push(Epoch {
            epoch: epoch + 1,
            train_loss: sum / iters as f64,
            map_class: r.map_class,
            map_sample: r.map_sample,
            lr_head: lr,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(Trained { epochs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_runs_from_one_to_zero() {
        assert_eq!(cosine(0, 10), 1.0);
        assert!((cosine(5, 10) - 0.5).abs() < 1e-15);
        assert!(cosine(10, 10).abs() < 1e-15);
    }

    #[test]
    fn shuffles_are_seeded_permutations() {
        let a = shuffled(100, 1, 0);
        assert_eq!(a, shuffled(100, 1, 0));
        assert_ne!(a, shuffled(100, 1, 1));
        let mut s = a.clone();
        s.sort();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
    }
}
