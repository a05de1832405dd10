//! `twoway conform`: the spec's conformance cases run against an implementation twoway has never seen (a
//! Python function or class, or any program), each output compared with the reference.
//!
//! [`cases`] builds the cases (the spec vectors of the chosen loss or metric, and seeded random cases from
//! the property tests' generators) with their expected numbers; [`call`] hands them to the implementation
//! through a folder of `.npy` files and reads its answers back; [`check`] compares, within the spec's
//! bounds per dtype (`spec/data/conformance.yaml`), and names a known divergence a failure matches;
//! [`render`] writes the report as text, JSON or JUnit.

pub mod call;
pub mod cases;
pub mod check;
pub mod render;
pub mod request;

pub use request::{CaseSet, Implementation, Request, Subject};

use anyhow::Result;
use twoway_spec::{Dtype, Spec};

/// What a run found: one outcome per case.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub implementation: String,
    pub subject: String,
    pub dtype: Dtype,
    /// The first seed of the random cases, and how many seeds ran from it.
    pub seed: u64,
    pub seeds: u64,
    pub cases: Vec<check::Outcome>,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed).count()
    }

    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }

    /// The cases that passed only by an allowed divergence.
    pub fn allowed(&self) -> usize {
        self.cases.iter().filter(|c| c.allowed_divergence).count()
    }

    /// "seed S", or "seeds A to B".
    pub fn seed_label(&self) -> String {
        if self.seeds > 1 {
            format!("seeds {} to {}", self.seed, self.seed + self.seeds - 1)
        } else {
            format!("seed {}", self.seed)
        }
    }
}

/// Runs the cases through the implementation and compares. An error is bad input (a missing file or
/// name, an import error, a program that exits non-zero); failing cases are in the report.
pub fn run(spec: &Spec, request: &Request) -> Result<Report> {
    let cases = cases::build(spec, request)?;
    let answers = call::call(request, &cases)?;
    let cases = cases.iter().zip(answers).map(|(case, answer)| check::check(spec, request, case, answer)).collect();
    Ok(Report {
        implementation: request.implementation.label(),
        subject: request.subject.describe(),
        dtype: request.dtype,
        seed: request.seed,
        seeds: request.seeds.max(1),
        cases,
    })
}
