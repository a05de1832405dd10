//! mAP@class and mAP@sample of given scores (`twoway map`): scores and targets read from `.npy` / JSON
//! files in their own element types (f32 scores and int8 / f32 targets are not widened, so the ranking is
//! the file's), one shape, the AP options of the spec (ties, denominator). A little-endian `.npy` is
//! memory-mapped and read in place, without a copy; other files are parsed. Tested in `tests/cli_eval.rs`
//! and `tests/cli_oracle.rs` (against an independent implementation), and by the Python package's tests
//! (peak memory).

use crate::io;
use crate::loss::{blame, same_shape};
use anyhow::{Context, Result};
use ndarray::ArrayView2;
use ndarray_npy::ViewNpyExt;
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

/// A `.npy` file mapped into memory (read only); `None` for any other file, or an empty one.
fn map_npy(path: &Path) -> Result<Option<memmap2::Mmap>> {
    let file = std::fs::File::open(path).with_context(|| format!("{}: cannot read", path.display()))?;
    if file.metadata().map(|m| m.len()).unwrap_or(0) < 16 {
        return Ok(None);
    }
    // SAFETY: the map is only read. A file that another process changes while twoway reads it gives
    // wrong numbers or an error, as reading it into memory at that moment would.
    let map = unsafe { memmap2::Mmap::map(&file) }.with_context(|| format!("{}: cannot map", path.display()))?;
    Ok(map.starts_with(b"\x93NUMPY").then_some(map))
}

/// A non-empty 2-D view of the mapped `.npy` when its element type is `T`.
fn view<T: ndarray_npy::ViewElement>(bytes: &[u8]) -> Option<ArrayView2<'_, T>> {
    ArrayView2::<T>::view_npy(bytes).ok().filter(|a| a.nrows() > 0 && a.ncols() > 0)
}

/// mAP of two mapped `.npy` files read in place; `None` when a file's type or layout is not one read so
/// (a big-endian file, another element type), which the parsing path then handles.
fn map_in_place(s: &[u8], t: &[u8], paths: (&Path, &Path), opts: ApOptions) -> Option<Result<MapReport>> {
    macro_rules! with_targets {
        ($sv:expr) => {{
            let sv = $sv;
            let run = |dim: (usize, usize), r: Result<MapReport, RefError>| -> Result<MapReport> {
                same_shape((paths.0, sv.dim()), (paths.1, dim))?;
                r.map_err(|e| blame(e, paths.0, paths.1))
            };
            if let Some(tv) = view::<i8>(t) {
                return Some(run(tv.dim(), evaluate_as(sv, tv, opts)));
            }
            if let Some(tv) = view::<f32>(t) {
                return Some(run(tv.dim(), evaluate_as(sv, tv, opts)));
            }
            if let Some(tv) = view::<f64>(t) {
                return Some(run(tv.dim(), evaluate_as(sv, tv, opts)));
            }
            if let Some(tv) = view::<bool>(t) {
                return Some(run(tv.dim(), evaluate_as(sv, tv, opts)));
            }
            None
        }};
    }
    if let Some(sv) = view::<f32>(s) {
        with_targets!(sv)
    } else if let Some(sv) = view::<f64>(s) {
        with_targets!(sv)
    } else {
        None
    }
}

/// mAP@class and mAP@sample of the scores file against the targets file.
pub fn map_files(scores: &Path, targets: &Path, opts: ApOptions) -> Result<MapReport> {
    if let (Some(s), Some(t)) = (map_npy(scores)?, map_npy(targets)?) {
        if let Some(r) = map_in_place(&s, &t, (scores, targets), opts) {
            return r;
        }
    }
    let (s, y) = (io::read_scores(scores)?, io::read_targets(targets)?);
    same_shape((scores, s.dim()), (targets, y.dim()))?;
    map_report(&s, &y, opts).map_err(|e| blame(e, scores, targets))
}
