//! `twoway backbone`: list the backbones, and run a weight file's network forward on given images (how a
//! user checks a converted file against torchvision, and how the tests check the architectures). The work
//! is [`crate::backbones::check`], in the build with libtorch.

use super::common::{Dtype, OutputFormat};
use crate::device::DeviceName;
use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;
use twoway_spec::{Backbone, Spec};

#[derive(clap::Subcommand, Debug)]
pub enum BackboneCommand {
    /// Eval-mode forward of N x 3 x H x W images through a weight file's network and its 1000-class head.
    Forward(ForwardArgs),
    /// The backbones: parameter counts, feature widths, and whether their weight files are found.
    List(ListArgs),
}

#[derive(clap::Args, Debug)]
pub struct ForwardArgs {
    #[arg(long, value_enum)]
    pub backbone: Backbone,
    /// A torchvision state_dict saved as safetensors (tools/export_torchvision.py writes one).
    #[arg(long)]
    pub weights: PathBuf,
    /// N x 3 x H x W images (.npy, f32 or f64), normalised as the network expects.
    #[arg(long)]
    pub input: PathBuf,
    /// Where the N x 1000 logits (or N x features with --features) go, as .npy in the compute kind.
    #[arg(long)]
    pub out: PathBuf,
    /// f32 or f64.
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: Dtype,
    /// Write the pooled features instead of the logits.
    #[arg(long)]
    pub features: bool,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceName,
    /// Images per forward pass.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Allow TF32 on CUDA (off by default here: this command checks a file against an exact reference).
    #[arg(long)]
    pub tf32: bool,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Where datasets live; weight files are looked up in DATA_ROOT/weights unless --weights-dir is given.
    #[arg(long)]
    pub data_root: Option<PathBuf>,
    #[arg(long)]
    pub weights_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

impl BackboneCommand {
    #[cfg(feature = "torch")]
    pub fn exec(self, spec: &Spec, out: &mut dyn Write) -> Result<()> {
        use crate::backbones::check;
        match self {
            BackboneCommand::Forward(a) => {
                if !matches!(a.dtype, Dtype::F32 | Dtype::F64) {
                    anyhow::bail!("--dtype {}: the backbones run forward in f32 or f64", a.dtype.name());
                }
                let f = check::Forward {
                    backbone: a.backbone,
                    weights: a.weights,
                    input: a.input,
                    out: a.out,
                    kind: a.dtype.kind(),
                    features: a.features,
                    device: a.device.resolve()?,
                    batch: a.batch,
                    tf32: a.tf32,
                };
                let dims = check::forward(spec, &f)?;
                let what = if f.features { "features" } else { "logits" };
                let (path, b, dtype) = (f.out.display(), f.backbone, a.dtype.name().to_uppercase());
                writeln!(out, "{path}: {} x {} {what} of {b} ({dtype})", dims[0], dims[1])?;
            }
            BackboneCommand::List(a) => {
                let root = crate::data::data_root(a.data_root.as_deref());
                let dir = crate::grid::preflight::weights_dir(a.weights_dir.as_deref(), &root);
                let rows = check::list(spec, &dir);
                match a.format {
                    OutputFormat::Json => super::common::print_json(out, &rows)?,
                    OutputFormat::Text => out.write_all(check::list_text(&rows, &dir).as_bytes())?,
                }
            }
        }
        Ok(())
    }

    #[cfg(not(feature = "torch"))]
    pub fn exec(self, _: &Spec, _: &mut dyn Write) -> Result<()> {
        Err(super::common::needs_torch("twoway backbone"))
    }
}
