//! `twoway plots`: the PNGs of a results folder.

use crate::results;
use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;
use twoway_spec::Spec;

#[derive(clap::Args, Debug)]
pub struct PlotsArgs {
    #[arg(long)]
    pub results: PathBuf,
    /// Where the PNGs go (default: RESULTS/plots).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl PlotsArgs {
    pub fn exec(self, spec: &Spec, out: &mut dyn Write) -> Result<()> {
        let all = results::load_dir(&self.results)?;
        let dir = self.out.unwrap_or_else(|| self.results.join(crate::layout::PLOTS));
        for f in crate::report::plots::write_all(spec, &all, &results::summarize(&all), &dir)? {
            writeln!(out, "{}", f.display())?;
        }
        Ok(())
    }
}
