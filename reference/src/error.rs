//! Typed errors of the reference. Every public function returns them; nothing panics on bad input.

/// What went wrong, with the position and value that broke the rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RefError {
    #[error("shape mismatch: logits are {logits:?} but targets are {targets:?}")]
    ShapeMismatch { logits: (usize, usize), targets: (usize, usize) },
    #[error("empty batch: the input has shape {shape:?}; it needs at least one sample and one class")]
    EmptyBatch { shape: (usize, usize) },
    #[error("non-finite {what} at [{row}, {col}]: {value}")]
    NonFinite { what: &'static str, row: usize, col: usize, value: f64 },
    #[error("score at [{row}, {col}] = {value} is not a probability in [0, 1] (are these logits?)")]
    NotProbability { row: usize, col: usize, value: f64 },
    #[error("label outside {{-1, 0, 1}} at [{row}, {col}]: {value}")]
    BadLabel { row: usize, col: usize, value: f64 },
    #[error("temperature {name} must be finite and > 0 with a finite reciprocal, got {value}")]
    BadTemperature { name: &'static str, value: f64 },
    #[error("`{loss}` takes no parameter `{name}`")]
    UnknownParam { loss: twoway_spec::Loss, name: &'static str },
    #[error("invalid hyper-parameter {name} = {value}: {rule}")]
    BadParam { name: &'static str, value: f64, rule: &'static str },
}
