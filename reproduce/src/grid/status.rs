//! `twoway status`: what a results folder holds, while its grid runs (any number of processes, SLURM
//! tasks) or after: finished cells by dataset and backbone with the wall time per backbone, and the cells
//! running (live leases: host, pid, heartbeat), partial (a checkpoint, nobody on it) or failed (with the
//! error of their failure record). The folder is walked once; file kinds come from [`crate::layout`].
//! Tested in `tests/cli_cells.rs` and `tests/paper_smoke.rs`.

use super::lease;
use crate::layout::{Failure, FileKind, PLOTS};
use crate::results::ResultFile;
use anyhow::Result;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use twoway_spec::{Backbone, Dataset};

/// The cell files under `out` by kind, as (cell folder, file name), sorted; `plots/` and hidden folders
/// (the workers' logs) are skipped.
fn walk(out: &Path) -> BTreeMap<FileKind, Vec<(PathBuf, String)>> {
    let mut found: BTreeMap<FileKind, Vec<(PathBuf, String)>> = BTreeMap::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if e.path().is_dir() {
                if name != PLOTS && !name.starts_with('.') {
                    stack.push(e.path());
                }
            } else if let Some(kind) = FileKind::of(&name) {
                found.entry(kind).or_default().push((dir.clone(), name));
            }
        }
    }
    found.values_mut().for_each(|v| v.sort());
    found
}

/// The finished cells: count and wall time per backbone, count per dataset and backbone.
fn finished(o: &mut String, out: &Path, all: &[ResultFile]) {
    let mut by_pair: BTreeMap<(Dataset, Backbone), usize> = BTreeMap::new();
    let mut by_backbone: BTreeMap<Backbone, (usize, f64)> = BTreeMap::new();
    for r in all {
        *by_pair.entry((r.cell.dataset, r.cell.backbone)).or_default() += 1;
        let e = by_backbone.entry(r.cell.backbone).or_default();
        e.0 += 1;
        e.1 += r.wall_seconds;
    }
    let total: f64 = all.iter().map(|r| r.wall_seconds).fold(0.0, |a, b| a + b); // 0, not -0, when empty
    let _ = writeln!(o, "{}: {} finished cell(s), {:.0} s of training and evaluation", out.display(), all.len(), total);
    let _ = writeln!(o, "| backbone | cells | wall time | per cell |");
    let _ = writeln!(o, "|---|---:|---:|---:|");
    for (b, (n, s)) in &by_backbone {
        let _ = writeln!(o, "| {} | {n} | {s:.0} s | {:.1} s |", b.label(), s / *n as f64);
    }
    let _ = writeln!(o, "cells by dataset and backbone:");
    for ((d, b), n) in &by_pair {
        let _ = writeln!(o, "  {}/{}: {n}", d.label(), b.label());
    }
}

/// The lines of the leases: (live ones, stale ones).
fn leases(
    files: &[(PathBuf, String)],
    cell: impl Fn(&Path, &str) -> String,
    lease: std::time::Duration,
) -> (Vec<String>, Vec<String>) {
    let (mut running, mut stale) = (Vec::new(), Vec::new());
    let now = crate::host::now();
    for (dir, name) in files {
        match lease::read(&dir.join(name)) {
            Some(h) => match h.stale(lease) {
                None => running.push(format!(
                    "  {}: {}, heartbeat {:.0} s ago, started {:.0} s ago",
                    cell(dir, name),
                    h.describe(),
                    now - h.heartbeat,
                    now - h.started
                )),
                Some(why) => stale.push(format!("  {}: claim of {} is stale ({why})", cell(dir, name), h.describe())),
            },
            None => running.push(format!("  {}: claim being written", cell(dir, name))),
        }
    }
    (running, stale)
}

/// The cells of a results folder that are not finished: (cell, what) for those running (a live lease),
/// partial (a checkpoint) and failed (with the error of their failure record).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Unfinished {
    pub running: Vec<(String, String)>,
    pub partial: Vec<(String, String)>,
    pub failed: Vec<(String, String)>,
}

/// The unfinished cells under `out` (`lease`: how old a heartbeat of another host may be).
pub fn unfinished(out: &Path, lease: std::time::Duration) -> Unfinished {
    let found = walk(out);
    let cell = |dir: &Path, name: &str| {
        let seed = name.split('.').next().unwrap_or(name);
        format!("{}/{seed}", dir.strip_prefix(out).unwrap_or(dir).display())
    };
    let list = |k: FileKind, what: &dyn Fn(&Path, &str) -> Option<String>| -> Vec<(String, String)> {
        found.get(&k).into_iter().flatten().filter_map(|(d, n)| what(d, n).map(|w| (cell(d, n), w))).collect()
    };
    let live = |d: &Path, n: &str| lease::read(&d.join(n)).filter(|h| h.stale(lease).is_none()).map(|h| h.describe());
    Unfinished {
        running: list(FileKind::Claim, &live),
        partial: list(FileKind::Checkpoint, &|_, _| Some("checkpoint".to_string())),
        failed: list(FileKind::Failed, &|d, n| Some(Failure::read_error(&d.join(n)).unwrap_or_default())),
    }
}

/// The summary of the results under `out` (`lease`: how old a heartbeat of another host may be).
pub fn report(out: &Path, lease: std::time::Duration) -> Result<String> {
    if !out.is_dir() {
        anyhow::bail!("{}: no such results folder", out.display());
    }
    let found = walk(out);
    let none = Vec::new();
    let of = |k: FileKind| found.get(&k).unwrap_or(&none);
    let all: Vec<ResultFile> =
        of(FileKind::Result).iter().map(|(d, n)| ResultFile::read(&d.join(n))).collect::<Result<_>>()?;
    let mut o = String::new();
    finished(&mut o, out, &all);
    let cell = |dir: &Path, name: &str| {
        let seed = name.split('.').next().unwrap_or(name);
        format!("{}/{seed}", dir.strip_prefix(out).unwrap_or(dir).display())
    };
    let (running, stale) = leases(of(FileKind::Claim), cell, lease);
    let _ = writeln!(o, "running: {}", running.len());
    o.extend(running.iter().chain(&stale).map(|l| format!("{l}\n")));
    let partial: Vec<String> = of(FileKind::Checkpoint)
        .iter()
        .map(|(dir, name)| {
            let state: Option<serde_json::Value> =
                std::fs::read(dir.join(name)).ok().and_then(|b| serde_json::from_slice(&b).ok());
            let at = state.map_or(String::new(), |s| {
                format!(" at epoch {}, iteration {}", s["epoch"].as_u64().unwrap_or(0) + 1, s["iteration"])
            });
            format!("  {}: checkpoint{at}", cell(dir, name))
        })
        .collect();
    let _ = writeln!(o, "with a checkpoint (partial, or running): {}", partial.len());
    o.extend(partial.iter().map(|l| format!("{l}\n")));
    let failed: Vec<String> = of(FileKind::Failed)
        .iter()
        .map(|(dir, name)| {
            format!("  {}: {}", cell(dir, name), Failure::read_error(&dir.join(name)).unwrap_or_default())
        })
        .collect();
    let _ = writeln!(o, "failed: {}", failed.len());
    o.extend(failed.iter().map(|l| format!("{l}\n")));
    Ok(o)
}
