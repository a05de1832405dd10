//! Result files: one JSON per grid cell (dataset, backbone, loss, way, variant, seed), published once and
//! never overwritten, and the reading side: every result under a folder, summarised over seeds into the
//! paper's table cells. A result holds its configuration (what identifies it: loss, recipe, data, weights,
//! seed) and, beside it, its provenance (versions, device, threads, wall time, numerics fingerprint), which
//! does not enter the configuration hash. Where the files live is [`crate::layout`]. Tested in
//! `tests/torch_free.rs` and `tests/fuzz_regressions.rs` (parsing), and by every `twoway run` test.

pub use crate::layout::CellId;
use crate::layout::{FileKind, NOISE, PLOTS};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use twoway_spec::{CellKey, Metric};

pub const FORMAT: &str = "twoway-result-v1";

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Epoch {
    pub epoch: usize,
    /// Mean training loss over the epoch's iterations.
    pub train_loss: f64,
    pub map_class: Option<f64>,
    pub map_sample: Option<f64>,
    /// Learning rate of the head at the epoch's last iteration.
    pub lr_head: f64,
    pub seconds: f64,
}

/// The outcome of a cell: the final metrics are the last epoch's mAP with its thresholded metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Trained {
    pub epochs: Vec<Epoch>,
    pub metrics: Metrics,
    /// The last epoch's scores of the eval split (samples in split order, logits as f32).
    pub scores: Option<ndarray::Array2<f32>>,
    /// The thresholds tuned on the held-out slice, if any.
    pub tuning: Option<Tuning>,
}

/// The final evaluation's metrics (0-100). The thresholded ones are absent from results made before twoway
/// recorded them; the tuned ones need the recipe's `holdout` slice.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    pub map_class: Option<f64>,
    pub map_sample: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cf1: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of1: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cf1_top3: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of1_top3: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cf1_tuned: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of1_tuned: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cf1_tuned_class: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of1_tuned_class: Option<f64>,
}

