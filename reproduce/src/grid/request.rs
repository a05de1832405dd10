//! What a user asks of a grid, clap-free: which cells ([`Selection`]), and how to run them on one results
//! folder ([`RunRequest`]). The command line builds these (`cli/run.rs`, `cli/slurm.rs`, where the flags are
//! checked); the grid layer reads nothing else. [`RunRequest::to_args`] is the one way back to a command
//! line, for the worker processes of `--workers` / `--devices` and for SLURM's array tasks. `--cell` and
//! `--shard` parse through [`CellPick`] and [`Shard`]. Tested below; the command lines through the binary
//! in `tests/cli_cells.rs` and `tests/slurm.rs`.

use crate::device::DeviceName;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;
use twoway_spec::{Backbone, Dataset, Loss, Numerics, Way};

/// The cells of a grid a run is about, and the recipe they train under.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// A built-in grid or a grid YAML file.
    pub grid: String,
    /// A recipe of the spec or a recipe YAML file, instead of the grid's.
    pub recipe: Option<String>,
    /// `KEY=VALUE` recipe overrides, in order.
    pub set: Vec<String>,
    /// The numerics mode, over the recipe's.
    pub numerics: Option<Numerics>,
    /// Only these datasets, backbones, losses, ways (all when empty).
    pub datasets: Vec<Dataset>,
    pub backbones: Vec<Backbone>,
    pub losses: Vec<Loss>,
    pub ways: Vec<Way>,
    /// These seeds instead of the grid's (when not empty).
    pub seeds: Vec<u64>,
}

/// `--shard i/n`: the cells whose index is i modulo n.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let parsed = s.split_once('/').and_then(|(i, n)| Some((i.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
        match parsed.filter(|(i, n)| *n > 0 && i < n) {
            Some((index, count)) => Ok(Shard { index, count }),
            None => Err(format!("--shard {s}: expected i/n with 0 <= i < n, e.g. --shard 0/4")),
        }
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// `--cell`: one cell by its index in the plan or by its label (`embedded/tiny/bce/seed0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellPick {
    Index(usize),
    Label(String),
}

impl std::str::FromStr for CellPick {
    type Err = String;
    fn from_str(s: &str) -> Result<CellPick, String> {
        Ok(match s.parse::<usize>() {
            Ok(i) => CellPick::Index(i),
            Err(_) => CellPick::Label(s.to_string()),
        })
    }
}

impl std::fmt::Display for CellPick {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CellPick::Index(i) => write!(f, "{i}"),
            CellPick::Label(l) => f.write_str(l),
        }
    }
}

/// How many processes run the cells: this one, N workers on its device, or one per device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parallel {
    Workers(usize),
    Devices(Vec<DeviceName>),
}

impl Parallel {
    /// Whether the cells run in child processes.
    pub fn children(&self) -> bool {
        !matches!(self, Parallel::Workers(1))
    }
}

/// A run of a grid's cells on one results folder.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRequest {
    pub selection: Selection,
    pub out: PathBuf,
    /// Where datasets live (`None`: `$TWOWAY_DATA`, else the cache folder).
    pub data_root: Option<PathBuf>,
    /// Where pretrained weights are (`None`: DATA_ROOT/weights).
    pub weights_dir: Option<PathBuf>,
    pub device: DeviceName,
    /// libtorch and data threads (`None`: every core).
    pub threads: Option<usize>,
    pub data_workers: Option<usize>,
    pub parallel: Parallel,
    pub cell: Option<CellPick>,
    pub shard: Option<Shard>,
    pub resume: bool,
    pub keep_going: bool,
    pub keep_checkpoints: bool,
    /// Write each cell's final evaluation scores, targets and sample ids beside its result.
    pub save_scores: bool,
    /// How old another host's heartbeat may be before its lease is taken over.
    pub lease: Duration,
}

