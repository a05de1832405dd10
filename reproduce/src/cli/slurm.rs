//! `twoway slurm`: the cells of `twoway run`'s selection as a SLURM job array. It takes only what a
//! submission uses: a run-only flag of `twoway run` (`--cell`, `--shard`, `--workers`, `--devices`,
//! `--list-cells`, `--data-workers`, `--keep-going`, `--device`, `--threads`, `--resume`, `--format`) is
//! an error naming it, since every array task runs one cell with `--resume` on its own resources.

use super::run::{FolderArgs, SelectionArgs};
use crate::grid::SlurmRequest;
use anyhow::Result;
use std::io::Write;
use twoway_spec::Spec;

/// `twoway slurm`'s arguments: the cells, and the job array's resources.
#[derive(clap::Args, Debug)]
#[command(after_help = "Each array task runs `twoway run --cell $SLURM_ARRAY_TASK_ID --resume` with --cpus-per-task \
threads, on cuda when --gpus-per-task > 0: the run-only flags of `twoway run` are not flags of `twoway slurm`.")]
pub struct SlurmArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub folder: FolderArgs,
    /// The partition to submit to.
    #[arg(long)]
    pub partition: Option<String>,
    /// GPUs per array task (each task trains on `cuda`, the GPU SLURM gives it).
    #[arg(long, default_value_t = 0)]
    pub gpus_per_task: usize,
    /// CPU cores per array task (its --threads).
    #[arg(long, default_value_t = 4)]
    pub cpus_per_task: usize,
    /// Time limit per array task, in SLURM's format (e.g. 2-00:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// At most this many array tasks at once.
    #[arg(long)]
    pub array_limit: Option<usize>,
    #[arg(long)]
    pub account: Option<String>,
    /// Submit the scripts with sbatch (else only write them).
    #[arg(long)]
    pub submit: bool,
}

impl SlurmArgs {
    pub fn into_request(self) -> SlurmRequest {
        SlurmRequest {
            run: self.folder.request(self.selection.into_selection()),
            partition: self.partition,
            gpus_per_task: self.gpus_per_task,
            cpus_per_task: self.cpus_per_task,
            time: self.time,
            array_limit: self.array_limit,
            account: self.account,
            submit: self.submit,
        }
    }

    #[cfg(feature = "torch")]
    pub fn exec(self, spec: &Spec, out: &mut dyn Write) -> Result<()> {
        write!(out, "{}", crate::grid::slurm::slurm(spec, &self.into_request())?)?;
        Ok(())
    }

    #[cfg(not(feature = "torch"))]
    pub fn exec(self, _: &Spec, _: &mut dyn Write) -> Result<()> {
        Err(super::common::needs_torch("twoway slurm"))
    }
}
