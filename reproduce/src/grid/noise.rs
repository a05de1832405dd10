//! `twoway noise`: a column's kernel spread, measured. The chosen cells are rerun at one seed under each
//! kernel setting of `spec/data/numerics.yaml` (`noise.cpu`, or `noise.cuda` on a GPU), each setting as a
//! `twoway run` of its own into `OUT/noise/<setting>/` with that setting's environment, so that every rerun
//! is resumable and claim-safe like any run (a second `twoway noise` on the same folder waits for, or
//! takes over, what the first left). Then each column's spread (the largest max − min of a cell over the
//! settings) is written to `OUT/noise/<dataset>.<backbone>.<recipe>.json` ([`crate::report::noise`]),
//! where the claims and the gate find it.
//!
//! Invariant: a setting's environment has every kernel knob of every setting removed first, so the
//! `native` setting is this CPU's own choice whatever the user's environment held. Tested in
//! `tests/cli_noise.rs`.

use crate::numerics::CUDA_KERNELS_VAR;
use crate::report::noise::{self, ColumnNoise};
use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use twoway_spec::numerics::KernelSetting;
use twoway_spec::{Numerics, Spec};

/// What `twoway noise` reruns, and where.
#[derive(Debug, Clone)]
pub struct NoiseRequest {
    /// The results folder whose columns are measured; the reruns go under its `noise/` folder.
    pub results: PathBuf,
    pub seed: u64,
    /// `cpu` or `cuda[:N]`: which settings apply, and the device of the reruns.
    pub device: String,
    /// The settings to run (all of the device's when empty).
    pub settings: Vec<String>,
    /// `twoway run`'s selection flags, passed to each rerun as they are (`--grid`, `--recipe`, `--set`,
    /// `--datasets`, `--backbones`, `--losses`, `--ways`, `--data-root`, `--weights-dir`, `--threads`).
    pub run_args: Vec<OsString>,
}

/// The settings of the request's device, in the spec's order (an error naming an unknown one).
pub fn settings<'a>(spec: &'a Spec, req: &NoiseRequest) -> Result<Vec<&'a KernelSetting>> {
    let all = if req.device.starts_with("cuda") { &spec.numerics.noise.cuda } else { &spec.numerics.noise.cpu };
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    if let Some(bad) = req.settings.iter().find(|s| !names.contains(&s.as_str())) {
        bail!("--settings: `{bad}` is not a {} setting of numerics.yaml (one of {})", req.device, names.join(", "));
    }
    let chosen: Vec<&KernelSetting> =
        all.iter().filter(|s| req.settings.is_empty() || req.settings.contains(&s.name)).collect();
    if chosen.len() < 2 {
        bail!("--settings: a spread needs at least two settings, got {}", chosen.len());
    }
    Ok(chosen)
}

/// Every variable any setting (or the portable mode) sets: removed before a setting's own are applied.
fn knobs(spec: &Spec) -> BTreeSet<String> {
    let n = &spec.numerics;
    let mut out: BTreeSet<String> = n.portable.environment.iter().map(|e| e.name.clone()).collect();
    out.extend(n.portable.unset.iter().map(|u| u.name.clone()));
    for s in n.noise.cpu.iter().chain(&n.noise.cuda) {
        out.extend(s.environment.iter().map(|e| e.name.clone()));
    }
    out.insert(CUDA_KERNELS_VAR.into());
    out
}

/// The environment changes of `setting`: (variable, value to set or `None` to remove).
pub fn environment(
    spec: &Spec,
    setting: &KernelSetting,
    current_tunables: Option<OsString>,
) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = knobs(spec).into_iter().map(|k| (k, None)).collect();
    for e in &setting.environment {
        out.retain(|(k, _)| *k != e.name);
        out.push((e.name.clone(), Some(e.value.clone())));
    }
    // glibc's tunables: the user's other tunables kept, the hwcaps mask the setting's (none: removed).
    let tunables = crate::numerics::glibc_tunables(&setting.glibc_hwcaps_masked, current_tunables);
    out.push(("GLIBC_TUNABLES".into(), (!tunables.is_empty()).then_some(tunables)));
    if let Some(k) = &setting.cuda_kernels {
        out.retain(|(name, _)| name != CUDA_KERNELS_VAR);
        out.push((CUDA_KERNELS_VAR.into(), Some(k.clone())));
    }
    out
}

