//! The twoway losses on tch (libtorch) tensors: the same definitions as the reference
//! (`twoway-reference`), for training code, on CPU or CUDA.
//!
//! ```no_run
//! use twoway_gpu::{tch::{Device, Kind, Tensor}, TwoWayLoss, Validation};
//! use twoway_spec::Way;
//!
//! let logits = Tensor::randn([512, 80], (Kind::Float, Device::cuda_if_available())).set_requires_grad(true);
//! let targets = Tensor::zeros([512, 80], (Kind::Float, Device::Cpu)); // 1 positive, 0 negative, -1 unknown
//! let loss = TwoWayLoss::new(4.0, 1.0).way(Way::Both).validation(Validation::Shape);
//! let value = loss.forward(&logits, &targets).unwrap();
//! value.backward();
//! ```
//!
//! # Inputs
//! Logits are a 2-D floating tensor (samples x classes) of any float kind. f32 and f64 are computed in their
//! own kind; f16 and bf16 are computed in f32 (the loss is returned as an f32 scalar; the gradient flows
//! back to the half-precision logits, rounded to their kind). Targets have the logits' shape, any numeric
//! kind, on any device (they are moved to the logits' device): 1 positive, 0 negative, -1 unknown.
//!
//! # Gradients
//! The two-way and softmax losses compute their gradient in closed form in the same sweep as the value
//! (the reference's formulas) and attach it to the value, so `backward()` costs one multiply. It is a
//! first-order gradient: differentiating it again (double backward) is not supported. The element-wise
//! losses are plain differentiable expressions.
//!
//! # Accuracy (tested against the reference on random batches: shapes up to 64 x 128, logit scales
//! 0.1..100, unknown labels, every loss, way and masking; `tests/tests/tch_vs_reference.rs`)
//! | kind | value | gradient entry |
//! |---|---|---|
//! | f64 | 1e-10 relative + 1e-14 max abs(x) | (1e-10 + 1.8e-15 k) x (abs(g) + 1e-6 max abs(G)) + 1e-15 k |
//! | f32 | 1e-5 x max(abs(v), 0.01) + 1e-6 max abs(x) | (1e-5 + 1e-6 k) x (abs(g) + max abs(G)) + 1e-6 k |
//! | f16 | as f32 (computed in f32) | (1e-3 + 1e-6 k) x (abs(g) + max abs(G)) + 1e-6 k |
//! | bf16 | as f32 | (4e-3 + 1e-6 k) x (abs(g) + max abs(G)) + 1e-6 k |
//!
//! (x: the logits; k = 1 + max abs(x) / min(Tp, Tn) for the two-way loss (+ 100 under official masking),
//! 1 + max abs(x) for the others: the largest argument of an exp, whose rounding every softmax or sigmoid
//! weight carries. A loss near zero is a difference of terms as large as the logits, so no kind resolves
//! it below its precision times their size. These are the bounds of `spec/data/conformance.yaml`, which
//! derives them.)
//! The reference is evaluated on the logits rounded to the kind, so the bounds measure this crate's
//! arithmetic; rounding the logits themselves to f16 / bf16 moves a loss by up to the kind's precision times
//! its sensitivity. Below a kind's smallest normal number only absolute agreement holds.
//!
//! # Speed
//! The two-way loss builds the masked, scaled logits of each set once, shares them between both ways,
//! and takes one max, one exp and one sum per set and way; the gradient reuses those exponentials. The
//! authors' op sequence (`peer`) runs four logsumexps over -100-offset masks, boolean indexing and a
//! separate autograd backward. `make bench` times both on the same libtorch.
//!
//! # Validation
//! [`Validation::Full`] (the default) checks shapes, kinds, that the logits are finite and that every
//! label is -1, 0 or 1; the value checks read one flag back from the device, which synchronises a CUDA
//! stream. [`Validation::Shape`] checks shapes and kinds only and never synchronises: use it in the training
//! hot path once the data pipeline is trusted.
//!
//! # CUDA
//! Every op is a libtorch op, so the losses run on any device libtorch supports; the conformance suite
//! runs on CUDA with `cargo test -p twoway-tests --features cuda` (and fails if no CUDA device is visible then). On CUDA, f32
//! results differ from the CPU's within the f32 bound of the suite (1e-5 relative), since reductions sum in
//! another order.

mod array;
mod check;
mod elementwise;
mod error;
pub mod numerics;
pub mod peer;
mod sets;

pub use array::value_and_grad_array;
pub use check::Validation;
pub use error::GpuError;
pub use tch;

