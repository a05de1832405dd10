//! The `twoway backbone` commands.

use super::{check_input, weights, Classifier, HEAD_GROUP};
use crate::backbone_cmd::{FloatKind, ForwardArgs, ListArgs};
use crate::cli::TextOrJson;
use anyhow::{bail, Context, Result};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use std::io::{Cursor, Write};
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

pub fn forward(a: &ForwardArgs, out: &mut dyn Write) -> Result<()> {
    let spec = Spec::embedded();
    if spec.backbones[&a.backbone].pretrained == Pretrained::None {
        bail!("backbone `{}` has no torchvision weights to check; it trains from scratch", a.backbone);
    }
    if a.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let device = a.device.resolve()?;
    if device.is_cuda() {
        twoway_gpu::set_cuda_tf32(a.tf32);
    }
    let x = read_images(&a.input)?;
    let shape: Vec<i64> = x.shape().iter().map(|&d| d as i64).collect();
    check_input(&shape, 32).with_context(|| a.input.display().to_string())?;
    let kind = match a.dtype {
        FloatKind::F32 => Kind::Float,
        FloatKind::F64 => Kind::Double,
    };
    let mut vs = nn::VarStore::new(device);
    let net = tch::no_grad(|| Classifier::new(&vs, spec, a.backbone, 1000, HEAD_GROUP));
    vs.set_kind(kind);
    weights::load(&vs, &a.weights, None)?;
    let flat: Vec<f64> = x.iter().copied().collect();
    let images = Tensor::from_slice(&flat).view(shape.as_slice()).to_kind(kind);
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
    let path = &a.out;
    crate::io::write_atomic(path, |f| {
        let w = std::io::BufWriter::new(f);
        let r = match a.dtype {
            FloatKind::F64 => ArrayD::from_shape_vec(IxDyn(&dims), Vec::<f64>::try_from(&y.view([-1]))?)?.write_npy(w),
            FloatKind::F32 => ArrayD::from_shape_vec(IxDyn(&dims), Vec::<f32>::try_from(&y.view([-1]))?)?.write_npy(w),
        };
        r.with_context(|| format!("{}: cannot write", path.display()))
    })?;
    writeln!(
        out,
        "{}: {} x {} {} of {} ({:?})",
        path.display(),
        dims[0],
        dims[1],
        if a.features { "features" } else { "logits" },
        a.backbone,
        a.dtype
    )?;
    Ok(())
}

pub fn list(a: &ListArgs, out: &mut dyn Write) -> Result<()> {
    let spec = Spec::embedded();
    let root = crate::data::data_root(a.data_root.as_deref());
    let dir = crate::preflight::weights_dir(a.weights_dir.as_deref(), &root);
    let mut rows = Vec::new();
    for b in Backbone::ALL {
        let s = &spec.backbones[b];
        let family = match s.arch {
            Arch::Tiny => "tiny",
            Arch::Resnet { groups: 1, .. } => "resnet",
            Arch::Resnet { .. } => "resnext",
            Arch::Densenet { .. } => "densenet",
            Arch::Regnet { .. } => "regnety",
        };
        let weights = match s.pretrained {
            Pretrained::None => "not needed (trained from scratch)".to_string(),
            Pretrained::Imagenet => {
                let path = crate::preflight::default_path(&dir, *b);
                if !path.exists() {
                    format!(
                        "missing: {} (write it with `{}`)",
                        path.display(),
                        crate::preflight::export_command(*b, &path)
                    )
                } else {
                    match crate::preflight::check_weights(spec, *b, &dir) {
                        Ok(Some(w)) => format!("found: {} (sha256 {})", path.display(), &w.sha256[..16]),
                        Ok(None) => unreachable!("pretrained backbones have weights"),
                        Err(e) => format!("unusable: {e:#}"),
                    }
                }
            }
        };
        rows.push(serde_json::json!({
            "backbone": b, "label": b.label(), "family": family, "parameters": s.parameters,
            "features": s.features, "head": s.head, "torchvision": s.torchvision,
            "weights_entry": s.weights.as_ref().map(|w| &w.entry), "weights": weights,
        }));
    }
    match a.format {
        TextOrJson::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?,
        TextOrJson::Text => {
            writeln!(out, "weights folder: {}", dir.display())?;
            for r in &rows {
                let params = r["parameters"].as_u64().map_or("-".to_string(), group_thousands);
                writeln!(
                    out,
                    "{:<16} {:<9} {:>12} params  {:>5} features  head `{}`  weights {}",
                    r["backbone"].as_str().unwrap(),
                    r["family"].as_str().unwrap(),
                    params,
                    r["features"],
                    r["head"].as_str().unwrap(),
                    r["weights"].as_str().unwrap()
                )?;
            }
        }
    }
    Ok(())
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
