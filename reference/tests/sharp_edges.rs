//! Edges the spec vectors do not reach from this crate: ASL away from its defaults (no clip; focusing
//! powers below 1 where the weight's base underflows or is clamped), softmax's gradient when one positive
//! dominates, the two-way builder, and the catalogue of configurations the suites iterate.

use ndarray::{array, Array2};
use twoway_reference::{AnyLoss, Asl, LossFn, Mask, Reduction, Softmax, TwoWay, Way};

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// ASL without clip, written from its definition: positive -(1-p)^g+ log p, negative -p^g- log(1-p).
fn asl_no_clip_by_definition(x: f64, positive: bool, gamma_pos: f64, gamma_neg: f64) -> f64 {
    let p = sigmoid(x);
    if positive {
        -(1.0 - p).powf(gamma_pos) * p.ln()
    } else {
        -p.powf(gamma_neg) * (1.0 - p).ln()
    }
}

#[test]
fn asl_without_clip_matches_its_definition_in_value_and_gradient() {
    let x: Array2<f64> = array![[-2.5, -0.3, 0.0, 0.8, 3.1], [1.7, -1.2, 2.2, -4.0, 0.4]];
    let y: Array2<f64> = array![[1.0, 0.0, 1.0, 0.0, -1.0], [0.0, 1.0, 0.0, 1.0, 0.0]];
    let (gp, gn) = (1.0, 3.0);
    let mut compared = 0;
    for focus_grad in [false, true] {
        let asl =
            Asl { clip: 0.0, gamma_pos: gp, gamma_neg: gn, focus_grad, reduction: Reduction::Sum, ..Asl::default() };
        let (value, grad) = asl.value_and_grad(x.view(), y.view()).unwrap();
        let mut expected = 0.0;
        for ((i, j), &xv) in x.indexed_iter() {
            let label = y[[i, j]];
            if label < 0.0 {
                assert_eq!(grad[[i, j]], 0.0);
                continue;
            }
            let positive = label == 1.0;
            expected += asl_no_clip_by_definition(xv, positive, gp, gn);
            let p = sigmoid(xv);
            // Closed forms of d/dx: with the weight held constant, -w d(log base)/dx; differentiated, the
            // derivative of the definition above.
            let want = match (positive, focus_grad) {
                (true, false) => -(1.0 - p).powf(gp) * (1.0 - p),
                (false, false) => p.powf(gn) * p,
                (true, true) => {
                    let w = (1.0 - p).powf(gp);
                    let dw = -gp * (1.0 - p).powf(gp - 1.0) * p * (1.0 - p);
                    -(dw * p.ln() + w * (1.0 - p))
                }
                (false, true) => {
                    let w = p.powf(gn);
                    let dw = gn * p.powf(gn - 1.0) * p * (1.0 - p);
                    -(dw * (1.0 - p).ln() - w * p)
                }
            };
            assert!(
                (grad[[i, j]] - want).abs() <= 1e-12 * (1.0 + want.abs()),
                "[{i},{j}] {focus_grad}: {} vs {want}",
                grad[[i, j]]
            );
            compared += 1;
        }
        assert!((value - expected).abs() <= 1e-12 * expected.abs(), "{value} vs {expected}");
    }
    assert_eq!(compared, 18);
}

