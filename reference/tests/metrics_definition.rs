//! `evaluate` against AP computed straight from its definition, O(n^2) per vector, on scores chosen to
//! stress the search: ties, -0.0 beside 0.0, subnormals, values near f64::MAX (spans that overflow),
//! tight clusters, and columns with many distinct positives (the bucket-table path) as well as few (the
//! linear path); matrices taller than a tile of rows and wider than a block of classes; and the narrow
//! element types (f32 scores; f32 and i8 targets) against the same matrices widened to f64.

use ndarray::Array2;
use proptest::prelude::*;
use twoway_reference::metrics::average_precision;
use twoway_reference::{evaluate, evaluate_as, ApOptions, Ties};
use twoway_spec::Denominator;

/// AP of one vector from the definition: for each positive, the precision over the entries ranked at or
/// above it (grouped: every entry with a score >= its score; index: higher score, or equal score at an
/// earlier or the same position); the mean over the positives.
fn ap_by_definition(scores: &[f64], targets: &[f64], opts: ApOptions) -> Option<f64> {
    let kept: Vec<(usize, f64, bool)> = scores
        .iter()
        .zip(targets)
        .enumerate()
        .filter(|(_, (_, t))| **t >= 0.0)
        .map(|(i, (s, t))| (i, *s, *t > 0.0))
        .collect();
    let positives: Vec<&(usize, f64, bool)> = kept.iter().filter(|e| e.2).collect();
    if positives.is_empty() {
        return None;
    }
    let mut sum = 0.0;
    for &&(ip, sp, _) in &positives {
        let at_or_above = |&&(i, s, _): &&(usize, f64, bool)| match opts.ties {
            Ties::Grouped => s >= sp,
            Ties::Index => s > sp || (s == sp && i <= ip),
        };
        let ranked = kept.iter().filter(|e| at_or_above(e)).count();
        let hits = kept.iter().filter(|e| e.2).filter(|e| at_or_above(e)).count();
        sum += hits as f64 / ranked as f64;
    }
    let p = positives.len() as f64;
    Some(match opts.denominator {
        Denominator::Exact => sum / p,
        Denominator::Release => sum / (p + 1e-8),
    })
}

/// A score from a palette that mixes ordinary values, ties, signed zeros, subnormals, huge values and a
/// tight cluster.
fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -3.0f64..3.0,
        2 => (0i32..6).prop_map(|k| k as f64 * 0.5),
        1 => prop::sample::select(vec![0.0, -0.0, 5e-324, -5e-324, 1e-300, f64::MAX, -f64::MAX, 1e308, -1e308]),
        1 => (0i32..40).prop_map(|k| 0.5 + k as f64 * 1e-15),
    ]
}

fn label(positive: f64) -> impl Strategy<Value = f64> {
    (0.0f64..1.0).prop_map(move |u| {
        if u < positive {
            1.0
        } else if u < positive + 0.15 {
            -1.0
        } else {
            0.0
        }
    })
}

fn matrix(rows: usize, cols: usize) -> impl Strategy<Value = (Array2<f64>, Array2<f64>)> {
    (1..=rows, 1..=cols, 0.05f64..0.6).prop_flat_map(|(r, c, positive)| {
        (prop::collection::vec(score(), r * c), prop::collection::vec(label(positive), r * c)).prop_map(
            move |(s, y)| (Array2::from_shape_vec((r, c), s).unwrap(), Array2::from_shape_vec((r, c), y).unwrap()),
        )
    })
}

fn check(s: &Array2<f64>, y: &Array2<f64>) -> Result<(), TestCaseError> {
    for ties in Ties::ALL {
        for denominator in [Denominator::Exact, Denominator::Release] {
            let opts = ApOptions { ties: *ties, denominator };
            let report = evaluate(s.view(), y.view(), opts).unwrap();
            prop_assert_eq!((report.per_class.len(), report.per_sample.len()), (s.ncols(), s.nrows()));
            let mut class_aps = Vec::new();
            for (j, got) in report.per_class.iter().enumerate() {
                let col = s.column(j).to_vec();
                let want = ap_by_definition(&col, &y.column(j).to_vec(), opts).map(|a| 100.0 * a);
                prop_assert!(same(*got, want), "{ties} {denominator:?} class {j}: {got:?} vs {want:?}");
                class_aps.extend(want);
            }
            let mut sample_aps = Vec::new();
            for (i, got) in report.per_sample.iter().enumerate() {
                let want = ap_by_definition(&s.row(i).to_vec(), &y.row(i).to_vec(), opts).map(|a| 100.0 * a);
                prop_assert!(same(*got, want), "{ties} {denominator:?} sample {i}: {got:?} vs {want:?}");
                // One vector alone, through the single-vector entry point.
                let alone = average_precision(&s.row(i).to_vec(), &y.row(i).to_vec(), opts).unwrap();
                prop_assert!(
                    same(alone.map(|a| 100.0 * a), want),
                    "{ties} {denominator:?} sample {i} alone: {alone:?}"
                );
                sample_aps.extend(want);
            }
            // mAP: the mean over the vectors with a positive; none without one.
            prop_assert!(same(report.map_class, mean_of(&class_aps)), "{ties} mAP@class {:?}", report.map_class);
            prop_assert!(same(report.map_sample, mean_of(&sample_aps)), "{ties} mAP@sample {:?}", report.map_sample);
        }
    }
    Ok(())
}

