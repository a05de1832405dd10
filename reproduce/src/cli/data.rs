//! `twoway data`: generate the embedded dataset or the format fixtures, and look into any dataset: its label
//! matrix and sample ids, one sample as the loader sees it, a check that every image decodes, a summary.

use super::common::{dataset_arg, OutputFormat};
use crate::data::{self, data_root, load_split, sample_image, Split};
use anyhow::{bail, Context, Result};
use ndarray_npy::WriteNpyExt;
use std::io::Write;
use std::path::PathBuf;
use twoway_spec::{Dataset, Spec};

#[derive(clap::Subcommand, Debug)]
pub enum DataCommand {
    /// (Re)generate the embedded dataset under the data root.
    Generate {
        #[arg(long)]
        data_root: Option<PathBuf>,
    },
    /// Write small MS-COCO, VISPR, VAW and WIDER-Attribute datasets in their own layouts (test fixtures).
    Fixtures {
        /// The data root to write coco/, vispr/, vaw/ and wider/ into (replacing them).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Samples per split, roughly.
        #[arg(long, default_value_t = 40)]
        samples: usize,
    },
    /// Write a split's label matrix (int8: 1 / 0 / -1, samples x classes) and its sample ids.
    Labels {
        #[command(flatten)]
        which: Which,
        /// The .npy to write.
        #[arg(long)]
        out: PathBuf,
        /// Also write the sample ids, one a line, in the matrix's row order.
        #[arg(long)]
        ids: Option<PathBuf>,
    },
    /// Write sample I as the loader sees it before the transforms (the clipped crop for box datasets).
    Show {
        #[command(flatten)]
        which: Which,
        #[arg(long)]
        index: usize,
        /// The PNG to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check that every image of a dataset's splits exists and decodes (all splits unless --split).
    Check {
        /// A built-in dataset's key or a dataset file (FILE.yaml).
        #[arg(long, value_name = "KEY|FILE.yaml", value_parser = dataset_arg)]
        dataset: Dataset,
        #[arg(long)]
        split: Option<String>,
        #[arg(long)]
        data_root: Option<PathBuf>,
    },
    /// The batches of an epoch as each replica sees them (sample ids) under a recipe's data order, and the
    /// samples the epoch never trains on.
    Order {
        #[command(flatten)]
        which: Which,
        /// A recipe of the spec or a recipe YAML file (its data_order, batch_size, replicas, sampler_seed).
        #[arg(long, default_value = "release")]
        recipe: String,
        /// Override a recipe key (e.g. `batch_size=8`); repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// The epoch (0-based; the release order is the same every epoch).
        #[arg(long, default_value_t = 0)]
        epoch: usize,
        /// The run's seed: the `shuffle` order's key (the release order uses the recipe's sampler_seed).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
    },
    /// Samples, class frequencies, label cardinality, unknown fraction and dropped boxes of a dataset.
    Inspect {
        /// A built-in dataset's key or a dataset file (FILE.yaml).
        #[arg(long, value_name = "KEY|FILE.yaml", value_parser = dataset_arg, default_value = "embedded")]
        dataset: Dataset,
        /// Only this split (default: every split of the dataset).
        #[arg(long)]
        split: Option<String>,
        #[arg(long)]
        data_root: Option<PathBuf>,
    },
}

/// A dataset's split under a data root.
#[derive(clap::Args, Debug)]
pub struct Which {
    /// A built-in dataset's key (coco, vispr, vaw, wider, embedded) or a dataset file (FILE.yaml).
    #[arg(long, value_name = "KEY|FILE.yaml", value_parser = dataset_arg)]
    pub dataset: Dataset,
    /// The split by the dataset's own name (e.g. train2014, test2017, train, trainval).
    #[arg(long)]
    pub split: String,
    #[arg(long)]
    pub data_root: Option<PathBuf>,
}

fn splits(spec: &Spec, dataset: Dataset, split: &Option<String>, root: &std::path::Path) -> Result<Vec<Split>> {
    let names: Vec<String> = match split {
        Some(s) => vec![s.clone()],
        None => spec.dataset(dataset).map_err(anyhow::Error::msg)?.splits.keys().cloned().collect(),
    };
    names.iter().map(|s| load_split(spec, dataset, s, root, true)).collect()
}

impl DataCommand {
    pub fn exec(self, spec: &Spec, out: &mut dyn Write) -> Result<()> {
        match self {
            DataCommand::Generate { data_root: r } => {
                let root = data_root(r.as_deref());
                let dir = data::embedded::generate(&data::embedded_spec(spec), &root, true, true)?;
                writeln!(out, "embedded dataset written to {}", dir.display())?;
            }
            DataCommand::Fixtures { out: root, seed, samples } => {
                if samples < 4 {
                    bail!("--samples must be at least 4");
                }
                let sizes = data::fixtures::Sizes { per_split: samples, ..Default::default() };
                for dir in data::fixtures::write_all(&root, seed, sizes)? {
                    writeln!(out, "{}", dir.display())?;
                }
            }
            DataCommand::Labels { which, out: path, ids } => labels(spec, &which, &path, ids.as_deref(), out)?,
            DataCommand::Show { which, index, out: path } => show(spec, &which, index, &path, out)?,
            DataCommand::Check { dataset, split, data_root: r } => {
                check(spec, dataset, &split, &data_root(r.as_deref()), out)?
            }
            DataCommand::Order { which, recipe, set, epoch, seed, format } => {
                order(spec, &which, (&recipe, &set), (epoch, seed), format, out)?
            }
            DataCommand::Inspect { dataset, split, data_root: r } => {
                let mut all = splits(spec, dataset, &split, &data_root(r.as_deref()))?;
                // The protocol's train split first: its frequencies are reported.
                let train = &spec.dataset(dataset).map_err(anyhow::Error::msg)?.protocol.train;
                all.sort_by_key(|s| &s.name != train);
                let refs: Vec<&Split> = all.iter().collect();
                write!(out, "{}", data::inspect::report(&refs))?;
            }
        }
        Ok(())
    }
}

fn labels(
    spec: &Spec,
    which: &Which,
    path: &std::path::Path,
    ids: Option<&std::path::Path>,
    out: &mut dyn Write,
) -> Result<()> {
    let root = data_root(which.data_root.as_deref());
    let s = load_split(spec, which.dataset, &which.split, &root, true)?;
    crate::io::write_atomic(path, |f| {
        s.labels.write_npy(std::io::BufWriter::new(f)).with_context(|| format!("{}: cannot write", path.display()))
    })?;
    if let Some(ids) = ids {
        let text: String = s.samples.iter().map(|x| format!("{}\n", x.id)).collect();
        crate::io::write_text(ids, &text)?;
    }
    let (n, c) = (s.len(), s.classes.len());
    writeln!(out, "{}: {n} x {c} labels of {}/{}", path.display(), which.dataset, s.name)?;
    if !s.dropped_boxes.is_empty() {
        writeln!(out, "({} boxes empty after clipping were dropped)", s.dropped_boxes.len())?;
    }
    Ok(())
}

fn show(spec: &Spec, which: &Which, index: usize, path: &std::path::Path, out: &mut dyn Write) -> Result<()> {
    let root = data_root(which.data_root.as_deref());
    let s = load_split(spec, which.dataset, &which.split, &root, false)?;
    if index >= s.len() {
        bail!("--index {index} is past the end of {}/{} ({} samples)", which.dataset, s.name, s.len());
    }
    let img = sample_image(&s, index)?;
    crate::io::write_atomic(path, |f| {
        img.write_to(&mut std::io::BufWriter::new(f), image::ImageFormat::Png)
            .with_context(|| format!("{}: cannot write", path.display()))
    })?;
    let positives: Vec<&str> =
        (0..s.classes.len()).filter(|&c| s.labels[[index, c]] == 1).map(|c| s.classes[c].as_str()).collect();
    writeln!(
        out,
        "{}: sample {index} (id {}) of {}/{}, {} x {} px; positive: {}",
        path.display(),
        s.samples[index].id,
        which.dataset,
        s.name,
        img.width(),
        img.height(),
        positives.join(", ")
    )?;
    Ok(())
}

fn check(
    spec: &Spec,
    dataset: Dataset,
    split: &Option<String>,
    root: &std::path::Path,
    out: &mut dyn Write,
) -> Result<()> {
    let mut failures = Vec::new();
    let mut total = 0;
    for s in splits(spec, dataset, split, root)? {
        let bad = data::inspect::undecodable(&s, true, format!("checking {dataset}/{}", s.name));
        writeln!(out, "{dataset}/{}: {} of {} samples decode", s.name, s.len() - bad.len(), s.len())?;
        total += s.len();
        failures.extend(bad);
    }
    if !failures.is_empty() {
        for f in failures.iter().take(20) {
            writeln!(out, "  {f}")?;
        }
        bail!(
            "{} of {total} samples of `{dataset}` cannot be read{}",
            failures.len(),
            if failures.len() > 20 { " (first 20 listed)" } else { "" }
        );
    }
    Ok(())
}

/// `twoway data order`: an epoch's batches by replica, as sample ids.
fn order(
    spec: &Spec,
    which: &Which,
    (recipe, set): (&str, &[String]),
    (epoch, seed): (usize, u64),
    format: OutputFormat,
    out: &mut dyn Write,
) -> Result<()> {
    let recipe = crate::grid::plan::recipe(spec, recipe, set)?;
    let root = data_root(which.data_root.as_deref());
    let s = load_split(spec, which.dataset, &which.split, &root, true)?;
    // Training cuts the train split to the recipe's limit first.
    let s = match recipe.max_train_samples {
        Some(n) => s.truncate(n),
        None => s,
    };
    let batches = crate::train::order::batches(&s, &recipe, seed, epoch);
    let mut seen = vec![false; s.len()];
    batches.iter().flatten().flatten().for_each(|&i| seen[i] = true);
    let id = |i: &usize| s.samples[*i].id.clone();
    let ids: Vec<Vec<Vec<String>>> =
        batches.iter().map(|step| step.iter().map(|rep| rep.iter().map(id).collect()).collect()).collect();
    let unused: Vec<String> = (0..s.len()).filter(|i| !seen[*i]).map(|i| id(&i)).collect();
    match format {
        OutputFormat::Json => super::common::print_json(
            out,
            &serde_json::json!({"epoch": epoch, "replicas": recipe.replicas, "batches": ids, "unused": unused}),
        )?,
        OutputFormat::Text => {
            let order = serde_json::to_value(recipe.data_order)?;
            writeln!(
                out,
                "{}/{}: {} samples, epoch {epoch}, data order {}, {} steps of {} replica(s); {} never trained on",
                which.dataset,
                s.name,
                s.len(),
                order.as_str().unwrap_or("?"),
                ids.len(),
                recipe.replicas,
                unused.len()
            )?;
            for (k, step) in ids.iter().enumerate() {
                let reps: Vec<String> = step.iter().map(|r| r.join(" ")).collect();
                writeln!(out, "step {k}: {}", reps.join(" | "))?;
            }
            if !unused.is_empty() {
                writeln!(out, "never trained on: {}", unused.join(" "))?;
            }
        }
    }
    Ok(())
}
