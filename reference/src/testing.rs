//! Seeded data for tests and benchmarks: the same batch on every machine.

use ndarray::Array2;

/// The loss benchmark sizes (rows, cols, positive rate, unknown rate): MS-COCO-like, VAW-like, and a large
/// batch of many classes. tools/bench_peers.py uses the same list.
pub const BENCH_LOSS_SIZES: [(usize, usize, f64, f64); 3] =
    [(512, 80, 0.04, 0.0), (512, 620, 0.02, 0.5), (4096, 10000, 0.001, 0.0)];
/// The metric benchmark sizes: the MS-COCO val set (40,137 x 80) and the VAW test set (31,819 x 620).
pub const BENCH_MAP_SIZES: [(usize, usize, f64, f64); 2] = [(40137, 80, 0.04, 0.0), (31819, 620, 0.02, 0.5)];

/// A small deterministic generator (SplitMix64) for seeded test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }
    /// A label: positive with probability `pos`, unknown with probability `unk`, negative otherwise.
    pub fn label(&mut self, pos: f64, unk: f64) -> f64 {
        let u = self.uniform(0.0, 1.0);
        if u < pos {
            1.0
        } else if u < pos + unk {
            -1.0
        } else {
            0.0
        }
    }
    /// A seeded batch: logits uniform in [-scale, scale], labels as [`Rng::label`].
    pub fn batch(&mut self, rows: usize, cols: usize, scale: f64, pos: f64, unk: f64) -> (Array2<f64>, Array2<f64>) {
        let x = Array2::from_shape_fn((rows, cols), |_| self.uniform(-scale, scale));
        let y = Array2::from_shape_fn((rows, cols), |_| self.label(pos, unk));
        (x, y)
    }
}

/// The proptest seed of the test suites: fixed, so that `make test` checks the same cases on every run
/// and CI cannot flake; set `TWOWAY_PROPTEST_SEED` to explore other cases (a failure then prints its
/// minimal input).
pub fn proptest_seed() -> u64 {
    std::env::var("TWOWAY_PROPTEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_230_618)
}
