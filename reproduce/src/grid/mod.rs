//! A grid of cells on one results folder: what the user asked ([`request`]: clap-free, built by the
//! command line), the plan ([`plan`]: grid and recipe resolved once, every cell's configuration and hash),
//! the inputs checked before anything trains ([`preflight`]), the cells' leases ([`lease`]), the runner of
//! one process ([`runner`]) or of several ([`supervise`]), SLURM job arrays ([`slurm`]) and the folder's
//! status ([`status`]). One cell's training is [`crate::train`]; file names are [`crate::layout`].
//!
//! Arrows point one way: `request` ← `plan` ← `runner` / `supervise` / `slurm` ← this module's [`run`];
//! `lease`, `status` and `preflight` are leaves over `layout`, `results` and `backbones`.

pub mod lease;
pub mod noise;
pub mod plan;
pub mod preflight;
pub mod request;
#[cfg(feature = "torch")]
pub mod runner;
#[cfg(feature = "torch")]
pub mod slurm;
pub mod status;
#[cfg(feature = "torch")]
pub mod supervise;

pub use request::{CellPick, Parallel, RunRequest, Selection, Shard, SlurmRequest};

#[cfg(feature = "torch")]
use anyhow::{bail, Result};

/// One line of `twoway run --list-cells`: a cell's index, label, configuration hash and status.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listed {
    pub index: usize,
    pub cell: String,
    pub config_hash: String,
    pub status: crate::layout::CellStatus,
}

/// Every cell of the request's plan with its status (nothing is trained; results of another
/// configuration are listed as stale).
#[cfg(feature = "torch")]
pub fn list(spec: &twoway_spec::Spec, req: &RunRequest) -> Result<Vec<Listed>> {
    let resolved = plan::resolve(spec, &req.selection)?;
    let prepared = plan::prepare(spec, req, &resolved, true)?;
    if prepared.plan.is_empty() {
        bail!("the filters leave no cell of grid `{}` to run", req.selection.grid);
    }
    Ok(prepared
        .plan
        .iter()
        .map(|p| Listed {
            index: p.index,
            cell: p.id.label(),
            config_hash: p.hash.clone(),
            status: plan::status(p, &req.out, req.lease),
        })
        .collect())
}

/// Runs the request's cells (in this process, or in workers); returns the closing line. Portable numerics
/// are entered first, before libtorch runs a kernel (by re-executing this process with their environment).
#[cfg(feature = "torch")]
pub fn run(spec: &twoway_spec::Spec, req: &RunRequest) -> Result<String> {
    req.threads()?;
    let resolved = plan::resolve(spec, &req.selection)?;
    let mode = resolved.base.numerics;
    if mode == twoway_spec::Numerics::Portable {
        crate::numerics::enter_portable(&spec.numerics)?;
    }
    // Resolve every cell and check the results folder before training anything.
    let prepared = plan::prepare(spec, req, &resolved, false)?;
    if prepared.plan.is_empty() {
        bail!("the filters leave no cell of grid `{}` to run", req.selection.grid);
    }
    let chosen = plan::pick(&prepared.plan, req.cell.as_ref(), req.shard)?;
    if req.parallel.children() {
        return supervise::supervise(req, &chosen);
    }
    runner::run_here(spec, req, &prepared, mode, &chosen)
}
