//! The `twoway` command line, the only clap code of the crate: one file per subcommand (its flags and a
//! thin `exec`: flags → typed request → library call → print), [`common`] for what they share. Nothing
//! outside this folder imports it (`make lint` checks). Exit codes: 0 success, 1 a gate failed
//! (`twoway diff`), 2 an error (printed as one line) or a usage error (clap's); `twoway conform` exits
//! 1 when a case fails.

pub mod backbone;
pub mod claims;
pub mod common;
pub mod conform;
pub mod data;
pub mod diff;
pub mod eval;
pub mod help;
pub mod map;
pub mod metrics;
pub mod noise;
pub mod plots;
pub mod report;
pub mod run;
pub mod slurm;
pub mod spec;
pub mod status;
pub mod table;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;
use twoway_spec::Spec;

#[derive(Parser, Debug)]
#[command(name = "twoway", version, about = "Verify and reproduce the Two-way Multi-Label Loss (Kobayashi, CVPR 2023)")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a grid of (dataset, backbone, loss, way, seed) cells: train, evaluate, write one result per cell.
    Run(Box<run::RunArgs>),
    /// Write (and with --submit, submit) a grid as a SLURM job array, one cell per task, plus a collector job.
    Slurm(Box<slurm::SlurmArgs>),
    /// Print the paper's results table: published numbers, and reproduced ones with --results.
    Table(table::TableArgs),
    /// Compare reproduced results with a baseline; exit 1 when a cell drops below it (the CI gate).
    Diff(diff::DiffArgs),
    /// State the paper's claims: published, and re-derived from --results.
    Claims(claims::ClaimsArgs),
    /// Measure how far a results folder's cells move between kernel choices alone (each column's kernel
    /// spread, used by claims and diff): rerun them at one seed under each kernel setting.
    Noise(Box<noise::NoiseArgs>),
    /// Draw the plots of a results folder (PNG).
    Plots(plots::PlotsArgs),
    /// Write a results folder as one self-contained HTML page: table, claims, figures, status, provenance.
    Report(report::ReportArgs),
    /// Datasets: labels, samples, checks and summaries of any dataset; the embedded and fixture generators.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Compute a loss and its gradient on logits and targets (.npy or .json).
    Eval(Box<eval::EvalArgs>),
    /// Compute mAP@class and mAP@sample of scores against targets (.npy or .json).
    Map(map::MapArgs),
    /// mAP with the thresholded metrics (CP, CR, CF1, OP, OR, OF1) at a threshold, at top-k, or at thresholds
    /// tuned on a tuning split.
    Metrics(Box<metrics::MetricsArgs>),
    /// Run the spec's conformance cases against any implementation of a loss or a metric (Python or a program).
    Conform(Box<conform::ConformArgs>),
    /// Validate a copy of the spec files (spec/data) and report the first problem.
    Spec(spec::SpecArgs),
    /// What a results folder holds: finished cells by dataset and backbone, wall time per backbone.
    Status(status::StatusArgs),
    /// List the backbones, or run a weight file's network forward (to check it against torchvision).
    #[command(subcommand)]
    Backbone(backbone::BackboneCommand),
    /// (Internal) One BLAS product and one oneDNN convolution, for `twoway run`'s numerics fingerprint.
    #[command(hide = true)]
    ProbeNumerics,
}

/// Runs the command line; errors are printed as one line and give exit code 2.
pub fn main() -> ExitCode {
    let cli = parse();
    let mut out = std::io::stdout().lock();
    match dispatch(cli, &mut out) {
        Ok(code) => code,
        Err(e) => {
            let _ = out.flush();
            eprintln!("twoway: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Parses the process's arguments, with the guide's examples in each command's `--help` ([`help`]);
/// a usage error exits 2 with clap's message.
pub fn parse() -> Cli {
    let matches = help::with_examples(Cli::command()).get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Runs one command with the embedded spec, writing to `out`.
pub fn dispatch(cli: Cli, out: &mut dyn Write) -> Result<ExitCode> {
    // Parsed on first use: the commands that do not need it (map, eval, ...) start without its cost.
    let spec = Spec::embedded;
    let ok = |r: Result<()>| r.map(|()| ExitCode::SUCCESS);
    match cli.command {
        Command::Run(a) => ok(a.exec(spec(), out)),
        Command::Slurm(a) => ok(a.exec(spec(), out)),
        Command::Table(a) => ok(a.exec(spec(), out)),
        Command::Diff(a) => a.exec(spec(), out),
        Command::Claims(a) => ok(a.exec(spec(), out)),
        Command::Noise(a) => ok(a.exec(spec(), out)),
        Command::Plots(a) => ok(a.exec(spec(), out)),
        Command::Report(a) => ok(a.exec(spec(), out)),
        Command::Data(c) => ok(c.exec(spec(), out)),
        Command::Eval(a) => ok(a.exec(out)),
        Command::Map(a) => ok(a.exec(out)),
        Command::Metrics(a) => ok(a.exec(out)),
        Command::Conform(a) => a.exec(spec(), out),
        Command::Spec(a) => ok(a.exec(out)),
        Command::Status(a) => ok(a.exec(out)),
        Command::Backbone(c) => ok(c.exec(spec(), out)),
        Command::ProbeNumerics => ok(probe_numerics()),
    }
}

/// `twoway probe-numerics`: the kernels whose verbose reports make the numerics fingerprint.
#[cfg(feature = "torch")]
fn probe_numerics() -> Result<()> {
    crate::numerics::probe_kernels();
    Ok(())
}

#[cfg(not(feature = "torch"))]
fn probe_numerics() -> Result<()> {
    Err(common::needs_torch("twoway probe-numerics"))
}
