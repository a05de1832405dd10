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
        let bad = backend.tolerance().compare(&format!("{name} {kind:?}"), &xr, (v1, &g1), (v0, &g0));
        prop_assert!(bad.is_empty(), "{} mismatches, first: {}", bad.len(), bad[0]);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 40,
        rng_seed: proptest::test_runner::RngSeed::Fixed(twoway_reference::testing::proptest_seed()),
        failure_persistence: None,
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
    assert!(matches!(loss.forward(&x, &y), Err(twoway_gpu::GpuError::NonFinite)));
    let x = Tensor::from_slice(&[0.3f32, 0.1]).view([1, 2]);
    let y2 = Tensor::from_slice(&[1i64, 2]).view([1, 2]);
    assert!(matches!(loss.forward(&x, &y2), Err(twoway_gpu::GpuError::BadLabel)));
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
    for _ in 0..20 {
        let (x, y) = rng.batch(16, 10, 2.0, 0.3, 0.2);
        let xt = Tensor::from_slice(x.as_slice().unwrap()).view([16, 10]);
        let yt = Tensor::from_slice(y.as_slice().unwrap()).view([16, 10]);
        let peer = twoway_gpu::peer::release_two_way(&xt, &yt, 4.0, 1.0).double_value(&[]);
        let ours = TwoWay::default().mask(twoway_spec::Mask::Official).value(x.view(), y.view()).unwrap();
        if peer.is_finite() {
            assert!((peer - ours).abs() <= 1e-12 * ours.abs(), "{peer} vs {ours}");
        }
    }
}
