//! `twoway spec`: validate a copy of the spec files.

use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;
use twoway_spec::Spec;

#[derive(clap::Args, Debug)]
pub struct SpecArgs {
    /// The folder holding losses.yaml, metrics.yaml, paper.yaml, datasets.yaml, backbones.yaml, recipes.yaml,
    /// numerics.yaml.
    #[arg(long, default_value = "spec/data")]
    pub dir: PathBuf,
}

impl SpecArgs {
    pub fn exec(self, out: &mut dyn Write) -> Result<()> {
        let spec = Spec::load_dir(&self.dir)?;
        let (main, ways) = (spec.paper.main.len(), spec.paper.ways.len());
        writeln!(
            out,
            "{}: valid ({main} published numbers in the main table, {ways} in the ways ablation)",
            self.dir.display()
        )?;
        Ok(())
    }
}