impl RunRequest {
    /// A run of `selection` into `out` with every other choice at its default.
    pub fn new(selection: Selection, out: PathBuf) -> RunRequest {
        RunRequest {
            selection,
            out,
            data_root: None,
            weights_dir: None,
            device: DeviceName::Auto,
            threads: None,
            data_workers: None,
            parallel: Parallel::Workers(1),
            cell: None,
            shard: None,
            resume: false,
            keep_going: false,
            keep_checkpoints: false,
            save_scores: false,
            lease: Duration::from_secs(600),
        }
    }

    /// The thread count (every core unless given); an error for 0.
    pub fn threads(&self) -> Result<usize> {
        let threads = self.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if threads == 0 {
            bail!("--threads must be at least 1");
        }
        Ok(threads)
    }

    /// The `twoway run` arguments (after `twoway`) that make this request again. Paths are written as they
    /// are: [`RunRequest::absolute`] first for a process started elsewhere.
    pub fn to_args(&self) -> Vec<String> {
        let s = &self.selection;
        let list = |items: Vec<String>| (!items.is_empty()).then(|| items.join(","));
        let mut pairs: Vec<(&str, Option<String>)> =
            vec![("--grid", Some(s.grid.clone())), ("--recipe", s.recipe.clone())];
        pairs.extend(s.set.iter().map(|x| ("--set", Some(x.clone()))));
        let parallel = match &self.parallel {
            Parallel::Workers(1) => ("--workers", None),
            Parallel::Workers(n) => ("--workers", Some(n.to_string())),
            Parallel::Devices(d) => ("--devices", list(d.iter().map(ToString::to_string).collect())),
        };
        pairs.extend([
            ("--numerics", s.numerics.map(|n| n.to_string())),
            // A dataset file travels as its file, so that a worker or a SLURM task registers it too.
            ("--datasets", list(s.datasets.iter().map(dataset_arg).collect())),
            ("--backbones", list(s.backbones.iter().map(ToString::to_string).collect())),
            ("--losses", list(s.losses.iter().map(ToString::to_string).collect())),
            ("--ways", list(s.ways.iter().map(ToString::to_string).collect())),
            ("--seeds", list(s.seeds.iter().map(ToString::to_string).collect())),
            ("--out", Some(self.out.display().to_string())),
            ("--data-root", self.data_root.as_ref().map(|p| p.display().to_string())),
            ("--weights-dir", self.weights_dir.as_ref().map(|p| p.display().to_string())),
            ("--lease", Some(self.lease.as_secs().to_string())),
            ("--cell", self.cell.as_ref().map(ToString::to_string)),
            ("--shard", self.shard.map(|x| x.to_string())),
            ("--threads", self.threads.map(|x| x.to_string())),
            ("--data-workers", self.data_workers.map(|x| x.to_string())),
            ("--device", (self.device != DeviceName::Auto).then(|| self.device.to_string())),
            parallel,
        ]);
        let mut v = vec!["run".to_string()];
        for (flag, value) in pairs {
            if let Some(x) = value {
                v.extend([flag.to_string(), x]);
            }
        }
        let flags = [
            ("--keep-checkpoints", self.keep_checkpoints),
            ("--save-scores", self.save_scores),
            ("--resume", self.resume),
            ("--keep-going", self.keep_going),
        ];
        v.extend(flags.into_iter().filter(|f| f.1).map(|f| f.0.to_string()));
        v
    }

