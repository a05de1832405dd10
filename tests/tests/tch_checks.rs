//! The tch path's limits, at their edges: logits beyond a kind's range, temperatures whose reciprocal a
//! compute kind cannot hold, and the builders that choose what is checked. The limits are the kinds' own
//! (IEEE half 65504, bfloat16 (2 - 2^-7) 2^127, f32::MAX), not numbers from the code under test.

use tch::{Kind, Tensor};
use twoway_gpu::{value_and_grad_f64, GpuError, MultiLabelLoss, TwoWayLoss, Validation};
use twoway_reference::AnyLoss;
use twoway_spec::{Loss, Mask, Way};

const HALF_MAX: f64 = 65504.0;
const BF16_MAX: f64 = (2.0 - 1.0 / 128.0) * 1.7014118346046923e38; // (2 - 2^-7) * 2^127

#[test]
fn logits_up_to_a_kinds_largest_value_are_accepted_and_beyond_it_refused_with_their_position() {
    let bce = AnyLoss::default_for(Loss::Bce);
    let mut checked = 0;
    for (kind, max, beyond) in
        [(Kind::Half, HALF_MAX, 65520.0), (Kind::BFloat16, BF16_MAX, 3.4e38), (Kind::Float, f32::MAX as f64, 3.5e38)]
    {
        // At the edge: accepted, and the loss of a positive at +max / a negative at -max is ~0.
        let (value, grad) = value_and_grad_f64(&bce, &[max, -max], &[1.0, 0.0], (1, 2), kind, tch::Device::Cpu)
            .unwrap_or_else(|e| panic!("{kind:?} at its max {max}: {e}"));
        assert!(value.abs() < 1e-30 && grad.iter().all(|g| g.is_finite()), "{kind:?}: {value} {grad:?}");
        // Beyond it, at (1, 0) of a 2 x 2 batch.
        match value_and_grad_f64(&bce, &[0.0, 1.0, -beyond, 2.0], &[1.0, 0.0, 0.0, 1.0], (2, 2), kind, tch::Device::Cpu)
        {
            Err(GpuError::OutOfRange { row: 1, col: 0, value, kind: k, max: m }) => {
                assert_eq!((value, k, m), (-beyond, kind, max));
            }
            other => panic!("{kind:?} at {beyond}: {other:?}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn a_temperature_whose_reciprocal_exceeds_the_compute_kind_is_refused_by_name() {
    // Half logits compute in f32, so f32::MAX is the bound; 1 / (1 / f32::MAX) is f32::MAX exactly.
    let x = Tensor::from_slice(&[0.25f32, -0.5]).view([1, 2]);
    let y = Tensor::from_slice(&[1i64, 0]).view([1, 2]);
    let edge = 1.0 / (f32::MAX as f64);
    assert_eq!(1.0 / edge, f32::MAX as f64);
    let mut checked = 0;
    for kind in [Kind::Float, Kind::Half, Kind::BFloat16] {
        let xk = x.to_kind(kind);
        for (tp, tn) in [(edge, 1.0), (1.0, edge)] {
            let r = TwoWayLoss::new(tp, tn).forward(&xk, &y);
            assert!(r.is_ok(), "{kind:?} Tp {tp} Tn {tn}: {r:?}");
        }
        for (name, tp, tn) in [("Tp", edge * 0.5, 1.0), ("Tn", 1.0, edge * 0.5)] {
            match TwoWayLoss::new(tp, tn).forward(&xk, &y) {
                Err(GpuError::TemperatureOverflow { name: n, kind: k, .. }) => assert_eq!((n, k), (name, Kind::Float)),
                other => panic!("{kind:?} {name}: {other:?}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 6);
}

#[test]
fn builders_set_what_they_name() {
    let l = TwoWayLoss::new(2.0, 0.5).way(Way::Class).mask(Mask::Official).validation(Validation::Shape);
    assert_eq!((l.config.tp, l.config.tn, l.config.way, l.config.mask), (2.0, 0.5, Way::Class, Mask::Official));
    assert_eq!(l.validation, Validation::Shape);
    for way in Way::ALL {
        for mask in Mask::ALL {
            let l = TwoWayLoss::default().mask(*mask).way(*way);
            assert_eq!((l.config.way, l.config.mask), (*way, *mask));
        }
    }
    // Shape-only validation skips the label check; full validation names the label.
    let x = Tensor::from_slice(&[0.3f32, 0.1]).view([1, 2]);
    let y = Tensor::from_slice(&[1i64, 2]).view([1, 2]);
    let bce = MultiLabelLoss::default_for(Loss::Bce);
    assert!(matches!(bce.forward(&x, &y), Err(GpuError::BadLabel { row: 0, col: 1, .. })));
    assert!(bce.validation(Validation::Shape).forward(&x, &y).is_ok());
}