#[test]
fn asl_focusing_gradient_stays_finite_where_its_base_underflows_or_is_clamped() {
    // 1 - p underflows to a subnormal (x = 720) or to zero (x = 800) for a positive; p does for a negative
    // at -720 / -800 without clip; the clip clamps q to 1 for a negative at -10 (p < clip). With a focusing
    // power of 0 or 1/2 the weight's derivative there is 0, not 0 * inf.
    let x: Array2<f64> = array![[720.0, 800.0, -720.0, -800.0, -10.0]];
    let y: Array2<f64> = array![[1.0, 1.0, 0.0, 0.0, 0.0]];
    let mut checked = 0;
    for gamma in [0.0, 0.5] {
        for clip in [0.0, 0.05] {
            let asl = Asl { clip, gamma_pos: gamma, gamma_neg: gamma, focus_grad: true, ..Asl::default() };
            let (value, grad) = asl.value_and_grad(x.view(), y.view()).unwrap();
            assert!(value.is_finite(), "gamma {gamma} clip {clip}: value {value}");
            for (j, g) in grad.iter().enumerate() {
                // Every entry here is classified with certainty: its gradient is (almost) zero.
                assert!(g.is_finite() && g.abs() < 1e-4, "gamma {gamma} clip {clip} column {j}: gradient {g}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 20);
}

#[test]
fn the_way_of_a_loss_is_the_configured_one_and_none_for_element_wise_losses() {
    let mut seen = 0;
    for (name, loss) in AnyLoss::every_config() {
        let family = name.split('/').next().unwrap();
        match family {
            "twoway" | "softmax" => {
                let way: Way = name.split('/').nth(1).unwrap().parse().unwrap();
                assert_eq!(loss.way(), Some(way), "{name}");
            }
            _ => assert_eq!(loss.way(), None, "{name}"),
        }
        seen += 1;
    }
    assert!(seen >= 12);
}

#[test]
fn every_config_is_distinct_and_named_once() {
    let configs = AnyLoss::every_config();
    for (a, (name_a, loss_a)) in configs.iter().enumerate() {
        for (name_b, loss_b) in &configs[a + 1..] {
            assert_ne!(name_a, name_b);
            assert_ne!(loss_a, loss_b, "{name_a} and {name_b} are the same configuration");
        }
    }
    // Two-way: every way in every masking; softmax in every way.
    let twoway = configs.iter().filter(|(n, _)| n.starts_with("twoway/")).count();
    assert_eq!(twoway, Way::ALL.len() * twoway_reference::Mask::ALL.len());
}

#[test]
fn softmax_gradient_keeps_its_precision_when_one_positive_dominates() {
    // One positive at 0 and two negatives at -40: softmax gives the positive p = 1 / (1 + q) with
    // q = 2 e^-40, so its gradient p - 1 = -q / (1 + q) ~ -8.5e-18, which 1 - p computed naively loses.
    let x: Array2<f64> = array![[0.0, -40.0, -40.0]];
    let y: Array2<f64> = array![[1.0, 0.0, 0.0]];
    let q = 2.0 * (-40.0f64).exp();
    let (value, grad) = Softmax { way: Way::Sample }.value_and_grad(x.view(), y.view()).unwrap();
    // Value: -log p = log(1 + q) (absolute precision only: 1 + q rounds to 1); gradient of a negative:
    // e^-40 / (1 + q), each to 1e-12 relative.
    assert!((value - q.ln_1p()).abs() <= 1e-15, "{value}");
    let want = [-q / (1.0 + q), (-40.0f64).exp() / (1.0 + q), (-40.0f64).exp() / (1.0 + q)];
    let mut checked = 0;
    for (g, w) in grad.iter().zip(want) {
        assert!((g - w).abs() <= 1e-12 * w.abs(), "{g} vs {w}");
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn the_two_way_builder_sets_what_it_names() {
    for way in Way::ALL {
        for mask in Mask::ALL {
            let l = TwoWay::new(2.0, 0.5).way(*way).mask(*mask);
            assert_eq!((l.tp, l.tn, l.way, l.mask), (2.0, 0.5, *way, *mask));
        }
    }
}

#[test]
fn asl_logs_keep_their_digits_in_both_tails() {
    // gamma 0, no clip, eps far below: each term is -ln sigmoid(s) = softplus(-s), with s = x for a
    // positive and -x for a negative; softplus(-s) = ln(1 + e^-s) (s > 0) or -s + ln(1 + e^s) (s < 0).
    let softplus_neg = |s: f64| if s > 0.0 { (-s).exp().ln_1p() } else { -s + s.exp().ln_1p() };
    let asl =
        Asl { gamma_pos: 0.0, gamma_neg: 0.0, clip: 0.0, eps: 1e-300, reduction: Reduction::Sum, ..Asl::default() };
    let mut checked = 0;
    for x in [-23.0, -5.0, 0.7, 23.0] {
        for (label, s) in [(1.0, x), (0.0, -x)] {
            let want = softplus_neg(s);
            let got = asl.value(array![[x]].view(), array![[label]].view()).unwrap();
            assert!((got - want).abs() <= 1e-13 * want, "x {x} label {label}: {got} vs {want}");
            checked += 1;
        }
    }
    assert_eq!(checked, 8);
}