use tch::{Kind, Tensor};
use twoway_reference::{AnyLoss, TwoWay};
use twoway_spec::{Loss, Mask, Way};

/// The kind a loss computes in for logits of `kind`.
pub fn compute_kind(kind: Kind) -> Kind {
    match kind {
        Kind::Double => Kind::Double,
        _ => Kind::Float,
    }
}

/// Any loss of the spec on tensors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MultiLabelLoss {
    pub config: AnyLoss,
    pub validation: Validation,
}

impl MultiLabelLoss {
    pub fn new(config: AnyLoss) -> Self {
        MultiLabelLoss { config, validation: Validation::default() }
    }

    /// `loss` with the spec's default hyper-parameters.
    pub fn default_for(loss: Loss) -> Self {
        MultiLabelLoss::new(AnyLoss::default_for(loss))
    }

    pub fn validation(self, validation: Validation) -> Self {
        MultiLabelLoss { validation, ..self }
    }

    /// The loss of `logits` (B x C) against `targets`, a 0-dim tensor with autograd back to `logits`. Every
    /// libtorch failure (out of memory, say) comes back as [`GpuError::Torch`]. The closed-form gradient of
    /// the set-based losses is computed only when `logits` requires a gradient.
    pub fn forward(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor, GpuError> {
        self.config.validate()?;
        let y = check::inputs(logits, targets, self.validation)?;
        let kind = compute_kind(logits.kind());
        if let AnyLoss::TwoWay(c) = &self.config {
            for (name, value) in [("Tp", c.tp), ("Tn", c.tn)] {
                if 1.0 / value > check::max_of(kind) {
                    return Err(GpuError::TemperatureOverflow { name, value, kind });
                }
            }
        }
        let x = logits.f_to_kind(kind)?;
        let pos = y.f_gt(0)?;
        let need_grad = logits.requires_grad();
        Ok(match &self.config {
            AnyLoss::TwoWay(c) => {
                let neg = y.f_eq(0)?;
                let (value, grad) = tch::no_grad(|| sets::two_way(c, &x.detach(), &pos, &neg, need_grad))?;
                sets::attach(&x, value, grad)?
            }
            AnyLoss::Softmax(c) => {
                let labelled = y.f_ge(0)?;
                let (value, grad) = tch::no_grad(|| sets::softmax(c, &x.detach(), &pos, &labelled, need_grad))?;
                sets::attach(&x, value, grad)?
            }
            AnyLoss::Bce(c) => elementwise::bce(c, &x, &pos, &y.f_ge(0)?)?,
            AnyLoss::Focal(c) => elementwise::focal(c, &x, &pos, &y.f_ge(0)?)?,
            AnyLoss::Asl(c) => elementwise::asl(c, &x, &pos, &y.f_ge(0)?)?,
        })
    }
}

/// The two-way loss on tensors: `TwoWayLoss::new(tp, tn).way(Way::Both)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoWayLoss {
    pub config: TwoWay,
    pub validation: Validation,
}

impl Default for TwoWayLoss {
    /// The spec's defaults: Tp = 4, Tn = 1, both ways, exact masking, full validation.
    fn default() -> Self {
        TwoWayLoss { config: TwoWay::default(), validation: Validation::default() }
    }
}

impl TwoWayLoss {
    pub fn new(tp: f64, tn: f64) -> Self {
        TwoWayLoss { config: TwoWay::new(tp, tn), ..Default::default() }
    }

    pub fn way(mut self, way: Way) -> Self {
        self.config.way = way;
        self
    }

    pub fn mask(mut self, mask: Mask) -> Self {
        self.config.mask = mask;
        self
    }

    pub fn validation(self, validation: Validation) -> Self {
        TwoWayLoss { validation, ..self }
    }

