//! The results folder's layout, in one place: which folder a cell's files live in and what each is called.
//! Every module that reads or writes a results folder (results, lease, checkpoint, plan, runner, status)
//! takes its names from here, so existing folders and SLURM scripts stay valid as long as this file does.
//!
//! ```text
//! OUT/<dataset>/<backbone>/<loss>[-<way>][/<variant>]/
//!     seed<k>.json                        the result (published once, never overwritten)
//!     seed<k>.claim                       the lease of the process training it
//!     seed<k>.ckpt.json                   the checkpoint's state, naming its tensor file:
//!     seed<k>.ckpt-e<E>-i<I>.safetensors
//!     seed<k>.failed                      the failure record of its last training
//!     seed<k>.log                         one line per event (start, epochs, reclaims, end)
//!     seed<k>.scores.npy                  with `--save-scores`: the final eval scores (f32 logits),
//!     seed<k>.targets.npy, seed<k>.ids.txt  its targets (int8) and sample ids, one per row
//!     seed<k>/events.out.tfevents.*       its TensorBoard run (`tensorboard --logdir OUT`)
//! OUT/plots/    OUT/.workers/    OUT/slurm/
//! OUT/noise/<setting>/...               `twoway noise`'s reruns, one results folder per kernel setting
//! OUT/noise/<dataset>.<backbone>.<recipe>.json   the spread it measured for that column
//! ```
//!
//! Invariants: a cell's files all start with `seed<k>.`, so a name tells its cell and its kind
//! ([`FileKind::of`]); the result is the only `seed<k>.json` (what [`crate::results::load_dir`] reads).
//! Tested below and, through the binary, in `tests/cli_cells.rs` and `tests/slurm.rs`.

use std::path::{Path, PathBuf};
use twoway_spec::{Backbone, CellKey, Dataset, Loss, Metric, Way};

/// The folder of the plots (`twoway plots`, the end of `twoway run`), skipped when results are read.
pub const PLOTS: &str = "plots";
/// The folder of `twoway noise`: its reruns under each kernel setting and the spreads it measured,
/// skipped when results are read.
pub const NOISE: &str = "noise";
/// The folder of the worker processes' logs (`--workers`, `--devices`).
pub const WORKERS: &str = ".workers";
/// The folder of the SLURM scripts and their logs.
pub const SLURM: &str = "slurm";

/// The extensions of a cell's files after `seed<k>.`.
pub const RESULT: &str = "json";
pub const CLAIM: &str = "claim";
pub const CHECKPOINT: &str = "ckpt.json";
pub const FAILED: &str = "failed";
pub const LOG: &str = "log";
/// `--save-scores`: the final evaluation's scores, targets and sample ids.
pub const SCORES: &str = "scores.npy";
pub const TARGETS: &str = "targets.npy";
pub const IDS: &str = "ids.txt";

/// The file `seed<seed>.<ext>` of the cell folder `dir`.
pub fn seed_file(dir: &Path, seed: u64, ext: &str) -> PathBuf {
    dir.join(format!("seed{seed}.{ext}"))
}

/// Which cell a result belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct CellId {
    pub dataset: Dataset,
    pub backbone: Backbone,
    pub loss: Loss,
    /// The way of the set-based losses; `None` for the element-wise ones.
    pub way: Option<Way>,
    /// The values of a grid's swept recipe keys (`batch_size=32`); `None` outside a sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub seed: u64,
}

impl CellId {
    /// The folder of its files: `<dataset>/<backbone>/<loss>[-<way>][/<variant>]` under `root`.
    pub fn dir(&self, root: &Path) -> PathBuf {
        let run = match self.way {
            Some(w) => format!("{}-{w}", self.loss),
            None => self.loss.to_string(),
        };
        let dir = root.join(self.dataset.as_str()).join(self.backbone.as_str()).join(run);
        match &self.variant {
            Some(v) => dir.join(v.replace(['/', ','], "_")),
            None => dir,
        }
    }

    /// Its result file: `seed<k>.json`.
    pub fn path(&self, root: &Path) -> PathBuf {
        self.file(root, RESULT)
    }

    /// Its lease: `seed<k>.claim`.
    pub fn claim_path(&self, root: &Path) -> PathBuf {
        self.file(root, CLAIM)
    }

    /// Its failure record: `seed<k>.failed`.
    pub fn failed_path(&self, root: &Path) -> PathBuf {
        self.file(root, FAILED)
    }

    /// Its saved evaluation (`--save-scores`): scores, targets and sample ids.
    pub fn scores_paths(&self, root: &Path) -> [PathBuf; 3] {
        [self.file(root, SCORES), self.file(root, TARGETS), self.file(root, IDS)]
    }

    /// Its checkpoint's state: `seed<k>.ckpt.json`.
    pub fn checkpoint_path(&self, root: &Path) -> PathBuf {
        self.file(root, CHECKPOINT)
    }

    /// The name (in [`CellId::dir`]) of its checkpoint's tensors after `iteration` of `epoch`.
    pub fn checkpoint_tensors(&self, epoch: usize, iteration: usize) -> String {
        format!("seed{}.ckpt-e{epoch}-i{iteration}.safetensors", self.seed)
    }

