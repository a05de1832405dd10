//! Training and evaluation of one cell: a backbone with a Linear head, trained with the gpu crate's loss
//! under the recipe (SGD with Nesterov momentum and weight decay, two learning-rate groups, per-iteration
//! cosine decay), evaluated by the reference's mAP@class and mAP@sample after every epoch.
//!
//! Determinism: for a given seed and thread count, training on CPU is bit-for-bit repeatable: the weights
//! are initialised from `tch::manual_seed(seed)`, the sample order and every augmentation draw come from
//! SplitMix64 streams keyed by (seed, epoch, sample), and libtorch's CPU kernels are deterministic for a
//! fixed number of threads.

use super::checkpoint;
use super::model::Model;
use super::order::{epoch_order, eval_padding};
use crate::data::pipeline::{self, Mode};
use crate::data::transforms::{EvalTf, TrainAug};
use crate::data::Split;
use crate::results::CellId;
pub use crate::results::{Epoch, Trained};
use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;
use ndarray::Array2;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use tch::{Device, Kind, Tensor};
use twoway_gpu::{MultiLabelLoss, Validation};
use twoway_reference::{evaluate_as, AnyLoss, ApOptions};
use twoway_spec::recipes::{DataOrder, Recipe, SchedulePer, StepsPerEpoch};
use twoway_spec::{Backbone, Spec};

/// The cosine factor 0.5 (1 + cos(pi t / T)) at step t of T.
pub fn cosine(t: usize, total: usize) -> f64 {
    0.5 * (1.0 + (std::f64::consts::PI * t as f64 / total.max(1) as f64).cos())
}

/// The length of a cell's training: the steps an epoch runs, and the cosine's length T.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    pub per_epoch: usize,
    pub schedule: usize,
}

impl Steps {
    /// The steps of `recipe` on a train split of `n` samples: per epoch, the batches its data order gives
    /// (the release's: each replica's ceil(n / replicas) samples batched with drop_last); the schedule's
    /// length counts `per_epoch`, or ceil(n / batch_size) (`steps_per_epoch: ceil`), times the epochs.
    pub fn of(recipe: &Recipe, n: usize) -> Steps {
        let b = recipe.batch_size;
        let per_epoch = match recipe.data_order {
            DataOrder::Shuffle if recipe.drop_last => n / b,
            DataOrder::Shuffle => n.div_ceil(b),
            DataOrder::Release => n.div_ceil(recipe.replicas) / (b / recipe.replicas),
        };
        let counted = match recipe.schedule.steps_per_epoch {
            StepsPerEpoch::Run => per_epoch,
            StepsPerEpoch::Ceil => n.div_ceil(b),
        };
        Steps { per_epoch, schedule: counted * recipe.epochs }
    }

    /// The learning-rate factor of iteration `it` of `epoch` (0-based): the cosine at the steps taken so far.
    pub fn factor(&self, epoch: usize, it: usize) -> f64 {
        cosine(epoch * self.per_epoch + it, self.schedule)
    }
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

/// Where a cell keeps its checkpoints, and whether to start from one.
pub struct Checkpoints<'a> {
    pub id: &'a CellId,
    pub out: &'a Path,
    pub config_hash: &'a str,
    /// Continue from the cell's checkpoint when there is one.
    pub resume: bool,
    /// Set (by SIGTERM / SIGUSR1) to stop after the current iteration with a checkpoint.
    pub stop: Option<&'a AtomicBool>,
}

/// Training stopped by a signal, with a checkpoint written after `iteration` of `epoch` (1-based).
#[derive(Debug, thiserror::Error)]
#[error("stopped by a signal after iteration {iteration} of epoch {epoch}; a checkpoint was written: rerun with --resume to continue")]
pub struct Interrupted {
    pub epoch: usize,
    pub iteration: usize,
}

/// What a cell's training reports as it goes: a line for its log, or the epochs done so far (once at the
/// start, with a resumed run's, then after every epoch).
pub enum Progress<'a> {
    Line(String),
    Epochs(&'a [Epoch]),
}

