//! `twoway status`: what a results folder holds and which of its cells run, wait or failed.

use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// The results folder (of `twoway run --out`).
    #[arg(long)]
    pub out: PathBuf,
    /// Seconds after which a claim whose heartbeat stopped (another host) counts as stale.
    #[arg(long, default_value_t = 600)]
    pub lease: u64,
}

impl StatusArgs {
    pub fn exec(self, out: &mut dyn Write) -> Result<()> {
        let report = crate::grid::status::report(&self.out, std::time::Duration::from_secs(self.lease))?;
        write!(out, "{report}")?;
        Ok(())
    }
}
