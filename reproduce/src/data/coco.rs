//! The MS-COCO instances format: the annotation JSON, and a loader that turns a split into a label matrix
//! (label index = position of the category in the file's `categories` list; images without any
//! annotation are dropped, as the authors' release does).

use anyhow::{bail, Context, Result};
use ndarray::Array2;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

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

/// One split, ready for training or evaluation.
#[derive(Debug, Clone)]
pub struct Split {
    /// Class names, in label order.
    pub classes: Vec<String>,
    /// The image file of every sample.
    pub files: Vec<PathBuf>,
    /// Labels, samples x classes: 1 positive, 0 negative, -1 unknown.
    pub labels: Array2<f32>,
    /// Images of the file dropped for having no annotation.
    pub dropped: usize,
}

impl Split {
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The first `n` samples (all when `n` is larger).
    pub fn truncate(mut self, n: usize) -> Split {
        let n = n.min(self.len());
        self.files.truncate(n);
        self.labels = self.labels.slice(ndarray::s![..n, ..]).to_owned();
        self
    }
}

/// Joins a file name from an annotation file onto `root`, refusing names that leave it.
pub fn inside(root: &Path, name: &str, file: &Path) -> Result<PathBuf> {
    let rel = Path::new(name);
    let escapes = rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if escapes || name.is_empty() {
        bail!(
            "{}: image path `{name}` leaves the data root {} (only relative paths inside it are allowed)",
            file.display(),
            root.display()
        );
    }
    Ok(root.join(rel))
}

/// Loads a split: `annotations` (an instances JSON) and its `images` folder.
pub fn load(annotations: &Path, images: &Path) -> Result<Split> {
    let bytes = std::fs::read(annotations).with_context(|| {
        format!("{}: cannot read the annotation file (is the dataset in place?)", annotations.display())
    })?;
    let file: CocoFile = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a COCO instances file", annotations.display()))?;
    from_file(&file, annotations, images)
}

pub fn from_file(file: &CocoFile, path: &Path, images: &Path) -> Result<Split> {
    if file.categories.is_empty() {
        bail!("{}: `categories` is empty", path.display());
    }
    let mut cat_index = HashMap::new();
    for (i, c) in file.categories.iter().enumerate() {
        if cat_index.insert(c.id, i).is_some() {
            bail!("{}: category id {} appears twice", path.display(), c.id);
        }
    }
    let mut image_index = HashMap::new();
    for (i, im) in file.images.iter().enumerate() {
        if image_index.insert(im.id, i).is_some() {
            bail!("{}: image id {} appears twice", path.display(), im.id);
        }
    }
    let mut full = Array2::<f32>::zeros((file.images.len(), file.categories.len()));
    let mut annotated = vec![false; file.images.len()];
    for a in &file.annotations {
        let Some(&row) = image_index.get(&a.image_id) else {
            bail!(
                "{}: annotation {} refers to image id {}, which is not in `images`",
                path.display(),
                a.id,
                a.image_id
            );
        };
        let Some(&col) = cat_index.get(&a.category_id) else {
            bail!(
                "{}: annotation {} has category id {}, which is not in `categories`",
                path.display(),
                a.id,
                a.category_id
            );
        };
        full[[row, col]] = 1.0;
        annotated[row] = true;
    }
    let keep: Vec<usize> = (0..file.images.len()).filter(|i| annotated[*i]).collect();
    let files = keep.iter().map(|&i| inside(images, &file.images[i].file_name, path)).collect::<Result<Vec<_>>>()?;
    let labels = full.select(ndarray::Axis(0), &keep);
    Ok(Split {
        classes: file.categories.iter().map(|c| c.name.clone()).collect(),
        files,
        labels,
        dropped: file.images.len() - keep.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(json: &str) -> CocoFile {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn labels_follow_category_positions_and_unannotated_images_are_dropped() {
        let f = file(
            r#"{"images": [{"id": 10, "file_name": "a.png", "width": 4, "height": 4},
                           {"id": 11, "file_name": "b.png", "width": 4, "height": 4},
                           {"id": 12, "file_name": "c.png", "width": 4, "height": 4}],
                "annotations": [{"id": 1, "image_id": 10, "category_id": 90},
                                {"id": 2, "image_id": 12, "category_id": 7},
                                {"id": 3, "image_id": 12, "category_id": 90}],
                "categories": [{"id": 90, "name": "toothbrush"}, {"id": 7, "name": "train"}],
                "licenses": []}"#,
        );
        let s = from_file(&f, Path::new("x.json"), Path::new("/data/train")).unwrap();
        assert_eq!(s.classes, vec!["toothbrush", "train"]);
        assert_eq!(s.dropped, 1);
        assert_eq!(s.files, vec![PathBuf::from("/data/train/a.png"), PathBuf::from("/data/train/c.png")]);
        assert_eq!(s.labels, ndarray::array![[1.0, 0.0], [1.0, 1.0]]);
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
        assert!(e.contains("leaves the data root"), "{e}");
        assert!(inside(Path::new("r"), "/abs.png", Path::new("f")).is_err());
        assert!(inside(Path::new("r"), "sub/ok.png", Path::new("f")).is_ok());
    }
}
