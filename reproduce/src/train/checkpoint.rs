//! Checkpoints of a cell in training: everything the rest of the run depends on, so that a cell resumed
//! from one finishes bit-identical (on CPU, same threads) to an uninterrupted run: every model variable
//! (BatchNorm statistics included), the optimiser's momentum buffers, the loss scaler, where in the data
//! order the run stands (epoch, iteration; the order and the augmentations are keyed by seed and epoch, so
//! they need no generator state) and the epochs done so far.
//!
//! On disk, beside the cell's result: `seed<k>.ckpt.json` (the state, and the name of its tensor file) and
//! `seed<k>.ckpt-e<epoch>-i<iteration>.safetensors`. The tensors are written first, the JSON then replaces
//! the previous one atomically, and only then is the previous tensor file removed, so a kill at any moment
//! leaves one complete checkpoint.

use super::model::Model;
use super::scaler::LossScaler;
use crate::results::{CellId, Epoch};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use tch::Tensor;

pub const FORMAT: &str = "twoway-checkpoint-v1";

/// Where a run stands, apart from the tensors.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct State {
    pub format: String,
    /// The configuration hash of the cell it belongs to.
    pub config_hash: String,
    /// The epoch in progress (0-based) and its next iteration; (e, 0) at an epoch's start.
    pub epoch: usize,
    pub iteration: usize,
    /// Sum of the training losses of the epoch's iterations done so far.
    pub loss_sum: f64,
    /// The learning rate of the head at the last iteration done.
    pub lr_head: f64,
    pub epochs: Vec<Epoch>,
    pub scaler: Option<LossScaler>,
    pub skipped: usize,
    /// The tensor file, in the same folder.
    pub tensors: String,
}

/// The checkpoint file of a cell.
pub fn path(id: &CellId, out: &Path) -> PathBuf {
    id.checkpoint_path(out)
}

/// Saves `model` and `state` (its `tensors` field is filled in here).
pub fn save(id: &CellId, out: &Path, model: &Model, mut state: State) -> Result<()> {
    let dir = id.dir(out);
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let name = id.checkpoint_tensors(state.epoch, state.iteration);
    let file = dir.join(&name);
    let mut named: Vec<(String, Tensor)> =
        model.vs.variables().into_iter().map(|(n, t)| (format!("var/{n}"), t.to_device(tch::Device::Cpu))).collect();
    named
        .extend(model.opt.buffers().into_iter().map(|(n, t)| (format!("momentum/{n}"), t.to_device(tch::Device::Cpu))));
    let tmp = crate::io::temp_path(&file);
    Tensor::write_safetensors(&named, &tmp).map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", tmp.display()))?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, &file).with_context(|| format!("{}: cannot move into place", file.display()))?;
    let previous = read_state(id, out).ok().map(|s| s.tensors);
    state.tensors = name.clone();
    crate::io::write_text(&path(id, out), &(serde_json::to_string_pretty(&state)? + "\n"))?;
    if let Some(p) = previous.filter(|p| *p != name) {
        let _ = std::fs::remove_file(dir.join(p));
    }
    Ok(())
}

/// The state of a cell's checkpoint.
pub fn read_state(id: &CellId, out: &Path) -> Result<State> {
    let p = path(id, out);
    let bytes = std::fs::read(&p).with_context(|| format!("{}: cannot read", p.display()))?;
    let s: State =
        serde_json::from_slice(&bytes).with_context(|| format!("{}: not a twoway checkpoint", p.display()))?;
    if s.format != FORMAT {
        bail!("{}: format `{}`, expected `{FORMAT}`", p.display(), s.format);
    }
    Ok(s)
}

/// Restores `model` from a cell's checkpoint; returns its state.
pub fn restore(id: &CellId, out: &Path, model: &mut Model) -> Result<State> {
    let state = read_state(id, out)?;
    let file = id.dir(out).join(&state.tensors);
    let tensors =
        Tensor::read_safetensors(&file).map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", file.display()))?;
    let vars = model.vs.variables();
    let mut momentum = Vec::new();
    let mut restored = 0;
    tch::no_grad(|| -> Result<()> {
        for (name, t) in tensors {
            if let Some(v) = name.strip_prefix("var/") {
                let Some(var) = vars.get(v) else { bail!("{}: `{v}` is not a variable of the model", file.display()) };
                if var.size() != t.size() {
                    bail!("{}: `{v}` has shape {:?}, the model's {:?}", file.display(), t.size(), var.size());
                }
                var.shallow_clone().copy_(&t);
                restored += 1;
            } else if let Some(m) = name.strip_prefix("momentum/") {
                momentum.push((m.to_string(), t));
            }
        }
        Ok(())
    })?;
    if restored != vars.len() {
        bail!("{}: {restored} of the model's {} variables", file.display(), vars.len());
    }
    model.opt.set_buffers(momentum).with_context(|| file.display().to_string())?;
    model.scaler = state.scaler.clone();
    model.skipped = state.skipped;
    Ok(state)
}

/// Removes a cell's checkpoint (its JSON and tensor files).
pub fn remove(id: &CellId, out: &Path) {
    let dir = id.dir(out);
    let prefix = id.checkpoint_prefix();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}