    /// The prefix every checkpoint file of the cell starts with.
    pub fn checkpoint_prefix(&self) -> String {
        format!("seed{}.ckpt", self.seed)
    }

    /// Its log: `seed<k>.log`.
    pub fn log_path(&self, root: &Path) -> PathBuf {
        self.file(root, LOG)
    }

    /// Its TensorBoard run: the folder `seed<k>` beside its result, so that `tensorboard --logdir OUT` names
    /// the run after the cell (`embedded/tiny/twoway-both/seed0`).
    pub fn events_dir(&self, root: &Path) -> PathBuf {
        self.dir(root).join(format!("seed{}", self.seed))
    }

    fn file(&self, root: &Path, ext: &str) -> PathBuf {
        seed_file(&self.dir(root), self.seed, ext)
    }

    pub fn label(&self) -> String {
        let way = self.way.map(|w| format!("/{w}")).unwrap_or_default();
        let variant = self.variant.as_ref().map(|v| format!("/{v}")).unwrap_or_default();
        format!("{}/{}/{}{way}{variant}/seed{}", self.dataset, self.backbone, self.loss, self.seed)
    }

    /// Its key in the paper's tables for `metric` (a variant has none: it is not a cell of the paper).
    pub fn key(&self, metric: Metric) -> CellKey {
        CellKey { dataset: self.dataset, backbone: self.backbone, loss: self.loss, way: self.way, metric }
    }
}

/// What a file of a cell's folder is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    Result,
    Claim,
    Checkpoint,
    Failed,
}

impl FileKind {
    /// The kind of a file name (`None` for logs, checkpoint tensors, temporaries and anything else).
    pub fn of(name: &str) -> Option<FileKind> {
        let rest = name.strip_prefix("seed")?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let ext = rest[digits..].strip_prefix('.')?;
        [
            (RESULT, FileKind::Result),
            (CLAIM, FileKind::Claim),
            (CHECKPOINT, FileKind::Checkpoint),
            (FAILED, FileKind::Failed),
        ]
        .into_iter()
        .find_map(|(e, kind)| (e == ext).then_some(kind))
    }
}

/// Where a cell stands in a results folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CellStatus {
    /// Its result is there (with this configuration).
    Done,
    /// A live process holds its lease.
    Running,
    /// A checkpoint is there and nobody holds the cell: `--resume` continues it.
    Partial,
    /// Its last training failed (`seed<k>.failed`).
    Failed,
    Todo,
    /// A result of another configuration is there.
    Stale,
}

impl CellStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CellStatus::Done => "done",
            CellStatus::Running => "running",
            CellStatus::Partial => "partial",
            CellStatus::Failed => "failed",
            CellStatus::Todo => "todo",
            CellStatus::Stale => "stale",
        }
    }
}

/// The failure record of a cell (`seed<k>.failed`): why its last training stopped, where and when.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Failure {
    pub error: String,
    pub host: String,
    pub pid: u32,
    pub time: f64,
}

impl Failure {
    /// A failure of this process, now.
    pub fn here(error: String) -> Failure {
        Failure { error, host: crate::host::hostname(), pid: std::process::id(), time: crate::host::now() }
    }

    /// Writes it (atomically) as the cell's failure record.
    pub fn write(&self, id: &CellId, root: &Path) -> anyhow::Result<()> {
        crate::io::write_text(&id.failed_path(root), &serde_json::to_string(self)?)
    }

    /// The error of a failure record; `None` when there is none or it is unreadable.
    pub fn read_error(path: &Path) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        v["error"].as_str().map(String::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_a_cell_is_named_after_its_seed_in_its_folder() {
        let id = CellId {
            dataset: Dataset::Embedded,
            backbone: Backbone::Tiny,
            loss: Loss::Twoway,
            way: Some(Way::Both),
            variant: Some("batch_size=32".into()),
            seed: 4,
        };
        let root = Path::new("/r");
        let dir = Path::new("/r/embedded/tiny/twoway-both/batch_size=32");
        assert_eq!(id.dir(root), dir);
        let files = [
            (id.path(root), "seed4.json", Some(FileKind::Result)),
            (id.claim_path(root), "seed4.claim", Some(FileKind::Claim)),
            (id.failed_path(root), "seed4.failed", Some(FileKind::Failed)),
            (id.checkpoint_path(root), "seed4.ckpt.json", Some(FileKind::Checkpoint)),
            (id.log_path(root), "seed4.log", None),
            (dir.join(id.checkpoint_tensors(2, 7)), "seed4.ckpt-e2-i7.safetensors", None),
        ];
        for (path, name, kind) in files {
            assert_eq!(path, dir.join(name));
            assert_eq!(FileKind::of(name), kind, "{name}");
            assert!(name.starts_with(&id.checkpoint_prefix()) == name.contains("ckpt"), "{name}");
        }
        for other in ["seed.json", "seedx.json", ".seed0.json.tmp12", "seed0.json.reclaim3", "table.json"] {
            assert_eq!(FileKind::of(other), None, "{other}");
        }
    }
}
