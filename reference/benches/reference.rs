//! Criterion benchmarks of the reference: two-way loss forward + backward (value and analytic gradient) and
//! mAP@class + mAP@sample, at the sizes `make bench` compares against the PyTorch / numpy peers
//! (tools/bench_peers.py reads these results and prints the ratios).
//!
//! Each size runs with rayon's default thread count and with one thread; mAP also with f32 scores and i8
//! targets read as they are (`_f32_i8`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::time::Duration;
use twoway_reference::testing::{Rng, BENCH_LOSS_SIZES as LOSS_SIZES, BENCH_MAP_SIZES as MAP_SIZES};
use twoway_reference::{evaluate, evaluate_as, ApOptions, LossFn, TwoWay};

fn one_thread() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap()
}

fn twoway(c: &mut Criterion) {
    let pool = one_thread();
    let mut g = c.benchmark_group("twoway_fwd_bwd");
    for (rows, cols, pos, unk) in LOSS_SIZES {
        let (x, y) = Rng::new(1).batch(rows, cols, 3.0, pos, unk);
        let big = rows * cols > 1_000_000;
        g.sample_size(if big { 10 } else { 50 });
        g.measurement_time(Duration::from_secs(if big { 20 } else { 5 }));
        let loss = TwoWay::default();
        let id = format!("{rows}x{cols}");
        g.bench_with_input(BenchmarkId::new("reference", &id), &(), |b, _| {
            b.iter(|| black_box(loss.value_and_grad(x.view(), y.view()).unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("reference_1thread", &id), &(), |b, _| {
            b.iter(|| pool.install(|| black_box(loss.value_and_grad(x.view(), y.view()).unwrap())))
        });
    }
    g.finish();
}

fn map(c: &mut Criterion) {
    let pool = one_thread();
    let mut g = c.benchmark_group("map_class_sample");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    for (rows, cols, pos, unk) in MAP_SIZES {
        let (s, y) = Rng::new(2).batch(rows, cols, 3.0, pos, unk);
        let id = format!("{rows}x{cols}");
        let opts = ApOptions::default();
        g.bench_with_input(BenchmarkId::new("reference", &id), &(), |b, _| {
            b.iter(|| black_box(evaluate(s.view(), y.view(), opts).unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("reference_1thread", &id), &(), |b, _| {
            b.iter(|| pool.install(|| black_box(evaluate(s.view(), y.view(), opts).unwrap())))
        });
        let (s32, y8) = (s.mapv(|v| v as f32), y.mapv(|l| l as i8));
        g.bench_with_input(BenchmarkId::new("reference_f32_i8", &id), &(), |b, _| {
            b.iter(|| black_box(evaluate_as(s32.view(), y8.view(), opts).unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("reference_f32_i8_1thread", &id), &(), |b, _| {
            b.iter(|| pool.install(|| black_box(evaluate_as(s32.view(), y8.view(), opts).unwrap())))
        });
    }
    g.finish();
}

criterion_group!(benches, twoway, map);
criterion_main!(benches);
