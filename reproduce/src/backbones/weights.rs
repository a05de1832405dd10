//! Strict loading of torchvision `state_dict`s saved as safetensors.
//!
//! tch's own `VarStore::load` ignores keys the file has and the model lacks, and copies with broadcasting,
//! so a file of the wrong architecture can load silently. Here every parameter and buffer of the model must
//! be in the file with its exact shape, and every key of the file must be used:
//! - `*.num_batches_tracked` (a counter torchvision keeps beside BatchNorm statistics) is accepted and ignored;
//! - DenseNet's legacy keys (`denselayer1.norm.1.weight`) are renamed as torchvision renames them on load
//!   (`denselayer1.norm1.weight`);
//! - f16, bf16 and f64 tensors are converted to the model's kind.
//!
//! The header is read and checked first (keys, dtypes, shapes, data offsets inside the file) without
//! reading the tensors, so `twoway run` can check every weight file it needs before it trains anything.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use tch::{nn, Tensor};

/// One tensor's entry in a safetensors header.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<i64>,
    data_offsets: [u64; 2],
}

/// A checked safetensors header: the tensors' shapes by normalised key.
#[derive(Debug, Clone)]
pub struct Header {
    pub path: PathBuf,
    /// Normalised key -> (the key in the file, dtype, shape).
    pub tensors: BTreeMap<String, (String, String, Vec<i64>)>,
}

const FLOAT_DTYPES: [&str; 4] = ["F64", "F32", "F16", "BF16"];

fn dtype_size(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F64" | "I64" | "U64" => 8,
        "F32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        "I8" | "U8" | "BOOL" => 1,
        _ => return None,
    })
}

/// The key torchvision's model would have for a file key, or `None` for keys it ignores.
pub fn normalise_key(key: &str) -> Option<String> {
    if key.ends_with(".num_batches_tracked") {
        return None;
    }
    // DenseNet's legacy `denselayerK.{norm,relu,conv}.{1,2}.rest` -> `denselayerK.{norm,conv}{1,2}.rest`.
    let parts: Vec<&str> = key.split('.').collect();
    if let Some(i) = parts.iter().position(|p| p.starts_with("denselayer")) {
        if parts.len() > i + 3 && matches!(parts[i + 1], "norm" | "relu" | "conv") && matches!(parts[i + 2], "1" | "2")
        {
            let mut out: Vec<String> = parts[..=i].iter().map(|s| s.to_string()).collect();
            out.push(format!("{}{}", parts[i + 1], parts[i + 2]));
            out.extend(parts[i + 3..].iter().map(|s| s.to_string()));
            return Some(out.join("."));
        }
    }
    Some(key.to_string())
}

/// Reads and checks the header of a safetensors file.
pub fn read_header(path: &Path) -> Result<Header> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open the weight file", path.display()))?;
    let size = f.metadata()?.len();
    let mut len = [0u8; 8];
    f.read_exact(&mut len)
        .with_context(|| format!("{}: not a safetensors file (shorter than 8 bytes)", path.display()))?;
    let n = u64::from_le_bytes(len);
    if n > 100_000_000 || 8 + n > size {
        bail!("{}: not a safetensors file (its header length {n} does not fit a {size}-byte file)", path.display());
    }
    let mut text = vec![0u8; n as usize];
    f.read_exact(&mut text)?;
    let raw: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&text)
        .with_context(|| format!("{}: not a safetensors file (its header is not a JSON object)", path.display()))?;
    let data = size - 8 - n;
    let mut tensors = BTreeMap::new();
    for (key, value) in raw {
        if key == "__metadata__" {
            continue;
        }
        let e: Entry = serde_json::from_value(value)
            .with_context(|| format!("{}: key `{key}`: not a tensor entry of a safetensors header", path.display()))?;
        let Some(width) = dtype_size(&e.dtype) else {
            bail!("{}: key `{key}`: unknown dtype `{}`", path.display(), e.dtype);
        };
        let count = e.shape.iter().try_fold(1u64, |acc, &d| if d < 0 { None } else { acc.checked_mul(d as u64) });
        let [start, end] = e.data_offsets;
        if count.and_then(|c| c.checked_mul(width)) != Some(end.wrapping_sub(start)) || start > end || end > data {
            bail!(
                "{}: key `{key}`: data offsets {start}..{end} do not hold a {} tensor of shape {:?} inside the file's \
                 {data} data bytes (truncated or corrupt file)",
                path.display(),
                e.dtype,
                e.shape
            );
        }
        let Some(name) = normalise_key(&key) else { continue };
        if let Some((other, _, _)) = tensors.insert(name.clone(), (key.clone(), e.dtype, e.shape)) {
            bail!("{}: keys `{other}` and `{key}` both name `{name}`", path.display());
        }
    }
    Ok(Header { path: path.to_path_buf(), tensors })
}

