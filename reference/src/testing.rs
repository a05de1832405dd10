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

/// A random loss case: what `twoway conform --cases random` sends an implementation, and what the
/// generated-case property tests draw. `exercises` names what the case holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub inputs: Array2<f64>,
    pub targets: Array2<f64>,
    pub exercises: Vec<String>,
}

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        self.uniform(0.0, 1.0) < p
    }

    /// A shape from 1 x 1 up to `max_rows x max_cols` (one in eight a single row or column), and labels
    /// weighted as the property tests weight them (negative 4 : positive 2 : unknown 1).
    fn labels(&mut self, max_rows: usize, max_cols: usize) -> Array2<f64> {
        let mut rows = 1 + self.below(max_rows.max(1));
        let mut cols = 1 + self.below(max_cols.max(1));
        match self.below(16) {
            0 => rows = 1,
            1 => cols = 1,
            _ => {}
        }
        Array2::from_shape_fn((rows, cols), |_| self.label(2.0 / 7.0, 1.0 / 7.0))
    }

    /// Forces the edge cases of the set-based losses into `y`, each with some chance: a row without a
    /// positive, a row without a negative, a column of unknowns, and (one in ten) no positive at all.
    fn edges(&mut self, y: &mut Array2<f64>) {
        let (rows, cols) = y.dim();
        if self.chance(0.3) {
            let r = self.below(rows);
            y.row_mut(r).mapv_inplace(|v| if v == 1.0 { 0.0 } else { v });
        }
        if self.chance(0.3) {
            let r = self.below(rows);
            y.row_mut(r).mapv_inplace(|v| if v == 0.0 { 1.0 } else { v });
        }
        if self.chance(0.2) {
            let c = self.below(cols);
            y.column_mut(c).fill(-1.0);
        }
        if self.chance(0.1) {
            y.mapv_inplace(|v| if v == 1.0 { 0.0 } else { v });
        }
    }

    /// A loss case: logits uniform in [-range, range], a third of the cases with entries at +-range.
    pub fn loss_case(&mut self, max_rows: usize, max_cols: usize, range: f64) -> Case {
        let mut y = self.labels(max_rows, max_cols);
        self.edges(&mut y);
        let mut x = Array2::from_shape_fn(y.dim(), |_| self.uniform(-range, range));
        let extremes = self.chance(1.0 / 3.0);
        if extremes {
            let n = 1 + self.below(x.len());
            for _ in 0..n {
                let (r, c) = (self.below(x.nrows()), self.below(x.ncols()));
                x[[r, c]] = if self.chance(0.5) { range } else { -range };
            }
        }
        let mut exercises = describe(&y);
        if extremes {
            exercises.push(format!("logits at +-{range}"));
        }
        Case { inputs: x, targets: y, exercises }
    }

    /// A metric case: scores from a small pool of values (ties, +0.0 and -0.0) half the time, uniform
    /// otherwise; labels as [`Rng::loss_case`].
    pub fn metric_case(&mut self, max_rows: usize, max_cols: usize) -> Case {
        const POOL: [f64; 7] = [-1.0, -0.5, -0.0, 0.0, 0.25, 0.5, 1.0];
        let mut y = self.labels(max_rows, max_cols);
        self.edges(&mut y);
        let pooled = self.chance(0.5);
        let s =
            Array2::from_shape_fn(
                y.dim(),
                |_| {
                    if pooled {
                        POOL[self.below(POOL.len())]
                    } else {
                        self.uniform(-1.0, 1.0)
                    }
                },
            );
        let mut exercises = describe(&y);
        let mut seen: Vec<f64> = s.iter().copied().collect();
        seen.sort_by(f64::total_cmp);
        if seen.windows(2).any(|w| w[0] == w[1]) {
            exercises.push("tied scores".into());
        }
        let zero = |neg: bool| s.iter().any(|v| *v == 0.0 && v.is_sign_negative() == neg);
        if zero(true) && zero(false) {
            exercises.push("+0.0 and -0.0".into());
        }
        Case { inputs: s, targets: y, exercises }
    }
}

/// What a label matrix holds that the definitions treat specially.
fn describe(y: &Array2<f64>) -> Vec<String> {
    let (rows, cols) = y.dim();
    let mut out = vec![format!("{rows}x{cols}")];
    let unknown = y.iter().filter(|v| **v == -1.0).count();
    if unknown > 0 {
        out.push(format!("{unknown} unknown"));
    }
    let has = |line: ndarray::ArrayView1<f64>, v: f64| line.iter().any(|t| *t == v);
    if !y.iter().any(|v| *v == 1.0) {
        out.push("no positive: both ways empty".into());
    } else {
        if y.rows().into_iter().any(|r| !has(r, 1.0)) {
            out.push("a row without a positive".into());
        }
        if y.columns().into_iter().any(|c| !has(c, 1.0)) {
            out.push("a column without a positive".into());
        }
    }
    if y.rows().into_iter().any(|r| has(r, 1.0) && !has(r, 0.0)) {
        out.push("a row without a negative".into());
    }
    if y.columns().into_iter().any(|c| has(c, 1.0) && !has(c, 0.0)) {
        out.push("a column without a negative".into());
    }
    out
}
