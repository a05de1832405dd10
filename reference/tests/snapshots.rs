//! Snapshots (insta) of the value and gradient of every loss configuration on the spec's loss vectors and on
//! a seeded random batch. A change in any number shows up as a snapshot diff to review.

use ndarray::Array2;
use std::fmt::Write;
use twoway_reference::testing::Rng;
use twoway_reference::{AnyLoss, LossFn};

/// 12 significant digits: stable across platforms' last-bit differences.
fn fmt(v: f64) -> String {
    format!("{v:.11e}")
}

fn render(out: &mut String, name: &str, loss: &AnyLoss, x: &Array2<f64>, y: &Array2<f64>) {
    let (v, g) = loss.value_and_grad(x.view(), y.view()).unwrap();
    let _ = writeln!(out, "{name}: value {}", fmt(v));
    for row in g.rows() {
        let _ = writeln!(out, "  [{}]", row.iter().map(|t| fmt(*t)).collect::<Vec<_>>().join(", "));
    }
}

#[test]
fn every_config_on_a_seeded_batch() {
    let mut rng = Rng::new(20230618);
    let (x, y) = rng.batch(6, 5, 4.0, 0.3, 0.15);
    let mut out = String::new();
    for (name, loss) in AnyLoss::every_config() {
        render(&mut out, &name, &loss, &x, &y);
    }
    insta::assert_snapshot!("seeded_batch_6x5", out);
}

#[test]
fn every_config_on_the_spec_loss_vectors_inputs() {
    let mut out = String::new();
    for v in &twoway_spec::vectors::embedded().losses {
        let x = Array2::from_shape_vec((v.logits.len(), v.logits[0].len()), v.logits.concat()).unwrap();
        let y = Array2::from_shape_vec((v.targets.len(), v.targets[0].len()), v.targets.concat()).unwrap();
        let loss = AnyLoss::from_params(v.loss, &v.params).unwrap();
        render(&mut out, &v.name, &loss, &x, &y);
    }
    insta::assert_snapshot!("spec_vectors", out);
}
