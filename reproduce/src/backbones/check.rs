//! What `twoway backbone` does: a weight file's network run forward on given images in eval mode (how a
//! user checks a converted file against torchvision, and how `tests/backbones.rs` checks the
//! architectures), and the catalogue of backbones with the state of their weight files.

use super::{check_input, weights, Classifier, HEAD_GROUP};
use anyhow::{bail, Context, Result};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use tch::{nn, Kind, Tensor};
use twoway_spec::registry::{Arch, Pretrained};
use twoway_spec::{Backbone, Spec};

fn read_images(path: &std::path::Path) -> Result<ArrayD<f64>> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let a = match ArrayD::<f64>::read_npy(Cursor::new(&bytes)) {
        Ok(a) => a,
        Err(_) => ArrayD::<f32>::read_npy(Cursor::new(&bytes))
            .with_context(|| format!("{}: not an f32 or f64 .npy array", path.display()))?
            .mapv(f64::from),
    };
    if a.ndim() != 4 || a.shape()[1] != 3 || a.shape()[0] == 0 {
        bail!("{}: expected N x 3 x H x W images (N >= 1), got shape {:?}", path.display(), a.shape());
    }
    if let Some(i) = a.iter().position(|v| !v.is_finite()) {
        bail!("{}: non-finite value at flat index {i}", path.display());
    }
    Ok(a)
}

/// A forward pass to run: `batch` images at a time of `input` (N x 3 x H x W, .npy) through the network of
/// `weights` in `kind` (f32 or f64) on `device`, the logits (or pooled features) written to `out` as .npy.
#[derive(Debug, Clone)]
pub struct Forward {
    pub backbone: Backbone,
    pub weights: PathBuf,
    pub input: PathBuf,
    pub out: PathBuf,
    pub kind: Kind,
    pub features: bool,
    pub device: tch::Device,
    pub batch: usize,
    /// Allow TF32 on CUDA.
    pub tf32: bool,
}

/// Runs the forward pass; returns the shape written.
pub fn forward(spec: &Spec, a: &Forward) -> Result<Vec<usize>> {
    if spec.backbones[&a.backbone].pretrained == Pretrained::None {
        bail!("backbone `{}` has no torchvision weights to check; it trains from scratch", a.backbone);
    }
    if a.batch == 0 {
        bail!("--batch must be at least 1");
    }
    if !matches!(a.kind, Kind::Float | Kind::Double) {
        bail!("--dtype: the backbones run forward in f32 or f64, not {:?}", a.kind);
    }
    let device = a.device;
    if device.is_cuda() {
        twoway_gpu::set_cuda_tf32(a.tf32);
    }
    let x = read_images(&a.input)?;
    let shape: Vec<i64> = x.shape().iter().map(|&d| d as i64).collect();
    check_input(&shape, 32).with_context(|| a.input.display().to_string())?;
    let mut vs = nn::VarStore::new(device);
    let net = tch::no_grad(|| Classifier::new(&vs, spec, a.backbone, 1000, HEAD_GROUP));
    vs.set_kind(a.kind);
    weights::load(&vs, &a.weights, None)?;
    let flat: Vec<f64> = x.iter().copied().collect();
    let images = Tensor::from_slice(&flat).view(shape.as_slice()).to_kind(a.kind);
    let n = shape[0];
    let mut rows = Vec::new();
    for start in (0..n).step_by(a.batch) {
        let len = (a.batch as i64).min(n - start);
        let xb = images.narrow(0, start, len).to_device(device);
        let y = tch::no_grad(|| if a.features { net.features_t(&xb, false) } else { net.forward_t(&xb, false) });
        rows.push(y.to_device(tch::Device::Cpu));
    }
    let y = Tensor::cat(&rows, 0);
    let dims: Vec<usize> = y.size().iter().map(|&d| d as usize).collect();
    write_npy(&a.out, &y, &dims, a.kind)?;
    Ok(dims)
}

/// Writes a tensor as .npy in `kind` (f32 or f64), atomically.
fn write_npy(path: &Path, y: &Tensor, dims: &[usize], kind: Kind) -> Result<()> {
    crate::io::write_atomic(path, |f| {
        let w = std::io::BufWriter::new(f);
        let r = if kind == Kind::Double {
            ArrayD::from_shape_vec(IxDyn(dims), Vec::<f64>::try_from(&y.view([-1]))?)?.write_npy(w)
        } else {
            ArrayD::from_shape_vec(IxDyn(dims), Vec::<f32>::try_from(&y.view([-1]))?)?.write_npy(w)
        };
        r.with_context(|| format!("{}: cannot write", path.display()))
    })
}

/// Every backbone as a JSON row (name, family, parameter count, feature width, head, torchvision name,
/// and whether its weight file under `dir` is found and usable).
pub fn list(spec: &Spec, dir: &Path) -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    for b in Backbone::ALL {
        let s = &spec.backbones[b];
        let family = match s.arch {
            Arch::Tiny => "tiny",
            Arch::Resnet { groups: 1, width_per_group: 64, .. } => "resnet",
            Arch::Resnet { groups: 1, .. } => "wide_resnet",
            Arch::Resnet { .. } => "resnext",
            Arch::Densenet { .. } => "densenet",
            Arch::Regnet { se_ratio, .. } if se_ratio > 0.0 => "regnety",
            Arch::Regnet { .. } => "regnetx",
        };
        rows.push(serde_json::json!({
            "backbone": b, "label": b.label(), "family": family, "parameters": s.parameters,
            "features": s.features, "head": s.head, "torchvision": s.torchvision,
            "weights_entry": s.weights.as_ref().map(|w| &w.entry), "weights": weights_state(spec, *b, dir),
        }));
    }
    rows
}

/// Whether a backbone's weight file under `dir` is needed, found and usable, in words.
fn weights_state(spec: &Spec, b: Backbone, dir: &Path) -> String {
    if spec.backbones[&b].pretrained == Pretrained::None {
        return "not needed (trained from scratch)".to_string();
    }
    let path = crate::grid::preflight::default_path(dir, b);
    if !path.exists() {
        let export = crate::grid::preflight::export_command(b, &path);
        return format!("missing: {} (write it with `{export}`)", path.display());
    }
    match crate::grid::preflight::check_weights(spec, b, dir) {
        Ok(Some(w)) => format!("found: {} (sha256 {})", path.display(), &w.sha256[..16]),
        Ok(None) => unreachable!("pretrained backbones have weights"),
        Err(e) => format!("unusable: {e:#}"),
    }
}

/// The text of `twoway backbone list`: one line per backbone.
pub fn list_text(rows: &[serde_json::Value], dir: &Path) -> String {
    let mut o = format!("weights folder: {}\n", dir.display());
    for r in rows {
        let params = r["parameters"].as_u64().map_or("-".to_string(), group_thousands);
        // The torchvision name where the key differs from it (the paper's RegNetYs); either is accepted.
        let key = r["backbone"].as_str().unwrap();
        let name = match r["torchvision"].as_str() {
            Some(tv) if tv != key => format!("{key} ({tv})"),
            _ => key.to_string(),
        };
        o.push_str(&format!(
            "{:<32} {:<11} {:>12} params  {:>5} features  head `{}`  weights {}\n",
            name,
            r["family"].as_str().unwrap(),
            params,
            r["features"],
            r["head"].as_str().unwrap(),
            r["weights"].as_str().unwrap()
        ));
    }
    o
}

fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
