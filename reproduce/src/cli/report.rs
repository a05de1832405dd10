//! `twoway report`: a results folder as one self-contained HTML page.

use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;
use twoway_spec::Spec;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The results folder (of `twoway run --out`).
    #[arg(long)]
    pub results: PathBuf,
    /// The HTML file to write (default: RESULTS/report.html).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl ReportArgs {
    pub fn exec(self, spec: &Spec, out: &mut dyn Write) -> Result<()> {
        let page = crate::report::html::report(spec, &self.results)?;
        let path = self.out.unwrap_or_else(|| self.results.join("report.html"));
        crate::io::write_text(&path, &page)?;
        writeln!(out, "{}", path.display())?;
        Ok(())
    }
}