/// Where a cell's training starts: epoch, iteration, the epoch's loss sum so far, the head's learning rate
/// at the last iteration done, and the epochs done.
struct Start {
    epoch: usize,
    iteration: usize,
    loss_sum: f64,
    lr_head: f64,
    epochs: Vec<Epoch>,
}

/// Restores `model` from the cell's checkpoint when resuming and there is one; else the start of epoch 1.
fn start(model: &mut Model, lr_head: f64, ckpt: Option<&Checkpoints>, log: &mut dyn FnMut(Progress)) -> Result<Start> {
    let fresh = Start { epoch: 0, iteration: 0, loss_sum: 0.0, lr_head, epochs: Vec::new() };
    let Some(c) = ckpt.filter(|c| c.resume && checkpoint::path(c.id, c.out).exists()) else { return Ok(fresh) };
    let st = checkpoint::read_state(c.id, c.out)?;
    if st.config_hash != c.config_hash {
        bail!(
            "{}: the checkpoint was made under another configuration; remove it to start the cell afresh",
            checkpoint::path(c.id, c.out).display()
        );
    }
    let st = checkpoint::restore(c.id, c.out, model)?;
    log(Progress::Line(format!("resumed from the checkpoint at epoch {}, iteration {}", st.epoch + 1, st.iteration)));
    Ok(Start {
        epoch: st.epoch,
        iteration: st.iteration,
        loss_sum: st.loss_sum,
        lr_head: st.lr_head,
        epochs: st.epochs,
    })
}

/// The checkpoint state of `model` after `iteration` of `epoch` (its tensor file is named when saved).
fn state(model: &Model, ckpt: Option<&Checkpoints>, at: &Start) -> checkpoint::State {
    checkpoint::State {
        format: checkpoint::FORMAT.into(),
        config_hash: ckpt.map(|c| c.config_hash.to_string()).unwrap_or_default(),
        epoch: at.epoch,
        iteration: at.iteration,
        loss_sum: at.loss_sum,
        lr_head: at.lr_head,
        epochs: at.epochs.clone(),
        scaler: model.scaler.clone(),
        skipped: model.skipped,
        tensors: String::new(),
    }
}

/// Whether SIGTERM / SIGUSR1 asked the run to stop.
fn stopping<'a>(ckpt: Option<&'a Checkpoints<'a>>) -> Option<&'a Checkpoints<'a>> {
    ckpt.filter(|c| c.stop.is_some_and(|s| s.load(Ordering::SeqCst)))
}

/// The eval split's scores and targets with the rows of `padding` appended a second time (the release's
/// padded evaluation sampler; empty: every sample once), as every metric counts them.
fn padded(s: Array2<f64>, eval_split: &Split, padding: &[usize]) -> Result<(Array2<f64>, Array2<i8>)> {
    let y = eval_split.labels.clone();
    if padding.is_empty() {
        return Ok((s, y));
    }
    let axis = ndarray::Axis(0);
    let s = ndarray::concatenate(axis, &[s.view(), s.select(axis, padding).view()])?;
    let y = ndarray::concatenate(axis, &[y.view(), y.select(axis, padding).view()])?;
    Ok((s, y))
}

/// The splits of a cell: trained on, evaluated on, and held out for threshold tuning (the recipe's
/// `holdout`).
#[derive(Clone, Copy)]
pub struct Splits<'a> {
    pub train: &'a Split,
    pub eval: &'a Split,
    pub tuning: Option<&'a Split>,
}

/// The recipe's steps over `n` training samples, or why it cannot train on them.
fn checked_steps(recipe: &Recipe, n: usize) -> Result<Steps> {
    let steps = Steps::of(recipe, n);
    if steps.per_epoch == 0 {
        bail!("the train split has {n} samples, fewer than one batch of {}", recipe.batch_size);
    }
    if recipe.schedule.per != SchedulePer::Iteration {
        bail!("only per-iteration cosine schedules are implemented");
    }
    Ok(steps)
}

