//! Dataset files: a user's dataset described by a YAML file, its paths relative to the file:
//!
//! ```yaml
//! name: toys                # its key in result folders, tables and claims (not a built-in key)
//! format: coco              # coco | csv
//! splits:
//!   train: {annotations: train.json, images: images}
//!   eval:  {annotations: eval.json,  images: images}
//! ```
//!
//! `coco`: any MS-COCO instances file, with its own categories (in the file's order; ids with gaps
//! allowed); images without annotations are dropped as for MS-COCO, boxes ignored. `csv`: see [`super::csv`].
//! Loading a file registers its dataset ([`twoway_spec::registry::register_dataset_file`]); from then on it
//! is a [`Dataset`] like the built-in ones, known by its name.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Component, Path};
use twoway_spec::registry::{self, DatasetFile, DatasetSpec, Encoding, Format, Protocol, Split, Unit};
use twoway_spec::{Dataset, Source, Spec};

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    name: String,
    format: FileFormat,
    splits: BTreeMap<String, FileSplit>,
}

#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum FileFormat {
    Coco,
    Csv,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSplit {
    annotations: String,
    images: String,
}

/// Whether a `--dataset` value names a dataset file rather than a key.
pub fn is_file_arg(arg: &str) -> bool {
    arg.ends_with(".yaml") || arg.ends_with(".yml") || arg.contains('/')
}

/// A `--dataset` value: a built-in key, or a dataset file (loaded and registered).
pub fn resolve(spec: &Spec, arg: &str) -> Result<Dataset> {
    if is_file_arg(arg) {
        return load(Path::new(arg));
    }
    let d: Dataset = arg.parse()?;
    spec.dataset(d).map_err(anyhow::Error::msg)?;
    Ok(d)
}

/// A relative path inside the dataset file's folder, or the error naming the field.
fn relative(file: &Path, field: &str, value: &str) -> Result<()> {
    let p = Path::new(value);
    if value.is_empty()
        || p.is_absolute()
        || p.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        bail!(
            "{}: field `{field}`: `{value}` must be a relative path inside the dataset file's folder (no `..`, not absolute)",
            file.display()
        );
    }
    Ok(())
}

/// The class names of a split's annotation file.
fn classes(format: FileFormat, annotations: &Path) -> Result<Vec<String>> {
    match format {
        FileFormat::Csv => super::csv::classes(annotations),
        FileFormat::Coco => {
            #[derive(serde::Deserialize)]
            struct Category {
                name: String,
            }
            #[derive(serde::Deserialize)]
            struct Categories {
                categories: Vec<Category>,
            }
            let bytes = super::split::read_annotation(annotations)?;
            let c: Categories = serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: not a COCO instances file", annotations.display()))?;
            if c.categories.is_empty() {
                bail!("{}: `categories` is empty", annotations.display());
            }
            Ok(c.categories.into_iter().map(|c| c.name).collect())
        }
    }
}

/// Reads, checks and registers a dataset file; returns its dataset.
pub fn load(path: &Path) -> Result<Dataset> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("{}: cannot read the dataset file", path.display()))?;
    let doc: Doc = twoway_spec::parse(&path.display().to_string(), &text)?;
    for (name, s) in &doc.splits {
        relative(path, &format!("splits.{name}.annotations"), &s.annotations)?;
        relative(path, &format!("splits.{name}.images"), &s.images)?;
    }
    for role in ["train", "eval"] {
        if !doc.splits.contains_key(role) {
            let known: Vec<&str> = doc.splits.keys().map(String::as_str).collect();
            bail!("{}: field `splits`: no `{role}` split (it has: {})", path.display(), known.join(", "));
        }
    }
    // One file reached by two spellings (`a/../toys.yaml`, a link) is one dataset: its paths are canonical.
    let path = &std::fs::canonicalize(path).with_context(|| format!("{}: cannot resolve", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let classes = classes(doc.format, &dir.join(&doc.splits["train"].annotations))?;
    let (format, unknown) = match doc.format {
        FileFormat::Coco => (Format::CocoInstances, false),
        FileFormat::Csv => (Format::Csv, true),
    };
    let spec = DatasetSpec {
        name: doc.name.clone(),
        classes: classes.len(),
        unit: Unit::Image,
        format,
        splits: doc
            .splits
            .iter()
            .map(|(k, s)| {
                (k.clone(), Split { annotations: vec![s.annotations.clone()], images: s.images.clone(), samples: None })
            })
            .collect(),
        protocol: Protocol {
            train: "train".into(),
            eval: "eval".into(),
            source: Source::Ours,
            reason: Some("a dataset file trains on its `train` split and evaluates on its `eval` split".into()),
        },
        encoding: Encoding {
            summary: match doc.format {
                FileFormat::Coco => {
                    "an image is positive for the categories it has an annotation of, negative for the others".into()
                }
                FileFormat::Csv => "1 positive, 0 negative, -1 or empty unknown, as the CSV states".into(),
            },
            unknown_labels: unknown,
        },
        generate: None,
        notes: None,
        source: Source::Ours,
        reason: Some(format!("the dataset file {}", path.display())),
    };
    let file = DatasetFile { spec, dir, file: path.clone() };
    registry::register_dataset_file(file).map_err(|e| anyhow::anyhow!("{}: field `name`: {e}", path.display()))
}
