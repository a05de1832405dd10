//! The conformance suite, written once and run against every implementation of the losses (burn-style):
//! an implementation is a [`Backend`]; [`conformance_suite!`] instantiates every test for it.
//!
//! What every backend must pass: every loss vector of the spec (`spec/vectors/*.yaml`), value and gradient,
//! within the backend's tolerance.

use ndarray::Array2;
use twoway_reference::{AnyLoss, LossFn};
use twoway_spec::vectors::LossVector;

pub use twoway_spec::conformance::LossTolerance as Tolerance;
use twoway_spec::{Dtype, Spec};

/// Every mismatch between (value, grad) and the expected pair under `tol`, described. The bound scales with
/// the case's conditioning under `loss` (its largest |logit| and max|x| / T; see
/// `twoway_spec::conformance::LossTolerance`), as `twoway conform`'s does.
pub fn compare(
    tol: &Tolerance,
    loss: &AnyLoss,
    what: &str,
    logits: &Array2<f64>,
    got: (f64, &Array2<f64>),
    want: (f64, &Array2<f64>),
) -> Vec<String> {
    let mut bad = Vec::new();
    let c = loss.conditioning(logits.iter().fold(0.0f64, |m, t| m.max(t.abs())));
    if !tol.value_close(got.0, want.0, c) {
        bad.push(format!("{what}: value {:e}, expected {:e}", got.0, want.0));
    }
    if got.1.dim() != want.1.dim() {
        bad.push(format!("{what}: gradient shape {:?}, expected {:?}", got.1.dim(), want.1.dim()));
        return bad;
    }
    let max = want.1.iter().fold(0.0f64, |m, t| m.max(t.abs()));
    for ((idx, g), w) in got.1.indexed_iter().zip(want.1.iter()) {
        if !tol.grad_close(*g, *w, max, c) {
            bad.push(format!("{what}: grad{idx:?} {g:e}, expected {w:e}"));
        }
    }
    bad
}

/// An implementation of the losses under test.
pub trait Backend {
    /// A short name for messages.
    fn name(&self) -> String;
    /// The loss value and its gradient with respect to the logits, or an error message.
    fn value_and_grad(
        &self,
        loss: &AnyLoss,
        logits: &Array2<f64>,
        targets: &Array2<f64>,
    ) -> Result<(f64, Array2<f64>), String>;
    /// How close this backend must come to the spec's expected numbers.
    fn tolerance(&self) -> Tolerance;
    /// For a backend whose kind cannot hold the vectors' logits exactly (f16, bf16): the logits as they
    /// reach it. Its expected numbers are then the reference's on those logits (the reference itself passes
    /// every vector exactly), so the bound measures the backend and not the rounding of its inputs.
    fn rounded_inputs(&self, _logits: &Array2<f64>) -> Option<Array2<f64>> {
        None
    }
}

/// The pure-Rust reference (f64).
pub struct Reference;

impl Backend for Reference {
    fn name(&self) -> String {
        "reference".into()
    }
    fn value_and_grad(
        &self,
        loss: &AnyLoss,
        logits: &Array2<f64>,
        targets: &Array2<f64>,
    ) -> Result<(f64, Array2<f64>), String> {
        loss.value_and_grad(logits.view(), targets.view()).map_err(|e| e.to_string())
    }
    fn tolerance(&self) -> Tolerance {
        Tolerance {
            value_rel: 1e-12,
            value_floor: 1e-300,
            value_per_logit: 0.0,
            grad_rel: 1e-12,
            grad_floor: 1e-12,
            grad_cond: 0.0,
            grad_abs: 0.0,
        }
    }
}

/// The tch implementation on one device, in one kind. The logits are rounded to `kind` first; what it is
/// compared with is the reference on those rounded logits (so the bound measures the implementation, not
/// the rounding of the inputs).
pub struct Tch {
    pub device: tch::Device,
    pub kind: tch::Kind,
}

impl Tch {
    pub fn cpu(kind: tch::Kind) -> Tch {
        Tch { device: tch::Device::Cpu, kind }
    }

    /// The first CUDA device; panics when libtorch sees none (the `cuda` feature asked for it).
    pub fn cuda(kind: tch::Kind) -> Tch {
        assert!(
            tch::Cuda::is_available(),
            "the cuda feature asks for a CUDA device, but libtorch sees none ({})",
            twoway_gpu::runtime_info()
        );
        Tch { device: tch::Device::Cuda(0), kind }
    }

