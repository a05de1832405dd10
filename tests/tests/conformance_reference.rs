//! The shared conformance suite against the pure-Rust reference.

twoway_tests::conformance_suite!(reference, twoway_tests::Reference);

/// The metric vectors run through the reference's metric engine (the only one: evaluation is always done
/// by the reference).
#[test]
fn every_spec_metric_vector() {
    use twoway_reference::{evaluate, ApOptions};
    let vectors = &twoway_spec::vectors::embedded().metrics;
    let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-12 * b.abs().max(1.0),
        (a, b) => a == b,
    };
    for v in vectors {
        let opts = ApOptions { ties: v.ties, denominator: v.denominator.unwrap_or(ApOptions::default().denominator) };
        let r =
            evaluate(twoway_tests::matrix(&v.scores).view(), twoway_tests::matrix(&v.targets).view(), opts).unwrap();
        if let Some(want) = v.map_sample {
            assert!(close(r.map_sample, want), "{}: mAP@sample {:?} vs {want:?}", v.name, r.map_sample);
        }
        if let Some(want) = v.map_class {
            assert!(close(r.map_class, want), "{}: mAP@class {:?} vs {want:?}", v.name, r.map_class);
        }
        for (got, want) in [(&r.per_sample, &v.per_sample), (&r.per_class, &v.per_class)] {
            if let Some(want) = want {
                assert_eq!(got.len(), want.len(), "{}", v.name);
                assert!(got.iter().zip(want).all(|(a, b)| close(*a, *b)), "{}: {got:?} vs {want:?}", v.name);
            }
        }
    }
    assert!(vectors.len() >= 10);
}
