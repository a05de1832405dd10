//! Criterion benchmarks of the tch implementation against the authors' op sequence on the same libtorch
//! (`twoway_gpu::peer`), two-way loss forward + backward, f32, on CPU with one thread and with all threads
//! (and on CUDA when a device is present). tools/bench_peers.py prints the ratios.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::time::Duration;
use tch::{Device, Kind, Tensor};
use twoway_gpu::{peer, TwoWayLoss, Validation};
use twoway_reference::testing::{Rng, BENCH_LOSS_SIZES};

fn tensors(rows: usize, cols: usize, pos: f64, unk: f64, device: Device) -> (Tensor, Tensor) {
    let (x, y) = Rng::new(1).batch(rows, cols, 3.0, pos, unk);
    let shape = [rows as i64, cols as i64];
    let xt = Tensor::from_slice(x.as_slice().unwrap())
        .view(shape)
        .to_kind(Kind::Float)
        .to_device(device)
        .set_requires_grad(true);
    let yt = Tensor::from_slice(y.as_slice().unwrap()).view(shape).to_kind(Kind::Float).to_device(device);
    (xt, yt)
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

fn bench(c: &mut Criterion) {
    let all = tch::get_num_threads();
    let mut g = c.benchmark_group("twoway_fwd_bwd");
    let mut setups: Vec<(&str, Device, i32)> = vec![("cpu_1thread", Device::Cpu, 1), ("cpu", Device::Cpu, all)];
    if tch::Cuda::is_available() {
        setups.push(("cuda", Device::Cuda(0), all));
    }
    for (rows, cols, pos, unk) in BENCH_LOSS_SIZES {
        let big = rows * cols > 1_000_000;
        g.sample_size(10);
        g.warm_up_time(Duration::from_secs(1));
        g.measurement_time(Duration::from_secs(if big { 10 } else { 3 }));
        let id = format!("{rows}x{cols}");
        for (name, device, threads) in &setups {
            tch::set_num_threads(*threads);
            let (mut x, y) = tensors(rows, cols, pos, unk, *device);
            let ours = TwoWayLoss::default().validation(Validation::Shape);
            g.bench_with_input(BenchmarkId::new(format!("tch_{name}"), &id), &(), |b, _| {
                b.iter(|| {
                    x.zero_grad();
                    ours.forward(&x, &y).unwrap().backward();
                    sync(*device);
                })
            });
            g.bench_with_input(BenchmarkId::new(format!("release_tch_{name}"), &id), &(), |b, _| {
                b.iter(|| {
                    x.zero_grad();
                    peer::release_two_way(&x, &y, 4.0, 1.0).backward();
                    sync(*device);
                })
            });
        }
        tch::set_num_threads(all);
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
