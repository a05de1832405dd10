//! `twoway noise`: how far a column's cells move between kernel choices alone, measured by rerunning them
//! at one seed under each kernel setting of numerics.yaml; the spread is stored in the results folder, where
//! `twoway claims`, `twoway report` and `twoway diff` use it.

use crate::grid::noise::NoiseRequest;
use anyhow::Result;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use twoway_spec::Spec;

#[derive(clap::Args, Debug)]
pub struct NoiseArgs {
    /// The results folder whose columns to measure (the reruns go to its `noise/` folder, the spreads beside).
    #[arg(long)]
    pub results: PathBuf,
    /// The seed the cells are rerun at.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// `cpu` (the libraries' kernel choices and the portable mode) or `cuda[:N]` (cuDNN's algorithm choice,
    /// TF32, and a repeat).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Only these settings of numerics.yaml (comma-separated; at least two). Default: all of the device's.
    #[arg(long, value_delimiter = ',')]
    pub settings: Vec<String>,
    /// List the settings of the device and exit.
    #[arg(long)]
    pub list_settings: bool,
    /// The cells to rerun, as `twoway run` takes them (after `--`): `--grid G`, `--recipe R`, `--set K=V`,
    /// `--datasets`, `--backbones`, `--losses`, `--ways`, `--data-root`, `--weights-dir`, `--threads N`
    /// (the thread count of the run being measured).
    #[arg(last = true)]
    pub run: Vec<OsString>,
}

impl NoiseArgs {
    pub fn exec(self, spec: &Spec, out: &mut dyn Write) -> Result<()> {
        let req = NoiseRequest {
            results: self.results,
            seed: self.seed,
            device: self.device,
            settings: self.settings,
            run_args: self.run,
        };
        if self.list_settings {
            let all = if req.device.starts_with("cuda") { &spec.numerics.noise.cuda } else { &spec.numerics.noise.cpu };
            for s in all {
                writeln!(out, "{:<14} {}", s.name, s.reason)?;
            }
            return Ok(());
        }
        rerun(spec, &req, out)
    }
}

#[cfg(feature = "torch")]
fn rerun(spec: &Spec, req: &NoiseRequest, out: &mut dyn Write) -> Result<()> {
    crate::grid::noise::run(spec, req, out).map(|_| ())
}

/// The reruns are `twoway run`s, which need libtorch.
#[cfg(not(feature = "torch"))]
fn rerun(_: &Spec, _: &NoiseRequest, _: &mut dyn Write) -> Result<()> {
    Err(super::common::needs_torch("twoway noise"))
}
