//! The streaming data pipeline of training and evaluation: worker threads decode, crop and transform the
//! samples of a split batch by batch, ahead of the consumer, and the consumer gets the batches in order.
//!
//! - **Memory**: no split is held decoded. A worker may start batch k only while k < (batches consumed) +
//!   `prefetch`, and a batch's buffer is freed when the consumer is done with it, so at most `prefetch`
//!   batch buffers exist at once (the one being consumed included) plus, per worker, the one image it is
//!   decoding: peak <= prefetch x batch x 3 x side^2 x 4 bytes + workers x (largest decoded image).
//!   [`Stats::peak_bytes`] measures it.
//! - **Determinism**: a sample's augmentation is drawn from a generator keyed by (seed, epoch, sample index)
//!   ([`super::transforms::sample_rng`]), and each batch is filled in its own order by one worker, so the
//!   batches are bit-identical for any number of workers.
//! - **Errors**: the first error (a missing or corrupt image, a path outside the image folder) stops the
//!   workers and is returned, naming the file.

use super::split::{sample_image, Split};
use super::transforms::{eval_sample, sample_rng, train_sample, EvalTf, TrainAug};
use anyhow::{anyhow, Result};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};

/// What to do to each sample.
#[derive(Debug, Clone, Copy)]
pub enum Mode<'a> {
    /// The train augmentation of `epoch`, keyed by `seed`.
    Train { aug: &'a TrainAug, seed: u64, epoch: u64 },
    /// The eval transform.
    Eval { tf: &'a EvalTf },
}

impl Mode<'_> {
    /// The side of the square images it produces.
    pub fn side(&self) -> u32 {
        match self {
            Mode::Train { aug, .. } => aug.crop,
            Mode::Eval { tf } => tf.crop,
        }
    }
}

/// Worker threads and how many batches may be in memory at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub workers: usize,
    pub prefetch: usize,
}

impl Config {
    /// `workers` threads, each with one batch in flight, plus the one being consumed.
    pub fn with_workers(workers: usize) -> Config {
        let workers = workers.max(1);
        Config { workers, prefetch: workers + 1 }
    }
}

/// Bytes of batch buffers and decoded images alive now, and the most ever.
#[derive(Debug, Default)]
struct Meter {
    live: AtomicUsize,
    peak: AtomicUsize,
}

impl Meter {
    fn add(&self, bytes: usize) {
        let now = self.live.fetch_add(bytes, Ordering::SeqCst) + bytes;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }
    fn sub(&self, bytes: usize) {
        self.live.fetch_sub(bytes, Ordering::SeqCst);
    }
}

/// One batch: the split's sample indices and their images (N x 3 x side x side, f32).
pub struct Batch {
    /// The batch's position in the order.
    pub number: usize,
    pub samples: Vec<usize>,
    pub images: Vec<f32>,
    pub side: u32,
    meter: Arc<Meter>,
}

impl Batch {
    /// The images as an N x 3 x side x side f32 tensor on `device`.
    #[cfg(feature = "torch")]
    pub fn tensor(&self, device: tch::Device) -> tch::Tensor {
        let side = self.side as i64;
        tch::Tensor::from_slice(&self.images).view([self.samples.len() as i64, 3, side, side]).to_device(device)
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.meter.sub(self.images.len() * 4);
    }
}

/// What a pass through the pipeline did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub batches: usize,
    /// The most bytes of batch buffers and decoded images alive at once.
    pub peak_bytes: usize,
}

fn build(split: &Split, idx: &[usize], mode: Mode, number: usize, meter: &Arc<Meter>) -> Result<Batch> {
    let side = mode.side();
    let per = 3 * side as usize * side as usize;
    meter.add(idx.len() * per * 4);
    let mut batch =
        Batch { number, samples: idx.to_vec(), images: vec![0f32; idx.len() * per], side, meter: meter.clone() };
    for (out, &i) in batch.images.chunks_exact_mut(per).zip(idx) {
        let img = sample_image(split, i)?;
        let bytes = img.as_raw().len();
        meter.add(bytes);
        match mode {
            Mode::Train { aug, seed, epoch } => train_sample(&img, aug, &mut sample_rng(seed, epoch, i as u64), out),
            Mode::Eval { tf } => eval_sample(&img, tf, out),
        }
        drop(img);
        meter.sub(bytes);
    }
    Ok(batch)
}

