//! `twoway report`: a results folder as one self-contained HTML page.

use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;
use twoway_spec::{Metric, Spec};

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The results folder (of `twoway run --out`).
    #[arg(long)]
    pub results: PathBuf,
    /// The HTML file to write (default: RESULTS/report.html).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The metrics of the table, the figures of means per loss and the claims (comma-separated; the
    /// thresholded ones have no published value and no measured kernel spread). Default: mAP@class and
    /// mAP@sample, and beside them every thresholded metric the results record (CF1 / OF1 ...).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub metrics: Vec<Metric>,
}

impl ReportArgs {
    pub fn exec(self, spec: &Spec, out: &mut dyn Write) -> Result<()> {
        let metrics = if self.metrics.is_empty() {
            let all = crate::results::load_dir(&self.results)?;
            Metric::ALL
                .iter()
                .copied()
                .filter(|m| m.is_map() || all.iter().any(|(_, r)| r.metric(*m).is_some()))
                .collect()
        } else {
            super::common::metrics_arg(&self.metrics)?
        };
        let page = crate::report::html::report_for(spec, &self.results, &metrics)?;
        let path = self.out.unwrap_or_else(|| self.results.join("report.html"));
        crate::io::write_text(&path, &page)?;
        writeln!(out, "{}", path.display())?;
        Ok(())
    }
}
