//! Pure-Rust reference implementation (f64) of every loss and metric of the spec.
