//! WIDER-Attribute in its own layout: `wider_attribute_annotation/wider_attribute_{trainval,test}.json` with
//! `images[]` (`file_name`, `scene_id`, `targets[]` of `{attribute: [14 values], bbox: [x, y, w, h]}`),
//! `attribute_id_map` and `scene_id_map`; images under `Image/<file_name>`. One sample per target (its box's
//! crop), images then targets in file order; attribute 1 -> 1, -1 -> 0, 0 -> -1 (unknown).

use super::split::{inside, BoxXywh, Raw};
use anyhow::{bail, Context, Result};
use ndarray::Array2;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The 14 attributes in the dataset's order (its `attribute_id_map` must name them so).
pub const ATTRIBUTES: [&str; 14] = [
    "Male",
    "longHair",
    "sunglass",
    "Hat",
    "Tshirt",
    "longSleeve",
    "formal",
    "shorts",
    "jeans",
    "longPants",
    "skirt",
    "faceMask",
    "logo",
    "stripe",
];

#[derive(serde::Deserialize)]
struct Target {
    attribute: Vec<i64>,
    bbox: Vec<f64>,
}

#[derive(serde::Deserialize)]
struct Image {
    file_name: String,
    #[serde(default)]
    targets: Vec<Target>,
}

#[derive(serde::Deserialize)]
struct File {
    images: Vec<Image>,
    attribute_id_map: BTreeMap<String, String>,
}

pub(crate) fn load(annotations: &[PathBuf], images: &Path) -> Result<Raw> {
    let mut samples = Vec::new();
    let mut rows: Vec<i8> = Vec::new();
    for path in annotations {
        let bytes = super::split::read_annotation(path)?;
        let file: File = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not a WIDER-Attribute annotation file", path.display()))?;
        for (k, want) in ATTRIBUTES.iter().enumerate() {
            let got = file.attribute_id_map.get(&k.to_string());
            if got.map(String::as_str) != Some(*want) {
                bail!(
                    "{}: attribute_id_map[\"{k}\"] is {got:?}, expected `{want}` (the dataset's 14 attributes in order)",
                    path.display()
                );
            }
        }
        for (i, im) in file.images.iter().enumerate() {
            let image = inside(images, &im.file_name, path)?;
            for (t, target) in im.targets.iter().enumerate() {
                let id = format!("{}#{t}", im.file_name);
                let at = || format!("{}: images[{i}].targets[{t}] ({id})", path.display());
                if target.attribute.len() != ATTRIBUTES.len() {
                    bail!("{}: {} attribute values, expected {}", at(), target.attribute.len(), ATTRIBUTES.len());
                }
                for v in &target.attribute {
                    rows.push(match v {
                        1 => 1,
                        -1 => 0,
                        0 => -1,
                        other => bail!("{}: attribute value {other} is not 1, -1 or 0", at()),
                    });
                }
                let b: BoxXywh = match target.bbox.as_slice() {
                    [x, y, w, h] if [x, y, w, h].iter().all(|v| v.is_finite()) => [*x, *y, *w, *h],
                    other => bail!("{}: bbox {other:?} is not four finite numbers [x, y, w, h]", at()),
                };
                samples.push((image.clone(), Some(b), id));
            }
        }
    }
    let labels = Array2::from_shape_vec((samples.len(), ATTRIBUTES.len()), rows)?;
    Ok(Raw {
        classes: ATTRIBUTES.iter().map(|s| s.to_string()).collect(),
        samples,
        labels,
        images: images.to_path_buf(),
        dropped_unannotated: 0,
        index_order: None,
    })
}
