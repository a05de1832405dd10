//! `twoway run`: its flags, turned into a [`RunRequest`] (where they are checked), then the grid layer.
//! The flags that select cells and their inputs ([`SelectionArgs`], [`FolderArgs`]) are `twoway slurm`'s
//! too; the rest are the run's own.

use super::common::OutputFormat;
use crate::device::DeviceName;
use crate::grid::{CellPick, Parallel, RunRequest, Selection, Shard};
use anyhow::{bail, Result};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use twoway_spec::{Backbone, Dataset, Loss, Spec, Way};

/// Which cells, under which recipe.
#[derive(clap::Args, Debug)]
pub struct SelectionArgs {
    /// A built-in grid (embedded, embedded-ci, paper, batch-size, data-order, compare) or a grid YAML file.
    #[arg(long, default_value = "embedded")]
    pub grid: String,
    /// Train under this recipe instead of the grid's: a recipe of the spec (release, embedded, ...) or a
    /// recipe YAML file.
    #[arg(long)]
    pub recipe: Option<String>,
    /// Override a recipe key (dotted, e.g. `batch_size=256`, `optimizer.lr_head=0.02`); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// How libtorch's CPU kernels are chosen (overrides the recipe's `numerics`): `portable` gives the same
    /// bits on any x86-64 CPU for a seed and thread count; `native` lets each library choose by CPU (faster).
    #[arg(long, value_enum)]
    pub numerics: Option<twoway_spec::Numerics>,
    /// Only these datasets (comma-separated).
    #[arg(long, value_delimiter = ',', value_parser = super::common::dataset_arg)]
    pub datasets: Vec<Dataset>,
    /// Only these backbones.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub backbones: Vec<Backbone>,
    /// Only these losses.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub losses: Vec<Loss>,
    /// Only these ways of the set-based losses (the element-wise losses have none and are kept).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub ways: Vec<Way>,
    /// Run these seeds instead of the grid's.
    #[arg(long, value_delimiter = ',')]
    pub seeds: Vec<u64>,
}

/// The results folder and the inputs of its cells.
#[derive(clap::Args, Debug)]
pub struct FolderArgs {
    /// The results folder.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Where datasets live (default: $TWOWAY_DATA, else ~/.cache/twoway); the embedded one is generated there.
    #[arg(long)]
    pub data_root: Option<PathBuf>,
    /// Where the pretrained backbones' weight files are (`<backbone>.safetensors`; default: DATA_ROOT/weights).
    #[arg(long)]
    pub weights_dir: Option<PathBuf>,
    /// Seconds after which a claim whose heartbeat stopped (another host) is taken over.
    #[arg(long, default_value_t = 600)]
    pub lease: u64,
    /// Keep the checkpoints of finished cells (they are removed by default).
    #[arg(long)]
    pub keep_checkpoints: bool,
    /// Write each cell's final evaluation scores (seed<k>.scores.npy, f32 logits), targets
    /// (seed<k>.targets.npy) and sample ids (seed<k>.ids.txt) beside its result, for `twoway metrics`
    /// (each eval sample once: under a recipe with eval_padding the recorded metrics count the padded
    /// samples twice).
    #[arg(long)]
    pub save_scores: bool,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub folder: FolderArgs,
    /// auto (the first CUDA device if any, else the CPU), cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: DeviceName,
    /// CPU threads for libtorch and the data pipeline (default: all cores). Results are repeatable for a
    /// fixed seed and thread count.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Keep the finished cells in --out and run only the rest.
    #[arg(long)]
    pub resume: bool,
    /// Threads that decode and transform images ahead of training (default: --threads).
    #[arg(long)]
    pub data_workers: Option<usize>,
    /// Run cells in N processes at once (CPU), each with --threads threads; they share the claims.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Run cells concurrently, one process per device (e.g. cuda:0,cuda:1).
    #[arg(long, value_delimiter = ',', conflicts_with = "workers")]
    pub devices: Vec<DeviceName>,
    /// Print the grid's cells (index, cell, config hash, status) and exit.
    #[arg(long)]
    pub list_cells: bool,
    /// Format of --list-cells.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// Run only this cell: its index in --list-cells, or its id (e.g. embedded/tiny/bce/seed0).
    #[arg(long)]
    pub cell: Option<CellPick>,
    /// Run only the cells whose index is i modulo n (`--shard i/n`).
    #[arg(long)]
    pub shard: Option<Shard>,
    /// After a cell fails, go on with the next ones (and exit 2 at the end) instead of stopping.
    #[arg(long)]
    pub keep_going: bool,
}

