//! `twoway run`'s arguments and the selection of a grid's cells (the trainer itself is [`crate::runner`],
//! in the build with libtorch).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use twoway_spec::grids::{self, Cell, Grid};
use twoway_spec::{Backbone, Dataset, Loss, Spec, Way};

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// A built-in grid (embedded, embedded-ci, paper, batch-size) or a grid YAML file.
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
    #[arg(long, value_enum, value_delimiter = ',')]
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
    /// The results folder.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// auto (the first CUDA device if any, else the CPU), cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// CPU threads for libtorch and the data pipeline (default: all cores). Results are repeatable for a
    /// fixed seed and thread count.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Keep the finished cells in --out and run only the rest.
    #[arg(long)]
    pub resume: bool,
    /// Where datasets live (default: $TWOWAY_DATA, else ~/.cache/twoway); the embedded one is generated there.
    #[arg(long)]
    pub data_root: Option<PathBuf>,
    /// Threads that decode and transform images ahead of training (default: --threads).
    #[arg(long)]
    pub data_workers: Option<usize>,
    /// Run cells in N processes at once (CPU), each with --threads threads; they share the claims.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Run cells concurrently, one process per device (e.g. cuda:0,cuda:1).
    #[arg(long, value_delimiter = ',', conflicts_with = "workers")]
    pub devices: Vec<String>,
    /// Print the grid's cells (index, cell, config hash, status) and exit.
    #[arg(long)]
    pub list_cells: bool,
    /// Format of --list-cells.
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::cli::TextOrJson,
    /// Run only this cell: its index in --list-cells, or its id (e.g. embedded/tiny/bce/seed0).
    #[arg(long)]
    pub cell: Option<String>,
    /// Run only the cells whose index is i modulo n (`--shard i/n`).
    #[arg(long)]
    pub shard: Option<String>,
    /// After a cell fails, go on with the next ones (and exit 2 at the end) instead of stopping.
    #[arg(long)]
    pub keep_going: bool,
    /// Keep the checkpoints of finished cells (they are removed by default).
    #[arg(long)]
    pub keep_checkpoints: bool,
    /// Seconds after which a claim whose heartbeat stopped (another host) is taken over.
    #[arg(long, default_value_t = 600)]
    pub lease: u64,
    /// Where the pretrained backbones' weight files are (`<backbone>.safetensors`; default: DATA_ROOT/weights).
    #[arg(long)]
    pub weights_dir: Option<PathBuf>,
}

/// Loads a grid by built-in name or file path.
pub fn load_grid(spec: &Spec, name: &str) -> Result<Grid> {
    if let Some(g) = grids::builtin(name, spec) {
        return Ok(g?);
    }
    let path = Path::new(name);
    if !path.is_file() {
        let known: Vec<&str> = grids::BUILTIN.iter().map(|(n, _)| *n).collect();
        bail!("unknown grid `{name}`: not a built-in grid ({}) nor a file", known.join(", "));
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    Ok(Grid::parse(&path.display().to_string(), &text, spec)?)
}

/// The grid's cells that the filters keep (`--seeds` replaces the grid's seeds).
pub fn select(grid: &Grid, a: &RunArgs) -> Vec<Cell> {
    let mut g = grid.clone();
    if !a.seeds.is_empty() {
        g.seeds = a.seeds.clone();
    }
    g.cells()
        .into_iter()
        .filter(|c| a.datasets.is_empty() || a.datasets.contains(&c.dataset))
        .filter(|c| a.backbones.is_empty() || a.backbones.contains(&c.backbone))
        .filter(|c| a.losses.is_empty() || a.losses.contains(&c.loss))
        .collect()
}

/// `twoway slurm`'s arguments: the run's, and the job array's.
#[derive(clap::Args, Debug)]
pub struct SlurmArgs {
    #[command(flatten)]
    pub run: RunArgs,
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
