//! The thresholded metrics and threshold tuning: every vector of `spec/vectors/thresholded.yaml`, then
//! properties against counts made here entry by entry (OF1 from the pooled counts; top-k unchanged by an
//! increasing transform of the scores; recall never rising with the threshold; a tuned threshold no worse
//! on its tuning split than any other), and the input checks.

use ndarray::{Array2, ArrayView2};
use proptest::prelude::*;
use twoway_reference::{
    thresholded, tune_global, tune_per_class, ClassCounts, Cut, Decision, RefError, ScoreKind, ThresholdOptions,
};
use twoway_spec::vectors::{self, Tune};

fn matrix(rows: &[Vec<f64>]) -> Array2<f64> {
    Array2::from_shape_fn((rows.len(), rows[0].len()), |(i, j)| rows[i][j])
}

fn same(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-12 * y.abs().max(1.0),
        _ => false,
    }
}

#[test]
fn every_thresholded_vector_passes() {
    let all = &vectors::embedded().thresholded;
    let mut compared = 0;
    for v in all {
        let defaults = ThresholdOptions::default();
        let opts = ThresholdOptions {
            score_kind: v.score_kind.unwrap_or(defaults.score_kind),
            unknown: v.unknown.unwrap_or(defaults.unknown),
            undefined: v.undefined.unwrap_or(defaults.undefined),
        };
        let (s, y) = (matrix(&v.scores), matrix(&v.targets));
        let default_cut = opts.cut(0.5).unwrap();
        let decision = match v.tune {
            Some(tune) => {
                let (ts, ty) = (matrix(v.tune_scores.as_ref().unwrap()), matrix(v.tune_targets.as_ref().unwrap()));
                let cuts: Vec<f64> = match tune {
                    Tune::Global => vec![tune_global(ts.view(), ty.view(), default_cut, &opts).unwrap().cut; s.ncols()],
                    Tune::PerClass => tune_per_class(ts.view(), ty.view(), default_cut, &opts)
                        .unwrap()
                        .iter()
                        .map(|t| t.cut)
                        .collect(),
                };
                assert_eq!(&cuts, v.cuts.as_ref().unwrap(), "{}: tuned cuts", v.name);
                compared += 1;
                Decision::Threshold(Cut::PerClass(cuts))
            }
            None => {
                let cut = match (v.threshold, v.top_k) {
                    (Some(t), _) => Some(Cut::One(opts.cut(t).unwrap())),
                    (None, None) => Some(Cut::One(default_cut)),
                    (None, Some(_)) => None,
                };
                match v.top_k {
                    Some(k) => Decision::TopK { k, cut },
                    None => Decision::Threshold(cut.unwrap()),
                }
            }
        };
        let r = thresholded(s.view(), y.view(), &decision, &opts).unwrap();
        let counts = |f: fn(&ClassCounts) -> u64| r.per_class.iter().map(f).collect::<Vec<_>>();
        assert_eq!(counts(|c| c.tp), v.tp, "{}: TP", v.name);
        assert_eq!(counts(|c| c.fp), v.fp, "{}: FP", v.name);
        assert_eq!(counts(|c| c.fn_), v.fn_, "{}: FN", v.name);
        let got = [r.cp, r.cr, r.cf1, r.op, r.or, r.of1, r.f1_mean];
        for ((key, want), got) in v.expected().into_iter().zip(got) {
            assert!(same(got, want), "{}: {key} = {got:?}, the vector says {want:?}", v.name);
            compared += 1;
        }
    }
    assert!(all.len() >= 20 && compared >= 7 * all.len(), "{} vectors, {compared} comparisons", all.len());
}

/// Counts made here entry by entry: a class is predicted when its score is at or above `cut`, and, with
/// `top_k`, it is among the k first of a stable descending sort.
fn counts_by_hand(s: ArrayView2<f64>, y: ArrayView2<f64>, cut: Option<f64>, top_k: Option<usize>) -> [u64; 3] {
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    for (srow, yrow) in s.rows().into_iter().zip(y.rows()) {
        let mut order: Vec<usize> = (0..srow.len()).collect();
        order.sort_by(|&a, &b| srow[b].partial_cmp(&srow[a]).unwrap());
        let rank = |j: usize| order.iter().position(|&o| o == j).unwrap();
        for j in 0..srow.len() {
            let p = cut.is_none_or(|c| srow[j] >= c) && top_k.is_none_or(|k| rank(j) < k);
            match yrow[j] {
                1.0 if p => tp += 1,
                1.0 => fn_ += 1,
                0.0 if p => fp += 1,
                _ => {}
            }
        }
    }
    [tp, fp, fn_]
}

