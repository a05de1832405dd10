//! The `twoway` command line.

use crate::diff::{self, Status};
use crate::results;
use crate::table::{Format, TableModel, View};
use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use twoway_spec::{claims, Dataset, Spec};

#[derive(Parser, Debug)]
#[command(name = "twoway", version, about = "Verify and reproduce the Two-way Multi-Label Loss (Kobayashi, CVPR 2023)")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a grid of (dataset, backbone, loss, way, seed) cells: train, evaluate, write one result per cell.
    Run(crate::run::RunArgs),
    /// Write (and with --submit, submit) a grid as a SLURM job array, one cell per task, plus a collector job.
    Slurm(Box<crate::run::SlurmArgs>),
    /// Print the paper's results table: published numbers, and reproduced ones with --results.
    Table(TableArgs),
    /// Compare reproduced results with a baseline; exit 1 when a cell drops below it (the CI gate).
    Diff(DiffArgs),
    /// State the paper's claims: published, and re-derived from --results.
    Claims(ClaimsArgs),
    /// Draw the plots of a results folder (PNG).
    Plots(PlotsArgs),
    /// Datasets: labels, samples, checks and summaries of any dataset; the embedded and fixture generators.
    #[command(subcommand)]
    Data(crate::data::commands::DataCommand),
    /// Compute a loss and its gradient on logits and targets (.npy or .json).
    Eval(crate::eval::EvalArgs),
    /// Compute mAP@class and mAP@sample of scores against targets (.npy or .json).
    Map(crate::eval::MapArgs),
    /// Validate a copy of the spec files (spec/data) and report the first problem.
    Spec(SpecArgs),
    /// What a results folder holds: finished cells by dataset and backbone, wall time per backbone.
    Status {
        /// The results folder (of `twoway run --out`).
        #[arg(long)]
        out: PathBuf,
        /// Seconds after which a claim whose heartbeat stopped (another host) counts as stale.
        #[arg(long, default_value_t = 600)]
        lease: u64,
    },
    /// List the backbones, or run a weight file's network forward (to check it against torchvision).
    #[command(subcommand)]
    Backbone(crate::backbone_cmd::BackboneCommand),
    /// (Internal) One BLAS product and one oneDNN convolution, for `twoway run`'s numerics fingerprint.
    #[command(hide = true)]
    ProbeNumerics,
}

#[derive(clap::Args, Debug)]
pub struct TableArgs {
    /// Render the ways ablation instead of the main table.
    #[arg(long)]
    pub ways: bool,
    /// Both tables: every cell once (a CSV of it is a complete baseline for `twoway diff`).
    #[arg(long, conflicts_with = "ways")]
    pub all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// A results folder (of `twoway run`): fills the reproduced and delta columns.
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Only these datasets' rows (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub datasets: Vec<Dataset>,
}

#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The results folder to check.
    #[arg(long)]
    pub results: PathBuf,
    /// `published` (the paper's numbers, for the cells that were run) or a table CSV whose `reproduced`
    /// column is the baseline (every one of its cells must be in the results).
    #[arg(long, default_value = "published")]
    pub against: String,
    /// How many points (0-100 scale) a cell may fall below its baseline (default 0.5; against a baseline of
    /// other numerics, the cross-numerics tolerance of spec/data/numerics.yaml, and no less unless told).
    #[arg(long, allow_negative_numbers = true)]
    pub tolerance: Option<f64>,
    /// Also allow a drop of this many standard deviations of the baseline's seeds (from the CSV's `sd`
    /// column), when that is more than --tolerance.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub tolerance_sd: f64,
    /// Gate at --tolerance even when the baseline was made under other numerics (another CPU in native
    /// mode, another mode, libtorch, glibc or thread count) and the tolerance is below their measured noise.
    #[arg(long)]
    pub allow_different_numerics: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: TextOrJson,
}

#[derive(clap::Args, Debug)]
pub struct ClaimsArgs {
    /// A results folder: the claims re-derived from it, beside the published ones.
    #[arg(long)]
    pub results: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: TextOrJson,
}

#[derive(clap::Args, Debug)]
pub struct PlotsArgs {
    #[arg(long)]
    pub results: PathBuf,
    /// Where the PNGs go (default: RESULTS/plots).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct SpecArgs {
    /// The folder holding losses.yaml, metrics.yaml, paper.yaml, datasets.yaml, backbones.yaml, recipes.yaml,
    /// numerics.yaml.
    #[arg(long, default_value = "spec/data")]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TextOrJson {
    Text,
    Json,
}

/// The error of a command that needs libtorch, in the build without it.
#[cfg(not(feature = "torch"))]
pub fn needs_torch(command: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "`{command}` needs libtorch, and this twoway was built without it (--no-default-features): build the \
         full twoway with `make build` (or `cargo build --release`) to train, run backbones or use the tch backend"
    )
}

