//! The MS-COCO instances format: the annotation JSON, and a loader that turns a split into a label matrix
//! (label index = position of the category in the file's `categories` list; images without any
//! annotation are dropped, as the authors' release does).

use super::split::{inside, Raw};
use anyhow::{bail, Context, Result};
use ndarray::Array2;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CocoInfo {
    pub description: String,
    pub version: String,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CocoImage {
    pub id: u64,
    pub file_name: String,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CocoAnnotation {
    pub id: u64,
    pub image_id: u64,
    pub category_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbox: Option<[f64; 4]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iscrowd: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segmentation: Option<serde_json::Value>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CocoCategory {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub supercategory: String,
}

/// An instances file (unknown fields, such as `licenses` or `coco_url`, are accepted and ignored).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CocoFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<CocoInfo>,
    pub images: Vec<CocoImage>,
    pub annotations: Vec<CocoAnnotation>,
    pub categories: Vec<CocoCategory>,
}

/// The fields the loader reads; everything else (segmentation polygons, RLE masks, areas, licences, URLs)
/// is skipped while parsing, never built: a real `instances_train2014.json` is ~450 MB, mostly polygons.
#[derive(serde::Deserialize)]
struct ReadImage {
    id: u64,
    file_name: String,
}

#[derive(serde::Deserialize)]
struct ReadAnnotation {
    #[serde(default)]
    id: Option<u64>,
    image_id: u64,
    category_id: u64,
}

#[derive(serde::Deserialize)]
struct ReadCategory {
    id: u64,
    name: String,
}

#[derive(serde::Deserialize)]
struct ReadFile {
    images: Vec<ReadImage>,
    annotations: Vec<ReadAnnotation>,
    categories: Vec<ReadCategory>,
}

/// A box (x, y, w, h) as COCO's one-polygon segmentation: its four corners, clockwise from the top left.
pub(crate) fn box_polygon(b: [f64; 4]) -> serde_json::Value {
    let (x0, y0, x1, y1) = (b[0], b[1], b[0] + b[2], b[1] + b[3]);
    serde_json::json!([[x0, y0, x1, y0, x1, y1, x0, y1]])
}

/// Loads a split from its instances file(s) (one for MS-COCO; several are read in order, sharing one
/// category list) and its image folder.
pub(crate) fn load(annotations: &[PathBuf], images: &Path) -> Result<Raw> {
    let mut out: Option<Raw> = None;
    for path in annotations {
        let bytes = super::split::read_annotation(path)?;
        let file: ReadFile =
            serde_json::from_slice(&bytes).with_context(|| format!("{}: not a COCO instances file", path.display()))?;
        let part = from_file(&file, path, images)?;
        out = Some(match out {
            None => part,
            Some(mut acc) => {
                if acc.classes != part.classes {
                    bail!("{}: its categories differ from those of {}", path.display(), annotations[0].display());
                }
                let offset = acc.samples.len();
                let mut order = acc.index_order.take().unwrap_or_else(|| (0..offset).collect());
                order.extend(part.index_order.iter().flatten().map(|i| i + offset));
                acc.index_order = Some(order);
                acc.samples.extend(part.samples);
                acc.labels = ndarray::concatenate(ndarray::Axis(0), &[acc.labels.view(), part.labels.view()])?;
                acc.dropped_unannotated += part.dropped_unannotated;
                acc
            }
        });
    }
    out.with_context(|| format!("{}: no annotation file given", images.display()))
}

fn from_file(file: &ReadFile, path: &Path, images: &Path) -> Result<Raw> {
    if file.categories.is_empty() {
        bail!("{}: `categories` is empty", path.display());
    }
    let mut cat_index = HashMap::new();
    for (i, c) in file.categories.iter().enumerate() {
        if cat_index.insert(c.id, i).is_some() {
            bail!("{}: category id {} appears twice", path.display(), c.id);
        }
    }
    let mut image_index = HashMap::with_capacity(file.images.len());
    for (i, im) in file.images.iter().enumerate() {
        if image_index.insert(im.id, i).is_some() {
            bail!("{}: image id {} appears twice", path.display(), im.id);
        }
    }
    let mut full = Array2::<i8>::zeros((file.images.len(), file.categories.len()));
    let mut annotated = vec![false; file.images.len()];
    let mut first_seen = Vec::new();
    for (k, a) in file.annotations.iter().enumerate() {
        let name = || a.id.map_or_else(|| format!("#{k}"), |id| id.to_string());
        let Some(&row) = image_index.get(&a.image_id) else {
            bail!(
                "{}: annotation {} refers to image id {}, which is not in `images`",
                path.display(),
                name(),
                a.image_id
            );
        };
        let Some(&col) = cat_index.get(&a.category_id) else {
            bail!(
                "{}: annotation {} has category id {}, which is not in `categories`",
                path.display(),
                name(),
                a.category_id
            );
        };
        full[[row, col]] = 1;
        if !annotated[row] {
            first_seen.push(row);
        }
        annotated[row] = true;
    }
    let keep: Vec<usize> = (0..file.images.len()).filter(|i| annotated[*i]).collect();
    // The release's index order: the images in the order of their first annotation, as sample positions.
    let mut position = vec![0; file.images.len()];
    keep.iter().enumerate().for_each(|(k, &i)| position[i] = k);
    let index_order = first_seen.iter().map(|&row| position[row]).collect();
    let samples = keep
        .iter()
        .map(|&i| {
            let im = &file.images[i];
            Ok((inside(images, &im.file_name, path)?, None, im.id.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let labels = if keep.len() == file.images.len() { full } else { full.select(ndarray::Axis(0), &keep) };
    Ok(Raw {
        classes: file.categories.iter().map(|c| c.name.clone()).collect(),
        samples,
        labels,
        images: images.to_path_buf(),
        dropped_unannotated: file.images.len() - keep.len(),
        index_order: Some(index_order),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(json: &str) -> ReadFile {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn labels_follow_category_positions_and_unannotated_images_are_dropped() {
        let f = file(
            r#"{"images": [{"id": 10, "file_name": "a.png", "width": 4, "height": 4},
                           {"id": 11, "file_name": "b.png", "width": 4, "height": 4},
                           {"id": 12, "file_name": "c.png", "width": 4, "height": 4}],
                "annotations": [{"id": 1, "image_id": 10, "category_id": 90, "segmentation": [[1, 2, 3, 4]]},
                                {"id": 2, "image_id": 12, "category_id": 7, "segmentation": {"counts": "x", "size": [4, 4]}},
                                {"id": 3, "image_id": 12, "category_id": 90}],
                "categories": [{"id": 90, "name": "toothbrush"}, {"id": 7, "name": "train"}],
                "licenses": []}"#,
        );
        let s = from_file(&f, Path::new("x.json"), Path::new("/data/train")).unwrap();
        assert_eq!(s.classes, vec!["toothbrush", "train"]);
        assert_eq!(s.dropped_unannotated, 1);
        let files: Vec<&PathBuf> = s.samples.iter().map(|x| &x.0).collect();
        assert_eq!(files, vec![&PathBuf::from("/data/train/a.png"), &PathBuf::from("/data/train/c.png")]);
        assert_eq!(s.samples[1].2, "12");
        assert_eq!(s.labels, ndarray::array![[1, 0], [1, 1]]);
    }

    #[test]
    fn bad_references_and_escaping_paths_are_named() {
        let bad_image = file(
            r#"{"images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 4}],
                "annotations": [{"id": 5, "image_id": 2, "category_id": 1}],
                "categories": [{"id": 1, "name": "x"}]}"#,
        );
        let e = from_file(&bad_image, Path::new("ann.json"), Path::new("img")).unwrap_err().to_string();
        assert!(e.contains("ann.json") && e.contains("image id 2"), "{e}");
        let escape = file(
            r#"{"images": [{"id": 1, "file_name": "../../etc/passwd", "width": 4, "height": 4}],
                "annotations": [{"id": 5, "image_id": 1, "category_id": 1}],
                "categories": [{"id": 1, "name": "x"}]}"#,
        );
        let e = from_file(&escape, Path::new("ann.json"), Path::new("img")).unwrap_err().to_string();
        assert!(e.contains("leaves the image folder"), "{e}");
    }
}
