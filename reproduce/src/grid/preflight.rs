//! Fail fast: before `twoway run` decodes a single image, every input its cells need is checked (each
//! dataset's annotation files, each pretrained backbone's weight file: present, a safetensors file whose
//! keys and shapes are the architecture's), and everything missing is reported at once with the command
//! that provides it.

#[cfg(feature = "torch")]
use crate::backbones::{weights, Classifier, HEAD_GROUP};
#[cfg(feature = "torch")]
use anyhow::{bail, Result};
#[cfg(feature = "torch")]
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
#[cfg(feature = "torch")]
use twoway_spec::registry::Pretrained;
use twoway_spec::{Backbone, Dataset, Spec};

/// A checked weight file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Weights {
    pub path: PathBuf,
    pub sha256: String,
}

/// The folder weight files are looked up in: `--weights-dir`, else `<data root>/weights`.
pub fn weights_dir(arg: Option<&Path>, data_root: &Path) -> PathBuf {
    arg.map_or_else(|| data_root.join("weights"), Path::to_path_buf)
}

/// Checks one backbone's weight file against its architecture; `Ok(None)` for backbones trained from scratch.
#[cfg(feature = "torch")]
pub fn check_weights(spec: &Spec, backbone: Backbone, dir: &Path) -> Result<Option<Weights>> {
    if spec.backbones[&backbone].pretrained == Pretrained::None {
        return Ok(None);
    }
    let path = default_path(dir, backbone);
    if !path.is_file() {
        bail!("{}: no weight file for `{backbone}`", path.display());
    }
    let header = weights::read_header(&path)?;
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let net = tch::no_grad(|| Classifier::new(&vs, spec, backbone, 1000, HEAD_GROUP));
    weights::check(&vs, &header, Some(&net.head_name))?;
    Ok(Some(Weights { sha256: weights::sha256(&path)?, path }))
}

/// The annotation files of a dataset that must exist under `root` before a run (none for the embedded
/// dataset, which is generated on first use).
pub fn annotation_files(spec: &Spec, dataset: Dataset, root: &Path) -> Vec<PathBuf> {
    if dataset == Dataset::Embedded {
        return Vec::new();
    }
    let Ok(d) = spec.dataset(dataset) else { return Vec::new() };
    let dir = match twoway_spec::registry::dataset_file(dataset) {
        Some(f) => f.dir.clone(),
        None => root.join(dataset.as_str()),
    };
    let mut files: Vec<PathBuf> = [&d.protocol.train, &d.protocol.eval]
        .iter()
        .flat_map(|split| d.splits[*split].annotations.iter().map(|a| dir.join(a)))
        .collect();
    if d.format == twoway_spec::registry::Format::Vispr {
        files.insert(0, dir.join("attributes.tsv"));
    }
    if d.format == twoway_spec::registry::Format::Vaw {
        files.insert(0, dir.join("data/attribute_index.json"));
    }
    files
}

/// Checks every dataset and backbone of the planned cells; returns the weight files by backbone, or one
/// error listing every problem and what to do about it.
#[cfg(feature = "torch")]
pub fn check(
    spec: &Spec,
    cells: &BTreeSet<(Dataset, Backbone)>,
    data_root: &Path,
    weights_dir: &Path,
) -> Result<BTreeMap<Backbone, Option<Weights>>> {
    let mut problems = Vec::new();
    let datasets: BTreeSet<Dataset> = cells.iter().map(|c| c.0).collect();
    for d in &datasets {
        let missing: Vec<String> = annotation_files(spec, *d, data_root)
            .into_iter()
            .filter(|p| !p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if let Some(f) = twoway_spec::registry::dataset_file(*d) {
            // A dataset file is read whole before any cell trains: a bad row, an empty split or a missing
            // image stops the run here, with nothing written.
            if !missing.is_empty() {
                problems.push(format!(
                    "dataset file {}: missing {} (its paths are relative to the file's folder)",
                    f.file.display(),
                    missing.join(", ")
                ));
            } else if let Err(e) = crate::data::load(spec, *d, data_root, false) {
                problems.push(format!("dataset file {}: {e:#}", f.file.display()));
            }
            continue;
        }
        if !missing.is_empty() {
            problems.push(format!(
                "dataset `{d}` ({}): missing {}; download it and place it under {} in its own layout (docs/datasets.md: \
                 Datasets), or point --data-root at it",
                spec.dataset(*d).map(|s| s.name.as_str()).unwrap_or("a dataset file"),
                missing.join(", "),
                data_root.join(d.as_str()).display()
            ));
        }
    }
    let mut found = BTreeMap::new();
    let backbones: BTreeSet<Backbone> = cells.iter().map(|c| c.1).collect();
    for b in backbones {
        match check_weights(spec, b, weights_dir) {
            Ok(w) => {
                found.insert(b, w);
            }
            Err(e) => {
                let path = default_path(weights_dir, b);
                problems.push(format!(
                    "backbone `{b}`: {e:#}; on a machine with internet access run `{}` and copy the file there \
                     (or point --weights-dir at its folder)",
                    export_command(b, &path)
                ));
            }
        }
    }
    if !problems.is_empty() {
        bail!(
            "{} input(s) of this run are missing or unusable; nothing was trained:\n  - {}",
            problems.len(),
            problems.join("\n  - ")
        );
    }
    Ok(found)
}

/// Where a backbone's weights are looked up: `<dir>/<backbone>.safetensors`, with `dir` the
/// `--weights-dir` or `<data root>/weights`.
pub fn default_path(dir: &Path, backbone: Backbone) -> PathBuf {
    dir.join(format!("{backbone}.safetensors"))
}

/// The command that writes a backbone's weight file (on a machine with internet access).
pub fn export_command(backbone: Backbone, out: &Path) -> String {
    format!(".venv/bin/python tools/export_torchvision.py --backbone {backbone} --out {}", out.display())
}