impl SelectionArgs {
    pub fn into_selection(self) -> Selection {
        Selection {
            grid: self.grid,
            recipe: self.recipe,
            set: self.set,
            numerics: self.numerics,
            datasets: self.datasets,
            backbones: self.backbones,
            losses: self.losses,
            ways: self.ways,
            seeds: self.seeds,
        }
    }
}

impl FolderArgs {
    /// A request for the selection on this folder, the run-only choices at their defaults.
    pub fn request(self, selection: Selection) -> RunRequest {
        let mut r = RunRequest::new(selection, self.out);
        r.data_root = self.data_root;
        r.weights_dir = self.weights_dir;
        r.lease = Duration::from_secs(self.lease);
        r.keep_checkpoints = self.keep_checkpoints;
        r.save_scores = self.save_scores;
        r
    }
}

impl RunArgs {
    /// The request these flags make, after checking them.
    pub fn into_request(self) -> Result<RunRequest> {
        if self.threads == Some(0) {
            bail!("--threads must be at least 1");
        }
        if self.workers == 0 {
            bail!("--workers must be at least 1");
        }
        let mut r = self.folder.request(self.selection.into_selection());
        r.device = self.device;
        r.threads = self.threads;
        r.data_workers = self.data_workers;
        r.parallel =
            if self.devices.is_empty() { Parallel::Workers(self.workers) } else { Parallel::Devices(self.devices) };
        r.cell = self.cell;
        r.shard = self.shard;
        r.resume = self.resume;
        r.keep_going = self.keep_going;
        Ok(r)
    }

    #[cfg(feature = "torch")]
    pub fn exec(self, spec: &Spec, out: &mut dyn Write) -> Result<()> {
        let (list, format) = (self.list_cells, self.format);
        let req = self.into_request()?;
        if !list {
            writeln!(out, "{}", crate::grid::run(spec, &req)?)?;
            if req.cell.is_none() && req.shard.is_none() {
                template_summary(spec, &req, out)?;
            }
            return Ok(());
        }
        let rows = crate::grid::list(spec, &req)?;
        match format {
            OutputFormat::Json => super::common::print_json(out, &rows)?,
            OutputFormat::Text => {
                for r in &rows {
                    writeln!(out, "{:>4}  {:<8} {}  {}", r.index, r.status.as_str(), &r.config_hash[..12], r.cell)?;
                }
            }
        }
        Ok(())
    }

    #[cfg(not(feature = "torch"))]
    pub fn exec(self, _: &Spec, _: &mut dyn Write) -> Result<()> {
        Err(super::common::needs_torch("twoway run"))
    }
}

/// After a template grid (`--grid compare`, `--grid batch-size`): the table of the datasets it ran and the
/// claims on them.
#[cfg(feature = "torch")]
fn template_summary(spec: &Spec, req: &RunRequest, out: &mut dyn Write) -> Result<()> {
    use crate::report::table::{self, Tables};
    let grid = crate::grid::plan::load_grid(spec, &req.selection.grid)?;
    // A sweep's variants stay out of the paper's table (its plots show them).
    if !grid.template || !grid.sweep.is_empty() {
        return Ok(());
    }
    let datasets = if req.selection.datasets.is_empty() { grid.datasets } else { req.selection.datasets.clone() };
    let all = crate::results::load_dir(&req.out)?;
    writeln!(out)?;
    match table::select(spec, Tables::Main, &crate::results::summarize(&all), &datasets) {
        Ok(models) => {
            out.write_all(table::render(&models, table::Format::Md, &crate::results::fingerprints(&all))?.as_bytes())?
        }
        // Filters that leave no main-table cell (e.g. one way of Ours alone): the results stand, no table.
        Err(e) => {
            writeln!(out, "(no table: {e:#}; `twoway table --all --results {}` shows every cell)", req.out.display())?
        }
    }
    writeln!(out)?;
    out.write_all(crate::report::claims::report(spec, Some(&req.out))?.render_reproduced().as_bytes())?;
    Ok(())
}