/// Runs the command line; errors are printed as one line and give exit code 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    match run(cli, &mut out) {
        Ok(code) => code,
        Err(e) => {
            let _ = out.flush();
            eprintln!("twoway: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

type Summaries = BTreeMap<twoway_spec::CellKey, results::Summary>;

/// The table cells of a results folder over their seeds, and the distinct numerics fingerprints of its
/// results (none without a folder).
fn summaries(dir: &Option<PathBuf>) -> Result<(Summaries, Vec<Option<crate::numerics::Fingerprint>>)> {
    match dir {
        Some(d) => {
            let all = results::load_dir(d)?;
            Ok((results::summarize(&all), results::fingerprints(&all)))
        }
        None => Ok((BTreeMap::new(), Vec::new())),
    }
}

pub fn run(cli: Cli, out: &mut dyn Write) -> Result<ExitCode> {
    let spec = Spec::embedded();
    match cli.command {
        #[cfg(feature = "torch")]
        Command::Run(a) => crate::runner::run(&a, out)?,
        #[cfg(not(feature = "torch"))]
        Command::Run(_) => return Err(needs_torch("twoway run")),
        #[cfg(feature = "torch")]
        Command::Slurm(s) => crate::slurm::slurm(&s, out)?,
        #[cfg(not(feature = "torch"))]
        Command::Slurm(_) => return Err(needs_torch("twoway slurm")),
        Command::Table(a) => {
            let (cells, numerics) = summaries(&a.results)?;
            let views = if a.all {
                vec![View::Main, View::Ways]
            } else if a.ways {
                vec![View::Ways]
            } else {
                vec![View::Main]
            };
            let mut models = Vec::new();
            for view in views {
                let mut model = TableModel::build(spec, view, &cells);
                if !a.datasets.is_empty() {
                    model.rows.retain(|r| a.datasets.contains(&r.key.dataset));
                }
                // With --all, a cell of both tables (Ours/both, Softmax/sample) is listed once.
                let seen: Vec<_> = models.iter().flat_map(|m: &TableModel| m.rows.iter().map(|r| r.key)).collect();
                model.rows.retain(|r| !seen.contains(&r.key));
                models.push(model);
            }
            if models.iter().all(|m| m.rows.is_empty()) {
                bail!("no row of the table is for {:?}", a.datasets.iter().map(|d| d.as_str()).collect::<Vec<_>>());
            }
            if a.format == Format::Csv {
                // A baseline made from this CSV carries the numerics of its results.
                for f in numerics.iter().flatten() {
                    writeln!(out, "{}{}", diff::NUMERICS_LINE, serde_json::to_string(f)?)?;
                }
            }
            match (a.format, models.as_slice()) {
                (Format::Csv, [main, ways]) => {
                    let second = ways.render(Format::Csv);
                    out.write_all(main.render(Format::Csv).as_bytes())?;
                    out.write_all(second.split_once('\n').map_or("", |x| x.1).as_bytes())?;
                }
                (Format::Json, [main, ways]) => {
                    let mut rows = main.rows.clone();
                    rows.extend(ways.rows.iter().copied());
                    writeln!(
                        out,
                        "{}",
                        serde_json::to_string_pretty(&serde_json::json!({"table": "all", "rows": rows}))?
                    )?;
                }
                _ => {
                    let texts: Vec<String> =
                        models.iter().filter(|m| !m.rows.is_empty()).map(|m| m.render(a.format)).collect();
                    out.write_all(texts.join("\n").as_bytes())?;
                }
            }
        }
        Command::Diff(a) => return diff_command(spec, &a, out),
        Command::Claims(a) => {
            let published = spec.published_claims();
            let mine = match &a.results {
                Some(dir) => {
                    let all = results::load_dir(dir)?;
                    let cells: Vec<claims::Cell> =
                        results::aggregate(&all).into_iter().map(|(key, value)| claims::Cell { key, value }).collect();
                    Some((claims::derive(&cells, |l| spec.main_way(l)), crate::seeds::derive(spec, &all)))
                }
                None => None,
            };
            match a.format {
                TextOrJson::Text => {
                    if let Some((m, per_seed)) = &mine {
                        let dir = a.results.as_ref().unwrap().display();
                        write!(out, "Reproduced claims (from {dir}, on the means over seeds):\n{m}\n{per_seed}\n")?;
                    }
                    write!(out, "Published claims (from the poster's tables):\n{published}")?;
                }
                TextOrJson::Json => {
                    let (mean, per_seed) = match &mine {
                        Some((m, p)) => (Some(m), Some(p)),
                        None => (None, None),
                    };
                    let v = serde_json::json!({"published": published, "reproduced": mean, "per_seed": per_seed});
                    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
                }
            }
        }
        Command::Plots(a) => {
            let all = results::load_dir(&a.results)?;
            let dir = a.out.unwrap_or_else(|| a.results.join("plots"));
            let files = crate::plots::write_all(spec, &all, &results::aggregate(&all), &dir)?;
            for f in files {
                writeln!(out, "{}", f.display())?;
            }
        }
        Command::Data(c) => crate::data::commands::run(c, out)?,
        Command::Status { out: dir, lease } => {
            write!(out, "{}", crate::status::report(&dir, std::time::Duration::from_secs(lease))?)?
        }
        #[cfg(feature = "torch")]
        Command::Backbone(crate::backbone_cmd::BackboneCommand::Forward(a)) => crate::backbones::cmd::forward(&a, out)?,
        #[cfg(feature = "torch")]
        Command::Backbone(crate::backbone_cmd::BackboneCommand::List(a)) => crate::backbones::cmd::list(&a, out)?,
        #[cfg(not(feature = "torch"))]
        Command::Backbone(_) => return Err(needs_torch("twoway backbone")),
        #[cfg(feature = "torch")]
        Command::ProbeNumerics => crate::numerics::probe_kernels(),
        #[cfg(not(feature = "torch"))]
        Command::ProbeNumerics => return Err(needs_torch("twoway probe-numerics")),
        Command::Eval(a) => crate::eval::eval(&a, out)?,
        Command::Map(a) => crate::eval::map(&a, out)?,
        Command::Spec(a) => {
            let spec = Spec::load_dir(&a.dir)?;
            writeln!(
                out,
                "{}: valid ({} published numbers in the main table, {} in the ways ablation)",
                a.dir.display(),
                spec.paper.main.len(),
                spec.paper.ways.len()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn diff_command(spec: &Spec, a: &DiffArgs, out: &mut dyn Write) -> Result<ExitCode> {
    if let Some(t) = a.tolerance.filter(|t| !(t.is_finite() && *t >= 0.0)) {
        bail!("--tolerance must be a finite number of points >= 0, got {t}");
    }
    if !(a.tolerance_sd.is_finite() && a.tolerance_sd >= 0.0) {
        bail!("--tolerance-sd must be a finite number >= 0, got {}", a.tolerance_sd);
    }
    let all = results::load_dir(&a.results)?;
    let mine = results::aggregate(&all);
    // The published numbers come from the paper's GPUs: no fingerprint to compare with.
    let (baseline, check, require_all) = if a.against == "published" {
        (diff::published_baseline(spec), None, false)
    } else {
        let b = diff::read_csv_baseline(std::path::Path::new(&a.against))?;
        (b.cells, Some(diff::NumericsCheck::new(results::fingerprints(&all), &b.numerics)), true)
    };
    let tolerance =
        diff::gate_tolerance(spec, check.as_ref(), a.tolerance, a.tolerance_sd, a.allow_different_numerics)?;
    let rows = diff::compare(&baseline, &mine, tolerance, a.tolerance_sd, require_all);
    if rows.is_empty() {
        bail!("no cell of {} has a baseline in `{}`", a.results.display(), a.against);
    }
    let failed: Vec<&diff::Row> = rows.iter().filter(|r| r.status != Status::Ok).collect();
    match a.format {
        TextOrJson::Json => {
            let v = serde_json::json!({"against": a.against, "tolerance": tolerance, "tolerance_sd": a.tolerance_sd,
                "numerics": check, "passed": failed.is_empty(), "rows": rows});
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        TextOrJson::Text => {
            if let Some(c) = &check {
                writeln!(out, "{}", c.describe())?;
                if !c.identical && a.tolerance.is_none() {
                    writeln!(out, "gating at the cross-numerics tolerance: {tolerance}")?;
                }
                writeln!(out)?;
            }
            writeln!(out, "| cell | metric | baseline | reproduced | delta | status |")?;
            writeln!(out, "|---|---|---:|---:|---:|---|")?;
            for r in &rows {
                let k = &r.key;
                let way = k.way.map(|w| format!("/{w}")).unwrap_or_default();
                let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
                let d = r.delta.map_or("-".to_string(), |v| format!("{v:+.2}"));
                let status = match r.status {
                    Status::Ok => "ok",
                    Status::Dropped => "DROPPED",
                    Status::Missing => "MISSING",
                };
                writeln!(
                    out,
                    "| {}/{}/{}{way} | {} | {:.2} | {} | {d} | {status} |",
                    k.dataset,
                    k.backbone,
                    k.loss,
                    k.metric.label(),
                    r.baseline,
                    f(r.reproduced)
                )?;
            }
            if failed.is_empty() {
                writeln!(out, "\npassed: {} cell(s) within {tolerance} of `{}`", rows.len(), a.against)?;
            } else {
                // The first 20 by name (the table above lists them all).
                let names: Vec<String> = failed
                    .iter()
                    .take(20)
                    .map(|r| {
                        let k = &r.key;
                        let way = k.way.map(|w| format!("/{w}")).unwrap_or_default();
                        format!("{}/{}/{}{way} {}", k.dataset, k.backbone, k.loss, k.metric)
                    })
                    .collect();
                writeln!(
                    out,
                    "\nFAILED: {} of {} cell(s) below `{}` by more than {tolerance} or missing: {}",
                    failed.len(),
                    rows.len(),
                    a.against,
                    names.join(", ")
                        + if failed.len() > 20 { format!(", and {} more", failed.len() - 20) } else { String::new() }
                            .as_str()
                )?;
            }
        }
    }
    Ok(if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