impl Metrics {
    /// The value of `m`.
    pub fn of(&self, m: Metric) -> Option<f64> {
        match m {
            Metric::MapClass => self.map_class,
            Metric::MapSample => self.map_sample,
            Metric::Cf1 => self.cf1,
            Metric::Of1 => self.of1,
            Metric::Cf1Top3 => self.cf1_top3,
            Metric::Of1Top3 => self.of1_top3,
            Metric::Cf1Tuned => self.cf1_tuned,
            Metric::Of1Tuned => self.of1_tuned,
            Metric::Cf1TunedClass => self.cf1_tuned_class,
            Metric::Of1TunedClass => self.of1_tuned_class,
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Versions {
    pub twoway: String,
    pub libtorch: String,
}

/// One cell's result file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultFile {
    pub format: String,
    pub cell: CellId,
    /// The final metrics (the last epoch's).
    pub metrics: Metrics,
    pub epochs: Vec<Epoch>,
    /// What identifies the result: loss, recipe, data, backbone, seed (threads, device and the numerics
    /// fingerprint are provenance, beside it).
    pub config: serde_json::Value,
    /// SHA-256 of the canonical JSON of `config`.
    pub config_hash: String,
    pub versions: Versions,
    pub device: String,
    pub threads: usize,
    pub wall_seconds: f64,
    /// What decided the arithmetic (mode, kernel choices, CPU, versions, threads, device); absent in
    /// results made before twoway recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerics: Option<crate::numerics::Fingerprint>,
    /// The thresholds tuned on the recipe's held-out slice (absent without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning: Option<Tuning>,
}

/// The thresholds the tuned metrics used, as probabilities (`metrics.yaml`, `thresholded.tuning`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tuning {
    /// Samples held out of the train split and tuned on.
    pub held_out: usize,
    /// The one threshold that maximised OF1 there.
    pub threshold: f64,
    /// Each class's threshold that maximised its F1 there (0.5 for a class without a positive there).
    pub thresholds: Vec<f64>,
    /// The same thresholds on the scores' scale (logits), as applied: a probability far in the tails does
    /// not convert back exactly.
    pub cut: f64,
    pub cuts: Vec<f64>,
}

/// SHA-256 (hex) of a JSON value's canonical text (keys sorted, as serde_json's maps are).
pub fn hash(config: &serde_json::Value) -> String {
    use sha2::Digest;
    let text = serde_json::to_string(config).expect("json");
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl ResultFile {
    pub fn read(path: &Path) -> Result<ResultFile> {
        let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
        ResultFile::parse(&bytes, path)
    }

    /// Parses and checks the bytes of a result file (`path` names it in errors).
    pub fn parse(bytes: &[u8], path: &Path) -> Result<ResultFile> {
        let r: ResultFile =
            serde_json::from_slice(bytes).with_context(|| format!("{}: not a twoway result file", path.display()))?;
        if r.format != FORMAT {
            bail!("{}: format `{}`, expected `{FORMAT}`", path.display(), r.format);
        }
        if hash(&r.config) != r.config_hash {
            bail!("{}: config_hash does not match its config (edited or corrupt)", path.display());
        }
        Ok(r)
    }

    /// Writes the result unless one is already there (checked atomically, by a hard link): `Ok(false)` when
    /// another process published this cell first. A finished result is never overwritten.
    pub fn publish(&self, root: &Path) -> Result<bool> {
        let path = self.cell.path(root);
        std::fs::create_dir_all(path.parent().unwrap())
            .with_context(|| format!("{}: cannot create", path.display()))?;
        crate::io::create_new(&path, (serde_json::to_string_pretty(self)? + "\n").as_bytes())
            .with_context(|| format!("{}: cannot publish", path.display()))
    }

    pub fn write(&self, root: &Path) -> Result<PathBuf> {
        let path = self.cell.path(root);
        std::fs::create_dir_all(path.parent().unwrap())
            .with_context(|| format!("{}: cannot create", path.display()))?;
        crate::io::write_text(&path, &(serde_json::to_string_pretty(self)? + "\n"))?;
        Ok(path)
    }

    /// The metric's final value.
    pub fn metric(&self, m: Metric) -> Option<f64> {
        self.metrics.of(m)
    }
}

/// Every result file (`seed<k>.json`) under `root` (recursively; the `plots` and `noise` folders are
/// skipped). A folder with no result is an error, naming it. A (cell, seed) found twice (two copies of a
/// run under one folder) is counted once when the two files hold the same result, with a note on stderr
/// naming both; two different results for one (cell, seed) are an error naming both files.
pub fn load_dir(root: &Path) -> Result<Vec<(PathBuf, ResultFile)>> {
    if !root.is_dir() {
        bail!("{}: no such results folder (run `twoway run --out {}` first)", root.display(), root.display());
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("{}: cannot list", dir.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        entries.sort();
        for p in entries {
            let name = p.file_name().unwrap_or_default().to_string_lossy().to_string();
            if p.is_dir() {
                if name != PLOTS && name != NOISE {
                    stack.push(p);
                }
            } else if FileKind::of(&name) == Some(FileKind::Result) {
                let r = ResultFile::read(&p)?;
                out.push((p, r));
            }
        }
    }
    if out.is_empty() {
        bail!("{}: no result files (*.json) under this folder", root.display());
    }
    out.sort_by(|a, b| a.1.cell.cmp(&b.1.cell).then_with(|| a.0.cmp(&b.0)));
    let (kept, notes) = dedup(out)?;
    for n in notes {
        eprintln!("note: {n}");
    }
    Ok(kept)
}

/// A result file and where it was read.
pub type Loaded = (PathBuf, ResultFile);

/// Results sorted by cell, each (cell, seed) once: a second file with the same result is dropped (and
/// named in a note); a second file with another result is an error naming both.
pub fn dedup(sorted: Vec<Loaded>) -> Result<(Vec<Loaded>, Vec<String>)> {
    let mut kept: Vec<Loaded> = Vec::with_capacity(sorted.len());
    let mut notes = Vec::new();
    for (path, r) in sorted {
        match kept.last() {
            Some((first, k)) if k.cell == r.cell => {
                if *k != r {
                    bail!(
                        "{} and {} are two different results of {}: a (cell, seed) may be counted once; move one \
                         of them out of the results folder",
                        first.display(),
                        path.display(),
                        r.cell.label()
                    );
                }
                notes.push(format!(
                    "{} and {} hold the same result of {}: counted once",
                    first.display(),
                    path.display(),
                    r.cell.label()
                ));
            }
            _ => kept.push((path, r)),
        }
    }
    Ok((kept, notes))
}

/// One table cell over its seeds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    pub mean: f64,
    /// The sample standard deviation over the seeds (`None` with one seed).
    pub sd: Option<f64>,
    /// (seed, value) of every seed, in seed order.
    pub values: Vec<(u64, f64)>,
}

impl Summary {
    pub fn n(&self) -> usize {
        self.values.len()
    }
}

/// Summarises values over seeds: mean, sample sd (n - 1 in the denominator).
pub fn summary(mut values: Vec<(u64, f64)>) -> Summary {
    values.sort_by_key(|v| v.0);
    let n = values.len() as f64;
    let mean = values.iter().map(|v| v.1).sum::<f64>() / n;
    let sd = (values.len() > 1).then(|| (values.iter().map(|v| (v.1 - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    Summary { mean, sd, values }
}

/// Table cells from results: every (dataset, backbone, loss, way, metric) over its seeds. Results of a
/// sweep's variants are not cells of the paper's tables and are left out.
pub fn summarize(results: &[(PathBuf, ResultFile)]) -> BTreeMap<CellKey, Summary> {
    let mut acc: BTreeMap<CellKey, Vec<(u64, f64)>> = BTreeMap::new();
    for (_, r) in results.iter().filter(|(_, r)| r.cell.variant.is_none()) {
        for m in Metric::ALL {
            if let Some(v) = r.metric(*m) {
                acc.entry(r.cell.key(*m)).or_default().push((r.cell.seed, v));
            }
        }
    }
    acc.into_iter().map(|(k, v)| (k, summary(v))).collect()
}

/// The distinct numerics fingerprints of some results, in first-seen order (`None` for results without one).
pub fn fingerprints(results: &[(PathBuf, ResultFile)]) -> Vec<Option<crate::numerics::Fingerprint>> {
    let mut out: Vec<Option<crate::numerics::Fingerprint>> = Vec::new();
    for (_, r) in results {
        if !out.contains(&r.numerics) {
            out.push(r.numerics.clone());
        }
    }
    out
}

/// Table cells from results, averaged over seeds (see [`summarize`]).
pub fn aggregate(results: &[(PathBuf, ResultFile)]) -> BTreeMap<CellKey, f64> {
    summarize(results).into_iter().map(|(k, s)| (k, s.mean)).collect()
}
