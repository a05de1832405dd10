//! The CSV format of a dataset file: a header `image,<class 1>,<class 2>,...`, then one row per image: its
//! path relative to the split's image folder, and one value per class: `1` positive, `0` negative, `-1` or
//! empty unknown. The sample id is the image path. Fields may be double-quoted (`""` for a quote inside).
//! Every error names the file and the line (and the class column).

use super::split::{inside, read_annotation, Raw};
use anyhow::{bail, Context, Result};
use ndarray::Array2;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The fields of one CSV line (`at`: its line number in `file`).
fn fields(line: &str, file: &Path, at: usize) -> Result<Vec<String>> {
    crate::io::csv::fields(line).map_err(|e| anyhow::anyhow!("{}:{at}: {e}", file.display()))
}

/// The class names of a CSV file's header (for registering a dataset file).
pub(crate) fn classes(path: &Path) -> Result<Vec<String>> {
    let bytes = read_annotation(path)?;
    let text = std::str::from_utf8(&bytes).with_context(|| format!("{}: not UTF-8 text", path.display()))?;
    let header = text.trim_start_matches('\u{feff}').lines().next().unwrap_or("");
    header_classes(&fields(header.trim_end_matches('\r'), path, 1)?, path)
}

fn header_classes(header: &[String], path: &Path) -> Result<Vec<String>> {
    if header.first().map(|h| h.trim()) != Some("image") {
        bail!("{}:1: the header must start with `image` (then one column per class)", path.display());
    }
    let classes: Vec<String> = header[1..].iter().map(|c| c.trim().to_string()).collect();
    if classes.is_empty() {
        bail!("{}:1: the header names no class column after `image`", path.display());
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (k, c) in classes.iter().enumerate() {
        if c.is_empty() {
            bail!("{}:1: class column {} has no name", path.display(), k + 2);
        }
        if let Some(first) = seen.insert(c, k) {
            bail!("{}:1: duplicate class column `{c}` (columns {} and {})", path.display(), first + 2, k + 2);
        }
    }
    Ok(classes)
}

fn label(value: &str, file: &Path, at: usize, class: &str) -> Result<i8> {
    Ok(match value.trim() {
        "1" => 1,
        "0" => 0,
        "-1" | "" => -1,
        other => bail!("{}:{at}: class `{class}`: value `{other}` is not 1, 0, -1 or empty", file.display()),
    })
}

/// Loads a split from its CSV files (their rows in order; every file with the same header).
pub(crate) fn load(annotations: &[PathBuf], images: &Path) -> Result<Raw> {
    let mut classes: Option<Vec<String>> = None;
    let mut samples = Vec::new();
    let mut rows: Vec<i8> = Vec::new();
    let mut seen: HashMap<String, (PathBuf, usize)> = HashMap::new();
    for path in annotations {
        let bytes = read_annotation(path)?;
        let text = std::str::from_utf8(&bytes).with_context(|| format!("{}: not UTF-8 text", path.display()))?;
        // A spreadsheet's "CSV UTF-8" starts with a byte-order mark.
        let text = text.trim_start_matches('\u{feff}');
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
        let (_, header) = lines.next().with_context(|| format!("{}: empty file (no header)", path.display()))?;
        let these = header_classes(&fields(header, path, 1)?, path)?;
        match &classes {
            None => classes = Some(these.clone()),
            Some(c) if *c != these => {
                bail!("{}:1: its class columns differ from {}'s", path.display(), annotations[0].display())
            }
            Some(_) => {}
        }
        for (at, line) in lines.filter(|(_, l)| !l.trim().is_empty()) {
            let f = fields(line, path, at)?;
            if f.len() != these.len() + 1 {
                bail!("{}:{at}: {} values, the header has {} columns", path.display(), f.len(), these.len() + 1);
            }
            let image = f[0].trim().to_string();
            let file = inside(images, &image, &path.with_file_name(format!("{}:{at}", file_name(path))))?;
            if let Some((first, line)) = seen.insert(image.clone(), (path.clone(), at)) {
                bail!("{}:{at}: image `{image}` is listed twice (also {}:{line})", path.display(), first.display());
            }
            for (value, class) in f[1..].iter().zip(&these) {
                rows.push(label(value, path, at, class)?);
            }
            samples.push((file, None, image));
        }
    }
    let classes = classes.with_context(|| format!("{}: no annotation file given", images.display()))?;
    let labels = Array2::from_shape_vec((samples.len(), classes.len()), rows).expect("one value per class a row");
    Ok(Raw { classes, samples, labels, images: images.to_path_buf(), dropped_unannotated: 0, index_order: None })
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("labels.csv");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn rows_become_labels_with_unknowns_as_minus_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "\u{feff}image,cat,\"dog, big\"\r\na.jpg,1,-1\n\n\"sub/b,c.jpg\",,0\n");
        let raw = load(std::slice::from_ref(&p), Path::new("/img")).unwrap();
        assert_eq!(raw.classes, vec!["cat", "dog, big"]);
        assert_eq!(raw.labels, ndarray::array![[1, -1], [-1, 0]]);
        assert_eq!(raw.samples[1].0, PathBuf::from("/img/sub/b,c.jpg"));
        assert_eq!(raw.samples[1].2, "sub/b,c.jpg");
        assert_eq!(classes(&p).unwrap(), vec!["cat", "dog, big"]);
    }

    #[test]
    fn every_bad_row_is_named_by_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("image,cat\na.jpg,2\n", "labels.csv:2: class `cat`: value `2` is not 1, 0, -1 or empty"),
            ("image,cat,cat\na.jpg,1,0\n", "labels.csv:1: duplicate class column `cat` (columns 2 and 3)"),
            ("file,cat\na.jpg,1\n", "labels.csv:1: the header must start with `image`"),
            ("image\na.jpg\n", "labels.csv:1: the header names no class column"),
            ("image,cat,dog\na.jpg,1\n", "labels.csv:2: 2 values, the header has 3 columns"),
            ("image,cat\na.jpg,1\nb.jpg,0\na.jpg,0\n", "labels.csv:4: image `a.jpg` is listed twice"),
            ("image,cat\n../x.jpg,1\n", "leaves the image folder"),
            ("image,cat\n\"a.jpg,1\n", "labels.csv:2: a quoted field is not closed"),
        ];
        for (text, want) in cases {
            let p = write(dir.path(), text);
            let e = format!("{:#}", load(&[p], Path::new("/img")).unwrap_err());
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
