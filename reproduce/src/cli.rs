//! The `twoway` command line.

use crate::table::{Format, TableModel, View};
use clap::{Parser, Subcommand};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
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
    /// Print the paper's results table (published numbers; reproduced ones beside them once results exist).
    Table(TableArgs),
    /// State the paper's claims, derived from the published table.
    Claims(ClaimsArgs),
    /// Validate a copy of the spec files (spec/data) and report the first problem.
    Spec(SpecArgs),
    /// Compute a loss and its gradient on logits and targets (.npy or .json).
    Eval(crate::eval::EvalArgs),
    /// Compute mAP@class and mAP@sample of scores against targets (.npy or .json).
    Map(crate::eval::MapArgs),
}

#[derive(clap::Args, Debug)]
pub struct TableArgs {
    /// Render the ways ablation (MS-COCO, ResNet50) instead of the main table.
    #[arg(long)]
    pub ways: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
}

#[derive(clap::Args, Debug)]
pub struct ClaimsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: TextOrJson,
}

#[derive(clap::Args, Debug)]
pub struct SpecArgs {
    /// The folder holding losses.yaml, metrics.yaml, paper.yaml, datasets.yaml, backbones.yaml, recipes.yaml.
    #[arg(long, default_value = "spec/data")]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TextOrJson {
    Text,
    Json,
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

pub fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Table(a) => {
            let spec = Spec::embedded();
            let view = if a.ways { View::Ways } else { View::Main };
            let model = TableModel::build(spec, view, &BTreeMap::new());
            out.write_all(model.render(a.format).as_bytes())?;
        }
        Command::Claims(a) => {
            let claims = Spec::embedded().published_claims();
            match a.format {
                TextOrJson::Text => write!(out, "Published claims (from the poster's tables):\n{claims}")?,
                TextOrJson::Json => writeln!(out, "{}", serde_json::to_string_pretty(&claims)?)?,
            }
        }
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
        Command::Eval(a) => crate::eval::eval(&a, out)?,
        Command::Map(a) => crate::eval::map(&a, out)?,
    }
    Ok(ExitCode::SUCCESS)
}
