//! The spec as data for `twoway.spec`: the published tables as records, and the spec's YAML files
//! (data, vectors, grids) as JSON text the package parses.

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use twoway_spec::Spec;

fn data_of_yaml(file: &str, text: &str) -> PyResult<serde_json::Value> {
    serde_yaml::from_str(text)
        .map_err(|e| PyRuntimeError::new_err(format!("spec file {file} does not read as data: {e}")))
}

/// Every published number (main table, then the ways ablation) as a JSON list of records.
#[pyfunction]
pub fn published() -> String {
    let p = &Spec::embedded().paper;
    let records: Vec<serde_json::Value> = p
        .main
        .iter()
        .chain(&p.ways)
        .map(|n| {
            serde_json::json!({
                "table": n.table, "dataset": n.key.dataset, "backbone": n.key.backbone, "loss": n.key.loss,
                "way": n.key.way, "metric": n.key.metric, "value": n.value,
            })
        })
        .collect();
    serde_json::Value::Array(records).to_string()
}

/// The names of the spec's data files (`losses.yaml`, `metrics.yaml`, ...).
#[pyfunction]
pub fn spec_files() -> Vec<&'static str> {
    twoway_spec::FILES.to_vec()
}

/// One data file of the spec as JSON text.
#[pyfunction]
pub fn spec_file(name: &str) -> PyResult<String> {
    let at = twoway_spec::FILES.iter().position(|f| *f == name || f.trim_end_matches(".yaml") == name);
    let Some(i) = at else {
        return Err(PyValueError::new_err(format!(
            "no spec file {name:?}; expected one of: {}",
            twoway_spec::FILES.join(", ")
        )));
    };
    data_of_yaml(twoway_spec::FILES[i], twoway_spec::EMBEDDED[i]).map(|v| v.to_string())
}

/// The test vectors of every file, as a JSON object `{file: contents}`.
#[pyfunction]
pub fn vectors() -> PyResult<String> {
    let mut all = serde_json::Map::new();
    for (name, text) in twoway_spec::vectors::FILES.iter().zip(twoway_spec::vectors::EMBEDDED) {
        all.insert(name.to_string(), data_of_yaml(name, text)?);
    }
    Ok(serde_json::Value::Object(all).to_string())
}

/// The built-in grids as a JSON object `{name: grid}`.
#[pyfunction]
pub fn grids() -> PyResult<String> {
    let mut all = serde_json::Map::new();
    for (name, text) in twoway_spec::grids::BUILTIN {
        all.insert(name.to_string(), data_of_yaml(name, text)?);
    }
    Ok(serde_json::Value::Object(all).to_string())
}
