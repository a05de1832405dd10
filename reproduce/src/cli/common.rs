//! What the commands share: one output-format enum, one dtype enum, the table formats, and the error of a
//! command that needs libtorch in the torch-free build.

/// Text for people, JSON for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// The floating-point kind a tch computation runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dtype {
    F64,
    F32,
    F16,
    Bf16,
}

impl Dtype {
    #[cfg(feature = "torch")]
    pub fn kind(self) -> tch::Kind {
        match self {
            Dtype::F64 => tch::Kind::Double,
            Dtype::F32 => tch::Kind::Float,
            Dtype::F16 => tch::Kind::Half,
            Dtype::Bf16 => tch::Kind::BFloat16,
        }
    }

    /// Its name on the command line (`f64`, `f32`, `f16`, `bf16`).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F64 => "f64",
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
            Dtype::Bf16 => "bf16",
        }
    }
}

/// A `--dataset` / `--datasets` value: a built-in key, a dataset file's name, or a dataset file
/// (`FILE.yaml`, loaded and registered: its errors name the file and field).
pub fn dataset_arg(s: &str) -> Result<twoway_spec::Dataset, String> {
    if crate::data::file::is_file_arg(s) {
        return crate::data::file::load(std::path::Path::new(s)).map_err(|e| format!("{e:#}"));
    }
    s.parse().map_err(|e: twoway_spec::UnknownKey| e.to_string())
}

/// The loss hyper-parameter flags `twoway eval` and `twoway conform` share; absent ones take the spec's
/// defaults.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LossParamArgs {
    /// Way of the set-based losses (twoway, softmax).
    #[arg(long, value_enum)]
    pub way: Option<twoway_spec::Way>,
    /// Positive temperature Tp of the two-way loss (default 4).
    #[arg(long, allow_negative_numbers = true)]
    pub tp: Option<f64>,
    /// Negative temperature Tn of the two-way loss (default 1).
    #[arg(long, allow_negative_numbers = true)]
    pub tn: Option<f64>,
    /// Masking of the two-way loss: exact (-inf) or official (the release's -100 offset).
    #[arg(long, value_enum)]
    pub mask: Option<twoway_spec::Mask>,
    /// Reduction of the element-wise losses (bce, focal, asl).
    #[arg(long, value_enum)]
    pub reduction: Option<twoway_spec::Reduction>,
    /// Focal: focusing exponent.
    #[arg(long, allow_negative_numbers = true)]
    pub gamma: Option<f64>,
    /// Focal: weight of the positives.
    #[arg(long, allow_negative_numbers = true)]
    pub alpha: Option<f64>,
    /// ASL: negative focusing exponent.
    #[arg(long, allow_negative_numbers = true)]
    pub gamma_neg: Option<f64>,
    /// ASL: positive focusing exponent.
    #[arg(long, allow_negative_numbers = true)]
    pub gamma_pos: Option<f64>,
    /// ASL: probability margin of the negatives.
    #[arg(long, allow_negative_numbers = true)]
    pub clip: Option<f64>,
    /// ASL: clamp inside the logs.
    #[arg(long, allow_negative_numbers = true)]
    pub eps: Option<f64>,
    /// ASL: differentiate the focusing weight.
    #[arg(long)]
    pub focus_grad: Option<bool>,
}

impl LossParamArgs {
    pub fn params(&self) -> twoway_spec::LossParams {
        twoway_spec::LossParams {
            tp: self.tp,
            tn: self.tn,
            way: self.way,
            mask: self.mask,
            reduction: self.reduction,
            gamma: self.gamma,
            alpha: self.alpha,
            gamma_neg: self.gamma_neg,
            gamma_pos: self.gamma_pos,
            clip: self.clip,
            eps: self.eps,
            focus_grad: self.focus_grad,
        }
    }
}

/// Output format of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TableFormat {
    Md,
    Csv,
    Json,
    Latex,
}

impl From<TableFormat> for crate::report::table::Format {
    fn from(f: TableFormat) -> Self {
        use crate::report::table::Format;
        match f {
            TableFormat::Md => Format::Md,
            TableFormat::Csv => Format::Csv,
            TableFormat::Json => Format::Json,
            TableFormat::Latex => Format::Latex,
        }
    }
}

/// The error of a command that needs libtorch, in the build without it.
#[cfg(not(feature = "torch"))]
pub fn needs_torch(command: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "`{command}` needs libtorch, and this twoway was built without it (--no-default-features): build the \
         full twoway with `make build` (or `cargo build --release`) to train, run backbones or use the tch backend"
    )
}

/// Writes a JSON value, pretty, with a newline.
pub fn print_json(out: &mut dyn std::io::Write, v: &impl serde::Serialize) -> anyhow::Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(v)?)?;
    Ok(())
}

/// The `--metrics` of a command, each once, in the order given (clap's default makes it the paper's two).
pub fn metrics_arg(given: &[twoway_spec::Metric]) -> anyhow::Result<Vec<twoway_spec::Metric>> {
    let mut out: Vec<twoway_spec::Metric> = Vec::new();
    for m in given {
        if out.contains(m) {
            anyhow::bail!("--metrics: `{m}` is given twice");
        }
        out.push(*m);
    }
    if out.is_empty() {
        anyhow::bail!("--metrics: give at least one metric (map_class,map_sample by default)");
    }
    Ok(out)
}
