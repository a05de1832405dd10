//! The grid runner of `twoway run`. Cells are units: each is claimed before it trains (so any number of
//! processes, on one machine or many, share a results folder and train each cell once), checkpointed at
//! the end of every epoch and on SIGTERM / SIGUSR1 (so `--resume` continues a killed or pre-empted cell
//! exactly), logged in its folder (`seed<k>.log`), and published atomically without ever overwriting a
//! finished result. `--workers N` / `--devices ...` run cells in several processes at once.

use crate::claim::{self, Acquired};
use crate::data::{self, pipeline, Split};
use crate::eval::DeviceArg;
use crate::numerics;
use crate::plan::{self, Planned, Status};
use crate::results::{self, Metrics, ResultFile, Versions};
use crate::run::RunArgs;
use crate::train;
use anyhow::{bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use twoway_spec::{Dataset, Numerics};

fn device(arg: &str) -> Result<tch::Device> {
    if arg == "auto" {
        return Ok(tch::Device::cuda_if_available());
    }
    arg.parse::<DeviceArg>().map_err(anyhow::Error::msg)?.resolve()
}

/// Appends a line to a cell's log.
fn log_line(path: &Path, line: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "{:.3} {} pid {}: {line}", claim::now(), claim::hostname(), std::process::id());
    }
}

pub fn run(a: &RunArgs, out: &mut dyn Write) -> Result<()> {
    let spec = twoway_spec::Spec::embedded();
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 {
        bail!("--threads must be at least 1");
    }
    if a.workers == 0 {
        bail!("--workers must be at least 1");
    }
    // Portable numerics are set before libtorch runs a kernel (by re-executing with their environment).
    let mode = plan::numerics_mode(spec, a)?;
    if mode == Numerics::Portable && !a.list_cells {
        numerics::enter_portable(&spec.numerics)?;
    }
    // Resolve every cell and check the results folder before training anything.
    let plan::Prepared { plan, root, weights } = plan::prepare(spec, a, a.list_cells)?;
    if plan.is_empty() {
        bail!("the filters leave no cell of grid `{}` to run", a.grid);
    }
    let lease = Duration::from_secs(a.lease);
    if a.list_cells {
        return list(&plan, a, lease, out);
    }
    let chosen = plan::pick(&plan, a.cell.as_deref(), a.shard.as_deref())?;
    if a.workers > 1 || !a.devices.is_empty() {
        return supervise(a, &chosen, lease, out);
    }
    let device = device(&a.device)?;
    tch::set_num_threads(threads as i32);
    let fingerprint = numerics::capture(&spec.numerics, mode, threads, device)?;
    // The data pipeline's pool; already set when a previous run in this process set it.
    let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGUSR1] {
        signal_hook::flag::register(sig, stop.clone()).context("cannot install the signal handlers")?;
    }
    if a.out.exists() {
        claim::sweep_temporaries(&a.out);
    }

    let multi = MultiProgress::new();
    if !console_attended() {
        multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let todo = chosen.iter().filter(|p| !p.done).count();
    let grid_bar = multi.add(ProgressBar::new(chosen.len() as u64));
    grid_bar.set_style(
        ProgressStyle::with_template("grid {pos}/{len} cells [{bar:30}] elapsed {elapsed} ETA {eta}").unwrap(),
    );
    grid_bar.set_position((chosen.len() - todo) as u64);
    let say = |line: String| {
        if multi.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = multi.println(line);
        }
    };
    say(format!(
        "twoway run: grid `{}` ({} cells, {} to run) on {device:?} with {threads} thread(s); results in {}\n\
         numerics: {}",
        a.grid,
        chosen.len(),
        todo,
        a.out.display(),
        fingerprint.summary()
    ));
    let pipe = pipeline::Config::with_workers(a.data_workers.unwrap_or(threads).max(1));
    let mut loaded: BTreeMap<Dataset, (Split, Split)> = BTreeMap::new();
    let mut elsewhere = 0;
    let mut failed: Vec<String> = Vec::new();
    let n = chosen.len();
    for (k, p) in chosen.iter().enumerate() {
        let id = &p.id;
        let head = format!("[{}/{n}] {}", k + 1, id.label());
        if p.done {
            say(format!("{head}: finished earlier, kept"));
            continue;
        }
        let dir = id.dir(&a.out);
        let claim = match claim::acquire(&dir, id.seed, lease, &mut |l| say(l))? {
            Acquired::Held(h) => {
                say(format!("{head}: running in {}, skipped", h.describe()));
                elsewhere += 1;
                continue;
            }
            Acquired::Claimed(c) => c,
        };
        // Finished by another process since the plan was made?
        if ResultFile::read(&id.path(&a.out)).is_ok_and(|r| r.config_hash == p.hash) {
            say(format!("{head}: finished by another run, kept"));
            claim.release();
            grid_bar.inc(1);
            continue;
        }
        let log_path = dir.join(format!("seed{}.log", id.seed));
        log_line(
            &log_path,
            &format!("start: device {device:?}, {threads} thread(s), {mode} numerics, config {}", &p.hash[..12]),
        );
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
        let ckpt =
            train::Checkpoints { id, out: &a.out, config_hash: &p.hash, resume: a.resume, stop: Some(stop.as_ref()) };
        let trained = train::train(&job, tr, ev, pipe, &bar, Some(&ckpt), &mut |l| log_line(&log_path, &l));
        bar.finish_and_clear();
        let trained = match trained {
            Ok(t) => t,
            Err(e) => {
                let text = format!("{e:#}");
                log_line(&log_path, &format!("stopped: {text}"));
                if e.downcast_ref::<train::Interrupted>().is_none() {
                    let record = serde_json::json!({"error": text, "host": claim::hostname(),
                        "pid": std::process::id(), "time": claim::now()});
                    let _ = crate::io::write_text(&claim::failed_path(&dir, id.seed), &record.to_string());
                }
                claim.release();
                if a.keep_going && e.downcast_ref::<train::Interrupted>().is_none() {
                    say(format!("{head}: failed: {text}"));
                    failed.push(format!("{} ({text})", id.label()));
                    continue;
                }
                return Err(e).with_context(|| format!("cell {}", id.label()));
            }
        };
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
            numerics: Some(fingerprint.clone()),
        };
        let published = result.publish(&a.out)?;
        let _ = std::fs::remove_file(claim::failed_path(&dir, id.seed));
        if !a.keep_checkpoints {
            crate::checkpoint::remove(id, &a.out);
        }
        claim.release();
        grid_bar.inc(1);
        let f = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.2}"));
        let line = format!(
            "mAP@class {}, mAP@sample {} ({:.0} s){}",
            f(last.map_class),
            f(last.map_sample),
            result.wall_seconds,
            if published { "" } else { "; another run published this cell first, its result is kept" }
        );
        log_line(&log_path, &format!("finished: {line}"));
        say(format!("{head}: {line}"));
    }
    grid_bar.finish_and_clear();
    if elsewhere > 0 {
        say(format!(
            "{elsewhere} cell(s) were running in other processes; `twoway status --out {}` follows them",
            a.out.display()
        ));
    }
    if !failed.is_empty() {
        bail!("{} cell(s) failed: {}", failed.len(), failed.join("; "));
    }
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

