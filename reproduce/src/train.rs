//! Training and evaluation of one cell: a backbone with a Linear head, trained with the gpu crate's loss
//! under the recipe (SGD with Nesterov momentum and weight decay, two learning-rate groups, per-iteration
//! cosine decay), evaluated by the reference's mAP@class and mAP@sample after every epoch.
//!
//! Determinism: for a given seed and thread count, training on CPU is bit-for-bit repeatable: the weights
//! are initialised from `tch::manual_seed(seed)`, the sample order and every augmentation draw come from
//! SplitMix64 streams keyed by (seed, epoch, sample), and libtorch's CPU kernels are deterministic for a
//! fixed number of threads.

use crate::data::pipeline::{self, Mode};
use crate::data::transforms::{stream_key, EvalTf, TrainAug};
use crate::data::Split;
use crate::model::Model;
pub use crate::results::{Epoch, Trained};
use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use std::path::Path;
use tch::{Device, Kind, Tensor};
use twoway_gpu::{MultiLabelLoss, Validation};
use twoway_reference::testing::Rng;
use twoway_reference::{evaluate, AnyLoss, ApOptions};
use twoway_spec::recipes::{Recipe, SchedulePer};
use twoway_spec::{Backbone, Spec};

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

fn labels(split: &Split, idx: &[usize], device: Device) -> Tensor {
    let c = split.labels.ncols();
    let mut v = Vec::with_capacity(idx.len() * c);
    for &i in idx {
        v.extend(split.labels.row(i).iter().map(|&l| l as f32));
    }
    Tensor::from_slice(&v).view([idx.len() as i64, c as i64]).to_device(device)
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
            let x = batch.tensor(device);
            let y = labels(train_split, &batch.samples, device);
            let v = model.step(recipe, &criterion, &x, &y, lr)?;
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
