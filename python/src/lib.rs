//! `twoway._native`: the engines of the `twoway` Python package, bound with PyO3. Everything here is a
//! thin layer over the Rust crates (the reference losses, the mAP engine, the conformance engine and the
//! spec); the Python modules of the package (`twoway.metrics`, `twoway.reference`, `twoway.testing`,
//! `twoway.spec`) turn their inputs into the arrays these functions take, and their results into Python
//! objects. No libtorch is linked.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::str::FromStr;
use twoway_reference::RefError;

mod accumulate;
mod conform;
mod metrics;
mod reference;
mod spec;
mod thresholded;

/// A `ValueError` naming the entry that broke the rule, in the package's words (`scores` / `targets`, or
/// `logits` for a loss).
pub(crate) fn value_error(e: RefError, values: &str) -> PyErr {
    let msg = match e {
        RefError::BadLabel { row, col, value } => {
            format!("targets[{row}, {col}] = {value} is outside {{-1, 0, 1}} (1 positive, 0 negative, -1 unknown)")
        }
        RefError::NonFinite { row, col, value, .. } => {
            format!("{values}[{row}, {col}] = {value} is not finite (NaN and infinities are refused)")
        }
        RefError::NotProbability { row, col, value } => {
            format!(
                "{values}[{row}, {col}] = {value} is not a probability in [0, 1] (logits need score_kind=\"logit\")"
            )
        }
        RefError::ShapeMismatch { logits, targets } => format!(
            "{values} has shape ({}, {}) but targets has shape ({}, {}): they must be the same",
            logits.0, logits.1, targets.0, targets.1
        ),
        RefError::EmptyBatch { shape } => {
            format!("{values} has shape ({}, {}): at least one sample and one class are needed", shape.0, shape.1)
        }
        other => other.to_string(),
    };
    PyValueError::new_err(msg)
}

/// A key of the spec (`ties`, `way`, `dtype`, ...) from its name, or a `ValueError` listing the choices.
pub(crate) fn key<T: FromStr>(field: &str, given: &str) -> PyResult<T>
where
    T::Err: std::fmt::Display,
{
    T::from_str(given).map_err(|e| PyValueError::new_err(format!("{field}={given:?}: {e}")))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(metrics::evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(metrics::check_rules, m)?)?;
    m.add_function(wrap_pyfunction!(thresholded::thresholded, m)?)?;
    m.add_function(wrap_pyfunction!(thresholded::tune, m)?)?;
    m.add_class::<accumulate::Accumulator>()?;
    m.add_function(wrap_pyfunction!(reference::loss, m)?)?;
    m.add_function(wrap_pyfunction!(conform::cases, m)?)?;
    m.add_function(wrap_pyfunction!(conform::conform, m)?)?;
    m.add("DRIVER_SOURCE", twoway_conform::DRIVER)?;
    m.add_function(wrap_pyfunction!(spec::published, m)?)?;
    m.add_function(wrap_pyfunction!(spec::spec_file, m)?)?;
    m.add_function(wrap_pyfunction!(spec::spec_files, m)?)?;
    m.add_function(wrap_pyfunction!(spec::vectors, m)?)?;
    m.add_function(wrap_pyfunction!(spec::grids, m)?)?;
    Ok(())
}
