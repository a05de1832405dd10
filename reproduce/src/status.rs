//! `twoway status`: what a results folder holds, while its grid runs (any number of processes, SLURM
//! tasks) or after: finished cells by dataset and backbone with the wall time per backbone, and the cells
//! running (live claims: host, pid, heartbeat), partial (a checkpoint, nobody on it) or failed.

use crate::results::{self, ResultFile};
use anyhow::Result;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use twoway_spec::{Backbone, Dataset};

/// Every file under `out` (folder, file name), skipping `plots/` and hidden folders (workers' logs).
fn files(out: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if e.path().is_dir() {
                if name != "plots" && !name.starts_with('.') {
                    stack.push(e.path());
                }
            } else {
                found.push((dir.clone(), name));
            }
        }
    }
    found
}

/// Claims, checkpoints and failure records under `out`: (cell folder, file name) by kind.
fn markers(out: &Path) -> BTreeMap<&'static str, Vec<(PathBuf, String)>> {
    let mut found: BTreeMap<&'static str, Vec<(PathBuf, String)>> = BTreeMap::new();
    for (dir, name) in files(out) {
        let kind = if name.ends_with(".claim") {
            "claim"
        } else if name.ends_with(".ckpt.json") {
            "checkpoint"
        } else if name.ends_with(".failed") {
            "failed"
        } else {
            continue;
        };
        found.entry(kind).or_default().push((dir, name));
    }
    found.values_mut().for_each(|v| v.sort());
    found
}

/// The summary of the results under `out` (`lease`: how old a heartbeat of another host may be).
pub fn report(out: &Path, lease: std::time::Duration) -> Result<String> {
    if !out.is_dir() {
        anyhow::bail!("{}: no such results folder", out.display());
    }
    let all: Vec<(PathBuf, ResultFile)> = if has_results(out) { results::load_dir(out)? } else { Vec::new() };
    let mut by_pair: BTreeMap<(Dataset, Backbone), usize> = BTreeMap::new();
    let mut by_backbone: BTreeMap<Backbone, (usize, f64)> = BTreeMap::new();
    for (_, r) in &all {
        *by_pair.entry((r.cell.dataset, r.cell.backbone)).or_default() += 1;
        let e = by_backbone.entry(r.cell.backbone).or_default();
        e.0 += 1;
        e.1 += r.wall_seconds;
    }
    let mut o = String::new();
    let total: f64 = all.iter().map(|(_, r)| r.wall_seconds).sum();
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
    let found = markers(out);
    let cell = |dir: &Path, name: &str| {
        let seed = name.split('.').next().unwrap_or(name);
        format!("{}/{seed}", dir.strip_prefix(out).unwrap_or(dir).display())
    };
    let mut running = Vec::new();
    let mut stale = Vec::new();
    for (dir, name) in found.get("claim").into_iter().flatten() {
        match crate::claim::read(&dir.join(name)) {
            Some(h) => match h.stale(lease) {
                None => running.push(format!(
                    "  {}: {}, heartbeat {:.0} s ago, started {:.0} s ago",
                    cell(dir, name),
                    h.describe(),
                    crate::claim::now() - h.heartbeat,
                    crate::claim::now() - h.started
                )),
                Some(why) => stale.push(format!("  {}: claim of {} is stale ({why})", cell(dir, name), h.describe())),
            },
            None => running.push(format!("  {}: claim being written", cell(dir, name))),
        }
    }
    let _ = writeln!(o, "running: {}", running.len());
    o.extend(running.iter().map(|l| format!("{l}\n")));
    o.extend(stale.iter().map(|l| format!("{l}\n")));
    let partial: Vec<String> = found
        .get("checkpoint")
        .into_iter()
        .flatten()
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
    let failed: Vec<String> = found
        .get("failed")
        .into_iter()
        .flatten()
        .map(|(dir, name)| {
            let error = std::fs::read(dir.join(name))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["error"].as_str().map(String::from))
                .unwrap_or_default();
            format!("  {}: {error}", cell(dir, name))
        })
        .collect();
    let _ = writeln!(o, "failed: {}", failed.len());
    o.extend(failed.iter().map(|l| format!("{l}\n")));
    Ok(o)
}

fn has_results(out: &Path) -> bool {
    files(out).iter().any(|(_, name)| name.starts_with("seed") && name.ends_with(".json") && !name.contains(".ckpt"))
}
