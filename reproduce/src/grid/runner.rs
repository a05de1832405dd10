//! The grid runner of `twoway run`, in this process. Cells are units: each is leased before it trains (so
//! any number of processes, on one machine or many, share a results folder and train each cell once),
//! checkpointed at the end of every epoch and on SIGTERM / SIGUSR1 (so `--resume` continues a killed or
//! pre-empted cell exactly), logged in its folder, and published atomically without ever overwriting a
//! finished result. A [`Session`] holds what the cells share (device, threads, numerics fingerprint, signal
//! flag, progress bars, the datasets loaded so far); [`Session::run_cell`] runs one cell to an [`Outcome`];
//! [`Session::finish`] reports and draws the plots. Several processes: [`super::supervise`]. Tested in
//! `tests/cli_run.rs`, `tests/cli_cells.rs` (SIGKILL / SIGTERM and resume) and `tests/slurm.rs`.

use super::lease::{self, Acquired};
use super::plan::{Planned, Prepared};
use super::request::RunRequest;
use crate::data::{self, pipeline, Split};
use crate::layout::Failure;
use crate::numerics::{self, Fingerprint};
use crate::results::{self, Metrics, ResultFile, Versions};
use crate::tensorboard::{self, EventWriter};
use crate::train::{self, Progress};
use anyhow::{bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use twoway_spec::{Dataset, Numerics, Spec};

/// Appends a line to a cell's log.
fn log_line(path: &Path, line: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "{:.3} {} pid {}: {line}", crate::host::now(), crate::host::hostname(), std::process::id());
    }
}

/// Whether progress bars should draw (stderr is a terminal).
pub fn console_attended() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// A cell's TensorBoard run: one point per epoch with the release's tags (`LearningRate`, `Loss/train`,
/// `mAP_class/test`, `mAP_sample/test`; the loop computes no train mAP, so not the `/train` ones), at step
/// = epoch. A run that starts (or resumes) clears its event files and rewrites the epochs done, so a
/// resumed cell has no duplicate point.
struct Board {
    dir: std::path::PathBuf,
    writer: Option<EventWriter>,
    written: usize,
}

impl Board {
    fn epochs(&mut self, epochs: &[results::Epoch]) -> Result<()> {
        if self.writer.is_none() {
            tensorboard::clear(&self.dir);
            self.writer = Some(EventWriter::create(&self.dir)?);
        }
        let w = self.writer.as_mut().expect("created above");
        for e in &epochs[self.written.min(epochs.len())..] {
            let step = e.epoch as i64;
            w.scalar("LearningRate", step, e.lr_head)?;
            w.scalar("Loss/train", step, e.train_loss)?;
            for (tag, v) in [("mAP_class/test", e.map_class), ("mAP_sample/test", e.map_sample)] {
                if let Some(v) = v {
                    w.scalar(tag, step, v)?;
                }
            }
        }
        self.written = epochs.len();
        Ok(())
    }
}

/// What became of one cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Its result was there when the run started.
    Kept,
    /// Another live process holds it (host and pid).
    Elsewhere(String),
    /// Another process finished it since the plan was made.
    FinishedElsewhere,
    /// Trained here and published (`false`: another run published it first, its result is kept).
    Trained { published: bool },
    /// Its training failed (with `--keep-going`), the error.
    Failed(String),
}

/// What the cells of one process share.
pub struct Session<'a> {
    spec: &'a Spec,
    req: &'a RunRequest,
    prepared: &'a Prepared,
    device: tch::Device,
    threads: usize,
    mode: Numerics,
    fingerprint: Fingerprint,
    stop: Arc<AtomicBool>,
    multi: MultiProgress,
    grid_bar: ProgressBar,
    pipe: pipeline::Config,
    loaded: BTreeMap<Dataset, (Split, Split)>,
}

