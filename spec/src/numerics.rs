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
    pub noise: Noise,
}

/// The kernel settings `twoway noise` reruns a cell under, to measure how far a column's cells move with
/// the kernel choices alone.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Noise {
    pub source: Source,
    pub reason: String,
    /// On CPU: each library's choice as another CPU would make it, and the portable mode.
    pub cpu: Vec<KernelSetting>,
    /// On CUDA: cuDNN's algorithm choice, TF32, and repeats for the nondeterministic kernels.
    pub cuda: Vec<KernelSetting>,
}

/// One kernel setting: a run's numerics mode, the environment it runs under and (CUDA) its switches.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelSetting {
    /// Its name: a folder name under `noise/` (letters, digits, `-`).
    pub name: String,
    /// The run's numerics mode (`native` unless stated).
    #[serde(default)]
    pub numerics: crate::Numerics,
    /// Variables set for the run.
    #[serde(default)]
    pub environment: Vec<EnvValue>,
    /// x86 features masked from glibc's function selection for the run.
    #[serde(default)]
    pub glibc_hwcaps_masked: Vec<String>,
    /// CUDA's kernel switches (`default`, `deterministic`, `benchmark`, `tf32`): `TWOWAY_CUDA_KERNELS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda_kernels: Option<String>,
    /// What another machine it stands for would choose.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvValue {
    pub name: String,
    pub value: String,
}

/// The CUDA kernel switches a setting may name.
pub const CUDA_KERNELS: [&str; 4] = ["default", "deterministic", "benchmark", "tf32"];

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
    /// The columns it was measured on: a spread belongs to a (dataset, backbone, recipe), and holds for no
    /// other (`twoway noise` measures another's).
    pub scope: Scope,
    pub source: Source,
    pub reason: String,
}

/// The (dataset, backbone, recipe) columns a measured spread applies to.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    pub datasets: Vec<crate::Dataset>,
    pub backbones: Vec<crate::Backbone>,
    pub recipes: Vec<String>,
}

impl Scope {
    pub fn covers(&self, dataset: crate::Dataset, backbone: crate::Backbone, recipe: &str) -> bool {
        self.datasets.contains(&dataset)
            && self.backbones.contains(&backbone)
            && self.recipes.iter().any(|r| r == recipe)
    }
}

impl CrossTolerance {
    /// The tolerance of `metric`; `None` for the metrics numerics.yaml states none for (the thresholded
    /// ones).
    pub fn of(&self, metric: crate::Metric) -> Option<f64> {
        match metric {
            crate::Metric::MapClass => Some(self.map_class),
            crate::Metric::MapSample => Some(self.map_sample),
            _ => None,
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
    for (group, settings) in [("cpu", &n.noise.cpu), ("cuda", &n.noise.cuda)] {
        let field = format!("noise.{group}");
        if settings.is_empty() {
            return bad(&field, "lists at least one setting");
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in settings {
            let ok_name = !s.name.is_empty() && s.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !ok_name || !seen.insert(s.name.as_str()) {
                return bad(&field, &format!("`{}`: a unique name of letters, digits and `-`", s.name));
            }
            if s.environment.iter().any(|e| e.name.is_empty() || e.name == "GLIBC_TUNABLES") {
                return bad(&field, &format!("`{}`: GLIBC_TUNABLES comes from glibc_hwcaps_masked", s.name));
            }
            if s.cuda_kernels.as_deref().is_some_and(|k| !CUDA_KERNELS.contains(&k)) {
                return bad(&field, &format!("`{}`: cuda_kernels is one of {}", s.name, CUDA_KERNELS.join(", ")));
            }
        }
    }
    Ok(n)
}
