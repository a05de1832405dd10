//! `twoway diff`: the CI gate. Exit 0 when every cell is within the tolerance of its baseline, 1 when one
//! dropped or is missing, 2 on bad input.

use super::common::{print_json, OutputFormat};
use crate::report::gate::{self, GateRequest};
use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use twoway_spec::Spec;

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
    pub format: OutputFormat,
}

impl DiffArgs {
    pub fn exec(self, spec: &Spec, out: &mut dyn Write) -> Result<ExitCode> {
        let request = GateRequest {
            results: self.results,
            against: self.against,
            tolerance: self.tolerance,
            tolerance_sd: self.tolerance_sd,
            allow_different_numerics: self.allow_different_numerics,
        };
        let g = gate::check(spec, request)?;
        match self.format {
            OutputFormat::Json => print_json(out, &g.to_json())?,
            OutputFormat::Text => out.write_all(g.render_text().as_bytes())?,
        }
        Ok(if g.passed() { ExitCode::SUCCESS } else { ExitCode::from(1) })
    }
}
