//! One training step of a paper backbone through twoway's training code (`train::model::Model::step`: forward in
//! train mode, the two-way loss, backward, SGD with Nesterov momentum over the recipe's two learning-rate
//! groups): resnet50, batch 16, 224 px, f32, on CPU with all threads (and on CUDA when a device is present).
//! tools/bench_peers.py times the same step in PyTorch eager on the same libtorch and prints the ratio.
//! With `TWOWAY_BENCH_NUMERICS=portable` the benchmark runs in twoway's portable numerics (re-executed
//! into their environment, oneDNN and NNPACK off; ids end in `_portable`), which tools/bench_numerics.sh
//! runs beside the native one to print the mode's cost.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::time::Duration;
use tch::{Device, Kind, Tensor};
use twoway_gpu::{MultiLabelLoss, Validation};
use twoway_reference::AnyLoss;
use twoway_reproduce::train::model::Model;
use twoway_spec::{Backbone, Loss, LossParams, Spec};

/// Must match tools/bench_peers.py (TRAIN_STEP).
const BATCH: i64 = 16;
const SIZE: i64 = 224;
const CLASSES: i64 = 80;

fn bench(c: &mut Criterion) {
    let spec = Spec::embedded();
    let portable = std::env::var("TWOWAY_BENCH_NUMERICS").as_deref() == Ok("portable");
    if portable {
        twoway_reproduce::numerics::enter_portable(&spec.numerics).unwrap();
        twoway_gpu::numerics::set_mkldnn_enabled(false);
        twoway_gpu::numerics::set_nnpack_enabled(false);
        assert_eq!(twoway_gpu::numerics::aten_cpu_capability(), "default");
    }
    let suffix = if portable { "_portable" } else { "" };
    let recipe = &spec.recipes["release"];
    let loss = AnyLoss::from_params(Loss::Twoway, &LossParams::default()).unwrap();
    let criterion = MultiLabelLoss::new(loss).validation(Validation::Shape);
    let mut g = c.benchmark_group("train_step");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(30));
    let mut devices = vec![("cpu", Device::Cpu)];
    if tch::Cuda::is_available() {
        devices.push(("cuda", Device::Cuda(0)));
    }
    for (name, device) in devices {
        let mut model =
            Model::new(spec, recipe, Backbone::Resnet50, CLASSES as usize, 0, None, Kind::Float, device).unwrap();
        tch::manual_seed(1);
        let x = Tensor::randn([BATCH, 3, SIZE, SIZE], (Kind::Float, device));
        let y = Tensor::rand([BATCH, CLASSES], (Kind::Float, device)).lt(0.05).to_kind(Kind::Float);
        g.bench_function(BenchmarkId::new(format!("resnet50_b{BATCH}_{SIZE}{suffix}"), name), |b| {
            b.iter(|| {
                let v = model.step(recipe, &criterion, &x, &y, 0.01).unwrap();
                if let Device::Cuda(i) = device {
                    tch::Cuda::synchronize(i as i64);
                }
                v
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
