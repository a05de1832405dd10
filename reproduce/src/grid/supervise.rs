//! `--workers N` / `--devices D1,D2,...`: the chosen cells run in child processes (`twoway run` of
//! [`RunRequest::for_worker`]: one per device, or N on the run's device) that share the leases of one
//! results folder. The supervisor follows the cells' statuses for its progress bar (a finished cell is not
//! read again), and starts a second round for the cells of a failed worker ([`RETRIES`]); what still has not
//! finished is reported with its failure record. Tested in `tests/cli_cells.rs`.

use super::plan::{self, Planned};
use super::request::{Parallel, RunRequest};
use crate::device::DeviceName;
use crate::layout::{CellStatus, Failure, WORKERS};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::process::Child;
use std::time::Duration;

/// How many times the cells of a failed worker are given to a new round of workers.
pub const RETRIES: usize = 1;

/// How often the supervisor looks at its workers and the cells' statuses.
const POLL: Duration = Duration::from_millis(500);

/// The cells' statuses, the finished ones remembered rather than read again.
struct Tracker<'a> {
    req: &'a RunRequest,
    chosen: &'a [&'a Planned],
    done: Vec<bool>,
}

impl Tracker<'_> {
    /// The count of cells per status now.
    fn counts(&mut self) -> BTreeMap<CellStatus, usize> {
        let mut c: BTreeMap<CellStatus, usize> = BTreeMap::new();
        for (p, done) in self.chosen.iter().zip(self.done.iter_mut()) {
            let s = if *done { CellStatus::Done } else { plan::status(p, &self.req.out, self.req.lease) };
            *done = s == CellStatus::Done;
            *c.entry(s).or_default() += 1;
        }
        c
    }

    fn remaining(&mut self) -> usize {
        let c = self.counts();
        self.chosen.len() - c.get(&CellStatus::Done).copied().unwrap_or(0)
    }
}

/// The worker processes' slots: a device each, or `None` (the run's device) N times.
fn slots(req: &RunRequest) -> Result<Vec<Option<DeviceName>>> {
    Ok(match &req.parallel {
        Parallel::Workers(n) => vec![None; *n],
        Parallel::Devices(d) => {
            for x in d {
                x.resolve().with_context(|| format!("--devices {x}"))?;
            }
            d.iter().copied().map(Some).collect()
        }
    })
}

/// Starts one round of workers (at most one per remaining cell); returns (slot, child).
fn start_round(
    req: &RunRequest,
    slots: &[Option<DeviceName>],
    remaining: usize,
    round: usize,
) -> Result<Vec<(usize, Child)>> {
    let logs = req.out.join(WORKERS);
    std::fs::create_dir_all(&logs).with_context(|| format!("{}: cannot create", logs.display()))?;
    let exe = std::env::current_exe().context("cannot find the twoway executable")?;
    let mut children = Vec::new();
    for (k, slot) in slots.iter().enumerate().take(remaining.max(1)) {
        let log = logs.join(format!("worker{k}-round{round}.log"));
        let file = std::fs::File::create(&log).with_context(|| format!("{}: cannot create", log.display()))?;
        let child = std::process::Command::new(&exe)
            .args(req.for_worker(*slot).to_args())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .context("cannot start a worker process")?;
        let on = slot.map(|d| format!(" on {d}")).unwrap_or_default();
        eprintln!("worker {k}{on} started (pid {}), log {}", child.id(), log.display());
        children.push((k, child));
    }
    Ok(children)
}

/// Waits for a round's workers, updating the bar; returns how many failed.
fn wait_round(
    mut children: Vec<(usize, Child)>,
    tracker: &mut Tracker,
    bar: &ProgressBar,
    round: usize,
) -> Result<usize> {
    let mut failures = 0;
    while !children.is_empty() {
        std::thread::sleep(POLL);
        let c = tracker.counts();
        let get = |s| c.get(&s).copied().unwrap_or(0);
        bar.set_position(get(CellStatus::Done) as u64);
        bar.set_message(format!("{} running, {} failed", get(CellStatus::Running), get(CellStatus::Failed)));
        let mut still = Vec::new();
        for (k, mut child) in children {
            match child.try_wait()? {
                Some(status) if !status.success() => {
                    let log = tracker.req.out.join(WORKERS).join(format!("worker{k}-round{round}.log"));
                    eprintln!("worker {k} exited with {status}; see {}", log.display());
                    failures += 1;
                }
                Some(_) => {}
                None => still.push((k, child)),
            }
        }
        children = still;
    }
    Ok(failures)
}

/// Runs the chosen cells in worker processes; returns the closing line.
pub fn supervise(req: &RunRequest, chosen: &[&Planned]) -> Result<String> {
    let slots = slots(req)?;
    let bar = ProgressBar::new(chosen.len() as u64);
    if !super::runner::console_attended() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("grid {pos}/{len} cells [{bar:30}] {msg} elapsed {elapsed} ETA {eta}").unwrap(),
    );
    let mut tracker = Tracker { req, chosen, done: vec![false; chosen.len()] };
    let mut failures = 0;
    for round in 0..=RETRIES {
        let remaining = tracker.remaining();
        if remaining == 0 || (round > 0 && failures == 0) {
            break;
        }
        let children = start_round(req, &slots, remaining, round)?;
        failures = wait_round(children, &mut tracker, &bar, round)?;
        if failures > 0 && round < RETRIES {
            eprintln!("{failures} worker(s) failed: retrying their cells once");
        }
    }
    bar.finish_and_clear();
    let unfinished: Vec<String> = chosen
        .iter()
        .zip(&tracker.done)
        .filter(|(p, done)| !**done && plan::status(p, &req.out, req.lease) != CellStatus::Done)
        .map(|(p, _)| match Failure::read_error(&p.id.failed_path(&req.out)) {
            Some(e) => format!("{} ({e})", p.id.label()),
            None => p.id.label(),
        })
        .collect();
    if !unfinished.is_empty() {
        bail!("{} cell(s) did not finish after a retry: {}", unfinished.len(), unfinished.join("; "));
    }
    let all = crate::results::load_dir(&req.out)?;
    Ok(format!("results: {} ({} cells) from {} worker process(es)", req.out.display(), all.len(), slots.len()))
}
