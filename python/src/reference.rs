//! The reference losses (f64, analytic gradients) of `twoway.reference`.

use numpy::{PyArray2, PyReadonlyArray2, ToPyArray};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use twoway_reference::{AnyLoss, LossFn};
use twoway_spec::{Loss, LossParams};

/// The loss `name` with `params` (a JSON object of its hyper-parameters; absent ones take the spec's
/// defaults), or a `ValueError` naming the bad name or parameter.
pub(crate) fn any_loss(name: &str, params: &str) -> PyResult<AnyLoss> {
    let loss: Loss = crate::key("loss", name)?;
    let allowed = twoway_spec::params_of(loss);
    let given: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(params).map_err(|e| PyValueError::new_err(format!("{name}: parameters: {e}")))?;
    if let Some(bad) = given.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(PyValueError::new_err(format!(
            "{name} takes no parameter `{bad}`; its parameters: {}",
            allowed.join(", ")
        )));
    }
    let p: LossParams = serde_json::from_value(serde_json::Value::Object(given))
        .map_err(|e| PyValueError::new_err(format!("{name}: {e}")))?;
    AnyLoss::from_params(loss, &p).map_err(|e| PyValueError::new_err(format!("{name}: {e}")))
}

/// The loss's value and its gradient with respect to the logits.
#[pyfunction]
pub fn loss<'py>(
    py: Python<'py>,
    name: &str,
    logits: PyReadonlyArray2<'py, f64>,
    targets: PyReadonlyArray2<'py, f64>,
    params: &str,
) -> PyResult<(f64, Bound<'py, PyArray2<f64>>)> {
    let l = any_loss(name, params)?;
    let (x, y) = (logits.as_array(), targets.as_array());
    let (value, grad) = py.detach(|| l.value_and_grad(x, y)).map_err(|e| crate::value_error(e, "logits"))?;
    Ok((value, grad.to_pyarray(py)))
}
