//! `twoway diff`: the CI gate. Exit 0 when every cell is within the tolerance of its baseline, 1 when one
//! dropped or is missing, 2 on bad input.

use super::common::print_json;
use crate::report::diff::GivenTolerance;
use crate::report::gate::{self, GateRequest};
use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use twoway_spec::{Metric, Spec};

#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The results folder to check.
    #[arg(long)]
    pub results: PathBuf,
    /// `published` (the paper's numbers, for the cells that were run) or a table CSV whose `reproduced`
    /// column is the baseline (every one of its cells must be in the results).
    #[arg(long, default_value = "published")]
    pub against: String,
    /// How many points (0-100 scale) a cell may fall below its baseline: one number (for every metric of
    /// --metrics), or per metric (`map_class=0.5,map_sample=0.3,cf1=1`; a metric left out takes the
    /// default: 0.5, or against a baseline of other numerics the cross-numerics tolerance of
    /// spec/data/numerics.yaml, and no less unless told).
    #[arg(long, allow_negative_numbers = true, value_name = "POINTS|METRIC=POINTS,...")]
    pub tolerance: Option<GivenTolerance>,
    /// Also allow a drop of this many standard deviations of the baseline's seeds (from the CSV's `sd`
    /// column), when that is more than --tolerance.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub tolerance_sd: f64,
    /// Gate at --tolerance even when the baseline was made under other numerics (another CPU in native
    /// mode, another mode, libtorch, glibc or thread count) and the tolerance is below their measured noise.
    #[arg(long)]
    pub allow_different_numerics: bool,
    /// text (a table and a verdict), json, junit (XML for CI test reporters: one test case per cell and
    /// metric) or md (a Markdown table for a pull-request comment, the cells below their baseline first).
    #[arg(long, value_enum, default_value = "text")]
    pub format: GateFormat,
    /// The metrics gated (comma-separated): a baseline cell of another metric is not compared; a selected
    /// metric the baseline has no cell of (the published numbers have only mAP) is reported as not compared.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "map_class,map_sample")]
    pub metrics: Vec<Metric>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GateFormat {
    Text,
    Json,
    Junit,
    Md,
}

impl DiffArgs {
    pub fn exec(self, spec: &Spec, out: &mut dyn Write) -> Result<ExitCode> {
        let request = GateRequest {
            results: self.results,
            against: self.against,
            tolerance: self.tolerance.unwrap_or_default(),
            tolerance_sd: self.tolerance_sd,
            allow_different_numerics: self.allow_different_numerics,
            metrics: super::common::metrics_arg(&self.metrics)?,
        };
        let g = gate::check(spec, request)?;
        match self.format {
            GateFormat::Json => print_json(out, &g.to_json())?,
            GateFormat::Text => out.write_all(g.render_text().as_bytes())?,
            GateFormat::Junit => out.write_all(g.render_junit(spec).as_bytes())?,
            GateFormat::Md => out.write_all(g.render_markdown(spec).as_bytes())?,
        }
        Ok(if g.passed() { ExitCode::SUCCESS } else { ExitCode::from(1) })
    }
}
