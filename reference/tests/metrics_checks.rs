//! The input checks of `evaluate`: shapes, empty matrices, scores that are not finite and labels outside
//! {-1, 0, 1}, each named by its position; with several bad entries, the first in row-major order, however
//! the rows are split between threads.

use ndarray::{array, Array2};
use twoway_reference::{evaluate, evaluate_as, ApOptions, RefError};

fn two_threads() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("a pool of 2 threads")
}

#[test]
fn shapes_must_agree_and_be_non_empty() {
    let opts = ApOptions::default();
    let e = evaluate(Array2::zeros((2, 3)).view(), Array2::zeros((3, 2)).view(), opts).unwrap_err();
    assert!(matches!(e, RefError::ShapeMismatch { logits: (2, 3), targets: (3, 2) }), "{e:?}");
    let mut checked = 0;
    for shape in [(0, 4), (4, 0), (0, 0)] {
        let e = evaluate(Array2::zeros(shape).view(), Array2::zeros(shape).view(), opts).unwrap_err();
        assert!(matches!(e, RefError::EmptyBatch { shape: s } if s == shape), "{shape:?}: {e:?}");
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn a_bad_score_or_label_is_named_by_its_position_after_valid_entries_of_every_label() {
    // Each row holds a positive, a negative and an unknown before the bad entry, so a check that
    // mistook any valid label for a bad one would name an earlier position or the wrong kind.
    let scores: Array2<f64> = array![[0.5, -1.0, 2.0, 0.1], [1.5, 0.2, -0.3, 0.4]];
    let labels: Array2<f64> = array![[1.0, 0.0, -1.0, 0.0], [-1.0, 1.0, 0.0, 1.0]];
    let mut checked = 0;
    for (row, col) in [(0, 3), (1, 3)] {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut s = scores.clone();
            s[[row, col]] = bad;
            match evaluate(s.view(), labels.view(), ApOptions::default()) {
                Err(RefError::NonFinite { what: "scores", row: r, col: c, .. }) => assert_eq!((r, c), (row, col)),
                other => panic!("score {bad} at ({row}, {col}): {other:?}"),
            }
            checked += 1;
        }
        for bad in [0.5, 2.0, -2.0, -0.5, f64::NAN] {
            let mut y = labels.clone();
            y[[row, col]] = bad;
            match evaluate(scores.view(), y.view(), ApOptions::default()) {
                Err(RefError::BadLabel { row: r, col: c, value }) => {
                    assert_eq!((r, c), (row, col));
                    assert!(value == bad || (value.is_nan() && bad.is_nan()));
                }
                other => panic!("label {bad} at ({row}, {col}): {other:?}"),
            }
            checked += 1;
        }
    }
    // Both bad at once: the score is named first.
    let (mut s, mut y) = (scores.clone(), labels.clone());
    s[[1, 2]] = f64::NAN;
    y[[1, 2]] = 0.5;
    match evaluate(s.view(), y.view(), ApOptions::default()) {
        Err(RefError::NonFinite { row: 1, col: 2, .. }) => checked += 1,
        other => panic!("NaN score with label 0.5: {other:?}"),
    }
    assert_eq!(checked, 17);
    assert!(evaluate(scores.view(), labels.view(), ApOptions::default()).is_ok());
}

#[test]
fn with_bad_entries_in_several_row_ranges_the_first_in_row_major_order_is_named() {
    // 4 rows on 2 threads: rows 0-1 and 2-3 are checked by different tasks.
    let pool = two_threads();
    let mut checked = 0;
    for (first, second) in [((0, 2), (2, 0)), ((1, 2), (2, 0)), ((1, 0), (3, 2)), ((0, 0), (2, 1))] {
        let s = Array2::<f64>::zeros((4, 3));
        let mut y = Array2::<f64>::zeros((4, 3));
        y[first] = 7.0;
        y[second] = 9.0;
        let e = pool.install(|| evaluate(s.view(), y.view(), ApOptions::default())).unwrap_err();
        match e {
            RefError::BadLabel { row, col, value } => assert_eq!((row, col, value), (first.0, first.1, 7.0)),
            other => panic!("{first:?} and {second:?}: {other:?}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 4);
}

/// The narrow element types are checked by the same rules: an i8 or f32 label outside {-1, 0, 1} and a
/// non-finite f32 score (a positive's included) are named by position and value.
#[test]
fn narrow_types_are_checked_like_f64() {
    let opts = ApOptions::default();
    let scores: Array2<f32> = array![[0.5, -1.0, 2.0], [1.5, 0.2, -0.3]];
    let labels: Array2<i8> = array![[1, 0, -1], [0, 1, 0]];
    assert!(evaluate_as(scores.view(), labels.view(), opts).is_ok());
    let mut checked = 0;
    for bad in [2i8, -2, 127, -128] {
        let mut y = labels.clone();
        y[[1, 2]] = bad;
        match evaluate_as(scores.view(), y.view(), opts) {
            Err(RefError::BadLabel { row: 1, col: 2, value }) => assert_eq!(value, bad as f64),
            other => panic!("i8 label {bad}: {other:?}"),
        }
        checked += 1;
    }
    let mut y = labels.mapv(|l| l as f32);
    y[[0, 1]] = 0.5;
    match evaluate_as(scores.view(), y.view(), opts) {
        Err(RefError::BadLabel { row: 0, col: 1, value }) => assert_eq!(value, 0.5),
        other => panic!("f32 label 0.5: {other:?}"),
    }
    checked += 1;
    // A positive's score and a negative's, each not finite.
    for (at, bad) in [((1, 1), f32::NAN), ((1, 0), f32::INFINITY), ((0, 0), f32::NEG_INFINITY)] {
        let mut s = scores.clone();
        s[at] = bad;
        match evaluate_as(s.view(), labels.view(), opts) {
            Err(RefError::NonFinite { what: "scores", row, col, value }) => {
                assert_eq!((row, col), at);
                assert!(value.to_bits() == (bad as f64).to_bits() || (value.is_nan() && bad.is_nan()));
            }
            other => panic!("f32 score {bad} at {at:?}: {other:?}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 8);
}
