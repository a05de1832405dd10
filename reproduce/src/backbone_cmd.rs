//! `twoway backbone`'s arguments: list the backbones, and run a weight file's network forward on given
//! images (how a user checks a converted file against torchvision, and how the tests check the
//! architectures). The commands are [`crate::backbones::cmd`], in the build with libtorch.

use crate::cli::TextOrJson;
use crate::eval::DeviceArg;
use std::path::PathBuf;
use twoway_spec::Backbone;

#[derive(clap::Subcommand, Debug)]
pub enum BackboneCommand {
    /// Eval-mode forward of N x 3 x H x W images through a weight file's network and its 1000-class head.
    Forward(ForwardArgs),
    /// The backbones: parameter counts, feature widths, and whether their weight files are found.
    List(ListArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FloatKind {
    F32,
    F64,
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
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: FloatKind,
    /// Write the pooled features instead of the logits.
    #[arg(long)]
    pub features: bool,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
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
    pub format: TextOrJson,
}
