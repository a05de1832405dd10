//! `twoway run`: the grid runner. One result file per cell, written atomically when the cell finishes, so
//! a killed run loses no finished cell and `--resume` carries on where it stopped.

use crate::data::{self, pipeline, Split};
use crate::eval::DeviceArg;
use crate::results::{self, CellId, Metrics, ResultFile, Versions};
use crate::train;
use anyhow::{bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use twoway_reference::AnyLoss;
use twoway_spec::grids::{self, Cell, Grid};
use twoway_spec::{Backbone, Dataset, Loss, Spec, Way};

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// A built-in grid (embedded, embedded-ci, paper) or a grid YAML file.
    #[arg(long, default_value = "embedded")]
    pub grid: String,
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
    pub workers: Option<usize>,
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

fn select(grid: &Grid, a: &RunArgs) -> Vec<Cell> {
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

fn device(arg: &str) -> Result<tch::Device> {
    if arg == "auto" {
        return Ok(tch::Device::cuda_if_available());
    }
    arg.parse::<DeviceArg>().map_err(anyhow::Error::msg)?.resolve()
}

/// The resolved loss configuration as JSON (every hyper-parameter, defaults included).
pub fn loss_json(l: &AnyLoss) -> serde_json::Value {
    match l {
        AnyLoss::TwoWay(c) => {
            serde_json::json!({"loss": "twoway", "tp": c.tp, "tn": c.tn, "way": c.way, "mask": c.mask})
        }
        AnyLoss::Softmax(c) => serde_json::json!({"loss": "softmax", "way": c.way}),
        AnyLoss::Bce(c) => serde_json::json!({"loss": "bce", "reduction": c.reduction}),
        AnyLoss::Focal(c) => {
            serde_json::json!({"loss": "focal", "gamma": c.gamma, "alpha": c.alpha, "reduction": c.reduction})
        }
        AnyLoss::Asl(c) => serde_json::json!({"loss": "asl", "gamma_neg": c.gamma_neg, "gamma_pos": c.gamma_pos,
            "clip": c.clip, "eps": c.eps, "focus_grad": c.focus_grad, "reduction": c.reduction}),
    }
}

pub fn run(a: &RunArgs, out: &mut dyn Write) -> Result<()> {
    let spec = twoway_spec::Spec::embedded();
    let grid = load_grid(spec, &a.grid)?;
    let recipe = &spec.recipes[&grid.recipe];
    let cells = select(&grid, a);
    let device = device(&a.device)?;
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 {
        bail!("--threads must be at least 1");
    }
    tch::set_num_threads(threads as i32);
    // The data pipeline's pool; already set when a previous run in this process set it.
    let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
    let root = data::data_root(a.data_root.as_deref());
    let pairs = cells.iter().map(|c| (c.dataset, c.backbone)).collect();
    let weights =
        crate::preflight::check(spec, &pairs, &root, &crate::preflight::weights_dir(a.weights_dir.as_deref(), &root))?;

    // Resolve every cell and check the results folder before training anything.
    let mut plan = Vec::new();
    for c in &cells {
        let loss = AnyLoss::from_params(c.loss, &c.params).with_context(|| format!("grid `{}`", a.grid))?;
        // --ways filters the set-based losses (with their resolved way); the element-wise ones have none.
        if let Some(w) = loss.way() {
            if !a.ways.is_empty() && !a.ways.contains(&w) {
                continue;
            }
        }
        let id = CellId { dataset: c.dataset, backbone: c.backbone, loss: c.loss, way: loss.way(), seed: c.seed };
        let data = match c.dataset {
            Dataset::Embedded => serde_json::to_value(data::embedded_spec(spec))?,
            d => serde_json::json!({"dataset": d, "root": root.join(d.as_str())}),
        };
        let config = serde_json::json!({
            "dataset": c.dataset, "backbone": c.backbone, "loss": loss_json(&loss), "seed": c.seed,
            "recipe": {"name": grid.recipe, "recipe": recipe}, "data": data,
            "weights_sha256": weights[&c.backbone].as_ref().map(|w| &w.sha256),
            "threads": threads, "device": format!("{device:?}"),
        });
        let hash = results::hash(&config);
        let path = id.path(&a.out);
        let done = if path.exists() {
            if !a.resume {
                bail!(
                    "{}: a result already exists; use --resume to keep finished cells, or another --out",
                    path.display()
                );
            }
            let r = ResultFile::read(&path)?;
            if r.config_hash != hash {
                bail!(
                    "{}: this result was made with another configuration; remove it or use another --out",
                    path.display()
                );
            }
            true
        } else {
            false
        };
        plan.push((id, loss, config, hash, done));
    }

    if plan.is_empty() {
        bail!("the filters leave no cell of grid `{}` to run", a.grid);
    }
    let multi = MultiProgress::new();
    if !console_attended() {
        multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let todo = plan.iter().filter(|p| !p.4).count();
    let grid_bar = multi.add(ProgressBar::new(plan.len() as u64));
    grid_bar.set_style(
        ProgressStyle::with_template("grid {pos}/{len} cells [{bar:30}] elapsed {elapsed} ETA {eta}").unwrap(),
    );
    grid_bar.set_position((plan.len() - todo) as u64);
    let say = |line: String| {
        if multi.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = multi.println(line);
        }
    };
    say(format!(
        "twoway run: grid `{}` ({} cells, {} to run) on {device:?} with {threads} thread(s); results in {}",
        a.grid,
        plan.len(),
        todo,
        a.out.display()
    ));
    let workers = a.workers.unwrap_or(threads);
    if workers == 0 {
        bail!("--workers must be at least 1");
    }
    let pipe = pipeline::Config::with_workers(workers);
    let mut loaded: BTreeMap<Dataset, (Split, Split)> = BTreeMap::new();
    for (k, (id, loss, config, hash, done)) in plan.iter().enumerate() {
        if *done {
            say(format!("[{}/{}] {}: finished earlier, kept", k + 1, plan.len(), id.label()));
            continue;
        }
        if let std::collections::btree_map::Entry::Vacant(slot) = loaded.entry(id.dataset) {
            let (mut tr, mut ev) = data::load(spec, id.dataset, &root, !multi.is_hidden())?;
            for s in [&tr, &ev] {
                if s.dropped_unannotated > 0 || !s.dropped_boxes.is_empty() {
                    say(format!(
                        "{}/{}: {} samples; dropped {} images without annotation and {} boxes empty after clipping",
                        id.dataset,
                        s.name,
                        s.len(),
                        s.dropped_unannotated,
                        s.dropped_boxes.len()
                    ));
                }
            }
            if let Some(n) = recipe.max_train_samples {
                tr = tr.truncate(n);
            }
            if let Some(n) = recipe.max_eval_samples {
                ev = ev.truncate(n);
            }
            slot.insert((tr, ev));
        }
        let d = &loaded[&id.dataset];
        let bar = multi.add(ProgressBar::new(1));
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} it {msg} ETA {eta}")
                .unwrap()
                .progress_chars("=> "),
        );
        bar.set_prefix(id.label());
        let started = std::time::Instant::now();
        let job = train::Job {
            spec,
            recipe,
            backbone: id.backbone,
            weights: weights[&id.backbone].as_ref().map(|w| w.path.as_path()),
            loss,
            seed: id.seed,
            device,
        };
        let trained = train::train(&job, &d.0, &d.1, pipe, &bar).with_context(|| format!("cell {}", id.label()))?;
        bar.finish_and_clear();
        let last = trained.epochs.last().expect("at least one epoch");
        let result = ResultFile {
            format: results::FORMAT.into(),
            cell: *id,
            metrics: Metrics { map_class: last.map_class, map_sample: last.map_sample },
            epochs: trained.epochs.clone(),
            config: config.clone(),
            config_hash: hash.clone(),
            versions: Versions { twoway: env!("CARGO_PKG_VERSION").into(), libtorch: twoway_gpu::runtime_info() },
            device: format!("{device:?}"),
            threads,
            wall_seconds: started.elapsed().as_secs_f64(),
        };
        result.write(&a.out)?;
        grid_bar.inc(1);
        let f = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.2}"));
        say(format!(
            "[{}/{}] {}: mAP@class {}, mAP@sample {} ({:.0} s)",
            k + 1,
            plan.len(),
            id.label(),
            f(last.map_class),
            f(last.map_sample),
            result.wall_seconds
        ));
    }
    grid_bar.finish_and_clear();
    let all = results::load_dir(&a.out)?;
    let cells = results::aggregate(&all);
    let plots = crate::plots::write_all(spec, &all, &cells, &a.out.join("plots"))?;
    writeln!(
        out,
        "results: {} ({} cells); plots: {} ({} files)",
        a.out.display(),
        all.len(),
        a.out.join("plots").display(),
        plots.len()
    )?;
    Ok(())
}

/// Whether progress bars should draw (stderr is a terminal).
fn console_attended() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}
