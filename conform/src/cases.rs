//! The conformance cases and their expected numbers: every spec vector of the chosen loss or metric, then
//! seeded random cases from the generators the property tests use (`twoway_reference::testing`).
//!
//! Random case i of a seed draws its logits within the dtype's `logit_ranges[i % 4]`
//! (`spec/data/conformance.yaml`): from 30, where small defects show, out to where only stable forms of
//! softplus and logsumexp survive. `--seeds N` runs the cases of N seeds in one call.
//!
//! A vector at the chosen parameters keeps the expected numbers the spec states for it (closed forms); a
//! vector of the same loss at other parameters, and every random case, is expected to give the reference's
//! numbers at the chosen parameters. In f32, f16 and bf16 the logits are rounded to the dtype first and
//! the expected numbers are the reference's on the rounded logits.

use crate::{CaseSet, Subject, Suite};
use anyhow::{bail, Result};
use ndarray::Array2;
use twoway_reference::testing::Rng;
use twoway_reference::{evaluate, AnyLoss, ApOptions, LossFn};
use twoway_spec::vectors::{LossVector, MetricVector};
use twoway_spec::{Denominator, Dtype, Metric, Spec};

/// One case: inputs (logits or scores), targets and what the implementation should return.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// What the case exercises, in a few words.
    pub exercises: String,
    pub inputs: Array2<f64>,
    pub targets: Array2<f64>,
    pub expected: Expected,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    Loss {
        value: f64,
        grad: Array2<f64>,
    },
    /// mAP on the 0-100 scale; `None` when no line has a positive (the implementation returns NaN).
    Metric(Option<f64>),
}

/// `x` as an implementation in `dtype` holds it, back in f64 (round to nearest even).
pub fn round(dtype: Dtype, x: f64) -> f64 {
    match dtype {
        Dtype::F64 => x,
        Dtype::F32 => x as f32 as f64,
        Dtype::F16 => half::f16::from_f32(x as f32).to_f64(),
        Dtype::Bf16 => half::bf16::from_f32(x as f32).to_f64(),
    }
}

fn matrix(rows: &[Vec<f64>]) -> Array2<f64> {
    let cols = rows.first().map_or(0, Vec::len);
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).expect("the spec loader checks vectors are rectangular")
}

/// The first sentence of a derivation, as the case's description.
fn first_sentence(text: &str) -> String {
    let t = text.split(". ").next().unwrap_or(text).trim_end_matches('.');
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every case of `suite`: the vectors, then the random cases.
pub fn build(spec: &Spec, suite: &Suite) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    let vectors = matches!(suite.cases, CaseSet::Vectors | CaseSet::All);
    let random = matches!(suite.cases, CaseSet::Random | CaseSet::All);
    match suite.subject {
        Subject::Loss(loss) => {
            if vectors {
                for v in twoway_spec::vectors::embedded().losses.iter().filter(|v| v.loss == loss.kind()) {
                    cases.push(loss_vector(v, &loss, suite.dtype)?);
                }
            }
            if random {
                let c = &spec.conformance.random;
                let ranges = c.logit_ranges.get(suite.dtype);
                for seed in suite.seed_range() {
                    let mut rng = Rng::new(seed);
                    for i in 0..suite.random {
                        let range = ranges[i % ranges.len()];
                        let g = rng.loss_case(c.max_rows, c.max_cols, range);
                        let x = g.inputs.mapv(|v| round(suite.dtype, v));
                        let expected = expect_loss(&loss, &x, &g.targets)?;
                        let mut exercises = g.exercises;
                        if !exercises.iter().any(|e| e.starts_with("logits at")) {
                            exercises.push(format!("logits within +-{range}"));
                        }
                        let name = suite.random_name(seed, i);
                        cases.push(Case {
                            name,
                            exercises: exercises.join(", "),
                            inputs: x,
                            targets: g.targets,
                            expected,
                        });
                    }
                }
            }
        }
        Subject::Metric { metric, ties } => {
            if suite.dtype != Dtype::F64 {
                bail!("--dtype {} applies to losses; a metric implementation takes float64 arrays", suite.dtype);
            }
            let opts = ApOptions { ties, denominator: Denominator::Exact };
            if vectors {
                for v in &twoway_spec::vectors::embedded().metrics {
                    if let Some(c) = metric_vector(v, metric, opts)? {
                        cases.push(c);
                    }
                }
            }
            if random {
                let c = &spec.conformance.random;
                for seed in suite.seed_range() {
                    let mut rng = Rng::new(seed);
                    for i in 0..suite.random {
                        let g = rng.metric_case(c.max_rows, c.max_cols);
                        let expected = Expected::Metric(expect_metric(metric, opts, &g.inputs, &g.targets)?);
                        let exercises = g.exercises.join(", ");
                        let name = suite.random_name(seed, i);
                        cases.push(Case { name, exercises, inputs: g.inputs, targets: g.targets, expected });
                    }
                }
            }
        }
    }
    if cases.is_empty() {
        let why = match suite.cases {
            CaseSet::Random => "--cases random with --random 0".to_string(),
            _ => format!("the spec has no vector of {} and --random is 0", suite.subject.describe()),
        };
        bail!("no case to run: {why}");
    }
    Ok(cases)
}

