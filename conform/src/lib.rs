//! The conformance engine: the spec's cases run against an implementation twoway has never seen, each
//! answer compared with the reference.
//!
//! [`cases`] builds the cases (the spec vectors of the chosen loss or metric, and seeded random cases from
//! the property tests' generators) with their expected numbers; [`check`] compares an answer with them,
//! within the spec's bounds per dtype (`spec/data/conformance.yaml`), and names a known divergence a
//! failure matches; [`render`] writes the report as text or JSON. How the implementation is called is the
//! caller's: `twoway conform` runs a program over a folder of `.npy` files, the Python package calls a
//! function in process. Both go through [`run`].

pub mod cases;
pub mod check;
pub mod render;

pub use cases::{Case, Expected};

/// The Python driver that calls a Python implementation on the cases: `twoway conform --python` runs it
/// as a script over a case folder; the Python package calls its `answer_loss` / `answer_metric` in
/// process.
pub const DRIVER: &str = include_str!("driver.py");
pub use check::{GradError, Outcome};

use anyhow::{bail, Result};
use ndarray::Array2;
use twoway_reference::AnyLoss;
use twoway_spec::conformance::AppliesTo;
use twoway_spec::{Dtype, Metric, Spec, Ties};

/// What is under test: a loss with its hyper-parameters, or a metric with its tie rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Subject {
    Loss(AnyLoss),
    Metric { metric: Metric, ties: Ties },
}

impl Subject {
    /// One line: the loss or metric and every parameter.
    pub fn describe(&self) -> String {
        match self {
            Subject::Loss(l) => l.describe(),
            Subject::Metric { metric, ties } => format!("{metric} (ties {ties}, denominator exact)"),
        }
    }

    /// The parameters an implementation is told (every one, defaults resolved).
    pub fn params(&self, dtype: Dtype) -> serde_json::Value {
        use serde_json::json;
        match self {
            Subject::Loss(AnyLoss::TwoWay(l)) => {
                json!({"loss": "twoway", "tp": l.tp, "tn": l.tn, "way": l.way, "mask": l.mask, "dtype": dtype})
            }
            Subject::Loss(AnyLoss::Softmax(l)) => json!({"loss": "softmax", "way": l.way, "dtype": dtype}),
            Subject::Loss(AnyLoss::Bce(l)) => json!({"loss": "bce", "reduction": l.reduction, "dtype": dtype}),
            Subject::Loss(AnyLoss::Focal(l)) => json!({"loss": "focal", "gamma": l.gamma, "alpha": l.alpha,
                "reduction": l.reduction, "dtype": dtype}),
            Subject::Loss(AnyLoss::Asl(l)) => json!({"loss": "asl", "gamma_neg": l.gamma_neg,
                "gamma_pos": l.gamma_pos, "clip": l.clip, "eps": l.eps, "focus_grad": l.focus_grad,
                "reduction": l.reduction, "dtype": dtype}),
            Subject::Metric { metric, ties } => {
                json!({"metric": metric, "ties": ties, "denominator": "exact", "dtype": Dtype::F64})
            }
        }
    }
}

/// Which cases run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseSet {
    Vectors,
    Random,
    All,
}

/// What a conformance run checks: the subject, its dtype, the cases, and the divergences accepted.
#[derive(Debug, Clone)]
pub struct Suite {
    pub subject: Subject,
    pub dtype: Dtype,
    pub cases: CaseSet,
    /// Random cases to draw (with [`CaseSet::Random`] or [`CaseSet::All`]).
    pub random: usize,
    /// The first seed of the random cases.
    pub seed: u64,
    /// How many seeds, from `seed` on (each seed draws `random` cases, as `seed` alone would).
    pub seeds: u64,
    /// Divergences a failing case may match and still count as passed.
    pub allowed: Vec<String>,
    /// Only the cases of these names (empty: every case); a name no case has is an error.
    pub only: Vec<String>,
}

impl Suite {
    /// The seeds whose random cases run.
    pub fn seed_range(&self) -> std::ops::Range<u64> {
        self.seed..self.seed.saturating_add(self.seeds.max(1))
    }

    /// The name of random case `i` of `seed`: `random_007`, prefixed with the seed when several run.
    pub fn random_name(&self, seed: u64, i: usize) -> String {
        if self.seeds > 1 {
            format!("seed{seed}_random_{i:03}")
        } else {
            format!("random_{i:03}")
        }
    }

    /// Checks that every allowed id is a known divergence of the subject's kind; `flag` is how the caller
    /// names the list in the error (`--allow-divergence`, `allow=`).
    pub fn check_allowed(&self, spec: &Spec, flag: &str) -> Result<()> {
        let kind = if matches!(self.subject, Subject::Loss(_)) { AppliesTo::Loss } else { AppliesTo::Metric };
        let ids: Vec<&str> =
            spec.conformance.divergences.iter().filter(|d| d.applies_to == kind).map(|d| d.id.as_str()).collect();
        for id in &self.allowed {
            if !ids.contains(&id.as_str()) {
                let what = if kind == AppliesTo::Loss { "a loss" } else { "a metric" };
                bail!("{flag} `{id}` is not a known divergence of {what}; expected one of: {}", ids.join(", "));
            }
        }
        Ok(())
    }
}

/// What an implementation answered for one case.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Loss { value: f64, grad: Array2<f64> },
    Metric(f64),
}

/// What a run found: one outcome per case.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub implementation: String,
    pub subject: String,
    pub dtype: Dtype,
    /// The first seed of the random cases, and how many seeds ran from it.
    pub seed: u64,
    pub seeds: u64,
    pub cases: Vec<Outcome>,
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

/// Builds the cases of `suite`, asks `answer` for the implementation's answer to each (all at once: a
/// program may run over all of them in one call), and compares. An error from `answer` is bad input (the
/// implementation could not be called at all); an error of one case's answer is that case's failure.
pub fn run(
    spec: &Spec,
    suite: &Suite,
    implementation: &str,
    answer: impl FnOnce(&[Case]) -> Result<Vec<Result<Answer>>>,
) -> Result<Report> {
    let mut cases = cases::build(spec, suite)?;
    if !suite.only.is_empty() {
        if let Some(name) = suite.only.iter().find(|n| !cases.iter().any(|c| &c.name == *n)) {
            bail!("no case is named `{name}` in this suite");
        }
        cases.retain(|c| suite.only.contains(&c.name));
    }
    let answers = answer(&cases)?;
    if answers.len() != cases.len() {
        bail!("internal: {} answers to {} cases", answers.len(), cases.len());
    }
    let cases = cases.iter().zip(answers).map(|(case, answer)| check::check(spec, suite, case, answer)).collect();
    Ok(Report {
        implementation: implementation.to_string(),
        subject: suite.subject.describe(),
        dtype: suite.dtype,
        seed: suite.seed,
        seeds: suite.seeds.max(1),
        cases,
    })
}