    /// The request with its paths (results, data root, weights, grid and recipe files) made absolute.
    pub fn absolute(&self) -> Result<RunRequest> {
        let abs = |p: &Path| -> Result<PathBuf> {
            Ok(if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir()?.join(p) })
        };
        let file = |name: &str| -> Result<String> {
            Ok(if Path::new(name).is_file() { abs(Path::new(name))?.display().to_string() } else { name.to_string() })
        };
        let mut r = self.clone();
        r.selection.grid = file(&self.selection.grid)?;
        r.selection.recipe = self.selection.recipe.as_deref().map(file).transpose()?;
        r.out = abs(&self.out)?;
        r.data_root = self.data_root.as_deref().map(abs).transpose()?;
        r.weights_dir = self.weights_dir.as_deref().map(abs).transpose()?;
        Ok(r)
    }

    /// The request a worker process of this one runs: the same cells in one process on `device` (or this
    /// request's), resuming (the workers share the results folder) and going on after a failing cell.
    pub fn for_worker(&self, device: Option<DeviceName>) -> RunRequest {
        let mut r = self.clone();
        r.parallel = Parallel::Workers(1);
        r.device = device.unwrap_or(self.device);
        r.resume = true;
        r.keep_going = true;
        r
    }
}

/// A submission: the cells (the run's selection, results folder, inputs, lease and checkpoints; its
/// run-only choices are the array tasks' own) and the job array's resources.
#[derive(Debug, Clone)]
pub struct SlurmRequest {
    pub run: RunRequest,
    pub partition: Option<String>,
    /// GPUs per array task (each task trains on `cuda`).
    pub gpus_per_task: usize,
    /// CPU cores per array task (its --threads).
    pub cpus_per_task: usize,
    pub time: Option<String>,
    pub array_limit: Option<usize>,
    pub account: Option<String>,
    pub submit: bool,
}

/// How a dataset is named on a command line: its key, or for a dataset file the file's path.
fn dataset_arg(d: &Dataset) -> String {
    match twoway_spec::registry::dataset_file(*d) {
        Some(f) => f.file.display().to_string(),
        None => d.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_and_cell_picks_parse_and_print_back() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        assert_eq!("1/4".parse::<Shard>().unwrap().to_string(), "1/4");
        for bad in ["4/4", "1/0", "x/2", "3"] {
            assert!(bad.parse::<Shard>().unwrap_err().contains("expected i/n"), "{bad}");
        }
        assert_eq!("7".parse::<CellPick>(), Ok(CellPick::Index(7)));
        let label = "embedded/tiny/bce/seed0";
        assert_eq!(label.parse::<CellPick>(), Ok(CellPick::Label(label.into())));
    }

    #[test]
    fn a_request_round_trips_through_its_arguments() {
        let selection = Selection {
            grid: "embedded-ci".into(),
            recipe: Some("smoke".into()),
            set: vec!["epochs=2".into(), "batch_size=16".into()],
            numerics: Some(Numerics::Portable),
            datasets: vec![Dataset::Embedded],
            backbones: vec![Backbone::Tiny],
            losses: vec![Loss::Bce, Loss::Twoway],
            ways: vec![Way::Class],
            seeds: vec![0, 3],
        };
        let mut r = RunRequest::new(selection, "out dir".into());
        r.data_root = Some("/d".into());
        r.threads = Some(2);
        r.parallel = Parallel::Devices(vec![DeviceName::Cpu, DeviceName::Cuda(1)]);
        r.shard = Some(Shard { index: 0, count: 2 });
        r.cell = Some(CellPick::Index(3));
        (r.resume, r.keep_checkpoints) = (true, true);
        let args = r.to_args();
        assert_eq!(&args[..3], ["run", "--grid", "embedded-ci"]);
        let text = args.join(" ");
        for part in [
            "--recipe smoke --set epochs=2 --set batch_size=16 --numerics portable --datasets embedded",
            "--losses bce,twoway --ways class --seeds 0,3 --out out dir --data-root /d --lease 600",
            "--cell 3 --shard 0/2 --threads 2 --devices cpu,cuda:1 --keep-checkpoints --resume",
        ] {
            assert!(text.contains(part), "{part} not in {text}");
        }
        let worker = r.for_worker(Some(DeviceName::Cuda(1))).to_args().join(" ");
        assert!(worker.contains("--device cuda:1") && !worker.contains("--devices"), "{worker}");
        assert!(worker.ends_with("--resume --keep-going"), "{worker}");
    }
}
