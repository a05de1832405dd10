//! `twoway eval` (a loss and its gradient on given logits and targets) and `twoway map` (mAP@class and
//! mAP@sample of given scores).

use crate::io;
use anyhow::{Context, Result};
use ndarray::Array2;
use std::io::Write;
use std::path::{Path, PathBuf};
use twoway_reference::{evaluate, evaluate_as, AnyLoss, ApOptions, LossFn, MapReport, RefError};
use twoway_spec::{Denominator, Loss, LossParams, Mask, Reduction, Ties, Way};

/// Which implementation computes the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The pure-Rust reference (f64).
    Reference,
    /// The tch (libtorch) implementation, on `--device` in `--dtype`.
    Tch,
}

/// The kind the tch backend computes the logits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dtype {
    F64,
    F32,
    F16,
    Bf16,
}

impl Dtype {
    #[cfg(feature = "torch")]
    pub fn kind(self) -> tch::Kind {
        match self {
            Dtype::F64 => tch::Kind::Double,
            Dtype::F32 => tch::Kind::Float,
            Dtype::F16 => tch::Kind::Half,
            Dtype::Bf16 => tch::Kind::BFloat16,
        }
    }
}

/// A device name: `cpu`, `cuda` (the first CUDA device) or `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceArg {
    Cpu,
    Cuda(usize),
}

impl std::str::FromStr for DeviceArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(DeviceArg::Cpu),
            "cuda" => Ok(DeviceArg::Cuda(0)),
            _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(DeviceArg::Cuda(n)),
                _ => Err(format!("unknown device `{s}`: use cpu, cuda or cuda:N")),
            },
        }
    }
}

impl DeviceArg {
    /// The device, after checking that libtorch sees it.
    #[cfg(feature = "torch")]
    pub fn resolve(self) -> Result<tch::Device> {
        match self {
            DeviceArg::Cpu => Ok(tch::Device::Cpu),
            DeviceArg::Cuda(n) => {
                let count = if tch::Cuda::is_available() { tch::Cuda::device_count() as usize } else { 0 };
                if n >= count {
                    anyhow::bail!(
                        "device cuda:{n} asked for, but libtorch sees {count} CUDA device(s) ({}); use --device cpu",
                        twoway_gpu::runtime_info()
                    );
                }
                Ok(tch::Device::Cuda(n))
            }
        }
    }

