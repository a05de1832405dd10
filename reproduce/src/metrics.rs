//! mAP@class and mAP@sample of given scores (`twoway map`): scores and targets read from `.npy` / JSON
//! files in their own element types (f32 scores and int8 / f32 targets are not widened, so the ranking is
//! the file's), one shape, the AP options of the spec (ties, denominator). Tested in `tests/cli_eval.rs`
//! and `tests/cli_oracle.rs` (against an independent implementation).

use crate::io;
use crate::loss::{blame, same_shape};
use anyhow::Result;
use std::path::Path;
use twoway_reference::{evaluate, evaluate_as, ApOptions, MapReport, RefError};

/// mAP of scores and targets as their files hold them (f32 scores and int8 / f32 targets are not widened).
fn map_report(scores: &io::Scores, targets: &io::Targets, opts: ApOptions) -> Result<MapReport, RefError> {
    use io::{Scores as S, Targets as T};
    match (scores, targets) {
        (S::F64(s), T::F64(t)) => evaluate(s.view(), t.view(), opts),
        (S::F64(s), T::F32(t)) => evaluate_as(s.view(), t.view(), opts),
        (S::F64(s), T::I8(t)) => evaluate_as(s.view(), t.view(), opts),
        (S::F32(s), T::F64(t)) => evaluate_as(s.view(), t.view(), opts),
        (S::F32(s), T::F32(t)) => evaluate_as(s.view(), t.view(), opts),
        (S::F32(s), T::I8(t)) => evaluate_as(s.view(), t.view(), opts),
    }
}

/// mAP@class and mAP@sample of the scores file against the targets file.
pub fn map_files(scores: &Path, targets: &Path, opts: ApOptions) -> Result<MapReport> {
    let (s, y) = (io::read_scores(scores)?, io::read_targets(targets)?);
    same_shape((scores, s.dim()), (targets, y.dim()))?;
    map_report(&s, &y, opts).map_err(|e| blame(e, scores, targets))
}