    pub fn forward(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor, GpuError> {
        MultiLabelLoss { config: AnyLoss::TwoWay(self.config), validation: self.validation }.forward(logits, targets)
    }
}

/// The device the library computes on by default: the first CUDA device when libtorch sees one, else the CPU.
pub fn default_device() -> tch::Device {
    tch::Device::cuda_if_available()
}

/// A one-line description of the linked libtorch and the devices it sees, for logs and result files.
pub fn runtime_info() -> String {
    let cuda = if tch::Cuda::is_available() {
        format!("CUDA available ({} device(s))", tch::Cuda::device_count())
    } else {
        "CUDA not available".to_string()
    };
    format!("libtorch via tch 0.26, {cuda}, {} CPU thread(s)", tch::get_num_threads())
}

extern "C" {
    fn twoway_autocast_set_cuda_bf16(enable_bf16: i32);
    fn twoway_autocast_cuda_is_bf16() -> i32;
    fn twoway_cuda_set_tf32(allow: i32);
    fn twoway_cuda_tf32_allowed() -> i32;
    fn twoway_cudnn_set(deterministic: i32, benchmark: i32);
}

/// cuDNN's algorithm choice: deterministic algorithms only, and / or benchmarking each shape's algorithms
/// (libtorch's defaults: neither). For `twoway noise`'s CUDA settings.
pub fn set_cudnn(deterministic: bool, benchmark: bool) {
    // SAFETY: plain calls into libtorch's global context, no pointers involved.
    unsafe { twoway_cudnn_set(deterministic as i32, benchmark as i32) }
}

/// Allows (or forbids) TF32 in CUDA matrix products and cuDNN convolutions (libtorch allows it in
/// convolutions by default). Exactness checks against f32 / f64 references turn it off.
pub fn set_cuda_tf32(allow: bool) {
    // SAFETY: plain calls into libtorch's global context, no pointers involved.
    unsafe { twoway_cuda_set_tf32(allow as i32) }
}

/// Whether TF32 is allowed in CUDA matrix products or cuDNN convolutions.
pub fn cuda_tf32_allowed() -> bool {
    // SAFETY: as above.
    unsafe { twoway_cuda_tf32_allowed() != 0 }
}

/// Runs `f` under CUDA autocast in bf16 (libtorch's default autocast kind on CUDA is f16; the recipe asks
/// for bf16). Off CUDA (`enabled` false, or no CUDA device) it runs `f` as it is.
pub fn autocast_bf16<T>(enabled: bool, f: impl FnOnce() -> T) -> T {
    autocast(if enabled { Some(Kind::BFloat16) } else { None }, f)
}

/// Runs `f` under CUDA autocast in `kind` (`Half` or `BFloat16`); with `None`, or without a CUDA device,
/// it runs `f` as it is.
pub fn autocast<T>(kind: Option<Kind>, f: impl FnOnce() -> T) -> T {
    match kind {
        Some(k) if tch::Cuda::is_available() => {
            set_cuda_autocast_bf16(k == Kind::BFloat16);
            tch::autocast(true, f)
        }
        _ => f(),
    }
}

/// Sets libtorch's CUDA autocast kind to bf16 (`true`) or f16 (`false`).
pub fn set_cuda_autocast_bf16(bf16: bool) {
    // SAFETY: plain calls into libtorch's autocast state setter / getter, no pointers involved.
    unsafe { twoway_autocast_set_cuda_bf16(bf16 as i32) }
}

/// Whether libtorch's CUDA autocast kind is bf16.
pub fn cuda_autocast_is_bf16() -> bool {
    // SAFETY: as above.
    unsafe { twoway_autocast_cuda_is_bf16() != 0 }
}

/// The loss and its autograd gradient for host data: `logits` and `targets` row-major `rows x cols` f64,
/// the logits computed in `kind` on `device`; the value and the gradient come back in f64. (The entry
/// point of [`value_and_grad_array`].)
pub fn value_and_grad_f64(
    config: &AnyLoss,
    logits: &[f64],
    targets: &[f64],
    (rows, cols): (usize, usize),
    kind: Kind,
    device: tch::Device,
) -> Result<(f64, Vec<f64>), GpuError> {
    let shape = [rows as i64, cols as i64];
    // Values beyond the kind's range would become infinite in the cast: say so, with the position.
    let max = check::max_of(kind);
    if let Some(k) = logits.iter().position(|v| v.abs() > max) {
        let (row, col) = ((k / cols) as i64, (k % cols) as i64);
        return Err(GpuError::OutOfRange { row, col, value: logits[k], kind, max });
    }
    let x = Tensor::f_from_slice(logits)?.f_view(shape)?.f_to_kind(kind)?.f_to_device(device)?.set_requires_grad(true);
    // The targets keep their f64 values: the label check sees 0.5 or NaN as they are.
    let y = Tensor::f_from_slice(targets)?.f_view(shape)?;
    let v = MultiLabelLoss::new(*config).forward(&x, &y)?;
    v.f_backward()?;
    let value = v.f_to_kind(Kind::Double)?.f_double_value(&[])?;
    let g = x.grad().f_to_kind(Kind::Double)?.f_to_device(tch::Device::Cpu)?.f_contiguous()?.f_view([-1])?;
    Ok((value, Vec::<f64>::try_from(&g)?))
}