/// Streams the samples `order` of `split` in batches of `batch` (the last one may be smaller) through
/// `mode`, calling `consume` on each batch in order.
pub fn run(
    split: &Split,
    order: &[usize],
    batch: usize,
    mode: Mode,
    cfg: Config,
    mut consume: impl FnMut(Batch) -> Result<()>,
) -> Result<Stats> {
    assert!(batch > 0 && cfg.workers > 0 && cfg.prefetch > 0, "pipeline: batch, workers and prefetch must be positive");
    let chunks: Vec<&[usize]> = order.chunks(batch).collect();
    let n = chunks.len();
    let meter = Arc::new(Meter::default());
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let window = (Mutex::new(0usize), Condvar::new());
    let (tx, rx) = mpsc::channel::<(usize, Result<Batch>)>();
    let result = std::thread::scope(|s| {
        for _ in 0..cfg.workers.min(n.max(1)) {
            let tx = tx.clone();
            let (chunks, meter, next, stop, window) = (&chunks, &meter, &next, &stop, &window);
            s.spawn(move || loop {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let k = next.fetch_add(1, Ordering::SeqCst);
                if k >= n {
                    break;
                }
                {
                    let mut consumed = window.0.lock().unwrap();
                    while !stop.load(Ordering::SeqCst) && k >= *consumed + cfg.prefetch {
                        consumed = window.1.wait(consumed).unwrap();
                    }
                }
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let r = build(split, chunks[k], mode, k, meter);
                let failed = r.is_err();
                if tx.send((k, r)).is_err() || failed {
                    break;
                }
            });
        }
        drop(tx);
        let mut pending: BTreeMap<usize, Batch> = BTreeMap::new();
        let mut want = 0;
        let r = (|| -> Result<()> {
            while want < n {
                if let Some(b) = pending.remove(&want) {
                    consume(b)?;
                    want += 1;
                    *window.0.lock().unwrap() = want;
                    window.1.notify_all();
                    continue;
                }
                match rx.recv() {
                    Ok((k, Ok(b))) => {
                        pending.insert(k, b);
                    }
                    Ok((_, Err(e))) => return Err(e),
                    Err(_) => return Err(anyhow!("the data workers stopped before batch {want} of {n}")),
                }
            }
            Ok(())
        })();
        if r.is_err() {
            stop.store(true, Ordering::SeqCst);
            window.1.notify_all();
        }
        drop(pending);
        r
    });
    result?;
    Ok(Stats { batches: n, peak_bytes: meter.peak.load(Ordering::SeqCst) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::fixtures::{write_coco, Sizes};
    use crate::data::load_split;
    use twoway_spec::{Dataset, Spec};

    fn fixture() -> (tempfile::TempDir, Split) {
        let dir = tempfile::tempdir().unwrap();
        write_coco(&dir.path().join("coco"), 5, Sizes { per_split: 40, side: (40, 96) }).unwrap();
        let split = load_split(Spec::embedded(), Dataset::Coco, "train2014", dir.path(), false).unwrap();
        (dir, split)
    }

    fn aug() -> TrainAug {
        TrainAug::from_recipe(&Spec::embedded().recipes["embedded"])
    }

    /// (batch number, its samples, its images) of every batch.
    type Batches = Vec<(usize, Vec<usize>, Vec<f32>)>;

    fn collect(split: &Split, workers: usize, prefetch: usize, batch: usize) -> (Batches, Stats) {
        let a = aug();
        let order: Vec<usize> = (0..split.len()).rev().collect();
        let mut got = Vec::new();
        let stats =
            run(split, &order, batch, Mode::Train { aug: &a, seed: 9, epoch: 2 }, Config { workers, prefetch }, |b| {
                got.push((b.number, b.samples.clone(), b.images.clone()));
                Ok(())
            })
            .unwrap();
        (got, stats)
    }

    #[test]
    fn batches_are_bit_identical_for_any_number_of_workers() {
        let (_d, split) = fixture();
        let (one, s1) = collect(&split, 1, 1, 6);
        let (four, s4) = collect(&split, 4, 5, 6);
        assert_eq!(s1.batches, 7); // 40 samples in batches of 6
        assert_eq!(s4.batches, 7);
        assert_eq!(one.len(), 7);
        for (a, b) in one.iter().zip(&four) {
            assert_eq!(a.0, b.0);
            assert_eq!(a.1, b.1);
            assert!(a.2.iter().zip(&b.2).all(|(x, y)| x.to_bits() == y.to_bits()), "batch {}", a.0);
        }
        // In order, every sample once, the last batch partial.
        let all: Vec<usize> = one.iter().flat_map(|b| b.1.clone()).collect();
        assert_eq!(all, (0..40).rev().collect::<Vec<_>>());
        assert_eq!(one[6].1.len(), 4);
        // Another epoch draws other augmentations.
        let a = aug();
        let mut first = Vec::new();
        run(&split, &[39, 38], 2, Mode::Train { aug: &a, seed: 9, epoch: 3 }, Config::with_workers(1), |b| {
            first = b.images.clone();
            Ok(())
        })
        .unwrap();
        assert_ne!(first, one[0].2[..first.len()].to_vec());
    }

    #[test]
    fn peak_memory_stays_within_the_stated_bound() {
        let (_d, split) = fixture();
        let largest = split
            .samples
            .iter()
            .map(|s| image::image_dimensions(&s.image).map(|(w, h)| (w * h * 3) as usize).unwrap())
            .max()
            .unwrap();
        let whole: usize = split
            .samples
            .iter()
            .map(|s| image::image_dimensions(&s.image).map(|(w, h)| (w * h * 3) as usize).unwrap())
            .sum();
        for (workers, prefetch, batch) in [(1, 1, 4), (2, 2, 4), (3, 5, 2)] {
            let (_, stats) = collect(&split, workers, prefetch, batch);
            let batch_bytes = batch * 3 * 32 * 32 * 4;
            let bound = prefetch * batch_bytes + workers * largest;
            assert!(
                stats.peak_bytes <= bound,
                "{workers} workers, prefetch {prefetch}: {} > {bound}",
                stats.peak_bytes
            );
            assert!(stats.peak_bytes >= batch_bytes, "the meter counted nothing");
            // The dataset decoded whole, and all its batches, would not fit in the bound.
            assert!(whole + 40 * 3 * 32 * 32 * 4 > 4 * bound, "{whole} vs {bound}");
        }
    }

    #[test]
    fn a_corrupt_image_stops_the_pass_with_its_name() {
        let (_d, split) = fixture();
        std::fs::write(&split.samples[17].image, b"not a jpeg").unwrap();
        let a = aug();
        let order: Vec<usize> = (0..split.len()).collect();
        let mut seen = 0;
        let e = run(&split, &order, 4, Mode::Train { aug: &a, seed: 1, epoch: 0 }, Config::with_workers(3), |_| {
            seen += 1;
            Ok(())
        })
        .unwrap_err();
        let name = split.samples[17].image.file_name().unwrap().to_string_lossy().to_string();
        assert!(format!("{e:#}").contains(&name), "{e:#}");
        assert!(seen <= 4, "batches after the broken one were consumed: {seen}");
        // An error of the consumer stops the workers too.
        let e =
            run(&split, &order[..8], 4, Mode::Train { aug: &a, seed: 1, epoch: 0 }, Config::with_workers(2), |_| {
                anyhow::bail!("consumer failed")
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "consumer failed");
    }
}