/// The final evaluation's metrics (mAP with the thresholded ones, [`crate::metrics::final_metrics`]), with
/// the tuning split's scores where the recipe holds one out.
fn final_metrics(
    map: &twoway_reference::MapReport,
    (s, y): (&Array2<f64>, &Array2<i8>),
    tuning: Option<(Array2<f64>, &Split)>,
) -> Result<(crate::results::Metrics, Option<crate::results::Tuning>)> {
    let tuning = tuning.as_ref().map(|(ts, t)| (ts.view(), t.labels.view()));
    Ok(crate::metrics::final_metrics(map, s.view(), y.view(), tuning)?)
}

/// The epoch's line in the cell's log.
fn epoch_line(e: &Epoch, epochs: usize, skipped: usize) -> String {
    let f = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.2}"));
    format!(
        "epoch {}/{epochs}: loss {:.4}, mAP@class {}, mAP@sample {}, {:.1} s{}",
        e.epoch,
        e.train_loss,
        f(e.map_class),
        f(e.map_sample),
        e.seconds,
        if skipped > 0 { format!(", {skipped} step(s) skipped for inf/NaN gradients") } else { String::new() }
    )
}

/// Trains the job's backbone under its recipe and evaluates after every epoch, streaming the images through
/// the data pipeline; with `ckpt`, writes a checkpoint at the end of every epoch (and when stopped), and
/// resumes from one. `log` gets a line per epoch and the epochs done; `bar` shows iterations.
pub fn train(
    job: &Job,
    splits: Splits,
    pipe: pipeline::Config,
    bar: &ProgressBar,
    ckpt: Option<&Checkpoints>,
    log: &mut dyn FnMut(Progress),
) -> Result<Trained> {
    let (recipe, seed, device) = (job.recipe, job.seed, job.device);
    let Splits { train: train_split, eval: eval_split, tuning: tuning_split } = splits;
    let steps = checked_steps(recipe, train_split.len())?;
    let (b, iters) = (recipe.batch_size, steps.per_epoch);
    // The release's order is the same every epoch.
    let fixed = (recipe.data_order == DataOrder::Release).then(|| epoch_order(train_split, recipe, seed, 0));
    let padding = if recipe.eval_padding { eval_padding(eval_split, recipe) } else { Vec::new() };
    let classes = train_split.labels.ncols();
    let mut model = Model::new(job.spec, recipe, job.backbone, classes, seed, job.weights, Kind::Float, device)
        .with_context(|| format!("backbone `{}`", job.backbone))?;
    let lr_head = recipe.optimizer.lr_head;
    let first = start(&mut model, lr_head, ckpt, log)?;
    let criterion = MultiLabelLoss::new(*job.loss).validation(Validation::Shape);
    let (aug, tf) = (TrainAug::from_recipe(recipe), EvalTf::from_recipe(recipe));
    bar.set_length((iters * recipe.epochs) as u64);
    bar.set_position((first.epoch * iters + first.iteration) as u64);
    let mut epochs = first.epochs.clone();
    let mut final_eval = None;
    log(Progress::Epochs(&epochs));
    for epoch in first.epoch..recipe.epochs {
        let started = std::time::Instant::now();
        let resumed = epoch == first.epoch;
        let begin = if resumed { first.iteration } else { 0 };
        let (mut sum, mut lr) = if resumed { (first.loss_sum, first.lr_head) } else { (0.0, lr_head) };
        if begin == 0 {
            model.begin_epoch(recipe);
        }
        let order = fixed.clone().unwrap_or_else(|| epoch_order(train_split, recipe, seed, epoch));
        let mode = Mode::Train { aug: &aug, seed, epoch: epoch as u64 };
        pipeline::run(train_split, &order[(begin * b).min(order.len())..], b, mode, pipe, |batch| {
            let it = begin + batch.number;
            lr = lr_head * steps.factor(epoch, it);
            let x = batch.tensor(device);
            let y = labels(train_split, &batch.samples, device);
            let v = model.step(recipe, &criterion, &x, &y, lr)?;
            if !v.is_finite() {
                bail!("the training loss became {v} at epoch {}, iteration {}", epoch + 1, it + 1);
            }
            sum += v;
            bar.set_message(format!("epoch {}/{} loss {:.4}", epoch + 1, recipe.epochs, sum / (it + 1) as f64));
            bar.inc(1);
            if let Some(c) = stopping(ckpt).filter(|_| it + 1 < iters) {
                let at = Start { epoch, iteration: it + 1, loss_sum: sum, lr_head: lr, epochs: epochs.clone() };
                checkpoint::save(c.id, c.out, &model, state(&model, ckpt, &at))?;
                bail!(Interrupted { epoch: epoch + 1, iteration: it + 1 });
            }
            Ok(())
        })?;
        let raw = model.scores(eval_split, &tf, pipe, device, 256)?;
        let (s, y) = padded(raw.clone(), eval_split, &padding)?;
        let r = evaluate_as(s.view(), y.view(), ApOptions::default())?;
        if epoch + 1 == recipe.epochs {
            let tuning = tuning_split.map(|t| Ok::<_, anyhow::Error>((model.scores(t, &tf, pipe, device, 256)?, t)));
            final_eval = Some((final_metrics(&r, (&s, &y), tuning.transpose()?)?, raw));
        }
        let e = Epoch {
            epoch: epoch + 1,
            train_loss: sum / iters as f64,
            map_class: r.map_class,
            map_sample: r.map_sample,
            lr_head: lr,
            seconds: started.elapsed().as_secs_f64(),
        };
        log(Progress::Line(epoch_line(&e, recipe.epochs, model.skipped)));
        epochs.push(e);
        log(Progress::Epochs(&epochs));
        if let Some(c) = ckpt.filter(|_| epoch + 1 < recipe.epochs) {
            let at = Start { epoch: epoch + 1, iteration: 0, loss_sum: 0.0, lr_head, epochs: epochs.clone() };
            checkpoint::save(c.id, c.out, &model, state(&model, ckpt, &at))?;
            // A signal during the last iteration or the evaluation stops here, after the epoch's checkpoint.
            if stopping(ckpt).is_some() {
                bail!(Interrupted { epoch: epoch + 1, iteration: iters });
            }
        }
    }
    let ((metrics, tuning), scores) = final_eval.context("the last epoch was not evaluated")?;
    Ok(Trained { epochs, metrics, scores: Some(scores.mapv(|v| v as f32)), tuning })
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

    /// The release on MS-COCO 2014 (82,081 training images): 4 replicas of ceil(82081 / 4) = 20,521
    /// samples batched by 128 with drop_last run 160 steps an epoch, while its cosine counts
    /// train_len = ceil(82081 / 512) = 161, over 40 epochs: T = 6,440 and the factor at the last step is
    /// 0.5 (1 + cos(pi 6399 / 6440)), not 0.
    #[test]
    fn the_release_schedule_counts_ceil_n_over_the_batch() {
        let spec = twoway_spec::Spec::embedded();
        let release = &spec.recipes["release"];
        let steps = Steps::of(release, 82_081);
        assert_eq!(steps, Steps { per_epoch: 160, schedule: 6_440 });
        let release_factor = |t: f64| 0.5 * (1.0 + (std::f64::consts::PI * t / 6440.0).cos());
        let mut compared = 0;
        for (epoch, it) in [(0, 0), (0, 159), (1, 0), (17, 93), (39, 159)] {
            let t = (epoch * 160 + it) as f64;
            assert!((steps.factor(epoch, it) - release_factor(t)).abs() < 1e-15, "epoch {epoch}, it {it}");
            compared += 1;
        }
        assert_eq!(compared, 5);
        assert!(steps.factor(39, 159) > 5e-5, "the release's factor never reaches 0");
        // Our own recipes count the steps that run and end at 0.
        let run = release.with_override("schedule.steps_per_epoch", "run").unwrap();
        let run = run.with_override("data_order", "shuffle").unwrap();
        let s = Steps::of(&run, 82_081);
        assert_eq!(s, Steps { per_epoch: 160, schedule: 6_400 });
        assert!((s.factor(40, 0)).abs() < 1e-15);
    }
}
