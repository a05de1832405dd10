//! Datasets: the loaders of the four datasets' own layouts (MS-COCO, VISPR, VAW, WIDER-Attribute) and the
//! embedded generator, all producing a [`Split`]: the samples (an image file, a crop for box datasets, the
//! dataset's sample id) and their label matrix (1 / 0 / -1). Images are not decoded here: the streaming
//! [`pipeline`] decodes, crops and transforms them in worker threads while a model trains.

pub mod coco;
pub mod commands;
pub mod embedded;
pub mod fixtures;
pub mod inspect;
pub mod pipeline;
pub mod transforms;
pub mod vaw;
pub mod vispr;
pub mod wider;

use anyhow::{bail, Context, Result};
use image::RgbImage;
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::Array2;
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use twoway_spec::registry::Format;
use twoway_spec::{Dataset, Spec};

/// The data root: `--data-root`, else `$TWOWAY_DATA`, else `$XDG_CACHE_HOME/twoway`, else `~/.cache/twoway`.
pub fn data_root(arg: Option<&Path>) -> PathBuf {
    if let Some(p) = arg {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("TWOWAY_DATA") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(p).join("twoway");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".cache/twoway"),
        None => PathBuf::from(".twoway-data"),
    }
}

/// The embedded dataset's generation parameters, from the spec.
pub fn embedded_spec(spec: &Spec) -> embedded::EmbeddedSpec {
    let g =
        spec.datasets[&Dataset::Embedded].generate.as_ref().expect("the spec gives the embedded dataset's generation");
    embedded::EmbeddedSpec { seed: g.seed, train: g.train, eval: g.eval, size: g.size }
}

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
}

