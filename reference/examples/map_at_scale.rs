//! mAP@class and mAP@sample of a generated score matrix at a dataset's size, timed:
//! `cargo run --release -p twoway-reference --example map_at_scale -- 31819 620 [repeats]`.
use std::time::Instant;
use twoway_reference::testing::Rng;
use twoway_reference::{evaluate, ApOptions};

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("rows cols [repeats]")).collect();
    let (rows, cols) = (args.first().copied().unwrap_or(31819), args.get(1).copied().unwrap_or(620));
    let repeats = args.get(2).copied().unwrap_or(10);
    let (s, y) = Rng::new(2).batch(rows, cols, 3.0, 0.02, 0.5);
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let t = Instant::now();
        let r = evaluate(s.view(), y.view(), ApOptions::default()).expect("valid inputs");
        best = best.min(t.elapsed().as_secs_f64());
        std::hint::black_box(r);
    }
    println!("{rows} x {cols}: best of {repeats}: {:.1} ms", best * 1e3);
}
