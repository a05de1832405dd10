//! Property test: the tch implementation equals the reference on random batches (shapes 1..64 x 1..128,
//! logit scales 0.1..100, label mixes with unknowns), for every loss configuration (every way, both
//! maskings, random temperatures), in f64, f32, f16 and bf16, within the stated bounds
//! ([`twoway_tests::Tch`]'s tolerance). The reference runs on the logits rounded to the kind.

use proptest::prelude::*;
use tch::Kind;
use twoway_reference::{AnyLoss, LossFn, TwoWay};
use twoway_tests::{Backend, Rng, Tch};

#[derive(Debug, Clone)]
struct Case {
    rows: usize,
    cols: usize,
    log_scale: f64,
    pos: f64,
    unk: f64,
    tp: f64,
    tn: f64,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..=64, 1usize..=128, -1.0f64..2.0, 0.0f64..0.5, 0.0f64..0.3, 0.25f64..8.0, 0.25f64..8.0, any::<u64>())
        .prop_map(|(rows, cols, log_scale, pos, unk, tp, tn, seed)| Case {
            rows,
            cols,
            log_scale,
            pos,
            unk,
            tp,
            tn,
            seed,
        })
}

fn check(kind: Kind, c: &Case) -> Result<(), TestCaseError> {
    let backend = Tch::cpu(kind);
    let (x, y) = Rng::new(c.seed).batch(c.rows, c.cols, 10f64.powf(c.log_scale), c.pos, c.unk);
    let xr = backend.round(&x);
    let mut configs = AnyLoss::every_config();
    for (name, loss) in configs.clone() {
        if let AnyLoss::TwoWay(t) = loss {
            configs.push((
                format!("{name}/tp{:.2}/tn{:.2}", c.tp, c.tn),
                AnyLoss::TwoWay(TwoWay { tp: c.tp, tn: c.tn, ..t }),
            ));
        }
    }
    for (name, loss) in configs {
        let (v0, g0) = loss.value_and_grad(xr.view(), y.view()).unwrap();
        let (v1, g1) = backend.value_and_grad(&loss, &x, &y).map_err(TestCaseError::fail)?;
        let bad =
            twoway_tests::compare(&backend.tolerance(), &loss, &format!("{name} {kind:?}"), &xr, (v1, &g1), (v0, &g0));
        prop_assert!(bad.is_empty(), "{} mismatches, first: {}", bad.len(), bad[0]);
    }
    Ok(())
}

proptest! {
    // Failures are recorded beside this file (tch_vs_reference.proptest-regressions) and replayed first.
    #![proptest_config(ProptestConfig {
        cases: 40,
        rng_seed: proptest::test_runner::RngSeed::Fixed(twoway_reference::testing::proptest_seed()),
        ..ProptestConfig::default()
    })]

    #[test]
    fn f64_within_1e_10(c in case()) { check(Kind::Double, &c)?; }

    #[test]
    fn f32_within_1e_5(c in case()) { check(Kind::Float, &c)?; }

    #[test]
    fn f16_within_stated_bound(c in case()) { check(Kind::Half, &c)?; }

    #[test]
    fn bf16_within_stated_bound(c in case()) { check(Kind::BFloat16, &c)?; }
}

#[test]
fn half_inputs_return_an_f32_loss_and_a_half_gradient() {
    use tch::{Device, Tensor};
    for kind in [Kind::Half, Kind::BFloat16] {
        let x = Tensor::from_slice(&[0.3f32, 1.2, -0.5, 2.0]).view([2, 2]).to_kind(kind).set_requires_grad(true);
        let y = Tensor::from_slice(&[1i64, 0, 0, 1]).view([2, 2]);
        let v = twoway_gpu::TwoWayLoss::default().forward(&x, &y).unwrap();
        assert_eq!(v.kind(), Kind::Float);
        v.backward();
        assert_eq!(x.grad().kind(), kind);
        assert_eq!(x.grad().device(), Device::Cpu);
    }
}

