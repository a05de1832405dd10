//! The thresholded metrics (CP, CR, CF1, OP, OR, OF1, the per-class F1 mean) and threshold tuning of the
//! reference (`twoway metrics`' engine), on arrays in their own element types, with the GIL released.

use crate::metrics::{with_views, Scores, Targets};
use numpy::PyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use twoway_reference::{
    thresholded as counted, tune_global, tune_per_class, Cut, Decision, RefError, ThresholdOptions, ThresholdReport,
    Tuned,
};
use twoway_spec::{ScoreKind, Undefined, Unknowns};

fn options(score_kind: &str, unknown: &str, undefined: &str) -> PyResult<ThresholdOptions> {
    Ok(ThresholdOptions {
        score_kind: crate::key::<ScoreKind>("score_kind", score_kind)?,
        unknown: crate::key::<Unknowns>("unknown", unknown)?,
        undefined: crate::key::<Undefined>("undefined", undefined)?,
    })
}

fn cut_of(opts: &ThresholdOptions, field: &str, t: f64) -> PyResult<f64> {
    opts.cut(t).map_err(|_| PyValueError::new_err(format!("{field}={t}: a threshold is a probability in [0, 1]")))
}

/// The metrics (percent; None where there is nothing to average) and every class's TP, FP, FN of the
/// decision: `thresholds` (one per class), else `top_k` (with `threshold` too if given), else `threshold`
/// (default 0.5). Thresholds are probabilities, or with `on_scores` already on the score scale (logits
/// for logit scores: what `tune` gives with `on_scores`, applied without a round trip).
#[pyfunction]
#[pyo3(signature = (scores, targets, threshold, top_k, thresholds, on_scores, score_kind, unknown, undefined))]
#[allow(clippy::too_many_arguments)]
pub fn thresholded<'py>(
    py: Python<'py>,
    scores: &Bound<'py, PyAny>,
    targets: &Bound<'py, PyAny>,
    threshold: Option<f64>,
    top_k: Option<usize>,
    thresholds: Option<Vec<f64>>,
    on_scores: bool,
    score_kind: &str,
    unknown: &str,
    undefined: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let opts = options(score_kind, unknown, undefined)?;
    let cut_of = |field: &str, t: f64| -> PyResult<f64> {
        if !on_scores {
            return cut_of(&opts, field, t);
        }
        if t.is_nan() {
            return Err(PyValueError::new_err(format!("{field} is NaN")));
        }
        Ok(t)
    };
    let decision = match (thresholds, top_k) {
        (Some(ts), None) => {
            let cuts = ts.iter().enumerate().map(|(j, t)| cut_of(&format!("thresholds[{j}]"), *t));
            Decision::Threshold(Cut::PerClass(cuts.collect::<PyResult<_>>()?))
        }
        (Some(_), Some(_)) => return Err(PyValueError::new_err("give thresholds= or top_k=, not both")),
        (None, Some(0)) => return Err(PyValueError::new_err("top_k=0: predict at least one class per sample")),
        (None, Some(k)) => {
            Decision::TopK { k, cut: threshold.map(|t| cut_of("threshold", t)).transpose()?.map(Cut::One) }
        }
        (None, None) => Decision::Threshold(Cut::One(match threshold {
            Some(t) => cut_of("threshold", t)?,
            None => opts.cut(0.5).expect("0.5 is a probability"),
        })),
    };
    let (s, t) = (Scores::extract(scores, "scores")?, Targets::extract(targets)?);
    let r: Result<ThresholdReport, RefError> =
        with_views!(&s, &t, |sv, tv| py.detach(|| counted(sv, tv, &decision, &opts)));
    let r = r.map_err(|e| crate::value_error(e, "scores"))?;
    let d = PyDict::new(py);
    for (k, v) in
        [("cp", r.cp), ("cr", r.cr), ("cf1", r.cf1), ("op", r.op), ("or", r.or), ("of1", r.of1), ("f1_mean", r.f1_mean)]
    {
        d.set_item(k, v)?;
    }
    d.set_item("classes_evaluated", r.classes_evaluated)?;
    d.set_item("classes_never_predicted", r.classes_never_predicted)?;
    d.set_item("predicted", r.predicted)?;
    let column = |f: fn(&twoway_reference::ClassCounts) -> u64| {
        PyArray1::from_vec(py, r.per_class.iter().map(f).collect::<Vec<u64>>())
    };
    d.set_item("tp", column(|c| c.tp))?;
    d.set_item("fp", column(|c| c.fp))?;
    d.set_item("fn", column(|c| c.fn_))?;
    Ok(d)
}

/// Tuned thresholds as probabilities and on the score scale, with the F1 (percent) each gives on the
/// tuning split (None where nothing was tuned): one maximising OF1, or one per class maximising its F1.
#[pyfunction]
#[pyo3(signature = (scores, targets, per_class, score_kind, unknown))]
#[allow(clippy::type_complexity)]
pub fn tune(
    py: Python<'_>,
    scores: &Bound<'_, PyAny>,
    targets: &Bound<'_, PyAny>,
    per_class: bool,
    score_kind: &str,
    unknown: &str,
) -> PyResult<(Vec<f64>, Vec<f64>, Vec<Option<f64>>)> {
    let opts = options(score_kind, unknown, "zero")?;
    let default = cut_of(&opts, "threshold", 0.5)?;
    let (s, t) = (Scores::extract(scores, "scores")?, Targets::extract(targets)?);
    let r: Result<Vec<Tuned>, RefError> = with_views!(&s, &t, |sv, tv| py.detach(|| if per_class {
        tune_per_class(sv, tv, default, &opts)
    } else {
        tune_global(sv, tv, default, &opts).map(|t| vec![t])
    }));
    let r = r.map_err(|e| crate::value_error(e, "scores"))?;
    let probabilities = r.iter().map(|t| opts.probability(t.cut)).collect();
    Ok((probabilities, r.iter().map(|t| t.cut).collect(), r.iter().map(|t| t.f1).collect()))
}
