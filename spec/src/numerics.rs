//! The numerics spec (`data/numerics.yaml`): what the portable mode sets before libtorch runs a kernel,
//! and the tolerance a gate needs between results made under different numerics.

use crate::error::SpecError;
use crate::load::parse;
use crate::Source;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumericsSpec {
    pub portable: Portable,
    pub gate: Gate,
}

/// The portable mode: the environment `twoway run` re-executes itself with, and ATen's oneDNN switch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Portable {
    pub source: Source,
    pub reason: String,
    /// Variables set to these values (replacing the user's).
    pub environment: Vec<EnvSetting>,
    /// Variables removed from the environment.
    pub unset: Vec<EnvUnset>,
    /// The x86 features masked from glibc's function selection (`GLIBC_TUNABLES=glibc.cpu.hwcaps=-F,...`).
    pub glibc_hwcaps_masked: Vec<String>,
    /// Whether ATen may use oneDNN (mkldnn).
    pub mkldnn: bool,
    /// Whether ATen may use NNPACK.
    pub nnpack: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSetting {
    pub name: String,
    pub value: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvUnset {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub cross_numerics_tolerance: CrossTolerance,
}

/// Points of mAP a cell may move between two runs of different numerics, per metric.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossTolerance {
    pub map_class: f64,
    pub map_sample: f64,
    pub source: Source,
    pub reason: String,
}

impl CrossTolerance {
    /// The tolerance of `metric`.
    pub fn of(&self, metric: crate::Metric) -> f64 {
        match metric {
            crate::Metric::MapClass => self.map_class,
            crate::Metric::MapSample => self.map_sample,
        }
    }
}

pub(crate) fn load(file: &str, text: &str) -> Result<NumericsSpec, SpecError> {
    let n: NumericsSpec = parse(file, text)?;
    let bad = |field: &str, rule: &str| Err(SpecError::invalid(file, field, rule.to_string()));
    let names = n.portable.environment.iter().map(|e| &e.name).chain(n.portable.unset.iter().map(|e| &e.name));
    for name in names {
        let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return bad("portable.environment", &format!("`{name}` is not an environment variable name"));
        }
        if name == "GLIBC_TUNABLES" {
            return bad("portable.environment", "GLIBC_TUNABLES is set from glibc_hwcaps_masked");
        }
    }
    if n.portable.glibc_hwcaps_masked.iter().any(|f| f.is_empty() || f.contains([',', ':', '=', '-'])) {
        return bad("portable.glibc_hwcaps_masked", "feature names without `,`, `:`, `=` or `-`");
    }
    let t = &n.gate.cross_numerics_tolerance;
    for (field, v) in [("map_class", t.map_class), ("map_sample", t.map_sample)] {
        if !(v.is_finite() && v >= 0.0) {
            return bad(&format!("gate.cross_numerics_tolerance.{field}"), "must be a finite number >= 0");
        }
    }
    Ok(n)
}
