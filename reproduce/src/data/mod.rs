//! Datasets: the MS-COCO format loader, the embedded generator, image decoding and the recipe's transforms.

pub mod coco;
pub mod embedded;
pub mod inspect;
pub mod transforms;

use anyhow::{bail, Context, Result};
use image::RgbImage;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
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

/// The train and eval splits of `dataset` under `root` (the embedded one is generated on first use).
pub fn load(spec: &Spec, dataset: Dataset, root: &Path, progress: bool) -> Result<(coco::Split, coco::Split)> {
    let d = &spec.datasets[&dataset];
    let dir = match dataset {
        Dataset::Embedded => embedded::ensure(&embedded_spec(spec), root, progress)?,
        _ => root.join(dataset.as_str()),
    };
    match d.format {
        Format::CocoInstances => {
            let train = coco::load(&dir.join(&d.splits.train.annotations), &dir.join(&d.splits.train.images))?;
            let eval = coco::load(&dir.join(&d.splits.eval.annotations), &dir.join(&d.splits.eval.images))?;
            if train.classes != eval.classes {
                bail!("{}: the train and eval annotation files list different categories", dir.display());
            }
            Ok((train, eval))
        }
        other => bail!(
            "dataset `{dataset}` ({}): its {other:?} loader is not part of twoway yet; MS-COCO-format datasets \
             (coco, embedded) load today",
            d.name
        ),
    }
}

/// Decodes one image file as RGB; errors name the file.
pub fn decode(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read image", path.display()))?;
    let img =
        image::load_from_memory(&bytes).with_context(|| format!("{}: corrupt or unsupported image", path.display()))?;
    Ok(img.to_rgb8())
}

/// Decodes every image of a split, in parallel, with a progress bar.
pub fn decode_all(files: &[PathBuf], what: &str, progress: bool) -> Result<Vec<RgbImage>> {
    let bar = if progress { ProgressBar::new(files.len() as u64) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("decoding {msg} [{bar:30}] {pos}/{len}").unwrap());
    bar.set_message(what.to_string());
    let out = files
        .par_iter()
        .map(|f| {
            let r = decode(f);
            bar.inc(1);
            r
        })
        .collect::<Result<Vec<_>>>();
    bar.finish_and_clear();
    out
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
}