impl<'a> Session<'a> {
    /// Sets the threads, takes the numerics fingerprint, installs the signal handlers, sweeps the
    /// temporaries of dead processes and draws the grid's bar over `chosen`.
    pub fn start(
        spec: &'a Spec,
        req: &'a RunRequest,
        prepared: &'a Prepared,
        mode: Numerics,
        chosen: &[&Planned],
    ) -> Result<Session<'a>> {
        let threads = req.threads()?;
        let device = req.device.resolve()?;
        tch::set_num_threads(threads as i32);
        let fingerprint = numerics::capture(&spec.numerics, mode, threads, device)?;
        // The data pipeline's pool; already set when a previous run in this process set it.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
        let stop = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGUSR1] {
            signal_hook::flag::register(sig, stop.clone()).context("cannot install the signal handlers")?;
        }
        if req.out.exists() {
            lease::sweep_temporaries(&req.out);
        }
        let multi = MultiProgress::new();
        if !console_attended() {
            multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        let grid_bar = multi.add(ProgressBar::new(chosen.len() as u64));
        grid_bar.set_style(
            ProgressStyle::with_template("grid {pos}/{len} cells [{bar:30}] elapsed {elapsed} ETA {eta}").unwrap(),
        );
        let todo = chosen.iter().filter(|p| !p.done).count();
        grid_bar.set_position((chosen.len() - todo) as u64);
        let pipe = pipeline::Config::with_workers(req.data_workers.unwrap_or(threads).max(1));
        let s = Session {
            spec,
            req,
            prepared,
            device,
            threads,
            mode,
            fingerprint,
            stop,
            multi,
            grid_bar,
            pipe,
            loaded: BTreeMap::new(),
        };
        s.say(format!(
            "twoway run: grid `{}` ({} cells, {todo} to run) on {device:?} with {threads} thread(s); results in {}\n\
             numerics: {}",
            req.selection.grid,
            chosen.len(),
            req.out.display(),
            s.fingerprint.summary()
        ));
        Ok(s)
    }

    /// A line above the bars (or on stderr when they are hidden).
    pub fn say(&self, line: String) {
        if self.multi.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = self.multi.println(line);
        }
    }

    /// Runs cell `p` (`head`: its line prefix) unless it is finished or held elsewhere: lease, train,
    /// publish, release. A failure is an error, or with `--keep-going` an [`Outcome::Failed`]; either way its
    /// record is written (unless a signal stopped it, with a checkpoint).
    pub fn run_cell(&mut self, p: &Planned, head: &str) -> Result<Outcome> {
        let (id, out) = (&p.id, &self.req.out);
        if p.done {
            return Ok(Outcome::Kept);
        }
        let dir = id.dir(out);
        let lease = match lease::acquire(&dir, id.seed, self.req.lease, &mut |l| self.say(l))? {
            Acquired::Held(h) => return Ok(Outcome::Elsewhere(h.describe())),
            Acquired::Claimed(c) => c,
        };
        // Finished by another process since the plan was made?
        if ResultFile::read(&id.path(out)).is_ok_and(|r| r.config_hash == p.hash) {
            lease.release();
            self.grid_bar.inc(1);
            return Ok(Outcome::FinishedElsewhere);
        }
        let log = id.log_path(out);
        let (device, threads, mode) = (self.device, self.threads, self.mode);
        let start = format!("start: device {device:?}, {threads} thread(s), {mode} numerics, config {}", &p.hash[..12]);
        log_line(&log, &start);
        let started = std::time::Instant::now();
        let trained = self.train(p, &log);
        let trained = match trained {
            Ok(t) => t,
            Err(e) => {
                let text = format!("{e:#}");
                log_line(&log, &format!("stopped: {text}"));
                let interrupted = e.downcast_ref::<train::Interrupted>().is_some();
                if !interrupted {
                    let _ = Failure::here(text.clone()).write(id, out);
                }
                lease.release();
                if self.req.keep_going && !interrupted {
                    return Ok(Outcome::Failed(text));
                }
                return Err(e).with_context(|| format!("cell {}", id.label()));
            }
        };
        if self.req.save_scores {
            if let Some(s) = &trained.scores {
                save_scores(id, out, s, &self.splits(p)?.1)?;
            }
        }
        let result = self.result(p, trained, started.elapsed().as_secs_f64());
        let published = result.publish(out)?;
        let _ = std::fs::remove_file(id.failed_path(out));
        if !self.req.keep_checkpoints {
            train::checkpoint::remove(id, out);
        }
        lease.release();
        self.grid_bar.inc(1);
        let line = format!(
            "{} ({:.0} s){}",
            self.metrics_line(&result),
            result.wall_seconds,
            if published { "" } else { "; another run published this cell first, its result is kept" }
        );
        log_line(&log, &format!("finished: {line}"));
        self.say(format!("{head}: {line}"));
        Ok(Outcome::Trained { published })
    }

    /// "mAP@class X (published P, delta D), mAP@sample ...": a cell's final metrics, each with its delta to
    /// the paper's number when the paper has the cell.
    fn metrics_line(&self, r: &ResultFile) -> String {
        let parts: Vec<String> = twoway_spec::Metric::MAP
            .iter()
            .map(|m| {
                let Some(v) = r.metric(*m) else { return format!("{} n/a", m.label()) };
                let paper = r.cell.variant.is_none().then(|| self.spec.paper.lookup(&r.cell.key(*m))).flatten();
                match paper {
                    Some(p) => format!("{} {v:.2} (published {p:.2}, {:+.2})", m.label(), v - p),
                    None => format!("{} {v:.2}", m.label()),
                }
            })
            .collect();
        parts.join(", ")
    }

    /// The cell's splits (its dataset loaded once per session, cut to the recipe's sample limits): train,
    /// eval, and the recipe's held-out tuning slice of train.
    fn splits(&mut self, p: &Planned) -> Result<(Split, Split, Option<Split>)> {
        let dataset = p.id.dataset;
        if !self.loaded.contains_key(&dataset) {
            let (tr, ev) = data::load(self.spec, dataset, &self.prepared.root, !self.multi.is_hidden())?;
            for s in [&tr, &ev].into_iter().filter(|s| s.dropped_unannotated > 0 || !s.dropped_boxes.is_empty()) {
                self.say(format!(
                    "{dataset}/{}: {} samples; dropped {} images without annotation and {} boxes empty after clipping",
                    s.name,
                    s.len(),
                    s.dropped_unannotated,
                    s.dropped_boxes.len()
                ));
            }
            self.loaded.insert(dataset, (tr, ev));
        }
        let (tr, ev) = &self.loaded[&dataset];
        let cut = |s: &Split, n: Option<usize>| match n.filter(|n| *n < s.len()) {
            Some(n) => s.clone().truncate(n),
            None => s.clone(),
        };
        // The tuning slice is the same images whatever `max_train_samples` caps of the rest.
        let (train, tuning) = data::hold_out(tr.clone(), p.recipe.holdout)?;
        Ok((cut(&train, p.recipe.max_train_samples), cut(ev, p.recipe.max_eval_samples), tuning))
    }

    /// Trains one cell with a progress bar, logging to `log`.
    fn train(&mut self, p: &Planned, log: &Path) -> Result<results::Trained> {
        let (tr, ev, tuning) = self.splits(p)?;
        let bar = self.multi.add(ProgressBar::new(1));
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} it {msg} ETA {eta}")
                .unwrap()
                .progress_chars("=> "),
        );
        bar.set_prefix(p.id.label());
        let job = train::Job {
            spec: self.spec,
            recipe: &p.recipe,
            backbone: p.id.backbone,
            weights: self.prepared.weights[&p.id.backbone].as_ref().map(|w| w.path.as_path()),
            loss: &p.loss,
            seed: p.id.seed,
            device: self.device,
        };
        let (out, stop) = (&self.req.out, Some(self.stop.as_ref()));
        let ckpt = train::Checkpoints { id: &p.id, out, config_hash: &p.hash, resume: self.req.resume, stop };
        let mut board = Board { dir: p.id.events_dir(out), writer: None, written: 0 };
        let trained = train::train(
            &job,
            train::Splits { train: &tr, eval: &ev, tuning: tuning.as_ref() },
            self.pipe,
            &bar,
            Some(&ckpt),
            &mut |progress| match progress {
                Progress::Line(l) => log_line(log, &l),
                Progress::Epochs(epochs) => board.epochs(epochs).unwrap_or_else(|e| log_line(log, &format!("{e:#}"))),
            },
        );
        bar.finish_and_clear();
        trained
    }

    /// The result file of a trained cell.
    fn result(&self, p: &Planned, trained: results::Trained, wall_seconds: f64) -> ResultFile {
        let last = trained.epochs.last().expect("at least one epoch");
        ResultFile {
            format: results::FORMAT.into(),
            cell: p.id.clone(),
            metrics: Metrics { map_class: last.map_class, map_sample: last.map_sample, ..trained.metrics.clone() },
            epochs: trained.epochs.clone(),
            config: p.config.clone(),
            config_hash: p.hash.clone(),
            versions: Versions { twoway: env!("CARGO_PKG_VERSION").into(), libtorch: twoway_gpu::runtime_info() },
            device: format!("{:?}", self.device),
            threads: self.threads,
            wall_seconds,
            numerics: Some(self.fingerprint.clone()),
            tuning: trained.tuning.clone(),
        }
    }

    /// Reports the cells run elsewhere or failed, then (when none failed) draws the plots of the whole
    /// results folder; returns the closing line.
    pub fn finish(self, outcomes: &[(String, Outcome)]) -> Result<String> {
        self.grid_bar.finish_and_clear();
        let out = &self.req.out;
        let elsewhere = outcomes.iter().filter(|o| matches!(o.1, Outcome::Elsewhere(_))).count();
        if elsewhere > 0 {
            self.say(format!(
                "{elsewhere} cell(s) were running in other processes; `twoway status --out {}` follows them",
                out.display()
            ));
        }
        let failed: Vec<String> = outcomes
            .iter()
            .filter_map(|(label, o)| match o {
                Outcome::Failed(e) => Some(format!("{label} ({e})")),
                _ => None,
            })
            .collect();
        if !failed.is_empty() {
            bail!("{} cell(s) failed: {}", failed.len(), failed.join("; "));
        }
        let all = results::load_dir(out)?;
        let plots_dir = out.join(crate::layout::PLOTS);
        let plots = crate::report::plots::write_all(self.spec, &all, &results::summarize(&all), &plots_dir)?;
        Ok(format!(
            "results: {} ({} cells); plots: {} ({} files)",
            out.display(),
            all.len(),
            plots_dir.display(),
            plots.len()
        ))
    }
}

