//! The input and hyper-parameter checks of the reference: every rule refuses what it states, with the
//! position and value of the offending entry, and accepts what lies just inside it.

use ndarray::{array, Array2};
use twoway_reference::check::{finite, inputs, Labels};
use twoway_reference::{AnyLoss, Asl, Focal, LossFn, RefError, TwoWay};

#[test]
fn labels_must_be_exactly_minus_one_zero_or_one_and_errors_carry_the_position() {
    let ok = Labels::new(array![[1.0, 0.0, -1.0], [0.0, 1.0, 1.0]].view()).unwrap();
    assert_eq!(ok.dim(), (2, 3));
    assert_eq!(ok.view(), array![[1i8, 0, -1], [0, 1, 1]]);
    let mut checked = 0;
    for (bad, row, col) in [(0.5, 1, 2), (1.7, 0, 1), (2.0, 1, 0), (-0.999, 0, 0), (f64::NAN, 1, 1)] {
        let mut t: Array2<f64> = array![[1.0, 0.0, -1.0], [0.0, 1.0, 1.0]];
        t[[row, col]] = bad;
        match Labels::new(t.view()) {
            Err(RefError::BadLabel { row: r, col: c, value }) => {
                assert_eq!((r, c), (row, col), "{bad}");
                assert!(value == bad || (value.is_nan() && bad.is_nan()));
            }
            other => panic!("{bad}: {other:?}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 5);
}

#[test]
fn logits_must_be_finite_and_non_empty_with_the_position_named() {
    assert!(finite("logits", Array2::<f64>::zeros((3, 4)).view()).is_ok());
    for shape in [(0, 4), (3, 0), (0, 0)] {
        assert!(matches!(
            finite("logits", Array2::<f64>::zeros(shape).view()),
            Err(RefError::EmptyBatch { shape: s }) if s == shape
        ));
    }
    for (bad, row, col) in [(f64::NAN, 2, 1), (f64::INFINITY, 0, 3), (f64::NEG_INFINITY, 1, 0)] {
        let mut x = Array2::<f64>::zeros((3, 4));
        x[[row, col]] = bad;
        match finite("scores", x.view()) {
            Err(RefError::NonFinite { what: "scores", row: r, col: c, .. }) => assert_eq!((r, c), (row, col)),
            other => panic!("{bad}: {other:?}"),
        }
    }
    // A column-major (transposed) view reports the position in its own row-major order.
    let mut x = Array2::<f64>::zeros((4, 3));
    x[[1, 2]] = f64::NAN;
    let t = x.t();
    assert!(matches!(finite("logits", t), Err(RefError::NonFinite { row: 2, col: 1, .. })));
    // The pair: same shape, finite logits, labels.
    let e = inputs(array![[0.0, 1.0]].view(), array![[1.0], [0.0]].view()).unwrap_err();
    assert!(matches!(e, RefError::ShapeMismatch { logits: (1, 2), targets: (2, 1) }));
}

#[test]
fn temperatures_must_be_positive_finite_with_a_finite_reciprocal() {
    let x = array![[0.3, 1.2]];
    let y = array![[1.0, 0.0]];
    for t in [1e-300, 0.25, 1.0, 1e300] {
        assert!(TwoWay::new(t, 1.0).value(x.view(), y.view()).is_ok(), "Tp {t}");
        assert!(TwoWay::new(1.0, t).value(x.view(), y.view()).is_ok(), "Tn {t}");
    }
    for t in [0.0, -0.0, -1.0, 1e-310, f64::INFINITY, f64::NAN] {
        match TwoWay::new(t, 1.0).value(x.view(), y.view()) {
            Err(RefError::BadTemperature { name: "Tp", .. }) => {}
            other => panic!("Tp {t}: {other:?}"),
        }
        match TwoWay::new(1.0, t).value(x.view(), y.view()) {
            Err(RefError::BadTemperature { name: "Tn", .. }) => {}
            other => panic!("Tn {t}: {other:?}"),
        }
    }
}

#[test]
fn hyper_parameters_outside_their_rules_are_refused() {
    let focal = |gamma: f64, alpha: Option<f64>| AnyLoss::Focal(Focal { gamma, alpha, ..Focal::default() }).validate();
    assert!(focal(0.0, None).is_ok() && focal(2.0, Some(0.0)).is_ok() && focal(2.0, Some(1.0)).is_ok());
    for (gamma, alpha, name) in [
        (-0.5, None, "gamma"),
        (f64::INFINITY, None, "gamma"),
        (f64::NAN, None, "gamma"),
        (2.0, Some(1.5), "alpha"),
        (2.0, Some(-0.1), "alpha"),
    ] {
        match focal(gamma, alpha) {
            Err(RefError::BadParam { name: n, .. }) => assert_eq!(n, name),
            other => panic!("gamma {gamma} alpha {alpha:?}: {other:?}"),
        }
    }
    let asl = |gn: f64, gp: f64, clip: f64, eps: f64| {
        AnyLoss::Asl(Asl { gamma_neg: gn, gamma_pos: gp, clip, eps, ..Asl::default() }).validate()
    };
    assert!(asl(4.0, 0.0, 0.0, 1e-8).is_ok() && asl(0.0, 1.0, 0.99, 0.5).is_ok());
    for (gn, gp, clip, eps, name) in [
        (-1.0, 0.0, 0.05, 1e-8, "gamma_neg"),
        (4.0, f64::INFINITY, 0.05, 1e-8, "gamma_pos"),
        (4.0, 0.0, 1.0, 1e-8, "clip"),
        (4.0, 0.0, -0.01, 1e-8, "clip"),
        (4.0, 0.0, 0.05, 0.0, "eps"),
        (4.0, 0.0, 0.05, 1.0, "eps"),
    ] {
        match asl(gn, gp, clip, eps) {
            Err(RefError::BadParam { name: n, .. }) => assert_eq!(n, name),
            other => panic!("{name}: {other:?}"),
        }
    }
}
