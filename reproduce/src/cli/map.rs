//! `twoway map`: mAP@class and mAP@sample of given scores against targets.

use super::common::{print_json, OutputFormat};
use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;
use twoway_reference::{ApOptions, MapReport};
use twoway_spec::{Denominator, Ties};

#[derive(clap::Args, Debug)]
pub struct MapArgs {
    /// Scores, samples x classes (.npy or .json).
    #[arg(long)]
    pub scores: PathBuf,
    /// Targets of the same shape: 1 positive, 0 negative, -1 unknown.
    #[arg(long)]
    pub targets: PathBuf,
    /// How tied scores rank.
    #[arg(long, value_enum, default_value = "grouped")]
    pub ties: Ties,
    /// AP denominator: the positive count (exact) or the release's positives + 1e-8.
    #[arg(long, value_enum, default_value = "exact")]
    pub denominator: Denominator,
    /// Also report the AP of every class.
    #[arg(long)]
    pub per_class: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

impl MapArgs {
    pub fn exec(self, out: &mut dyn Write) -> Result<()> {
        let opts = ApOptions { ties: self.ties, denominator: self.denominator };
        let r = crate::metrics::map_files(&self.scores, &self.targets, opts)?;
        match self.format {
            OutputFormat::Json => print_json(out, &self.json(&r))?,
            OutputFormat::Text => out.write_all(self.text(&r).as_bytes())?,
        }
        Ok(())
    }

    fn json(&self, r: &MapReport) -> serde_json::Value {
        let mut v = serde_json::json!({
            "map_class": r.map_class,
            "map_sample": r.map_sample,
            "classes_evaluated": kept(&r.per_class),
            "samples_evaluated": kept(&r.per_sample),
            "ties": self.ties,
            "denominator": self.denominator,
        });
        if self.per_class {
            v["per_class"] = serde_json::json!(r.per_class);
        }
        v
    }

    fn text(&self, r: &MapReport) -> String {
        let f = |v: Option<f64>| v.map_or("n/a (no positive)".to_string(), |v| format!("{v:.4}"));
        let (classes, samples) = (r.per_class.len(), r.per_sample.len());
        let mut o =
            format!("mAP@class  {} ({} of {classes} classes with a positive)\n", f(r.map_class), kept(&r.per_class));
        o.push_str(&format!(
            "mAP@sample {} ({} of {samples} samples with a positive)\n",
            f(r.map_sample),
            kept(&r.per_sample)
        ));
        if self.per_class {
            for (j, ap) in r.per_class.iter().enumerate() {
                o.push_str(&format!("class {j}: {}\n", f(*ap)));
            }
        }
        o
    }
}

/// How many entries have a value.
fn kept(v: &[Option<f64>]) -> usize {
    v.iter().filter(|x| x.is_some()).count()
}
