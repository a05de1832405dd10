//! mAP@class and mAP@sample of arrays in their own element types (the engine of `twoway map`), read in
//! place and computed with the GIL released.

use numpy::{PyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use twoway_reference::{evaluate_as, ApOptions, MapReport, RefError};
use twoway_spec::{Denominator, Ties};

/// A score matrix as numpy holds it (f32 or f64, read in place).
pub(crate) enum Scores<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
}

/// A target matrix as numpy holds it.
pub(crate) enum Targets<'py> {
    F64(PyReadonlyArray2<'py, f64>),
    F32(PyReadonlyArray2<'py, f32>),
    I8(PyReadonlyArray2<'py, i8>),
    I32(PyReadonlyArray2<'py, i32>),
    I64(PyReadonlyArray2<'py, i64>),
    U8(PyReadonlyArray2<'py, u8>),
    Bool(PyReadonlyArray2<'py, bool>),
}

fn describe(a: &Bound<'_, PyAny>) -> String {
    let dtype = a.getattr("dtype").map(|d| d.to_string()).unwrap_or_else(|_| "?".into());
    let ndim = a.getattr("ndim").map(|d| d.to_string()).unwrap_or_else(|_| "?".into());
    format!("a {ndim}-D {dtype} array")
}

impl<'py> Scores<'py> {
    pub(crate) fn extract(a: &Bound<'py, PyAny>, name: &str) -> PyResult<Self> {
        if let Ok(s) = a.extract::<PyReadonlyArray2<'py, f32>>() {
            return Ok(Scores::F32(s));
        }
        if let Ok(s) = a.extract::<PyReadonlyArray2<'py, f64>>() {
            return Ok(Scores::F64(s));
        }
        Err(PyTypeError::new_err(format!("{name}: expected a 2-D float32 or float64 array, got {}", describe(a))))
    }
}

impl<'py> Targets<'py> {
    pub(crate) fn extract(a: &Bound<'py, PyAny>) -> PyResult<Self> {
        macro_rules! try_as {
            ($($t:ty => $v:ident),*) => {$(
                if let Ok(t) = a.extract::<PyReadonlyArray2<'py, $t>>() {
                    return Ok(Targets::$v(t));
                }
            )*};
        }
        try_as!(f64 => F64, f32 => F32, i8 => I8, i32 => I32, i64 => I64, u8 => U8, bool => Bool);
        Err(PyTypeError::new_err(format!(
            "targets: expected a 2-D array of int8, int32, int64, uint8, bool, float32 or float64, got {}",
            describe(a)
        )))
    }
}

/// Calls `$f` with the two matrices as ndarray views of their own element types (every combination).
macro_rules! with_views {
    ($scores:expr, $targets:expr, |$s:ident, $t:ident| $body:expr) => {{
        use $crate::metrics::{Scores as S, Targets as T};
        macro_rules! inner {
            ($sv:expr) => {{
                let $s = $sv;
                match $targets {
                    T::F64(t) => {
                        let $t = t.as_array();
                        $body
                    }
                    T::F32(t) => {
                        let $t = t.as_array();
                        $body
                    }
                    T::I8(t) => {
                        let $t = t.as_array();
                        $body
                    }
                    T::I32(t) => {
                        let $t = t.as_array();
                        $body
                    }
                    T::I64(t) => {
                        let $t = t.as_array();
                        $body
                    }
                    T::U8(t) => {
                        let $t = t.as_array();
                        $body
                    }
                    T::Bool(t) => {
                        let $t = t.as_array();
                        $body
                    }
                }
            }};
        }
        match $scores {
            S::F32(s) => inner!(s.as_array()),
            S::F64(s) => inner!(s.as_array()),
        }
    }};
}
pub(crate) use with_views;

pub(crate) fn options(ties: &str, denominator: &str) -> PyResult<ApOptions> {
    Ok(ApOptions {
        ties: crate::key::<Ties>("ties", ties)?,
        denominator: crate::key::<Denominator>("denominator", denominator)?,
    })
}

/// A report as Python values: (map_class, map_sample, per_class, per_sample), the means None when no
/// line has a positive, the per-line arrays NaN there.
pub(crate) type PyReport<'py> = (Option<f64>, Option<f64>, Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);

pub(crate) fn to_python(py: Python<'_>, r: MapReport) -> PyReport<'_> {
    let nan = |v: Vec<Option<f64>>| v.into_iter().map(|a| a.unwrap_or(f64::NAN)).collect::<Vec<_>>();
    (r.map_class, r.map_sample, PyArray1::from_vec(py, nan(r.per_class)), PyArray1::from_vec(py, nan(r.per_sample)))
}

/// mAP@class, mAP@sample and every class's and sample's AP (percent) of `scores` against `targets`.
#[pyfunction]
#[pyo3(signature = (scores, targets, ties, denominator))]
pub fn evaluate<'py>(
    py: Python<'py>,
    scores: &Bound<'py, PyAny>,
    targets: &Bound<'py, PyAny>,
    ties: &str,
    denominator: &str,
) -> PyResult<PyReport<'py>> {
    let opts = options(ties, denominator)?;
    let (s, t) = (Scores::extract(scores, "scores")?, Targets::extract(targets)?);
    let r: Result<MapReport, RefError> = with_views!(&s, &t, |sv, tv| py.detach(|| evaluate_as(sv, tv, opts)));
    Ok(to_python(py, r.map_err(|e| crate::value_error(e, "scores"))?))
}

/// Checks the names of the AP rules (a `ValueError` listing the choices).
#[pyfunction]
pub fn check_rules(ties: &str, denominator: &str) -> PyResult<()> {
    options(ties, denominator).map(|_| ())
}
