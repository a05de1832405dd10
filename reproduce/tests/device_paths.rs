//! The precision paths of training on the test device (`TWOWAY_TEST_DEVICE`, `cpu` unless `make gpu-check`
//! sets `cuda`): the release's fp16 autocast with dynamic loss scaling and the embedded recipe's bf16
//! autocast take a few steps with finite losses close to an f32 run's, with the scaler in the state its
//! rules give. On the CPU (the dry run CI keeps from rotting) the forward pass is f32 and no scaler exists,
//! as the recipe says.
#![cfg(feature = "torch")]

mod common;
use common::*;

use twoway_gpu::{MultiLabelLoss, Validation};
use twoway_reference::AnyLoss;
use twoway_reproduce::tch::{Device, Kind, Tensor};
use twoway_reproduce::train::model::Model;
use twoway_spec::{Backbone, Spec};

fn device() -> Device {
    match test_device().as_str() {
        "cpu" => Device::Cpu,
        d => {
            let n =
                d.strip_prefix("cuda").map(|r| r.trim_start_matches(':')).map(|r| r.parse().unwrap_or(0)).unwrap_or(0);
            assert!(
                twoway_reproduce::tch::Cuda::is_available(),
                "TWOWAY_TEST_DEVICE={d}, but libtorch sees no CUDA device"
            );
            Device::Cuda(n)
        }
    }
}

/// A fixed batch of 8 images (32 px) and labels with positives in every row, drawn without libtorch's
/// shared generator.
fn batch(dev: Device) -> (Tensor, Tensor) {
    let mut rng = twoway_reference::testing::Rng::new(5);
    let x: Vec<f32> = (0..8 * 3 * 32 * 32).map(|_| rng.uniform(-2.0, 2.0) as f32).collect();
    let y: Vec<f32> = (0..8 * 6).map(|k| if k % 6 == k / 6 % 6 || k % 5 == 0 { 1.0 } else { 0.0 }).collect();
    (Tensor::from_slice(&x).view([8, 3, 32, 32]).to_device(dev), Tensor::from_slice(&y).view([8, 6]).to_device(dev))
}

fn losses(recipe: &twoway_spec::recipes::Recipe, dev: Device, steps: usize) -> (Vec<f64>, Model) {
    let spec = Spec::embedded();
    let mut m = Model::new(spec, recipe, Backbone::Regnety400mf, 6, 0, None, Kind::Float, dev).unwrap();
    let (x, y) = batch(dev);
    let loss = MultiLabelLoss::new(AnyLoss::default_for(twoway_spec::Loss::Twoway)).validation(Validation::Full);
    let v = (0..steps).map(|_| m.step(recipe, &loss, &x, &y, 0.01).unwrap()).collect();
    (v, m)
}

#[test]
fn fp16_with_loss_scaling_and_bf16_autocast_train() {
    let dev = device();
    let spec = Spec::embedded();
    // The release recipe on one replica (8 images: replicas of 2 would leave BatchNorm two values).
    let mut release = spec.recipes["release"].clone();
    release.replicas = 1;
    let release = &release;
    let mut f32_recipe = release.clone();
    f32_recipe.precision.forward = twoway_spec::recipes::ForwardPrecision::F32;
    f32_recipe.precision.loss_scaling = None;
    let mut bf16 = release.clone();
    bf16.precision.forward = twoway_spec::recipes::ForwardPrecision::Bf16;
    bf16.precision.loss_scaling = None;
    let (reference, _) = losses(&f32_recipe, dev, 3);
    let mut compared = 0;
    for (name, recipe, rel) in [("fp16 scaled", release, 2e-2), ("bf16", &bf16, 5e-2)] {
        let (v, m) = losses(recipe, dev, 3);
        assert!(v.iter().all(|l| l.is_finite()), "{name}: {v:?}");
        // The first step starts from the same weights: its loss differs from f32's by the forward's rounding.
        assert!((v[0] - reference[0]).abs() <= rel * reference[0].abs(), "{name}: {} vs f32 {}", v[0], reference[0]);
        if dev.is_cuda() {
            let want = if name == "bf16" { Kind::BFloat16 } else { Kind::Half };
            assert_eq!(m.autocast_kind(), Some(want), "{name}");
            match (name, &m.scaler) {
                ("bf16", s) => assert!(s.is_none(), "bf16 needs no loss scaling"),
                (_, Some(s)) => {
                    // Three steps: either all finite (scale unchanged, count 3) or backed off once per skip.
                    assert_eq!(s.scale * 2f64.powi(m.skipped as i32), 65536.0, "{s:?}, {} skipped", m.skipped);
                    assert_eq!(s.growth_tracker as usize + m.skipped, 3);
                }
                (_, None) => panic!("the release's fp16 forward on CUDA needs its scaler"),
            }
        } else {
            assert_eq!(m.autocast_kind(), None, "{name}: autocast on the CPU");
            assert!(m.scaler.is_none(), "{name}: a loss scaler on the CPU");
            assert_eq!(v, reference, "{name}: on the CPU every precision is the f32 run");
        }
        compared += 1;
    }
    assert_eq!(compared, 2);
}