    /// The logits as they reach the implementation: rounded to its kind, back in f64.
    pub fn round(&self, x: &Array2<f64>) -> Array2<f64> {
        let t = tch::Tensor::from_slice(x.as_standard_layout().as_slice().unwrap())
            .to_kind(self.kind)
            .to_kind(tch::Kind::Double);
        Array2::from_shape_vec(x.dim(), Vec::<f64>::try_from(&t).unwrap()).unwrap()
    }
}

impl Backend for Tch {
    fn name(&self) -> String {
        format!("tch {:?} {:?}", self.device, self.kind)
    }
    fn value_and_grad(
        &self,
        loss: &AnyLoss,
        logits: &Array2<f64>,
        targets: &Array2<f64>,
    ) -> Result<(f64, Array2<f64>), String> {
        twoway_gpu::value_and_grad_array(loss, logits, targets, self.kind, self.device).map_err(|e| e.to_string())
    }
    /// The bounds of `spec/data/conformance.yaml` for this kind (the ones `twoway conform` holds an outside
    /// implementation to), scaled per case by its conditioning: f16 / bf16 compute in f32, so their values
    /// keep the f32 bound, and their gradients are rounded to the half kind.
    fn rounded_inputs(&self, logits: &Array2<f64>) -> Option<Array2<f64>> {
        matches!(self.kind, tch::Kind::Half | tch::Kind::BFloat16).then(|| self.round(logits))
    }
    fn tolerance(&self) -> Tolerance {
        let dtype = match self.kind {
            tch::Kind::Double => Dtype::F64,
            tch::Kind::Half => Dtype::F16,
            tch::Kind::BFloat16 => Dtype::Bf16,
            _ => Dtype::F32,
        };
        Spec::embedded().conformance.tolerances.losses.of(dtype)
    }
}

/// A nested Vec as a matrix.
pub fn matrix(rows: &[Vec<f64>]) -> Array2<f64> {
    let cols = rows.first().map_or(0, Vec::len);
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).expect("rectangular")
}

/// Runs one loss vector through `backend`; returns a description of every mismatch.
pub fn check_loss_vector(backend: &dyn Backend, v: &LossVector) -> Vec<String> {
    let loss = match AnyLoss::from_params(v.loss, &v.params) {
        Ok(l) => l,
        Err(e) => return vec![format!("{}: bad params: {e}", v.name)],
    };
    let (x, y, want_grad) = (matrix(&v.logits), matrix(&v.targets), matrix(&v.grad));
    let (value, grad) = match backend.value_and_grad(&loss, &x, &y) {
        Ok(r) => r,
        Err(e) => return vec![format!("{} on {}: error {e}", v.name, backend.name())],
    };
    let what = format!("{} on {}", v.name, backend.name());
    match backend.rounded_inputs(&x) {
        None => compare(&backend.tolerance(), &loss, &what, &x, (value, &grad), (v.value, &want_grad)),
        Some(xr) => match Reference.value_and_grad(&loss, &xr, &y) {
            Ok((rv, rg)) => compare(&backend.tolerance(), &loss, &what, &xr, (value, &grad), (rv, &rg)),
            Err(e) => vec![format!("{what}: the reference fails on the rounded logits: {e}")],
        },
    }
}

/// Runs every loss vector of the spec through `backend` and panics with every mismatch.
pub fn all_loss_vectors(backend: &dyn Backend) {
    let vectors = &twoway_spec::vectors::embedded().losses;
    assert!(!vectors.is_empty());
    let bad: Vec<String> = vectors.iter().flat_map(|v| check_loss_vector(backend, v)).collect();
    assert!(bad.is_empty(), "{} of {} vectors failed:\n{}", bad.len(), vectors.len(), bad.join("\n"));
    eprintln!("{}: {} spec loss vectors pass", backend.name(), vectors.len());
}

pub use twoway_reference::testing::Rng;

/// Instantiates the conformance tests for a backend expression.
#[macro_export]
macro_rules! conformance_suite {
    ($name:ident, $backend:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn every_spec_loss_vector() {
                $crate::all_loss_vectors(&$backend);
            }
        }
    };
}
