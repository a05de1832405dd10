//! The request of a conformance run: what is under test, how it is called, which cases.

use std::path::PathBuf;
use twoway_reference::AnyLoss;
use twoway_spec::{Dtype, Metric, Ties};

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
            Subject::Loss(l) => crate::loss::describe(l),
            Subject::Metric { metric, ties } => format!("{metric} (ties {ties}, denominator exact)"),
        }
    }

    /// The parameters an implementation is told in `cases.json` (every one, defaults resolved).
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

/// How twoway calls the implementation.
#[derive(Debug, Clone, PartialEq)]
pub enum Implementation {
    /// `FILE.py:NAME`, run by twoway's Python driver in one interpreter process.
    Python { file: PathBuf, name: String, init: Option<serde_json::Value>, exe: PathBuf },
    /// A command line; the case folder is appended as its last argument.
    Cmd(String),
}

impl Implementation {
    /// How the report names it.
    pub fn label(&self) -> String {
        match self {
            Implementation::Python { file, name, .. } => format!("{}:{name}", file.display()),
            Implementation::Cmd(c) => c.clone(),
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

/// One conformance run.
#[derive(Debug, Clone)]
pub struct Request {
    pub subject: Subject,
    pub implementation: Implementation,
    pub dtype: Dtype,
    pub cases: CaseSet,
    /// Random cases to draw (with [`CaseSet::Random`] or [`CaseSet::All`]).
    pub random: usize,
    /// The first seed of the random cases.
    pub seed: u64,
    /// How many seeds, from `seed` on (each seed draws `random` cases, as `--seed` alone would).
    pub seeds: u64,
    /// How long the implementation may run (`None`: no limit).
    pub timeout: Option<std::time::Duration>,
    /// Divergences a failing case may match and still count as passed (`--allow-divergence`).
    pub allowed: Vec<String>,
}

impl Request {
    /// The seeds whose random cases run.
    pub fn seeds(&self) -> std::ops::Range<u64> {
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
}
