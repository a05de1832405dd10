//! The data pipeline's speed, beside the torchvision peers of tools/bench_peers.py (same files, same run):
//! - `data/train_transform/jpeg_640x480`: JPEG decode of a 640 x 480 image, RandomResizedCrop 224, flip,
//!   colour jitter, lighting, normalise, on one core;
//! - `data/eval_transform/jpeg_640x480`: decode, Resize 256, CenterCrop 224, normalise;
//! - `loader/train_2workers/coco_128`: a pass of the streaming pipeline over 128 JPEGs (about 480-640 px a
//!   side) in batches of 32 with 2 workers.
//!
//! The files are written under target/bench-data/ (the peers read the same ones).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::path::{Path, PathBuf};
use std::time::Duration;
use twoway_reproduce::data::fixtures::{write_coco, Sizes};
use twoway_reproduce::data::pipeline::{self, Mode};
use twoway_reproduce::data::transforms::{eval_sample, sample_rng, train_sample, EvalTf, TrainAug};
use twoway_reproduce::data::{decode, load_split};
use twoway_spec::{Dataset, Spec};

fn bench_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data")
}

/// The 640 x 480 JPEG of the transform benchmarks: a smooth scene with blocks and noise, quality 90.
fn photo() -> PathBuf {
    let path = bench_dir().join("photo_640x480.jpg");
    if !path.exists() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut rng = twoway_reference::testing::Rng::new(4);
        let img = image::RgbImage::from_fn(640, 480, |x, y| {
            let (fx, fy) = (x as f64, y as f64);
            let v =
                |c: f64| 128.0 + 90.0 * (fx / 37.0 + c).sin() * (fy / 23.0 - c).cos() + 25.0 * ((fx + fy) / 5.0).sin();
            image::Rgb([v(0.0), v(1.0), v(2.0)].map(|p| (p + rng.uniform(-6.0, 6.0)).clamp(0.0, 255.0) as u8))
        });
        let f = std::fs::File::create(&path).unwrap();
        image::codecs::jpeg::JpegEncoder::new_with_quality(f, 90).encode_image(&img).unwrap();
    }
    path
}

fn bench(c: &mut Criterion) {
    let spec = Spec::embedded();
    let recipe = &spec.recipes["release"];
    let aug = TrainAug::from_recipe(recipe);
    let tf = EvalTf::from_recipe(recipe);
    let path = photo();
    let mut g = c.benchmark_group("data");
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(5));
    let mut out = vec![0f32; 3 * 224 * 224];
    g.bench_function(BenchmarkId::new("decode", "jpeg_640x480"), |b| b.iter(|| decode(&path).unwrap()));
    let mut k = 0u64;
    g.bench_function(BenchmarkId::new("train_transform", "jpeg_640x480"), |b| {
        b.iter(|| {
            let img = decode(&path).unwrap();
            k += 1;
            train_sample(&img, &aug, &mut sample_rng(1, 0, k), &mut out);
        })
    });
    g.bench_function(BenchmarkId::new("eval_transform", "jpeg_640x480"), |b| {
        b.iter(|| {
            let img = decode(&path).unwrap();
            eval_sample(&img, &tf, &mut out);
        })
    });
    g.finish();

    let root = bench_dir().join("loader");
    if !root.join("coco/annotations/instances_train2014.json").exists() {
        write_coco(&root.join("coco"), 11, Sizes { per_split: 128, side: (480, 640) }).unwrap();
    }
    let split = load_split(spec, Dataset::Coco, "train2014", &root, false).unwrap();
    assert_eq!(split.len(), 128);
    let order: Vec<usize> = (0..split.len()).collect();
    let mut g = c.benchmark_group("loader");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    let mut epoch = 0;
    g.bench_function(BenchmarkId::new("train_2workers", "coco_128"), |b| {
        b.iter(|| {
            epoch += 1;
            let mode = Mode::Train { aug: &aug, seed: 0, epoch };
            pipeline::run(&split, &order, 32, mode, pipeline::Config::with_workers(2), |_| Ok(())).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