fn batch() -> impl Strategy<Value = (Array2<f64>, Array2<f64>)> {
    (1usize..24, 1usize..9).prop_flat_map(|(r, c)| {
        // Scores on a grid of eighths, so that ties (at the cut, at the k-th place) are common.
        let s = proptest::collection::vec(-16i32..16, r * c);
        let y = proptest::collection::vec(prop_oneof![3 => Just(1.0), 6 => Just(0.0), 1 => Just(-1.0)], r * c);
        (s, y).prop_map(move |(s, y)| {
            (
                Array2::from_shape_vec((r, c), s.into_iter().map(|v| v as f64 / 8.0).collect()).unwrap(),
                Array2::from_shape_vec((r, c), y).unwrap(),
            )
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn overall_metrics_come_from_the_pooled_counts((s, y) in batch(), cut in -2.0f64..2.0, k in 1usize..5) {
        let opts = ThresholdOptions::default();
        for (decision, c, top) in [
            (Decision::Threshold(Cut::One(cut)), Some(cut), None),
            (Decision::TopK { k, cut: None }, None, Some(k)),
            (Decision::TopK { k, cut: Some(Cut::One(cut)) }, Some(cut), Some(k)),
        ] {
            let r = thresholded(s.view(), y.view(), &decision, &opts).unwrap();
            let [tp, fp, fn_] = counts_by_hand(s.view(), y.view(), c, top);
            let sum = |f: fn(&ClassCounts) -> u64| r.per_class.iter().map(f).sum::<u64>();
            prop_assert_eq!([sum(|c| c.tp), sum(|c| c.fp), sum(|c| c.fn_)], [tp, fp, fn_]);
            let op = if tp + fp == 0 { 0.0 } else { 100.0 * tp as f64 / (tp + fp) as f64 };
            prop_assert!(same(r.op, Some(op)));
            if tp + fn_ > 0 {
                let or = 100.0 * tp as f64 / (tp + fn_) as f64;
                let of1 = if tp == 0 { 0.0 } else { 2.0 * op * or / (op + or) };
                prop_assert!(same(r.or, Some(or)) && same(r.of1, Some(of1)), "{:?} {:?}", r.or, r.of1);
            } else {
                prop_assert!(r.or.is_none() && r.of1.is_none());
            }
        }
    }

    #[test]
    fn top_k_is_unchanged_by_an_increasing_transform((s, y) in batch(), k in 1usize..6) {
        let opts = ThresholdOptions::default();
        let decision = Decision::TopK { k, cut: None };
        let base = thresholded(s.view(), y.view(), &decision, &opts).unwrap();
        // Strictly increasing on the grid of eighths, with no two values rounded together: ties stay ties,
        // order stays order.
        for f in [|v: f64| 4.0 * v - 3.0, |v: f64| v * v * v, |v: f64| v.exp2()] {
            let t = s.mapv(f);
            let moved = thresholded(t.view(), y.view(), &decision, &opts).unwrap();
            prop_assert_eq!(&moved.per_class, &base.per_class);
        }
    }

    #[test]
    fn recall_never_rises_with_the_threshold((s, y) in batch(), a in 0.01f64..0.99, b in 0.01f64..0.99) {
        let opts = ThresholdOptions::default();
        let (lo, hi) = (a.min(b), a.max(b));
        let at = |t: f64| {
            let decision = Decision::Threshold(Cut::One(opts.cut(t).unwrap()));
            thresholded(s.view(), y.view(), &decision, &opts).unwrap()
        };
        let (rl, rh) = (at(lo), at(hi));
        if let (Some(l), Some(h)) = (rl.or, rh.or) {
            prop_assert!(h <= l, "OR {} at {} > {} at {}", h, hi, l, lo);
        }
        if let (Some(l), Some(h)) = (rl.cr, rh.cr) {
            prop_assert!(h <= l + 1e-12, "CR {} at {} > {} at {}", h, hi, l, lo);
        }
        prop_assert!(rh.predicted <= rl.predicted);
    }

    #[test]
    fn a_tuned_threshold_is_no_worse_on_its_tuning_split_than_any_other((s, y) in batch()) {
        let opts = ThresholdOptions::default();
        let of1 = |cut: f64| thresholded(s.view(), y.view(), &Decision::Threshold(Cut::One(cut)), &opts).unwrap().of1;
        let tuned = tune_global(s.view(), y.view(), 0.0, &opts).unwrap();
        let best = of1(tuned.cut);
        prop_assert!(same(best, tuned.f1), "OF1 at the tuned cut {:?}, tuning said {:?}", best, tuned.f1);
        for &candidate in s.iter() {
            if let (Some(b), Some(c)) = (best, of1(candidate)) {
                prop_assert!(c <= b + 1e-9, "cut {} gives OF1 {} > the tuned {}", candidate, c, b);
            }
        }
        let per_class = tune_per_class(s.view(), y.view(), 0.0, &opts).unwrap();
        for (j, t) in per_class.iter().enumerate() {
            let column = |cut: f64| {
                let r = thresholded(s.view(), y.view(), &Decision::Threshold(Cut::One(cut)), &opts).unwrap();
                let c = r.per_class[j];
                (c.tp + c.fn_ > 0).then(|| 100.0 * 2.0 * c.tp as f64 / (2 * c.tp + c.fp + c.fn_) as f64)
            };
            prop_assert!(same(column(t.cut), t.f1), "class {}: {:?} vs {:?}", j, column(t.cut), t.f1);
            for &candidate in s.column(j).iter() {
                if let (Some(b), Some(c)) = (t.f1, column(candidate)) {
                    prop_assert!(c <= b + 1e-9);
                }
            }
        }
    }
}

#[test]
fn bad_inputs_are_named() {
    let opts = ThresholdOptions::default();
    let d = Decision::Threshold(Cut::One(0.0));
    let (s, y) = (Array2::<f64>::zeros((2, 3)), Array2::<f64>::zeros((2, 3)));
    let e = thresholded(s.view(), Array2::<f64>::zeros((3, 2)).view(), &d, &opts).unwrap_err();
    assert!(matches!(e, RefError::ShapeMismatch { .. }), "{e:?}");
    let mut bad = s.clone();
    bad[[1, 2]] = f64::NAN;
    let e = thresholded(bad.view(), y.view(), &d, &opts).unwrap_err();
    assert!(matches!(e, RefError::NonFinite { row: 1, col: 2, .. }), "{e:?}");
    let mut bad = y.clone();
    bad[[0, 1]] = 2.0;
    let e = tune_global(s.view(), bad.view(), 0.0, &opts).unwrap_err();
    assert!(matches!(e, RefError::BadLabel { row: 0, col: 1, .. }), "{e:?}");
    let e = thresholded(s.view(), y.view(), &Decision::TopK { k: 0, cut: None }, &opts).unwrap_err();
    assert!(e.to_string().contains("top_k"), "{e}");
    let e = thresholded(s.view(), y.view(), &Decision::Threshold(Cut::PerClass(vec![0.0; 2])), &opts).unwrap_err();
    assert!(e.to_string().contains("one threshold per class"), "{e}");
    let probs = ThresholdOptions { score_kind: ScoreKind::Probability, ..opts };
    let mut bad = s.clone();
    bad[[0, 0]] = 1.5;
    let e = thresholded(bad.view(), y.view(), &d, &probs).unwrap_err();
    assert!(e.to_string().contains("[0, 1]"), "{e}");
    for t in [-0.1, 1.1, f64::NAN] {
        assert!(opts.cut(t).is_err(), "threshold {t}");
    }
    assert_eq!(opts.cut(0.5).unwrap(), 0.0);
    assert_eq!(opts.cut(1.0).unwrap(), f64::INFINITY);
}
