//! Metrics of given scores (`twoway map`, `twoway metrics`): scores and targets read from `.npy` / JSON
//! files in their own element types (f32 scores and int8 / f32 targets are not widened, so the ranking is
//! the file's), one shape. A little-endian `.npy` is memory-mapped and read in place, without a copy;
//! other files are parsed. A [`Job`] is what runs on the two matrices (mAP, the thresholded metrics,
//! threshold tuning). Tested in `tests/cli_eval.rs`, `tests/cli_metrics.rs` and `tests/cli_oracle.rs`
//! (against independent implementations), and by the Python package's tests (peak memory).

use crate::io;
use crate::loss::{blame, same_shape};
use anyhow::{Context, Result};
use ndarray::ArrayView2;
use ndarray_npy::ViewNpyExt;
use std::path::Path;
use twoway_reference::{evaluate_as, ApOptions, Label, MapReport, RefError, Score};

/// A computation over a score matrix and its targets, in their files' element types.
pub trait Job {
    type Out;
    fn run<S: Score, L: Label>(&self, scores: ArrayView2<S>, targets: ArrayView2<L>) -> Result<Self::Out, RefError>;
}

/// mAP@class and mAP@sample.
pub struct Map(pub ApOptions);

impl Job for Map {
    type Out = MapReport;
    fn run<S: Score, L: Label>(&self, s: ArrayView2<S>, t: ArrayView2<L>) -> Result<MapReport, RefError> {
        evaluate_as(s, t, self.0)
    }
}

/// The job on matrices as their files hold them (f32 scores and int8 / f32 targets are not widened).
fn run_parsed<J: Job>(scores: &io::Scores, targets: &io::Targets, job: &J) -> Result<J::Out, RefError> {
    use io::{Scores as S, Targets as T};
    match (scores, targets) {
        (S::F64(s), T::F64(t)) => job.run(s.view(), t.view()),
        (S::F64(s), T::F32(t)) => job.run(s.view(), t.view()),
        (S::F64(s), T::I8(t)) => job.run(s.view(), t.view()),
        (S::F32(s), T::F64(t)) => job.run(s.view(), t.view()),
        (S::F32(s), T::F32(t)) => job.run(s.view(), t.view()),
        (S::F32(s), T::I8(t)) => job.run(s.view(), t.view()),
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

/// The job on two mapped `.npy` files read in place; `None` when a file's type or layout is not one read
/// so (a big-endian file, another element type), which the parsing path then handles.
fn run_in_place<J: Job>(s: &[u8], t: &[u8], paths: (&Path, &Path), job: &J) -> Option<Result<J::Out>> {
    macro_rules! with_targets {
        ($sv:expr) => {{
            let sv = $sv;
            let checked = |dim: (usize, usize), r: Result<J::Out, RefError>| -> Result<J::Out> {
                same_shape((paths.0, sv.dim()), (paths.1, dim))?;
                r.map_err(|e| blame(e, paths.0, paths.1))
            };
            if let Some(tv) = view::<i8>(t) {
                return Some(checked(tv.dim(), job.run(sv, tv)));
            }
            if let Some(tv) = view::<f32>(t) {
                return Some(checked(tv.dim(), job.run(sv, tv)));
            }
            if let Some(tv) = view::<f64>(t) {
                return Some(checked(tv.dim(), job.run(sv, tv)));
            }
            if let Some(tv) = view::<bool>(t) {
                return Some(checked(tv.dim(), job.run(sv, tv)));
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

/// Runs the job on the scores file and the targets file.
pub fn run_files<J: Job>(scores: &Path, targets: &Path, job: &J) -> Result<J::Out> {
    if let (Some(s), Some(t)) = (map_npy(scores)?, map_npy(targets)?) {
        if let Some(r) = run_in_place(&s, &t, (scores, targets), job) {
            return r;
        }
    }
    let (s, y) = (io::read_scores(scores)?, io::read_targets(targets)?);
    same_shape((scores, s.dim()), (targets, y.dim()))?;
    run_parsed(&s, &y, job).map_err(|e| blame(e, scores, targets))
}

/// mAP@class and mAP@sample of the scores file against the targets file.
pub fn map_files(scores: &Path, targets: &Path, opts: ApOptions) -> Result<MapReport> {
    run_files(scores, targets, &Map(opts))
}

/// The final evaluation's thresholded metrics (CF1 / OF1 at the spec's threshold and at top-3, with the
/// spec's conventions) beside its mAP; with a tuning slice's scores and targets, also CF1 / OF1 at one
/// threshold tuned for OF1 and at per-class thresholds tuned for each class's F1 (`metrics.yaml`,
/// `thresholded.tuning`).
pub fn final_metrics(
    map: &MapReport,
    scores: ArrayView2<f64>,
    targets: ArrayView2<i8>,
    tuning: Option<(ArrayView2<f64>, ArrayView2<i8>)>,
) -> Result<(crate::results::Metrics, Option<crate::results::Tuning>), RefError> {
    use twoway_reference::{thresholded, tune_global, tune_per_class, Cut, Decision, ThresholdOptions};
    let spec = &twoway_spec::Spec::embedded().metrics.thresholded;
    let opts = ThresholdOptions::default();
    let default = opts.cut(spec.threshold.default)?;
    let at = |d: Decision| thresholded(scores, targets, &d, &opts);
    let half = at(Decision::Threshold(Cut::One(default)))?;
    let top = at(Decision::TopK { k: spec.top_k.default, cut: None })?;
    let mut m = crate::results::Metrics {
        map_class: map.map_class,
        map_sample: map.map_sample,
        cf1: half.cf1,
        of1: half.of1,
        cf1_top3: top.cf1,
        of1_top3: top.of1,
        ..Default::default()
    };
    let Some((ts, ty)) = tuning else { return Ok((m, None)) };
    let global = tune_global(ts, ty, default, &opts)?;
    let tuned = at(Decision::Threshold(Cut::One(global.cut)))?;
    (m.cf1_tuned, m.of1_tuned) = (tuned.cf1, tuned.of1);
    let cuts: Vec<f64> = tune_per_class(ts, ty, default, &opts)?.iter().map(|t| t.cut).collect();
    let thresholds = cuts.iter().map(|c| opts.probability(*c)).collect();
    let tuned = at(Decision::Threshold(Cut::PerClass(cuts.clone())))?;
    (m.cf1_tuned_class, m.of1_tuned_class) = (tuned.cf1, tuned.of1);
    let record = crate::results::Tuning {
        held_out: ts.nrows(),
        threshold: opts.probability(global.cut),
        thresholds,
        cut: global.cut,
        cuts: cuts.clone(),
    };
    Ok((m, Some(record)))
}
