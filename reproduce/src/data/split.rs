//! What the loaders produce and the pipeline consumes: a [`Split`] of [`Sample`]s (an image file, a crop
//! for box datasets, the dataset's id) with its label matrix (1 / 0 / -1), and the path policy every image
//! goes through (relative paths inside the image folder, [`inside`]; links that stay inside it,
//! [`resolve_inside`]) before it is decoded and cropped ([`sample_image`]). Tested in `data/mod.rs` and in
//! `tests/datasets.rs` (escaping paths, links, missing and corrupt images).

use anyhow::{bail, Context, Result};
use image::RgbImage;
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::Array2;
use std::path::{Component, Path, PathBuf};
use twoway_spec::Dataset;

/// A crop in whole pixels: columns x0..x1, rows y0..y1 (non-empty, inside the image).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Crop {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

/// A box of an annotation file: [x, y, w, h] in pixels.
pub type BoxXywh = [f64; 4];

/// The crop of a box on a `width` x `height` image: (round(x), round(y), round(x + w), round(y + h)) with
/// halves rounded to even (Python's round), clipped to the image; `None` when that is empty.
pub fn clip_box(b: BoxXywh, width: u32, height: u32) -> Option<Crop> {
    let r = |v: f64, max: u32| v.round_ties_even().clamp(0.0, max as f64) as u32;
    let (x0, x1) = (r(b[0], width), r(b[0] + b[2], width));
    let (y0, y1) = (r(b[1], height), r(b[1] + b[3], height));
    (x1 > x0 && y1 > y0).then_some(Crop { x0, y0, x1, y1 })
}

/// One sample: its image, the crop of its box (box datasets), and the dataset's id for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub image: PathBuf,
    pub crop: Option<Crop>,
    pub id: String,
}

/// A train split and the slice held out of it for threshold tuning (the recipe's `holdout`).
pub fn hold_out(train: Split, holdout: Option<usize>) -> Result<(Split, Option<Split>)> {
    let Some(n) = holdout.filter(|n| *n > 0) else { return Ok((train, None)) };
    if n >= train.len() {
        bail!("the recipe holds out {n} samples for tuning, but the train split has only {}", train.len());
    }
    let keep = train.len() - n;
    let mut tuning = train.clone();
    tuning.samples.drain(..keep);
    tuning.labels = tuning.labels.slice(ndarray::s![keep.., ..]).to_owned();
    tuning.name = format!("{} (held out for tuning)", train.name);
    tuning.index_order = train.index_order.iter().filter(|i| **i >= keep).map(|i| i - keep).collect();
    Ok((train.truncate(keep), Some(tuning)))
}

/// One split, ready for training or evaluation.
#[derive(Debug, Clone)]
pub struct Split {
    pub dataset: Dataset,
    /// The split's name in its dataset (`train2014`, `trainval`, ...).
    pub name: String,
    /// Class names, in label order.
    pub classes: Vec<String>,
    pub samples: Vec<Sample>,
    /// Labels, samples x classes: 1 positive, 0 negative, -1 unknown.
    pub labels: Array2<i8>,
    /// The folder every image must resolve inside (the split's image folder).
    pub images: PathBuf,
    /// Images without any annotation, dropped (MS-COCO's rule).
    pub dropped_unannotated: usize,
    /// Ids of the boxes that were empty after clipping to their image, dropped.
    pub dropped_boxes: Vec<String>,
    /// The samples in the order of the release's dataset index (what its sampler permutes): for MS-COCO
    /// files the images in the order of their first annotation (`list(coco.imgToAnns.keys())`), for the
    /// other formats the file order.
    pub index_order: Vec<usize>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The first `n` samples (all when `n` is larger); the index order keeps theirs.
    pub fn truncate(mut self, n: usize) -> Split {
        let n = n.min(self.len());
        self.samples.truncate(n);
        self.labels = self.labels.slice(ndarray::s![..n, ..]).to_owned();
        self.index_order.retain(|i| *i < n);
        self
    }
}

/// What a loader reads before boxes are resolved: one entry per sample in order.
#[derive(Debug)]
pub(crate) struct Raw {
    pub classes: Vec<String>,
    pub samples: Vec<(PathBuf, Option<BoxXywh>, String)>,
    pub labels: Array2<i8>,
    pub images: PathBuf,
    pub dropped_unannotated: usize,
    /// The release's index order of the samples, when it is not their order (see [`Split::index_order`]).
    pub index_order: Option<Vec<usize>>,
}

/// Joins a relative path from an annotation file onto `base`, refusing absolute paths and `..`.
pub fn inside(base: &Path, name: &str, file: &Path) -> Result<PathBuf> {
    let rel = Path::new(name);
    let escapes = rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if escapes || name.is_empty() {
        bail!(
            "{}: image path `{name}` leaves the image folder {} (only relative paths inside it are allowed)",
            file.display(),
            base.display()
        );
    }
    Ok(base.join(rel))
}

/// The bytes of an annotation file, or an error that names it and says what to check.
pub(crate) fn read_annotation(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path)
        .with_context(|| format!("{}: cannot read the annotation file (is the dataset in place?)", path.display()))
}

/// A progress bar of `n` steps (hidden unless `show`).
pub fn bar(n: usize, show: bool, what: String) -> ProgressBar {
    let bar = if show { ProgressBar::new(n as u64) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ETA {eta}").unwrap());
    bar.set_message(what);
    bar
}

/// Resolves `file` and checks that it lies inside `base` (resolved too): the symlink policy.
pub fn resolve_inside(base: &Path, file: &Path) -> Result<PathBuf> {
    let real = std::fs::canonicalize(file).with_context(|| format!("{}: missing image", file.display()))?;
    let real_base = std::fs::canonicalize(base).with_context(|| format!("{}: missing image folder", base.display()))?;
    if !real.starts_with(&real_base) {
        bail!(
            "{}: resolves to {}, outside the image folder {} (links below the image folder must stay inside it)",
            file.display(),
            real.display(),
            real_base.display()
        );
    }
    Ok(real)
}

/// Decodes one image file as RGB; errors name the file.
pub fn decode(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read image", path.display()))?;
    let img =
        image::load_from_memory(&bytes).with_context(|| format!("{}: corrupt or unsupported image", path.display()))?;
    Ok(img.into_rgb8())
}

/// A sample as the loader sees it before the transforms: its image, checked to lie inside the split's image
/// folder, decoded and cropped to its box.
pub fn sample_image(split: &Split, i: usize) -> Result<RgbImage> {
    let s = &split.samples[i];
    resolve_inside(&split.images, &s.image)?;
    let img = decode(&s.image)?;
    Ok(match s.crop {
        None => img,
        Some(c) => {
            if c.x1 > img.width() || c.y1 > img.height() {
                bail!("{}: the image changed size since its boxes were clipped", s.image.display());
            }
            image::imageops::crop_imm(&img, c.x0, c.y0, c.x1 - c.x0, c.y1 - c.y0).to_image()
        }
    })
}