fn mean_of(aps: &[f64]) -> Option<f64> {
    (!aps.is_empty()).then(|| aps.iter().sum::<f64>() / aps.len() as f64)
}

fn same(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-12 * b.abs().max(1.0),
        (a, b) => a == b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        rng_seed: proptest::test_runner::RngSeed::Fixed(twoway_reference::testing::proptest_seed()),
        ..ProptestConfig::default()
    })]

    /// Small matrices: rows and columns of a few entries (the linear path, empty vectors, all-unknown).
    #[test]
    fn small_matrices_match_the_definition((s, y) in matrix(12, 12)) {
        check(&s, &y)?;
    }

    /// Tall matrices: columns with tens of distinct positives (the bucket-table path, crowded buckets,
    /// spans that overflow to infinity).
    #[test]
    fn tall_matrices_match_the_definition((s, y) in matrix(160, 3)) {
        check(&s, &y)?;
    }

    /// Wide matrices: rows with tens of distinct positives.
    #[test]
    fn wide_matrices_match_the_definition((s, y) in matrix(3, 160)) {
        check(&s, &y)?;
    }
}

/// f32 scores (any f32: ties, signed zeros, subnormals, the extremes) and their labels in every target
/// type, against the same matrix widened to f64: the reports are equal, bit for bit.
fn check_narrow(s: &Array2<f64>, y: &Array2<f64>) -> Result<(), TestCaseError> {
    // The palette's values beyond f32's range become its extremes.
    let s32 = s.mapv(|v| v.clamp(f32::MIN as f64, f32::MAX as f64) as f32);
    let wide = s32.mapv(|v| v as f64);
    for ties in Ties::ALL {
        for denominator in [Denominator::Exact, Denominator::Release] {
            let opts = ApOptions { ties: *ties, denominator };
            let want = evaluate(wide.view(), y.view(), opts).unwrap();
            let by_i8 = evaluate_as(s32.view(), y.mapv(|l| l as i8).view(), opts).unwrap();
            let by_f32 = evaluate_as(s32.view(), y.mapv(|l| l as f32).view(), opts).unwrap();
            let wide_i8 = evaluate_as(wide.view(), y.mapv(|l| l as i8).view(), opts).unwrap();
            prop_assert_eq!(&by_i8, &want, "{} {:?}: f32 scores, i8 targets", ties, denominator);
            prop_assert_eq!(&by_f32, &want, "{} {:?}: f32 scores, f32 targets", ties, denominator);
            prop_assert_eq!(&wide_i8, &want, "{} {:?}: f64 scores, i8 targets", ties, denominator);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        rng_seed: proptest::test_runner::RngSeed::Fixed(twoway_reference::testing::proptest_seed()),
        ..ProptestConfig::default()
    })]

    #[test]
    fn narrow_types_give_the_results_of_the_widened_matrix((s, y) in matrix(40, 40)) {
        check_narrow(&s, &y)?;
    }
}

/// Taller than a tile of rows and wider than a block of classes, with rows of many positives (the
/// bucket-table path of the sample side), a class with none and a class of nearly only negatives: every
/// class and sample against the definition, in f64 and in the narrow types.
#[test]
fn a_matrix_over_several_tiles_and_blocks_matches_the_definition() {
    let (rows, cols) = (1100, 70);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let s = Array2::from_shape_fn((rows, cols), |_| {
        let u = next();
        // Half the scores on a coarse grid (ties across and within classes), half anywhere in [-4, 4).
        if u % 2 == 0 {
            (u >> 40) as f64 % 9.0 * 0.5 - 2.0
        } else {
            (u >> 11) as f64 / (1u64 << 53) as f64 * 8.0 - 4.0
        }
    });
    let y = Array2::from_shape_fn((rows, cols), |(i, j)| {
        let u = next() % 100;
        let positive = if j == 5 {
            0
        } else if i % 97 == 0 {
            70
        } else {
            6
        };
        if u < positive {
            1.0
        } else if u < positive + 20 {
            -1.0
        } else {
            0.0
        }
    });
    check(&s, &y).unwrap();
    check_narrow(&s, &y).unwrap();
}

/// Every threshold in one bucket of a wide table: scores clustered at 1 ulp steps beside one outlier,
/// so that the bucket holding the cluster is binary-searched.
#[test]
fn a_crowded_bucket_matches_the_definition() {
    let n = 200;
    let scores: Vec<f64> =
        (0..n).map(|i| if i == 0 { 1e6 } else { f64::from_bits(1.0f64.to_bits() + (i as u64 % 50)) }).collect();
    let targets: Vec<f64> = (0..n).map(|i| if i % 3 == 0 { 1.0 } else { 0.0 }).collect();
    let s = Array2::from_shape_vec((n, 1), scores).unwrap();
    let y = Array2::from_shape_vec((n, 1), targets).unwrap();
    check(&s, &y).unwrap();
}
