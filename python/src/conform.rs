//! The conformance engine of `twoway conform`, run in process for `twoway.testing`: the cases and the
//! comparison are the engine's; the user's function is called through a Python callable the package
//! passes in (the engine's driver, `DRIVER_SOURCE`, turns each case into torch tensors and back).

use crate::reference::any_loss;
use anyhow::anyhow;
use numpy::{PyReadonlyArray2, PyUntypedArrayMethods, ToPyArray};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use std::cell::RefCell;
use twoway_conform::{Answer, Case, CaseSet, Expected, Subject, Suite};
use twoway_spec::{Dtype, Metric, Spec, Ties};

/// A suite as `twoway.testing` describes it (a JSON object).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteArgs {
    loss: Option<String>,
    metric: Option<String>,
    params: serde_json::Map<String, serde_json::Value>,
    ties: String,
    dtype: String,
    cases: String,
    random: usize,
    seed: u64,
    seeds: u64,
}

/// The suite of a loss (with its parameters) or a metric (with its tie rule).
fn suite(args: &str) -> PyResult<Suite> {
    let a: SuiteArgs = serde_json::from_str(args).map_err(|e| PyValueError::new_err(format!("the suite: {e}")))?;
    let params = serde_json::Value::Object(a.params).to_string();
    let subject = match (a.loss.as_deref(), a.metric.as_deref()) {
        (Some(name), None) => Subject::Loss(any_loss(name, &params)?),
        (None, Some(m)) => {
            Subject::Metric { metric: crate::key::<Metric>("metric", m)?, ties: crate::key::<Ties>("ties", &a.ties)? }
        }
        _ => return Err(PyValueError::new_err("give either loss= or metric=, not both")),
    };
    let cases = match a.cases.as_str() {
        "vectors" => CaseSet::Vectors,
        "random" => CaseSet::Random,
        "all" => CaseSet::All,
        other => {
            return Err(PyValueError::new_err(format!("cases={other:?}: expected \"all\", \"vectors\" or \"random\"")))
        }
    };
    if a.seeds == 0 {
        return Err(PyValueError::new_err("seeds=0: give at least 1 (the number of seeds from seed on)"));
    }
    let dtype: Dtype = crate::key("dtype", &a.dtype)?;
    Ok(Suite {
        subject,
        dtype,
        cases,
        random: a.random,
        seed: a.seed,
        seeds: a.seeds,
        allowed: Vec::new(),
        only: Vec::new(),
    })
}

fn case_dict<'py>(py: Python<'py>, c: &Case) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &c.name)?;
    d.set_item("exercises", &c.exercises)?;
    d.set_item("inputs", c.inputs.to_pyarray(py))?;
    d.set_item("targets", c.targets.to_pyarray(py))?;
    match &c.expected {
        Expected::Loss { value, grad } => {
            d.set_item("value", *value)?;
            d.set_item("grad", grad.to_pyarray(py))?;
        }
        Expected::Metric(v) => {
            d.set_item("value", v.unwrap_or(f64::NAN))?;
            d.set_item("grad", py.None())?;
        }
    }
    Ok(d)
}

/// The suite's cases with their expected numbers, as dicts.
#[pyfunction]
pub fn cases<'py>(py: Python<'py>, suite_args: &str) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let s = suite(suite_args)?;
    let built = twoway_conform::cases::build(Spec::embedded(), &s).map_err(|e| PyValueError::new_err(e.to_string()))?;
    built.iter().map(|c| case_dict(py, c)).collect()
}

/// One answer of the Python callable: (value, grad) for a loss, a float for a metric, or a string (what
/// the function raised).
fn answer(case: &Case, got: &Bound<'_, PyAny>) -> PyResult<anyhow::Result<Answer>> {
    if let Ok(msg) = got.downcast::<PyString>() {
        return Ok(Err(anyhow!("raised: {}", msg.to_string_lossy())));
    }
    if let Ok(t) = got.downcast::<PyTuple>() {
        let value: f64 = t.get_item(0)?.extract()?;
        let grad: PyReadonlyArray2<'_, f64> = t.get_item(1)?.extract()?;
        if grad.shape() != case.inputs.shape() {
            return Ok(Err(anyhow!(
                "the gradient has shape {:?}, expected {:?} (the logits')",
                grad.shape(),
                case.inputs.shape()
            )));
        }
        return Ok(Ok(Answer::Loss { value, grad: grad.as_array().to_owned() }));
    }
    Ok(Ok(Answer::Metric(got.extract()?)))
}

/// Runs the suite with `call(name, inputs, targets)` answering each case; (the report as JSON, as text).
#[pyfunction]
pub fn conform(
    py: Python<'_>,
    call: &Bound<'_, PyAny>,
    label: &str,
    suite_args: &str,
    allow: Vec<String>,
    only: Vec<String>,
) -> PyResult<(String, String)> {
    let mut s = suite(suite_args)?;
    s.allowed = allow;
    s.only = only;
    let spec = Spec::embedded();
    s.check_allowed(spec, "allow").map_err(|e| PyValueError::new_err(e.to_string()))?;
    // An exception of the calling layer itself (not of the user's function, which `call` reports as a
    // string) stops the run and is raised as it is.
    let stopped: RefCell<Option<PyErr>> = RefCell::new(None);
    let run = twoway_conform::run(spec, &s, label, |cases| {
        let mut out = Vec::with_capacity(cases.len());
        for c in cases {
            let got = call
                .call1((c.name.as_str(), c.inputs.to_pyarray(py), c.targets.to_pyarray(py)))
                .and_then(|got| answer(c, &got));
            match got {
                Ok(a) => out.push(a),
                Err(e) => {
                    *stopped.borrow_mut() = Some(e);
                    return Err(anyhow!("stopped"));
                }
            }
        }
        Ok(out)
    });
    if let Some(e) = stopped.into_inner() {
        return Err(e);
    }
    let report = run.map_err(|e| PyValueError::new_err(e.to_string()))?;
    let json = serde_json::to_string(&twoway_conform::render::json(&report))
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok((json, twoway_conform::render::text(&report)))
}
