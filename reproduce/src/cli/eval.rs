//! `twoway eval`: a loss and its gradient on given logits and targets, by the reference or the tch twin.

use super::common::{print_json, Dtype, LossParamArgs, OutputFormat};
use crate::device::DeviceName;
use crate::loss::{self, Implementation};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::PathBuf;
use twoway_reference::AnyLoss;
use twoway_spec::{Loss, LossParams};

/// Which implementation computes the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The pure-Rust reference (f64).
    Reference,
    /// The tch (libtorch) implementation, on `--device` in `--dtype`.
    Tch,
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    #[arg(long, value_enum)]
    pub loss: Loss,
    #[command(flatten)]
    pub loss_params: LossParamArgs,
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
    pub device: DeviceName,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

impl EvalArgs {
    pub fn params(&self) -> LossParams {
        self.loss_params.params()
    }

    /// The implementation the flags ask for, and its description.
    fn implementation(&self) -> Result<(Implementation, String)> {
        match self.backend {
            Backend::Reference => {
                if self.dtype.is_some_and(|d| d != Dtype::F64) {
                    anyhow::bail!("the reference computes in f64 only; --dtype needs --backend tch");
                }
                Ok((Implementation::Reference, "reference (f64)".to_string()))
            }
            #[cfg(feature = "torch")]
            Backend::Tch => {
                let dtype = self.dtype.unwrap_or(Dtype::F32);
                let device = self.device.resolve()?;
                let name = format!("tch ({}, {})", dtype.name(), self.device);
                Ok((Implementation::Tch { kind: dtype.kind(), device }, name))
            }
            #[cfg(not(feature = "torch"))]
            Backend::Tch => Err(super::common::needs_torch("twoway eval --backend tch")),
        }
    }

    pub fn exec(self, out: &mut dyn Write) -> Result<()> {
        let loss = AnyLoss::from_params(self.loss, &self.params()).context("invalid loss parameters")?;
        let (implementation, backend) = self.implementation()?;
        let c = loss::compute(&loss, &self.logits, &self.targets, implementation)?;
        if let Some(path) = &self.grad_out {
            crate::io::write_npy(path, &c.grad)?;
        }
        let (rows, cols) = c.shape;
        match self.format {
            OutputFormat::Text => writeln!(out, "{} on {rows}x{cols} [{backend}]: {:.12}", loss.describe(), c.value)?,
            OutputFormat::Json => print_json(
                out,
                &serde_json::json!({
                    "loss": loss.kind(),
                    "config": loss.describe(),
                    "backend": backend,
                    "shape": [rows, cols],
                    "value": c.value,
                    "grad_out": self.grad_out.as_ref().map(|p| p.display().to_string()),
                }),
            )?,
        }
        Ok(())
    }
}