    pub fn name(self) -> String {
        match self {
            DeviceArg::Cpu => "cpu".into(),
            DeviceArg::Cuda(n) => format!("cuda:{n}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutFormat {
    Text,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    #[arg(long, value_enum)]
    pub loss: Loss,
    /// Way of the set-based losses (twoway, softmax).
    #[arg(long, value_enum)]
    pub way: Option<Way>,
    /// Positive temperature Tp of the two-way loss (default 4).
    #[arg(long, allow_negative_numbers = true)]
    pub tp: Option<f64>,
    /// Negative temperature Tn of the two-way loss (default 1).
    #[arg(long, allow_negative_numbers = true)]
    pub tn: Option<f64>,
    /// Masking of the two-way loss: exact (-inf) or official (the release's -100 offset).
    #[arg(long, value_enum)]
    pub mask: Option<Mask>,
    /// Reduction of the element-wise losses (bce, focal, asl).
    #[arg(long, value_enum)]
    pub reduction: Option<Reduction>,
    /// Focal: focusing exponent.
    #[arg(long, allow_negative_numbers = true)]
    pub gamma: Option<f64>,
    /// Focal: weight of the positives.
    #[arg(long, allow_negative_numbers = true)]
    pub alpha: Option<f64>,
    /// ASL: negative focusing exponent.
    #[arg(long, allow_negative_numbers = true)]
    pub gamma_neg: Option<f64>,
    /// ASL: positive focusing exponent.
    #[arg(long, allow_negative_numbers = true)]
    pub gamma_pos: Option<f64>,
    /// ASL: probability margin of the negatives.
    #[arg(long, allow_negative_numbers = true)]
    pub clip: Option<f64>,
    /// ASL: clamp inside the logs.
    #[arg(long, allow_negative_numbers = true)]
    pub eps: Option<f64>,
    /// ASL: differentiate the focusing weight.
    #[arg(long)]
    pub focus_grad: Option<bool>,
    /// Logits, samples x classes (.npy or .json).
    #[arg(long)]
    pub logits: PathBuf,
    /// Targets of the same shape: 1 positive, 0 negative, -1 unknown (.npy or .json).
    #[arg(long)]
    pub targets: PathBuf,
    /// Write the gradient with respect to the logits here (f64 .npy, the logits' shape).
    #[arg(long)]
    pub grad_out: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "reference")]
    pub backend: Backend,
    /// The kind the tch backend computes in (default f32; the reference is always f64).
    #[arg(long, value_enum)]
    pub dtype: Option<Dtype>,
    /// The device of the tch backend: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutFormat,
}

impl EvalArgs {
    pub fn params(&self) -> LossParams {
        LossParams {
            tp: self.tp,
            tn: self.tn,
            way: self.way,
            mask: self.mask,
            reduction: self.reduction,
            gamma: self.gamma,
            alpha: self.alpha,
            gamma_neg: self.gamma_neg,
            gamma_pos: self.gamma_pos,
            clip: self.clip,
            eps: self.eps,
            focus_grad: self.focus_grad,
        }
    }
}

/// Reads logits and targets and checks their shapes agree, naming both files otherwise.
pub fn read_pair(a: &Path, b: &Path) -> Result<(Array2<f64>, Array2<f64>)> {
    let x = io::read_matrix(a)?;
    let y = io::read_matrix(b)?;
    same_shape((a, x.dim()), (b, y.dim()))?;
    Ok((x, y))
}

/// Refuses two matrices of different shapes, naming both files.
fn same_shape((a, da): (&Path, (usize, usize)), (b, db): (&Path, (usize, usize))) -> Result<()> {
    if da != db {
        anyhow::bail!("{} has shape {da:?} but {} has shape {db:?}", a.display(), b.display());
    }
    Ok(())
}

pub fn eval(a: &EvalArgs, out: &mut dyn Write) -> Result<()> {
    let loss = AnyLoss::from_params(a.loss, &a.params()).context("invalid loss parameters")?;
    let (x, y) = read_pair(&a.logits, &a.targets)?;
    // The same input checks (with the offending position) for every backend.
    twoway_reference::check::inputs(x.view(), y.view()).map_err(|e| blame(e, &a.logits, &a.targets))?;
    let (value, grad, backend) = match a.backend {
        Backend::Reference => {
            if a.dtype.is_some_and(|d| d != Dtype::F64) {
                anyhow::bail!("the reference computes in f64 only; --dtype needs --backend tch");
            }
            let (v, g) = loss.value_and_grad(x.view(), y.view()).map_err(|e| blame(e, &a.logits, &a.targets))?;
            (v, g, "reference (f64)".to_string())
        }
        #[cfg(feature = "torch")]
        Backend::Tch => {
            let dtype = a.dtype.unwrap_or(Dtype::F32);
            let device = a.device.resolve()?;
            let (v, g) = tch_value_and_grad(&loss, &x, &y, dtype.kind(), device)?;
            (v, g, format!("tch ({}, {})", format!("{dtype:?}").to_lowercase(), a.device.name()))
        }
        #[cfg(not(feature = "torch"))]
        Backend::Tch => return Err(crate::cli::needs_torch("twoway eval --backend tch")),
    };
    if let Some(path) = &a.grad_out {
        io::write_npy(path, &grad)?;
    }
    match a.format {
        OutFormat::Text => {
            writeln!(out, "{} on {}x{} [{backend}]: {value:.12}", describe(&loss), x.nrows(), x.ncols())?
        }
        OutFormat::Json => {
            let v = serde_json::json!({
                "loss": loss.kind(),
                "config": describe(&loss),
                "backend": backend,
                "shape": [x.nrows(), x.ncols()],
                "value": value,
                "grad_out": a.grad_out.as_ref().map(|p| p.display().to_string()),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
    }
    Ok(())
}

/// The loss and its autograd gradient through the tch implementation (gradient returned in f64).
#[cfg(feature = "torch")]
pub fn tch_value_and_grad(
    loss: &AnyLoss,
    x: &Array2<f64>,
    y: &Array2<f64>,
    kind: tch::Kind,
    device: tch::Device,
) -> Result<(f64, Array2<f64>)> {
    let (xs, ys) = (x.as_standard_layout(), y.as_standard_layout());
    let (value, grad) = twoway_gpu::value_and_grad_f64(
        loss,
        xs.as_slice().expect("contiguous"),
        ys.as_slice().expect("contiguous"),
        x.dim(),
        kind,
        device,
    )?;
    Ok((value, Array2::from_shape_vec(x.dim(), grad)?))
}

/// Names the file an input error comes from: labels are the targets', values the logits' / scores'.
pub fn blame(e: RefError, values: &Path, targets: &Path) -> anyhow::Error {
    match e {
        RefError::BadLabel { .. } => anyhow::anyhow!("{}: {e}", targets.display()),
        RefError::NonFinite { .. } => anyhow::anyhow!("{}: {e}", values.display()),
        other => anyhow::anyhow!("{} / {}: {other}", values.display(), targets.display()),
    }
}

/// A one-line description of a loss configuration.
pub fn describe(loss: &AnyLoss) -> String {
    match loss {
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

#[derive(clap::Args, Debug)]
pub struct MapArgs {
    /// Scores, samples x classes (.npy or .json).
    #[arg(long)]
    pub scores: PathBuf,
    /// Targets of the same shape: 1 positive, 0 negative, -1 unknown.
    #[arg(long)]
    pub targets: PathBuf,
    /// How tied scores rank.
    #[arg(long, value_enum, default_value = "grouped")]
    pub ties: Ties,
    /// AP denominator: the positive count (exact) or the release's positives + 1e-8.
    #[arg(long, value_enum, default_value = "exact")]
    pub denominator: Denominator,
    /// Also report the AP of every class.
    #[arg(long)]
    pub per_class: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutFormat,
}

/// mAP of scores and targets as their files hold them (f32 scores and int8 / f32 targets are not widened).
fn map_report(scores: &io::Scores, targets: &io::Targets, opts: ApOptions) -> Result<MapReport, RefError> {
    use io::{Scores as S, Targets as T};
    match (scores, targets) {
        (S::F64(s), T::F64(t)) => evaluate(s.view(), t.view(), opts),
        (S::F64(s), T::F32(t)) => evaluate_as(s.view(), t.view(), opts),
        (S::F64(s), T::I8(t)) => evaluate_as(s.view(), t.view(), opts),
        (S::F32(s), T::F64(t)) => evaluate_as(s.view(), t.view(), opts),
        (S::F32(s), T::F32(t)) => evaluate_as(s.view(), t.view(), opts),
        (S::F32(s), T::I8(t)) => evaluate_as(s.view(), t.view(), opts),
    }
}

pub fn map(a: &MapArgs, out: &mut dyn Write) -> Result<()> {
    let (s, y) = (io::read_scores(&a.scores)?, io::read_targets(&a.targets)?);
    same_shape((&a.scores, s.dim()), (&a.targets, y.dim()))?;
    let opts = ApOptions { ties: a.ties, denominator: a.denominator };
    let r = map_report(&s, &y, opts).map_err(|e| blame(e, &a.scores, &a.targets))?;
    let kept = |v: &[Option<f64>]| v.iter().filter(|x| x.is_some()).count();
    match a.format {
        OutFormat::Json => {
            let mut v = serde_json::json!({
                "map_class": r.map_class,
                "map_sample": r.map_sample,
                "classes_evaluated": kept(&r.per_class),
                "samples_evaluated": kept(&r.per_sample),
                "ties": a.ties,
                "denominator": a.denominator,
            });
            if a.per_class {
                v["per_class"] = serde_json::json!(r.per_class);
            }
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        OutFormat::Text => {
            let f = |v: Option<f64>| v.map_or("n/a (no positive)".to_string(), |v| format!("{v:.4}"));
            writeln!(
                out,
                "mAP@class  {} ({} of {} classes with a positive)",
                f(r.map_class),
                kept(&r.per_class),
                r.per_class.len()
            )?;
            writeln!(
                out,
                "mAP@sample {} ({} of {} samples with a positive)",
                f(r.map_sample),
                kept(&r.per_sample),
                r.per_sample.len()
            )?;
            if a.per_class {
                for (j, ap) in r.per_class.iter().enumerate() {
                    writeln!(out, "class {j}: {}", f(*ap))?;
                }
            }
        }
    }
    Ok(())
}
