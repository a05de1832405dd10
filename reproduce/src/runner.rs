//! The grid runner of `twoway run`: one result file per cell, written atomically when the cell finishes,
//! so a killed run loses no finished cell and `--resume` carries on where it stopped.

use crate::data::{self, pipeline, Split};
use crate::eval::DeviceArg;
use crate::results::{self, Metrics, ResultFile, Versions};
use crate::run::{load_grid, select, RunArgs};
use crate::train;
use anyhow::{bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::Write;
use twoway_spec::Dataset;

fn device(arg: &str) -> Result<tch::Device> {
    if arg == "auto" {
        return Ok(tch::Device::cuda_if_available());
    }
    arg.parse::<DeviceArg>().map_err(anyhow::Error::msg)?.resolve()
}

pub fn run(a: &RunArgs, out: &mut dyn Write) -> Result<()> {
    let spec = twoway_spec::Spec::embedded();
    let grid = load_grid(spec, &a.grid)?;
    let (recipe_name, base) = crate::plan::base_recipe(spec, &grid, a)?;
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
    let plan = crate::plan::plan(spec, &cells, a, (&recipe_name, &base), &root, &weights)?;
    if plan.is_empty() {
        bail!("the filters leave no cell of grid `{}` to run", a.grid);
    }
    let multi = MultiProgress::new();
    if !console_attended() {
        multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let todo = plan.iter().filter(|p| !p.done).count();
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
    for (k, p) in plan.iter().enumerate() {
        let id = &p.id;
        if p.done {
            say(format!("[{}/{}] {}: finished earlier, kept", k + 1, plan.len(), id.label()));
            continue;
        }
        if let std::collections::btree_map::Entry::Vacant(slot) = loaded.entry(id.dataset) {
            let (tr, ev) = data::load(spec, id.dataset, &root, !multi.is_hidden())?;
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
            slot.insert((tr, ev));
        }
        let d = &loaded[&id.dataset];
        let recipe = &p.recipe;
        let cut = |s: &Split, n: Option<usize>| n.filter(|n| *n < s.len()).map(|n| s.clone().truncate(n));
        let (tr, ev) = (cut(&d.0, recipe.max_train_samples), cut(&d.1, recipe.max_eval_samples));
        let (tr, ev) = (tr.as_ref().unwrap_or(&d.0), ev.as_ref().unwrap_or(&d.1));
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
            loss: &p.loss,
            seed: id.seed,
            device,
        };
        let trained = train::train(&job, tr, ev, pipe, &bar).with_context(|| format!("cell {}", id.label()))?;
        bar.finish_and_clear();
        let last = trained.epochs.last().expect("at least one epoch");
        let result = ResultFile {
            format: results::FORMAT.into(),
            cell: id.clone(),
            metrics: Metrics { map_class: last.map_class, map_sample: last.map_sample },
            epochs: trained.epochs.clone(),
            config: p.config.clone(),
            config_hash: p.hash.clone(),
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
