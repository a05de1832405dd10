//! `twoway conform`: the spec's conformance cases against an outside implementation of a loss or a metric.

use super::common::LossParamArgs;
use crate::conform::{self, junit, render, CaseSet, Implementation, Request, Subject, Suite};
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use twoway_reference::AnyLoss;
use twoway_spec::{Dtype, Loss, Metric, Spec, Ties};

#[derive(clap::Args, Debug)]
#[command(
    allow_negative_numbers = true,
    group(clap::ArgGroup::new("subject").required(true).args(["loss", "metric"])),
    group(clap::ArgGroup::new("implementation").required(true).args(["python", "cmd"])),
    after_help = "Exit codes: 0 every case passes, 1 a case fails, 2 bad input (a missing file or NAME, an \
import error, a program that exits non-zero).\n\nWith --cmd, twoway writes a folder with cases.json (a list \
of {\"name\", \"params\"}) and NAME.logits.npy / NAME.targets.npy (NAME.scores.npy for a metric), float64 \
(logits rounded to --dtype), runs PROGRAM ARGS... FOLDER once, and reads NAME.loss.npy (shape () or (1,)) \
and NAME.grad.npy, or NAME.value.npy (percent; NaN when no line has a positive), float64 or float32; \
NAME.error.txt marks a case that raised."
)]
pub struct ConformArgs {
    /// The loss under test, with the parameters below (the spec's defaults for those not given).
    #[arg(long, value_enum)]
    pub loss: Option<Loss>,
    /// The metric under test (0-100 scale).
    #[arg(long, value_enum)]
    pub metric: Option<Metric>,
    /// The loss's parameters (the spec's defaults for those not given).
    #[command(flatten)]
    pub loss_params: LossParamArgs,
    /// The metric's tie rule (default: grouped).
    #[arg(long, value_enum)]
    pub ties: Option<Ties>,
    /// A Python implementation: a function (logits, targets) -> scalar tensor, an nn.Module class, or for a
    /// metric a function (scores, targets) -> float in percent on numpy arrays.
    #[arg(long, value_name = "FILE.py:NAME")]
    pub python: Option<String>,
    /// Keyword arguments (a JSON object): a --python class is built with them, a function called with them.
    #[arg(long, value_name = "JSON", requires = "python")]
    pub init: Option<String>,
    /// The Python interpreter (default: $TWOWAY_PYTHON, else python3).
    #[arg(long, value_name = "PATH", requires = "python")]
    pub python_exe: Option<PathBuf>,
    /// Any program: "PROGRAM ARGS..."; twoway appends the case folder.
    #[arg(long, value_name = "PROGRAM ARGS...")]
    pub cmd: Option<String>,
    /// The dtype the loss's logits are given in (metrics: f64 only).
    #[arg(long, value_enum, default_value = "f64")]
    pub dtype: Dtype,
    /// Which cases: the spec vectors, seeded random ones, or both.
    #[arg(long, value_enum, default_value = "all")]
    pub cases: Cases,
    /// How many random cases.
    #[arg(long, default_value_t = 50)]
    pub random: usize,
    /// The seed of the random cases.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Run the random cases of this many seeds, from --seed on, in one call of the implementation (each
    /// seed's cases are those --seed alone gives, named seedS_random_NNN).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seeds: u64,
    /// A known divergence (its id in spec/data/conformance.yaml) that your implementation has on purpose:
    /// a failing case that matches only allowed divergences counts as passed, and the report says so.
    /// Repeatable.
    #[arg(long, value_name = "ID")]
    pub allow_divergence: Vec<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Give up on the implementation after this many seconds (exit 2); 0 waits for ever.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub timeout: u64,
    /// Write the report to FILE (atomically) instead of standard output; a verdict line still prints.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Cases {
    Vectors,
    Random,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Junit,
}

impl ConformArgs {
    fn subject(&self) -> Result<Subject> {
        let params = self.loss_params.params();
        if let Some(loss) = self.loss {
            if self.ties.is_some() {
                bail!("--ties is a metric's tie rule; --loss takes the loss's parameters");
            }
            return Ok(Subject::Loss(AnyLoss::from_params(loss, &params)?));
        }
        if let Some(p) = params.names().first() {
            bail!("--{} is a loss parameter; --metric takes --ties", p.replace('_', "-"));
        }
        let ties = self.ties.unwrap_or(Ties::Grouped);
        Ok(Subject::Metric { metric: self.metric.expect("clap requires --loss or --metric"), ties })
    }

    fn implementation(&self) -> Result<Implementation> {
        if let Some(cmd) = &self.cmd {
            return Ok(Implementation::Cmd(cmd.clone()));
        }
        let python = self.python.as_deref().expect("clap requires --python or --cmd");
        let Some((file, name)) = python.rsplit_once(':').filter(|(f, n)| !f.is_empty() && !n.is_empty()) else {
            bail!("--python `{python}`: expected FILE.py:NAME (NAME a function or class in FILE.py)");
        };
        let init = match &self.init {
            None => None,
            Some(text) => {
                let v: serde_json::Value =
                    serde_json::from_str(text).with_context(|| format!("--init `{text}` is not JSON"))?;
                if !v.is_object() {
                    bail!("--init `{text}`: expected a JSON object of keyword arguments, e.g. '{{\"tp\": 4.0}}'");
                }
                Some(v)
            }
        };
        let exe = self
            .python_exe
            .clone()
            .or_else(|| std::env::var_os("TWOWAY_PYTHON").filter(|v| !v.is_empty()).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("python3"));
        Ok(Implementation::Python { file: PathBuf::from(file), name: name.to_string(), init, exe })
    }

    pub fn exec(self, spec: &Spec, out: &mut dyn Write) -> Result<ExitCode> {
        if self.seeds == 0 {
            bail!("--seeds 0: give at least 1 (the number of seeds from --seed on)");
        }
        let suite = Suite {
            subject: self.subject()?,
            dtype: self.dtype,
            cases: match self.cases {
                Cases::Vectors => CaseSet::Vectors,
                Cases::Random => CaseSet::Random,
                Cases::All => CaseSet::All,
            },
            random: self.random,
            seed: self.seed,
            seeds: self.seeds,
            allowed: self.allow_divergence.clone(),
            only: Vec::new(),
        };
        suite.check_allowed(spec, "--allow-divergence")?;
        let request = Request {
            suite,
            implementation: self.implementation()?,
            timeout: (self.timeout > 0).then(|| std::time::Duration::from_secs(self.timeout)),
        };
        let report = conform::run(spec, &request)?;
        let text = match self.format {
            Format::Text => render::text(&report),
            Format::Json => format!("{}\n", serde_json::to_string_pretty(&render::json(&report))?),
            Format::Junit => junit::write(&report),
        };
        match &self.out {
            Some(path) => {
                crate::io::write_text(path, &text)?;
                writeln!(
                    out,
                    "twoway conform: {} of {} cases passed; report: {}",
                    report.passed(),
                    report.cases.len(),
                    path.display()
                )?;
            }
            None => out.write_all(text.as_bytes())?,
        }
        Ok(if report.failed() == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
    }
}
