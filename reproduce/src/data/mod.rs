//! Datasets: the loaders of the four datasets' own layouts (MS-COCO, VISPR, VAW, WIDER-Attribute) and the
//! embedded generator, all producing a [`Split`]: the samples (an image file, a crop for box datasets, the
//! dataset's sample id) and their label matrix (1 / 0 / -1). Images are not decoded here: the streaming
//! [`pipeline`] decodes, crops and transforms them in worker threads while a model trains.

pub mod coco;
mod csv;
pub mod embedded;
pub mod file;
pub mod fixtures;
pub mod inspect;
pub mod pipeline;
mod split;
pub mod transforms;
pub mod vaw;
pub mod vispr;
pub mod wider;

pub(crate) use split::Raw;
pub use split::{bar, clip_box, decode, hold_out, inside, resolve_inside, sample_image, BoxXywh, Crop, Sample, Split};

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
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

/// The folder of `dataset`: under `root` for a built-in one (the embedded one is generated there on
/// first use), a dataset file's own folder for a dataset file.
pub fn dataset_dir(spec: &Spec, dataset: Dataset, root: &Path, progress: bool) -> Result<PathBuf> {
    match dataset {
        Dataset::Embedded => embedded::ensure(&embedded_spec(spec), root, progress),
        Dataset::Named(_) => match twoway_spec::registry::dataset_file(dataset) {
            Some(f) => Ok(f.dir.clone()),
            None => Err(anyhow::anyhow!(spec.dataset(dataset).err().unwrap_or_default())),
        },
        _ => Ok(root.join(dataset.as_str())),
    }
}

/// Loads one split of a dataset by its own name. For box datasets every image's size is read (its header
/// only) to clip the boxes; `progress` draws a bar for that.
pub fn load_split(spec: &Spec, dataset: Dataset, split: &str, root: &Path, progress: bool) -> Result<Split> {
    let d = spec.dataset(dataset).map_err(anyhow::Error::msg)?;
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
        Format::Csv => csv::load(&annotations, &images)?,
    };
    if raw.samples.is_empty() {
        let why = if raw.dropped_unannotated > 0 { " (no image has an annotation)" } else { "" };
        bail!("{}: split `{split}` of dataset `{dataset}` has no sample{why}", annotations[0].display());
    }
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
    // The index order of the kept samples (a dropped box leaves the order without it).
    let mut position = vec![usize::MAX; raw.samples.len()];
    keep.iter().enumerate().for_each(|(k, &i)| position[i] = k);
    let order = raw.index_order.unwrap_or_else(|| (0..raw.samples.len()).collect());
    let index_order = order.into_iter().map(|i| position[i]).filter(|k| *k != usize::MAX).collect();
    Ok(Split {
        dataset,
        name: split.to_string(),
        classes: raw.classes,
        samples,
        labels,
        images: raw.images,
        dropped_unannotated: raw.dropped_unannotated,
        dropped_boxes,
        index_order,
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
    let d = spec.dataset(dataset).map_err(anyhow::Error::msg)?;
    let dir = dataset_dir(spec, dataset, root, false)?;
    let mut files: Vec<PathBuf> = Vec::new();
    // A dataset file's own text (its name, format and paths) is part of what its runs read.
    if let Some(f) = twoway_spec::registry::dataset_file(dataset) {
        files.push(f.file.clone());
    }
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
            let rel = if f.is_absolute() && rel == f.display().to_string() {
                f.file_name().map_or(rel, |n| n.to_string_lossy().into_owned())
            } else {
                rel
            };
            crate::io::sha256_file(f).map(|h| (rel, serde_json::Value::String(h)))
        })
        .collect::<Result<Vec<_>>>()?;
    let hashes: serde_json::Map<String, serde_json::Value> = hashes.into_iter().collect();
    Ok(serde_json::json!({"dataset": dataset, "files": hashes}))
}

/// The train and eval splits of `dataset`'s protocol under `root`, their image files checked to exist.
pub fn load(spec: &Spec, dataset: Dataset, root: &Path, progress: bool) -> Result<(Split, Split)> {
    let p = &spec.dataset(dataset).map_err(anyhow::Error::msg)?.protocol;
    let train = load_split(spec, dataset, &p.train, root, progress)?;
    let eval = load_split(spec, dataset, &p.eval, root, progress)?;
    check_files(&train)?;
    check_files(&eval)?;
    if train.classes != eval.classes {
        bail!("dataset `{dataset}`: splits `{}` and `{}` list different classes", p.train, p.eval);
    }
    Ok((train, eval))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbImage;

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