/// `--list-cells`: every cell of the plan with its index, configuration hash and status.
fn list(plan: &[Planned], a: &RunArgs, lease: Duration, out: &mut dyn Write) -> Result<()> {
    let rows: Vec<(usize, String, &str, Status)> =
        plan.iter().map(|p| (p.index, p.id.label(), p.hash.as_str(), plan::status(p, &a.out, lease))).collect();
    match a.format {
        crate::cli::TextOrJson::Json => {
            let v: Vec<serde_json::Value> = rows
                .iter()
                .map(|(i, c, h, s)| serde_json::json!({"index": i, "cell": c, "config_hash": h, "status": s}))
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        crate::cli::TextOrJson::Text => {
            for (i, c, h, s) in &rows {
                writeln!(out, "{i:>4}  {:<8} {}  {c}", s.as_str(), &h[..12])?;
            }
        }
    }
    Ok(())
}

/// The command line of this run for a child process: the same arguments without `--workers` and
/// `--devices`, with `--resume` (the children share the results folder), `--keep-going` (a failing cell
/// does not stop the others) and the child's device.
fn child_args(device: Option<&str>) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    let mut skip = false;
    for arg in std::env::args_os().skip(1) {
        if skip {
            skip = false;
            continue;
        }
        let s = arg.to_string_lossy();
        if s == "--workers" || s == "--devices" || (device.is_some() && s == "--device") {
            skip = true;
            continue;
        }
        if s.starts_with("--workers=")
            || s.starts_with("--devices=")
            || (device.is_some() && s.starts_with("--device="))
        {
            continue;
        }
        args.push(arg);
    }
    for flag in ["--resume", "--keep-going"] {
        if !args.iter().any(|a| a == flag) {
            args.push(flag.into());
        }
    }
    if let Some(d) = device {
        args.extend(["--device".into(), d.into()]);
    }
    args
}

