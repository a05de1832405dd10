//! VAW (Visual Attributes in the Wild) in its own layout: `data/attribute_index.json` (attribute name ->
//! class index, 620 classes), and per split a list of instances (`data/train_part1.json` +
//! `data/train_part2.json`, `data/val.json`, `data/test.json`) with `image_id`, `instance_id`,
//! `instance_bbox` [x, y, w, h], `object_name`, `positive_attributes` and `negative_attributes`. One sample
//! per instance (its box's crop), in file order; positive -> 1, negative -> 0, neither -> -1 (unknown).
//! Images are Visual Genome's `images/VG_100K/<image_id>.jpg`, else `images/VG_100K_2/<image_id>.jpg`.

use super::split::{inside, BoxXywh, Raw};
use anyhow::{bail, Context, Result};
use ndarray::Array2;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(serde::Deserialize)]
struct Instance {
    image_id: serde_json::Value,
    instance_id: serde_json::Value,
    instance_bbox: Vec<f64>,
    #[serde(default)]
    positive_attributes: Vec<String>,
    #[serde(default)]
    negative_attributes: Vec<String>,
}

fn scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The classes of `attribute_index.json` in index order (the indices must be 0..N, each once).
pub(crate) fn read_index(path: &Path) -> Result<(Vec<String>, HashMap<String, usize>)> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("{}: cannot read the attribute index (is the dataset in place?)", path.display()))?;
    let index: HashMap<String, usize> = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not an attribute index (a JSON object of name -> index)", path.display()))?;
    let mut classes = vec![None; index.len()];
    for (name, &i) in &index {
        match classes.get_mut(i) {
            None => bail!("{}: `{name}` has index {i}, outside 0..{}", path.display(), index.len()),
            Some(Some(other)) => bail!("{}: `{other}` and `{name}` share index {i}", path.display()),
            Some(slot) => *slot = Some(name.clone()),
        }
    }
    Ok((classes.into_iter().map(Option::unwrap).collect(), index))
}

/// `<images>/VG_100K/<id>.jpg`, else `<images>/VG_100K_2/<id>.jpg` (the first when neither exists, so the
/// error names where it was looked for first).
fn image_path(images: &Path, image_id: &str, file: &Path) -> Result<PathBuf> {
    let first = inside(images, &format!("VG_100K/{image_id}.jpg"), file)?;
    if first.exists() {
        return Ok(first);
    }
    let second = images.join(format!("VG_100K_2/{image_id}.jpg"));
    Ok(if second.exists() { second } else { first })
}

pub(crate) fn load(dir: &Path, annotations: &[PathBuf], images: &Path) -> Result<Raw> {
    let (classes, index) = read_index(&dir.join("data/attribute_index.json"))?;
    let mut samples = Vec::new();
    let mut rows: Vec<i8> = Vec::new();
    for path in annotations {
        let bytes = super::split::read_annotation(path)?;
        let instances: Vec<Instance> = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not a VAW annotation file (a JSON list of instances)", path.display()))?;
        for (k, inst) in instances.iter().enumerate() {
            let at = || format!("{}: instance #{k}", path.display());
            let id = scalar(&inst.instance_id)
                .with_context(|| format!("{}: `instance_id` must be a string or a number", at()))?;
            let image_id =
                scalar(&inst.image_id).with_context(|| format!("{}: `image_id` must be a string or a number", at()))?;
            if image_id.is_empty() || !image_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                bail!("{} (instance_id {id}): image_id `{image_id}` is not a Visual Genome image id", at());
            }
            let b: BoxXywh = match inst.instance_bbox.as_slice() {
                [x, y, w, h] if [x, y, w, h].iter().all(|v| v.is_finite()) => [*x, *y, *w, *h],
                other => bail!(
                    "{} (instance_id {id}): instance_bbox {other:?} is not four finite numbers [x, y, w, h]",
                    at()
                ),
            };
            let mut row = vec![-1i8; classes.len()];
            for (names, value) in [(&inst.positive_attributes, 1i8), (&inst.negative_attributes, 0i8)] {
                for name in names {
                    let Some(&c) = index.get(name) else {
                        bail!("{} (instance_id {id}): attribute `{name}` is not in attribute_index.json", at());
                    };
                    if row[c] != -1 && row[c] != value {
                        bail!("{} (instance_id {id}): attribute `{name}` is both positive and negative", at());
                    }
                    row[c] = value;
                }
            }
            samples.push((image_path(images, &image_id, path)?, Some(b), id));
            rows.extend(row);
        }
    }
    let labels = Array2::from_shape_vec((samples.len(), classes.len()), rows)?;
    Ok(Raw { classes, samples, labels, images: images.to_path_buf(), dropped_unannotated: 0, index_order: None })
}
