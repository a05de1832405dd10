//! `twoway plots`: the PNGs of a results folder.

use crate::results;
use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;
use twoway_spec::{Metric, Spec};

#[derive(clap::Args, Debug)]
pub struct PlotsArgs {
    #[arg(long)]
    pub results: PathBuf,
    /// Where the PNGs go (default: RESULTS/plots).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The metrics of the figures of means per loss, a panel each (comma-separated; the thresholded ones
    /// have no published value to mark).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "map_class,map_sample")]
    pub metrics: Vec<Metric>,
}

impl PlotsArgs {
    pub fn exec(self, spec: &Spec, out: &mut dyn Write) -> Result<()> {
        let metrics = super::common::metrics_arg(&self.metrics)?;
        let all = results::load_dir(&self.results)?;
        let dir = self.out.unwrap_or_else(|| self.results.join(crate::layout::PLOTS));
        for f in crate::report::plots::write_all_for(spec, &all, &results::summarize(&all), &dir, &metrics)? {
            writeln!(out, "{}", f.display())?;
        }
        Ok(())
    }
}
