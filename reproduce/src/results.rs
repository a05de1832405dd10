//! Result files: one JSON per grid cell (dataset, backbone, loss, way, seed), written atomically, and the
//! reading side: every result under a folder, averaged over seeds into table cells.

use crate::train::Epoch;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use twoway_spec::{Backbone, CellKey, Dataset, Loss, Metric, Way};

pub const FORMAT: &str = "twoway-result-v1";

/// Which cell a result belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct CellId {
    pub dataset: Dataset,
    pub backbone: Backbone,
    pub loss: Loss,
    /// The way of the set-based losses; `None` for the element-wise ones.
    pub way: Option<Way>,
    pub seed: u64,
}

impl CellId {
    /// Its file under a results folder: `<dataset>/<backbone>/<loss>[-<way>]/seed<k>.json`.
    pub fn path(&self, root: &Path) -> PathBuf {
        let run = match self.way {
            Some(w) => format!("{}-{w}", self.loss),
            None => self.loss.to_string(),
        };
        root.join(self.dataset.as_str()).join(self.backbone.as_str()).join(run).join(format!("seed{}.json", self.seed))
    }

    pub fn label(&self) -> String {
        let way = self.way.map(|w| format!("/{w}")).unwrap_or_default();
        format!("{}/{}/{}{way}/seed{}", self.dataset, self.backbone, self.loss, self.seed)
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    pub map_class: Option<f64>,
    pub map_sample: Option<f64>,
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
    /// Everything that determines the result: loss, recipe, data, backbone, seed, threads, device.
    pub config: serde_json::Value,
    /// SHA-256 of the canonical JSON of `config`.
    pub config_hash: String,
    pub versions: Versions,
    pub device: String,
    pub threads: usize,
    pub wall_seconds: f64,
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
        let r: ResultFile =
            serde_json::from_slice(&bytes).with_context(|| format!("{}: not a twoway result file", path.display()))?;
        if r.format != FORMAT {
            bail!("{}: format `{}`, expected `{FORMAT}`", path.display(), r.format);
        }
        if hash(&r.config) != r.config_hash {
            bail!("{}: config_hash does not match its config (edited or corrupt)", path.display());
        }
        Ok(r)
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
        match m {
            Metric::MapClass => self.metrics.map_class,
            Metric::MapSample => self.metrics.map_sample,
        }
    }
}

/// Every result file under `root` (recursively; files not ending in `.json`, and the `plots` folder, are
/// skipped). A folder with no result is an error, naming it.
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
                if name != "plots" {
                    stack.push(p);
                }
            } else if name.ends_with(".json") && !name.starts_with('.') {
                let r = ResultFile::read(&p)?;
                out.push((p, r));
            }
        }
    }
    if out.is_empty() {
        bail!("{}: no result files (*.json) under this folder", root.display());
    }
    out.sort_by_key(|(_, r)| r.cell);
    Ok(out)
}

/// Table cells from results: every (dataset, backbone, loss, way, metric), averaged over seeds.
pub fn aggregate(results: &[(PathBuf, ResultFile)]) -> BTreeMap<CellKey, f64> {
    let mut acc: BTreeMap<CellKey, (f64, usize)> = BTreeMap::new();
    for (_, r) in results {
        for m in Metric::ALL {
            if let Some(v) = r.metric(*m) {
                let c = r.cell;
                let key = CellKey { dataset: c.dataset, backbone: c.backbone, loss: c.loss, way: c.way, metric: *m };
                let e = acc.entry(key).or_insert((0.0, 0));
                e.0 += v;
                e.1 += 1;
            }
        }
    }
    acc.into_iter().map(|(k, (s, n))| (k, s / n as f64)).collect()
}