/// The folder of a setting's reruns.
pub fn setting_dir(results: &Path, setting: &str) -> PathBuf {
    results.join(crate::layout::NOISE).join(setting)
}

fn run_command(spec: &Spec, req: &NoiseRequest, setting: &KernelSetting, extra: &[&str]) -> Result<Command> {
    let exe = std::env::current_exe().context("cannot find the twoway executable")?;
    let mut c = Command::new(exe);
    c.arg("run").args(&req.run_args);
    let numerics = match setting.numerics {
        Numerics::Portable => "portable",
        Numerics::Native => "native",
    };
    c.args(["--seeds", &req.seed.to_string(), "--numerics", numerics, "--device", &req.device, "--resume"]);
    c.arg("--out").arg(setting_dir(&req.results, &setting.name));
    c.args(extra);
    for (k, v) in environment(spec, setting, std::env::var_os("GLIBC_TUNABLES")) {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    Ok(c)
}

/// Reruns the request's cells under each setting, then measures and writes each column's spread.
pub fn run(spec: &Spec, req: &NoiseRequest, out: &mut dyn Write) -> Result<Vec<ColumnNoise>> {
    for flag in
        ["--out", "--seeds", "--numerics", "--device", "--resume", "--workers", "--devices", "--cell", "--shard"]
    {
        if req.run_args.iter().any(|a| a.to_string_lossy().split('=').next() == Some(flag)) {
            bail!("{flag} is set by `twoway noise` for each rerun: leave it out");
        }
    }
    if !req.results.is_dir() {
        bail!("{}: no such results folder (the folder of the run whose columns to measure)", req.results.display());
    }
    let chosen = settings(spec, req)?;
    // Check the selection once, before any training: the first setting's cell list.
    let listed = run_command(spec, req, chosen[0], &["--list-cells", "--format", "json"])?
        .output()
        .context("cannot start twoway run")?;
    if !listed.status.success() {
        bail!("the reruns' selection is refused by `twoway run`:\n{}", String::from_utf8_lossy(&listed.stderr).trim());
    }
    let cells: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).context("twoway run --list-cells")?;
    if cells.is_empty() {
        bail!("the selection has no cell at seed {}", req.seed);
    }
    writeln!(out, "twoway noise: {} cell(s) at seed {} under {} setting(s)", cells.len(), req.seed, chosen.len())?;
    for (i, s) in chosen.iter().enumerate() {
        writeln!(out, "[{}/{}] setting {}: {}", i + 1, chosen.len(), s.name, s.reason)?;
        out.flush()?;
        let status = run_command(spec, req, s, &[])?.status().context("cannot start twoway run")?;
        if !status.success() {
            bail!(
                "the rerun under setting `{}` failed ({status}); its folder is {} (rerun `twoway noise` to resume)",
                s.name,
                setting_dir(&req.results, &s.name).display()
            );
        }
    }
    let mut runs = Vec::new();
    for s in &chosen {
        let all = crate::results::load_dir(&setting_dir(&req.results, &s.name))?;
        runs.push((s.name.clone(), all.into_iter().filter(|(_, r)| r.cell.seed == req.seed).collect()));
    }
    let device = if req.device.starts_with("cuda") { "cuda" } else { "cpu" };
    let columns = noise::measure(device, &runs)?;
    for c in &columns {
        let path = c.path(&req.results);
        crate::io::write_text(&path, &(serde_json::to_string_pretty(c)? + "\n"))?;
        let widest = |m: twoway_spec::Metric| {
            c.cells
                .iter()
                .filter(|x| x.metric == m)
                .max_by(|a, b| a.spread.total_cmp(&b.spread))
                .map_or(String::new(), |x| {
                    format!(" ({}{})", x.loss, x.way.map(|w| format!("/{w}")).unwrap_or_default())
                })
        };
        writeln!(
            out,
            "{}/{} (recipe {}): kernel spread {:.2} points of mAP@class{}, {:.2} of mAP@sample{} over {} settings -> {}",
            c.dataset.label(),
            c.backbone.label(),
            c.recipe,
            c.spread.map_class,
            widest(twoway_spec::Metric::MapClass),
            c.spread.map_sample,
            widest(twoway_spec::Metric::MapSample),
            c.settings.len(),
            path.display()
        )?;
    }
    Ok(columns)
}