/// The reference's value and gradient of `loss`.
pub fn expect_loss(loss: &AnyLoss, x: &Array2<f64>, y: &Array2<f64>) -> Result<Expected> {
    let (value, grad) = loss.value_and_grad(x.view(), y.view())?;
    Ok(Expected::Loss { value, grad })
}

/// The reference's `metric` (None when no line has a positive).
pub fn expect_metric(metric: Metric, opts: ApOptions, s: &Array2<f64>, y: &Array2<f64>) -> Result<Option<f64>> {
    let r = evaluate(s.view(), y.view(), opts)?;
    Ok(match metric {
        Metric::MapClass => r.map_class,
        Metric::MapSample => r.map_sample,
        other => bail!("conformance covers mAP@class and mAP@sample, not {other} (`twoway metrics` computes it)"),
    })
}

fn loss_vector(v: &LossVector, loss: &AnyLoss, dtype: Dtype) -> Result<Case> {
    let (x, y) = (matrix(&v.logits), matrix(&v.targets));
    let own = AnyLoss::from_params(v.loss, &v.params)?;
    let (expected, exercises) = if own == *loss && dtype == Dtype::F64 {
        (Expected::Loss { value: v.value, grad: matrix(&v.grad) }, first_sentence(&v.derivation))
    } else {
        let at = if own == *loss { "rounded to the dtype" } else { "at the chosen parameters" };
        let x = x.mapv(|t| round(dtype, t));
        (expect_loss(loss, &x, &y)?, format!("{} ({at}, expected from the reference)", first_sentence(&v.derivation)))
    };
    let inputs = x.mapv(|t| round(dtype, t));
    Ok(Case { name: v.name.clone(), exercises, inputs, targets: y, expected })
}

/// The vector as a case of `metric`, when it states that metric.
fn metric_vector(v: &MetricVector, metric: Metric, opts: ApOptions) -> Result<Option<Case>> {
    let stated = match metric {
        Metric::MapClass => v.map_class,
        Metric::MapSample => v.map_sample,
        other => bail!("conformance covers mAP@class and mAP@sample, not {other} (`twoway metrics` computes it)"),
    };
    let Some(stated) = stated else { return Ok(None) };
    let (s, y) = (matrix(&v.scores), matrix(&v.targets));
    let same = v.ties == opts.ties && v.denominator.unwrap_or(Denominator::Exact) == Denominator::Exact;
    let (expected, exercises) = if same {
        (stated, first_sentence(&v.derivation))
    } else {
        let e = expect_metric(metric, opts, &s, &y)?;
        (e, format!("{} (at the chosen rule, expected from the reference)", first_sentence(&v.derivation)))
    };
    Ok(Some(Case { name: v.name.clone(), exercises, inputs: s, targets: y, expected: Expected::Metric(expected) }))
}