#[test]
fn loss_module_reports_bad_inputs() {
    use tch::Tensor;
    let loss = twoway_gpu::TwoWayLoss::default();
    let x = Tensor::from_slice(&[0.3f32, f32::NAN]).view([1, 2]);
    let y = Tensor::from_slice(&[1i64, 0]).view([1, 2]);
    match loss.forward(&x, &y) {
        Err(twoway_gpu::GpuError::NonFinite { row: 0, col: 1, value }) => assert!(value.is_nan()),
        other => panic!("{other:?}"),
    }
    let x = Tensor::from_slice(&[0.3f32, 0.1]).view([1, 2]);
    let y2 = Tensor::from_slice(&[1i64, 2]).view([1, 2]);
    assert!(matches!(loss.forward(&x, &y2), Err(twoway_gpu::GpuError::BadLabel { row: 0, col: 1, value: 2.0 })));
    // Shape-only validation does not look at the values.
    assert!(loss.validation(twoway_gpu::Validation::Shape).forward(&x, &y2).is_ok());
    let y3 = Tensor::from_slice(&[1i64, 0, 0]).view([1, 3]);
    assert!(matches!(loss.forward(&x, &y3), Err(twoway_gpu::GpuError::ShapeMismatch { .. })));
    let xi = Tensor::from_slice(&[1i64, 0]).view([1, 2]);
    assert!(matches!(loss.forward(&xi, &y), Err(twoway_gpu::GpuError::NotFloat(_))));
    let bad_t = twoway_gpu::TwoWayLoss::new(0.0, 1.0);
    assert!(matches!(bad_t.forward(&x, &y), Err(twoway_gpu::GpuError::Config(_))));
    let e = Tensor::zeros([0, 3], (Kind::Float, tch::Device::Cpu));
    assert!(matches!(loss.forward(&e, &e), Err(twoway_gpu::GpuError::EmptyBatch(_))));
}

#[test]
fn the_release_op_sequence_matches_official_masking_where_it_is_defined() {
    // The peer (the authors' op sequence in tch) against our `official` mode, on batches where every way
    // has a line with a positive (the release returns NaN otherwise) and |z| < 20 (below torch's softplus
    // threshold).
    use tch::Tensor;
    let mut rng = Rng::new(11);
    let mut compared = 0;
    for _ in 0..20 {
        let (x, y) = rng.batch(16, 10, 2.0, 0.3, 0.2);
        let xt = Tensor::from_slice(x.as_slice().unwrap()).view([16, 10]);
        let yt = Tensor::from_slice(y.as_slice().unwrap()).view([16, 10]);
        let peer = twoway_gpu::peer::release_two_way(&xt, &yt, 4.0, 1.0).double_value(&[]);
        let ours = TwoWay::default().mask(twoway_spec::Mask::Official).value(x.view(), y.view()).unwrap();
        if peer.is_finite() {
            assert!((peer - ours).abs() <= 1e-12 * ours.abs(), "{peer} vs {ours}");
            compared += 1;
        }
    }
    // Most of these batches have a positive in every way; the comparison must have run.
    assert!(compared >= 15, "only {compared} of 20 batches compared");
}

/// The four cases proptest recorded against earlier versions (tch_vs_reference.proptest-regressions),
/// replayed explicitly in every kind: small batches at high logit scales with Tp = Tn = 0.25.
#[test]
fn the_recorded_failures_stay_fixed() {
    let cases = [
        Case {
            rows: 1,
            cols: 3,
            log_scale: 1.5595912857210168,
            pos: 0.0,
            unk: 0.0,
            tp: 0.25,
            tn: 0.25,
            seed: 11198915773409517413,
        },
        Case {
            rows: 2,
            cols: 9,
            log_scale: 1.4233283384104434,
            pos: 0.09476053040035545,
            unk: 0.0,
            tp: 0.25,
            tn: 0.25,
            seed: 10812091921459650606,
        },
        Case {
            rows: 2,
            cols: 1,
            log_scale: 0.0,
            pos: 0.4809622956986582,
            unk: 0.18204017484535867,
            tp: 0.25,
            tn: 0.25,
            seed: 12709939546304252943,
        },
        Case {
            rows: 5,
            cols: 14,
            log_scale: 1.478143036316317,
            pos: 0.02364982676212477,
            unk: 0.0,
            tp: 0.25,
            tn: 0.25,
            seed: 7849607883073238001,
        },
    ];
    let mut checked = 0;
    for c in &cases {
        for kind in [Kind::Double, Kind::Float, Kind::Half, Kind::BFloat16] {
            check(kind, c).unwrap_or_else(|e| panic!("{c:?} in {kind:?}: {e}"));
            checked += 1;
        }
    }
    assert_eq!(checked, 16);
}