/// Checks a header against the variables of `vs`: every variable present with its exact shape and a float
/// dtype, no key left over. Variables under `skip` (the prefix of a new head) are not loaded, and the
/// file's keys under it are ignored.
pub fn check(vs: &nn::VarStore, header: &Header, skip: Option<&str>) -> Result<()> {
    let file = header.path.display();
    let skipped = |name: &str| skip.is_some_and(|s| name.starts_with(&format!("{s}.")));
    let vars = vs.variables();
    let mut names: Vec<&String> = vars.keys().filter(|n| !skipped(n)).collect();
    names.sort();
    let mut missing = Vec::new();
    for name in &names {
        let want = vars[*name].size();
        match header.tensors.get(*name) {
            None => missing.push(format!("`{name}` (shape {want:?})")),
            Some((key, dtype, shape)) => {
                if *shape != want {
                    bail!("{file}: key `{key}` has shape {shape:?}, the model's `{name}` needs {want:?}");
                }
                if !FLOAT_DTYPES.contains(&dtype.as_str()) {
                    bail!("{file}: key `{key}` has dtype {dtype}; weights must be F32, F64, F16 or BF16");
                }
            }
        }
    }
    if !missing.is_empty() {
        let n = missing.len();
        missing.truncate(5);
        bail!(
            "{file}: {n} key(s) of the model missing from the file: {}{}",
            missing.join(", "),
            if n > 5 { ", ..." } else { "" }
        );
    }
    let extra: Vec<&String> =
        header.tensors.iter().filter(|(n, _)| !skipped(n) && !vars.contains_key(*n)).map(|(_, (k, _, _))| k).collect();
    if let Some(first) = extra.first() {
        bail!(
            "{file}: {} key(s) of the file are not in the model, e.g. `{first}` (a weight file of another \
             architecture?)",
            extra.len()
        );
    }
    Ok(())
}

/// Loads a checked weight file into `vs` (converting to the variables' kind), skipping `skip`'s variables.
pub fn load(vs: &nn::VarStore, path: &Path, skip: Option<&str>) -> Result<()> {
    let header = read_header(path)?;
    check(vs, &header, skip)?;
    let tensors = Tensor::read_safetensors(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read the tensors: {e}", path.display()))?;
    let by_name: BTreeMap<String, Tensor> =
        tensors.into_iter().filter_map(|(k, t)| normalise_key(&k).map(|n| (n, t))).collect();
    let vars = vs.variables();
    tch::no_grad(|| -> Result<()> {
        for (name, mut var) in vars {
            if skip.is_some_and(|s| name.starts_with(&format!("{s}."))) {
                continue;
            }
            let src = &by_name[&name];
            let src = src.to_kind(var.kind()).to_device(var.device());
            if src.isfinite().all().int64_value(&[]) == 0 {
                bail!("{}: key `{name}` holds NaN or infinite values", path.display());
            }
            var.copy_(&src);
        }
        Ok(())
    })
}

/// SHA-256 (hex) of a file, streamed.
pub fn sha256(path: &Path) -> Result<String> {
    crate::io::sha256_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_densenet_keys_and_counters_are_normalised() {
        assert_eq!(
            normalise_key("features.denseblock1.denselayer1.norm.1.weight").as_deref(),
            Some("features.denseblock1.denselayer1.norm1.weight")
        );
        assert_eq!(
            normalise_key("features.denseblock4.denselayer32.conv.2.weight").as_deref(),
            Some("features.denseblock4.denselayer32.conv2.weight")
        );
        assert_eq!(
            normalise_key("features.denseblock1.denselayer1.norm1.weight").as_deref(),
            Some("features.denseblock1.denselayer1.norm1.weight")
        );
        assert_eq!(normalise_key("layer1.0.bn1.num_batches_tracked"), None);
        assert_eq!(
            normalise_key("trunk_output.block1.block1-0.f.a.1.weight").as_deref(),
            Some("trunk_output.block1.block1-0.f.a.1.weight")
        );
    }
}
