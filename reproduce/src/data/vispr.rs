//! VISPR (visual privacy attributes) in its own layout: `attributes.tsv` at the dataset folder (tab-separated
//! `idx`, `attribute_id`, `description`; rows with an empty `idx` are labels but not classes; class index =
//! `idx`), and one JSON per image in each split's folder (`train2017/`, `val2017/`, `test2017/`) with `id`,
//! `image_path` (relative to the dataset folder) and `labels` (attribute ids). An image is positive for the
//! classes among its labels and negative for the rest; samples come in the byte order of the JSON files'
//! names.

use super::split::{inside, Raw};
use anyhow::{bail, Context, Result};
use ndarray::Array2;
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Every attribute id with its class index (`None` for the labels that are not classes).
type Vocabulary = HashMap<String, Option<usize>>;

/// The vocabulary of `attributes.tsv`: class names in index order, and every attribute id's class.
pub(crate) fn read_attributes(path: &Path) -> Result<(Vec<String>, Vocabulary)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the attribute list (is the dataset in place?)", path.display()))?;
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines.next().map(|(_, l)| l.split('\t').collect()).unwrap_or_default();
    if header.len() < 2 || header[0].trim() != "idx" || header[1].trim() != "attribute_id" {
        bail!("{}:1: expected the header `idx<TAB>attribute_id<TAB>description`, got {header:?}", path.display());
    }
    let mut by_index: Vec<Option<String>> = Vec::new();
    let mut vocabulary = HashMap::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let at = || format!("{}:{}", path.display(), n + 1);
        if fields.len() < 2 || fields[1].trim().is_empty() {
            bail!("{}: expected `idx<TAB>attribute_id<TAB>description`", at());
        }
        let id = fields[1].trim().to_string();
        let idx = match fields[0].trim() {
            "" => None,
            s => Some(s.parse::<usize>().map_err(|_| anyhow::anyhow!("{}: idx `{s}` is not a whole number", at()))?),
        };
        if let Some(i) = idx {
            if i >= 10_000 {
                bail!("{}: idx {i} is out of range", at());
            }
            if by_index.len() <= i {
                by_index.resize(i + 1, None);
            }
            if let Some(other) = &by_index[i] {
                bail!("{}: idx {i} is given to both `{other}` and `{id}`", at());
            }
            by_index[i] = Some(id.clone());
        }
        if vocabulary.insert(id.clone(), idx).is_some() {
            bail!("{}: attribute `{id}` is listed twice", at());
        }
    }
    let classes = by_index
        .into_iter()
        .enumerate()
        .map(|(i, c)| c.with_context(|| format!("{}: no attribute has idx {i} (indices must be 0..N)", path.display())))
        .collect::<Result<Vec<_>>>()?;
    if classes.is_empty() {
        bail!("{}: no indexed attribute", path.display());
    }
    Ok((classes, vocabulary))
}

#[derive(serde::Deserialize)]
struct Annotation {
    id: serde_json::Value,
    image_path: String,
    labels: Vec<String>,
}

fn scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn load(dir: &Path, annotations: &[PathBuf], images: &Path) -> Result<Raw> {
    let (classes, vocabulary) = read_attributes(&dir.join("attributes.tsv"))?;
    let mut files = Vec::new();
    for folder in annotations {
        let mut names: Vec<PathBuf> = std::fs::read_dir(folder)
            .with_context(|| format!("{}: cannot list the split's annotation folder", folder.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<Vec<_>>>()?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort_by(|a, b| a.as_os_str().as_encoded_bytes().cmp(b.as_os_str().as_encoded_bytes()));
        if names.is_empty() {
            bail!("{}: no *.json annotation in this folder", folder.display());
        }
        files.extend(names);
    }
    let parsed = files
        .par_iter()
        .map(|f| {
            let bytes = std::fs::read(f).with_context(|| format!("{}: cannot read", f.display()))?;
            let a: Annotation = serde_json::from_slice(&bytes).with_context(|| {
                format!("{}: not a VISPR annotation (a JSON object with id, image_path, labels)", f.display())
            })?;
            let id = scalar(&a.id).with_context(|| format!("{}: `id` must be a string or a number", f.display()))?;
            let mut row = vec![0i8; classes.len()];
            for l in &a.labels {
                match vocabulary.get(l) {
                    None => bail!("{}: label `{l}` is not in attributes.tsv", f.display()),
                    Some(Some(c)) => row[*c] = 1,
                    Some(None) => {} // a label that is not a class (e.g. `a0_safe`)
                }
            }
            Ok((inside(images, &a.image_path, f)?, id, row))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut labels = Array2::<i8>::zeros((parsed.len(), classes.len()));
    let mut samples = Vec::with_capacity(parsed.len());
    for (i, (image, id, row)) in parsed.into_iter().enumerate() {
        labels.row_mut(i).assign(&ndarray::ArrayView1::from(&row));
        samples.push((image, None, id));
    }
    Ok(Raw { classes, samples, labels, images: images.to_path_buf(), dropped_unannotated: 0, index_order: None })
}
