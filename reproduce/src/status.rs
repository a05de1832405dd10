//! `twoway status`: what a results folder holds: finished cells by dataset and backbone, and the wall time
//! spent per backbone.

use crate::results::{self, ResultFile};
use anyhow::Result;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use twoway_spec::{Backbone, Dataset};

/// The summary of the results under `out`.
pub fn report(out: &Path) -> Result<String> {
    let all: Vec<(PathBuf, ResultFile)> = results::load_dir(out)?;
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
    Ok(o)
}