/// Runs the chosen cells in several child processes (one per `--devices` entry, or `--workers` on the
/// run's device) sharing the claims; a cell whose process failed is retried once, then reported.
fn supervise(a: &RunArgs, chosen: &[&Planned], lease: Duration, out: &mut dyn Write) -> Result<()> {
    let slots: Vec<Option<String>> =
        if a.devices.is_empty() { vec![None; a.workers] } else { a.devices.iter().cloned().map(Some).collect() };
    for d in slots.iter().flatten() {
        device(d).with_context(|| format!("--devices {d}"))?;
    }
    let logs = a.out.join(".workers");
    std::fs::create_dir_all(&logs).with_context(|| format!("{}: cannot create", logs.display()))?;
    let exe = std::env::current_exe().context("cannot find the twoway executable")?;
    let bar = ProgressBar::new(chosen.len() as u64);
    if !console_attended() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("grid {pos}/{len} cells [{bar:30}] {msg} elapsed {elapsed} ETA {eta}").unwrap(),
    );
    let counts = || {
        let mut c: BTreeMap<Status, usize> = BTreeMap::new();
        for p in chosen {
            *c.entry(plan::status(p, &a.out, lease)).or_default() += 1;
        }
        c
    };
    let mut failures = 0;
    for round in 0..2 {
        let remaining = chosen.iter().filter(|p| plan::status(p, &a.out, lease) != Status::Done).count();
        if remaining == 0 || (round == 1 && failures == 0) {
            break;
        }
        let mut children = Vec::new();
        for (k, slot) in slots.iter().enumerate().take(remaining.max(1)) {
            let log = logs.join(format!("worker{k}-round{round}.log"));
            let file = std::fs::File::create(&log).with_context(|| format!("{}: cannot create", log.display()))?;
            let child = std::process::Command::new(&exe)
                .args(child_args(slot.as_deref()))
                .stdout(file.try_clone()?)
                .stderr(file)
                .spawn()
                .context("cannot start a worker process")?;
            eprintln!(
                "worker {k}{} started (pid {}), log {}",
                slot.as_ref().map(|d| format!(" on {d}")).unwrap_or_default(),
                child.id(),
                log.display()
            );
            children.push((k, child));
        }
        failures = 0;
        while !children.is_empty() {
            std::thread::sleep(Duration::from_millis(500));
            let c = counts();
            let get = |s| c.get(&s).copied().unwrap_or(0);
            bar.set_position(get(Status::Done) as u64);
            bar.set_message(format!("{} running, {} failed", get(Status::Running), get(Status::Failed)));
            let mut still = Vec::new();
            for (k, mut child) in children {
                match child.try_wait()? {
                    Some(status) if !status.success() => {
                        eprintln!(
                            "worker {k} exited with {status}; see {}",
                            logs.join(format!("worker{k}-round{round}.log")).display()
                        );
                        failures += 1;
                    }
                    Some(_) => {}
                    None => still.push((k, child)),
                }
            }
            children = still;
        }
        if failures > 0 && round == 0 {
            eprintln!("{failures} worker(s) failed: retrying their cells once");
        }
    }
    bar.finish_and_clear();
    let unfinished: Vec<String> = chosen
        .iter()
        .filter(|p| plan::status(p, &a.out, lease) != Status::Done)
        .map(|p| {
            let failed = std::fs::read(claim::failed_path(&p.id.dir(&a.out), p.id.seed))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["error"].as_str().map(String::from));
            match failed {
                Some(e) => format!("{} ({e})", p.id.label()),
                None => p.id.label(),
            }
        })
        .collect();
    if !unfinished.is_empty() {
        bail!("{} cell(s) did not finish after a retry: {}", unfinished.len(), unfinished.join("; "));
    }
    let all = results::load_dir(&a.out)?;
    writeln!(out, "results: {} ({} cells) from {} worker process(es)", a.out.display(), all.len(), slots.len())?;
    Ok(())
}

/// Whether progress bars should draw (stderr is a terminal).
fn console_attended() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}