#[test]
fn labels_are_checked_on_their_own_values_with_positions() {
    use tch::Tensor;
    let loss = twoway_gpu::TwoWayLoss::default();
    let x = Tensor::from_slice(&[0.3f64, 0.1, 2.0, -1.0]).view([2, 2]);
    // 0.5, 1.7 and NaN would become 0, 1 and 0 in an integer cast.
    for (bad, at) in [(0.5, (1, 0)), (1.7, (0, 1)), (f64::NAN, (1, 1))] {
        let mut v = vec![1.0f64, 0.0, 0.0, 1.0];
        v[(at.0 * 2 + at.1) as usize] = bad;
        let y = Tensor::from_slice(&v).view([2, 2]);
        match loss.forward(&x, &y) {
            Err(twoway_gpu::GpuError::BadLabel { row, col, value }) => {
                assert_eq!((row, col), at);
                assert!(value == bad || (value.is_nan() && bad.is_nan()));
            }
            other => panic!("{bad}: {other:?}"),
        }
        // The host entry point (`twoway eval --backend tch`) too.
        let e = twoway_gpu::value_and_grad_f64(
            &AnyLoss::default_for(twoway_spec::Loss::Twoway),
            &[0.3, 0.1, 2.0, -1.0],
            &v,
            (2, 2),
            Kind::Float,
            tch::Device::Cpu,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(&format!("at [{}, {}]", at.0, at.1)), "{e}");
    }
}

#[test]
fn logits_beyond_a_kinds_range_and_overflowing_temperatures_are_named() {
    let loss = AnyLoss::default_for(twoway_spec::Loss::Twoway);
    let e = twoway_gpu::value_and_grad_f64(&loss, &[0.0, 7e4], &[1.0, 0.0], (1, 2), Kind::Half, tch::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("70000") && e.contains("[0, 1]") && e.contains("Half") && e.contains("6.5504e4"), "{e}");
    // The same logits are fine in f32.
    assert!(
        twoway_gpu::value_and_grad_f64(&loss, &[0.0, 7e4], &[1.0, 0.0], (1, 2), Kind::Float, tch::Device::Cpu).is_ok()
    );
    // Tn = 1e-40 is a positive f64 whose reciprocal overflows f32, the kind an f32 batch computes in.
    let x = tch::Tensor::from_slice(&[0.3f32, 0.1]).view([1, 2]);
    let y = tch::Tensor::from_slice(&[1.0f32, 0.0]).view([1, 2]);
    let e = twoway_gpu::TwoWayLoss::new(4.0, 1e-40).forward(&x, &y).unwrap_err().to_string();
    assert!(e.contains("Tn") && e.contains("overflows"), "{e}");
    // In f64 it computes; a reciprocal that overflows f64 is refused by the spec's rule.
    let xd = x.to_kind(Kind::Double);
    assert!(twoway_gpu::TwoWayLoss::new(4.0, 1e-40).forward(&xd, &y).is_ok());
    assert!(twoway_gpu::TwoWayLoss::new(4.0, 1e-310).forward(&xd, &y).is_err());
}

#[test]
fn no_gradient_is_computed_when_none_is_needed() {
    use tch::Tensor;
    let x = Tensor::from_slice(&[0.3f32, 1.2, -0.5, 2.0]).view([2, 2]);
    let y = Tensor::from_slice(&[1i64, 0, 0, 1]).view([2, 2]);
    for loss in [AnyLoss::default_for(twoway_spec::Loss::Twoway), AnyLoss::default_for(twoway_spec::Loss::Softmax)] {
        let m = twoway_gpu::MultiLabelLoss::new(loss);
        let plain = m.forward(&x, &y).unwrap();
        assert!(!plain.requires_grad(), "a value without a graph");
        let xg = x.copy().set_requires_grad(true);
        let with = m.forward(&xg, &y).unwrap();
        assert!(with.requires_grad());
        assert_eq!(plain.double_value(&[]), with.double_value(&[]));
    }
}
