//! `twoway claims`: the paper's claims, published and re-derived from a results folder.

use super::common::{print_json, OutputFormat};
use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;
use twoway_spec::{Metric, Spec};

#[derive(clap::Args, Debug)]
pub struct ClaimsArgs {
    /// A results folder: the claims re-derived from it, beside the published ones.
    #[arg(long)]
    pub results: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// The metrics the claims are re-derived on (comma-separated; the kernel spread is measured for mAP
    /// only, and the paper states its claims on mAP alone).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "map_class,map_sample")]
    pub metrics: Vec<Metric>,
}

impl ClaimsArgs {
    pub fn exec(self, spec: &Spec, out: &mut dyn Write) -> Result<()> {
        let r = crate::report::claims::report_for(
            spec,
            self.results.as_deref(),
            &super::common::metrics_arg(&self.metrics)?,
        )?;
        match self.format {
            OutputFormat::Text => out.write_all(r.render_text().as_bytes())?,
            OutputFormat::Json => print_json(out, &r.to_json())?,
        }
        Ok(())
    }
}