impl Split {
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The first `n` samples (all when `n` is larger).
    pub fn truncate(mut self, n: usize) -> Split {
        let n = n.min(self.len());
        self.samples.truncate(n);
        self.labels = self.labels.slice(ndarray::s![..n, ..]).to_owned();
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

/// The folder of `dataset` under `root` (the embedded one is generated there on first use).
pub fn dataset_dir(spec: &Spec, dataset: Dataset, root: &Path, progress: bool) -> Result<PathBuf> {
    match dataset {
        Dataset::Embedded => embedded::ensure(&embedded_spec(spec), root, progress),
        _ => Ok(root.join(dataset.as_str())),
    }
}

/// Loads one split of a dataset by its own name. For box datasets every image's size is read (its header
/// only) to clip the boxes; `progress` draws a bar for that.
pub fn load_split(spec: &Spec, dataset: Dataset, split: &str, root: &Path, progress: bool) -> Result<Split> {
    let d = &spec.datasets[&dataset];
    let Some(s) = d.splits.get(split) else {
        let known: Vec<&str> = d.splits.keys().map(String::as_str).collect();
        bail!("dataset `{dataset}` has no split `{split}` (its splits: {})", known.join(", "));
    };
    let dir = dataset_dir(spec, dataset, root, progress)?;
    let annotations: Vec<PathBuf> = s.annotations.iter().map(|a| dir.join(a)).collect();
    let images = dir.join(&s.images);
    let raw = match d.format {
        Format::CocoInstances => coco::load(&annotations, &images)?,
        Format::Vispr => vispr::load(&dir, &annotations, &images)?,
        Format::Vaw => vaw::load(&dir, &annotations, &images)?,
        Format::WiderAttribute => wider::load(&annotations, &images)?,
    };
    if raw.classes.len() != d.classes {
        bail!(
            "{}: {} classes, but dataset `{dataset}` has {} (is this the right dataset?)",
            annotations[0].display(),
            raw.classes.len(),
            d.classes
        );
    }
    resolve(dataset, split, raw, progress)
}

/// Clips the boxes to their images (reading each image's size once) and drops the empty ones.
fn resolve(dataset: Dataset, split: &str, raw: Raw, progress: bool) -> Result<Split> {
    let mut sizes: HashMap<&Path, (u32, u32)> = HashMap::new();
    let boxed: Vec<&Path> = raw.samples.iter().filter(|s| s.1.is_some()).map(|s| s.0.as_path()).collect();
    if !boxed.is_empty() {
        let mut unique = boxed.clone();
        unique.sort();
        unique.dedup();
        let bar = bar(unique.len(), progress, format!("reading image sizes of {dataset}/{split}"));
        let dims = unique
            .par_iter()
            .map(|p| {
                let r =
                    image::image_dimensions(p).with_context(|| format!("{}: missing or unreadable image", p.display()));
                bar.inc(1);
                r.map(|d| (*p, d))
            })
            .collect::<Result<Vec<_>>>();
        bar.finish_and_clear();
        sizes.extend(dims?);
    }
    let mut keep = Vec::with_capacity(raw.samples.len());
    let mut samples = Vec::with_capacity(raw.samples.len());
    let mut dropped_boxes = Vec::new();
    for (i, (image, b, id)) in raw.samples.iter().enumerate() {
        let crop = match b {
            None => None,
            Some(b) => {
                let (w, h) = sizes[image.as_path()];
                match clip_box(*b, w, h) {
                    Some(c) => Some(c),
                    None => {
                        dropped_boxes.push(id.clone());
                        continue;
                    }
                }
            }
        };
        keep.push(i);
        samples.push(Sample { image: image.clone(), crop, id: id.clone() });
    }
    let labels = if keep.len() == raw.samples.len() { raw.labels } else { raw.labels.select(ndarray::Axis(0), &keep) };
    Ok(Split {
        dataset,
        name: split.to_string(),
        classes: raw.classes,
        samples,
        labels,
        images: raw.images,
        dropped_unannotated: raw.dropped_unannotated,
        dropped_boxes,
    })
}

/// Checks that every image file of a split exists (box datasets read theirs when loading; corrupt files are
/// found when decoded, or up front by `twoway data check`).
pub fn check_files(split: &Split) -> Result<()> {
    if let Some(s) = split.samples.par_iter().find_first(|s| !s.image.is_file()) {
        bail!("{}: missing image (sample {} of {}/{})", s.image.display(), s.id, split.dataset, split.name);
    }
    Ok(())
}

/// What identifies a dataset's contents for a run's configuration: the embedded generator's version and
/// parameters, or the SHA-256 of every annotation file of the protocol's splits (and the vocabulary file).
/// Two runs with equal fingerprints read the same labels.
pub fn fingerprint(spec: &Spec, dataset: Dataset, root: &Path) -> Result<serde_json::Value> {
    if dataset == Dataset::Embedded {
        return Ok(serde_json::json!({"generator": embedded::VERSION, "spec": embedded_spec(spec)}));
    }
    let d = &spec.datasets[&dataset];
    let dir = root.join(dataset.as_str());
    let mut files: Vec<PathBuf> = Vec::new();
    for split in [&d.protocol.train, &d.protocol.eval] {
        for a in &d.splits[split].annotations {
            let p = dir.join(a);
            if p.is_dir() {
                let mut inner: Vec<PathBuf> =
                    std::fs::read_dir(&p)?.map(|e| e.map(|e| e.path())).collect::<std::io::Result<_>>()?;
                inner.retain(|f| f.extension().is_some_and(|e| e == "json"));
                inner.sort();
                files.extend(inner);
            } else {
                files.push(p);
            }
        }
    }
    for extra in ["attributes.tsv", "data/attribute_index.json"] {
        if dir.join(extra).is_file() {
            files.push(dir.join(extra));
        }
    }
    let hashes = files
        .par_iter()
        .map(|f| {
            let rel = f.strip_prefix(&dir).unwrap_or(f).display().to_string();
            crate::io::sha256_file(f).map(|h| (rel, serde_json::Value::String(h)))
        })
        .collect::<Result<Vec<_>>>()?;
    let hashes: serde_json::Map<String, serde_json::Value> = hashes.into_iter().collect();
    Ok(serde_json::json!({"dataset": dataset, "files": hashes}))
}

/// The train and eval splits of `dataset`'s protocol under `root`, their image files checked to exist.
pub fn load(spec: &Spec, dataset: Dataset, root: &Path, progress: bool) -> Result<(Split, Split)> {
    let p = &spec.datasets[&dataset].protocol;
    let train = load_split(spec, dataset, &p.train, root, progress)?;
    let eval = load_split(spec, dataset, &p.eval, root, progress)?;
    check_files(&train)?;
    check_files(&eval)?;
    if train.classes != eval.classes {
        bail!("dataset `{dataset}`: splits `{}` and `{}` list different classes", p.train, p.eval);
    }
    Ok((train, eval))
}

/// A progress bar of `n` steps (hidden unless `show`).
/// The bytes of an annotation file, or an error that names it and says what to check.
pub(crate) fn read_annotation(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path)
        .with_context(|| format!("{}: cannot read the annotation file (is the dataset in place?)", path.display()))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_and_png_decode_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let img = RgbImage::from_fn(20, 12, |x, y| image::Rgb([(x * 12) as u8, (y * 20) as u8, 128]));
        for name in ["a.jpg", "a.png"] {
            let p = dir.path().join(name);
            img.save(&p).unwrap();
            let d = decode(&p).unwrap();
            assert_eq!(d.dimensions(), (20, 12), "{name}");
        }
        let bad = dir.path().join("bad.jpg");
        std::fs::write(&bad, b"\xff\xd8\xff garbage").unwrap();
        let e = decode(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.jpg") && e.contains("corrupt"), "{e}");
        let e = decode(&dir.path().join("missing.png")).unwrap_err().to_string();
        assert!(e.contains("missing.png") && e.contains("cannot read"), "{e}");
    }

    #[test]
    fn boxes_round_half_to_even_and_clip() {
        let c = |b, w, h| clip_box(b, w, h).map(|c| (c.x0, c.y0, c.x1, c.y1));
        assert_eq!(c([1.5, 2.5, 10.0, 10.0], 100, 100), Some((2, 2, 12, 12)));
        // Halves to even: 0.5 -> 0, 1.5 -> 2, 3.5 -> 4, 4.5 -> 4 (empty), 5.5 -> 6.
        assert_eq!(c([0.5, 3.5, 1.0, 1.0], 100, 100), None);
        assert_eq!(c([0.5, 3.5, 1.0, 2.0], 100, 100), Some((0, 4, 2, 6)));
        assert_eq!(c([-5.0, -5.0, 20.0, 20.0], 10, 8), Some((0, 0, 10, 8)));
        assert_eq!(c([95.0, 10.0, 20.0, 20.0], 100, 100), Some((95, 10, 100, 30)));
        // Empty after clipping: entirely outside, zero width after rounding, negative size.
        assert_eq!(c([120.0, 10.0, 20.0, 20.0], 100, 100), None);
        assert_eq!(c([10.2, 10.0, 0.2, 20.0], 100, 100), None);
        assert_eq!(c([10.0, 10.0, -3.0, 20.0], 100, 100), None);
    }

    #[test]
    fn links_below_the_image_folder_must_stay_inside_it() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("images");
        std::fs::create_dir(&base).unwrap();
        let outside = dir.path().join("secret.png");
        RgbImage::new(2, 2).save(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, base.join("link.png")).unwrap();
        let e = resolve_inside(&base, &base.join("link.png")).unwrap_err().to_string();
        assert!(e.contains("link.png") && e.contains("outside the image folder"), "{e}");
        // The image folder itself may be a link (data on another disk).
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        RgbImage::new(2, 2).save(real.join("a.png")).unwrap();
        let linked = dir.path().join("linked");
        std::os::unix::fs::symlink(&real, &linked).unwrap();
        assert!(resolve_inside(&linked, &linked.join("a.png")).is_ok());
        assert!(inside(&base, "../x.png", Path::new("ann.json")).is_err());
        assert!(inside(&base, "/etc/passwd", Path::new("ann.json")).is_err());
        assert_eq!(inside(&base, "sub/ok.png", Path::new("f")).unwrap(), base.join("sub/ok.png"));
    }
}
