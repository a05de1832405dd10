//! `twoway table`: the paper's results table, published beside reproduced.

use super::common::TableFormat;
use crate::report::table::{self, Tables};
use crate::results;
use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;
use twoway_spec::{Dataset, Metric, Spec};

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
    pub format: TableFormat,
    /// A results folder (of `twoway run`): fills the reproduced and delta columns.
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Only these datasets' rows (comma-separated).
    #[arg(long, value_delimiter = ',', value_parser = super::common::dataset_arg)]
    pub datasets: Vec<Dataset>,
    /// The metrics shown (comma-separated; the thresholded ones have no published value).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "map_class,map_sample")]
    pub metrics: Vec<Metric>,
}

impl TableArgs {
    pub fn exec(self, spec: &Spec, out: &mut dyn Write) -> Result<()> {
        let which = match (self.all, self.ways) {
            (true, _) => Tables::All,
            (false, true) => Tables::Ways,
            (false, false) => Tables::Main,
        };
        let (cells, numerics, by_cell) = match &self.results {
            Some(d) => {
                let all = results::load_dir(d)?;
                (results::summarize(&all), results::fingerprints(&all), table::numerics_by_cell(&all))
            }
            None => Default::default(),
        };
        let metrics = super::common::metrics_arg(&self.metrics)?;
        let mut models = table::select_for(spec, which, &cells, &self.datasets, &metrics)?;
        for m in &mut models {
            m.numerics = by_cell.clone();
        }
        out.write_all(table::render(&models, self.format.into(), &numerics)?.as_bytes())?;
        Ok(())
    }
}