/// Runs the chosen cells in this process, one after the other; returns the closing line.
pub fn run_here(
    spec: &Spec,
    req: &RunRequest,
    prepared: &Prepared,
    mode: Numerics,
    chosen: &[&Planned],
) -> Result<String> {
    let mut session = Session::start(spec, req, prepared, mode, chosen)?;
    let mut outcomes = Vec::new();
    for (k, p) in chosen.iter().enumerate() {
        let head = format!("[{}/{}] {}", k + 1, chosen.len(), p.id.label());
        let outcome = session.run_cell(p, &head)?;
        match &outcome {
            Outcome::Kept => session.say(format!("{head}: finished earlier, kept")),
            Outcome::Elsewhere(holder) => session.say(format!("{head}: running in {holder}, skipped")),
            Outcome::FinishedElsewhere => session.say(format!("{head}: finished by another run, kept")),
            Outcome::Failed(e) => session.say(format!("{head}: failed: {e}")),
            Outcome::Trained { .. } => {}
        }
        outcomes.push((p.id.label(), outcome));
    }
    session.finish(&outcomes)
}

/// Writes a cell's final evaluation (`--save-scores`): scores, targets and sample ids, each atomically.
fn save_scores(id: &results::CellId, out: &Path, scores: &ndarray::Array2<f32>, eval: &Split) -> Result<()> {
    use ndarray_npy::WriteNpyExt;
    let [s, t, ids] = id.scores_paths(out);
    let npy = |path: &Path, write: &dyn Fn(&mut std::fs::File) -> Result<()>| {
        crate::io::write_atomic(path, |f| write(f)).with_context(|| format!("{}: cannot write", path.display()))
    };
    npy(&s, &|f| Ok(scores.write_npy(f)?))?;
    npy(&t, &|f| Ok(eval.labels.write_npy(f)?))?;
    let text: String = eval.samples.iter().map(|x| format!("{}\n", x.id)).collect();
    crate::io::write_text(&ids, &text)
}
