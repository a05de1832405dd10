//! The twoway reference: pure Rust, f64, every loss of the spec with its analytic gradient, AP /
//! mAP@class / mAP@sample, and the thresholded metrics (CP, CR, CF1, OP, OR, OF1) with threshold tuning.
//! It is the executable form of the spec (`spec/data/losses.yaml`, `spec/data/metrics.yaml`) and the
//! anchor the tch implementation is tested against.
//!
//! ```
//! use ndarray::array;
//! use twoway_reference::{LossFn, TwoWay};
//! use twoway_spec::Way;
//!
//! // One positive and one negative: the loss is softplus(x_n - x_p) for any temperature.
//! let logits = array![[0.3, 1.2]];
//! let targets = array![[1.0, 0.0]];
//! let (value, grad) = TwoWay::new(4.0, 1.0).way(Way::Sample).value_and_grad(logits.view(), targets.view()).unwrap();
//! assert!((value - (1.0f64 + 0.9f64.exp()).ln()).abs() < 1e-12);
//! assert!(grad[[0, 0]] < 0.0 && grad[[0, 1]] > 0.0);
//! ```

pub mod check;
mod elementwise;
mod error;
mod loss;
pub mod metrics;
pub mod numerics;
mod softmax;
pub mod testing;
pub mod thresholded;
pub mod tuning;
mod twoway;
mod ways;

pub use elementwise::{Asl, Bce, Focal};
pub use error::RefError;
pub use loss::{AnyLoss, LossFn};
pub use metrics::{evaluate, evaluate_as, ApOptions, Label, MapReport, Score};
pub use softmax::Softmax;
pub use thresholded::{thresholded, ClassCounts, Cut, Decision, ThresholdOptions, ThresholdReport};
pub use tuning::{tune_global, tune_per_class, Tuned};
pub use twoway::{TwoWay, OFFICIAL_OFFSET};
pub use twoway_spec::{Denominator, Loss, Mask, Reduction, ScoreKind, Ties, Undefined, Unknowns, Way};
