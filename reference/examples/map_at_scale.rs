//! mAP@class and mAP@sample of a generated score matrix at a dataset's size, timed:
//! `cargo run --release -p twoway-reference --example map_at_scale -- 31819 620 [repeats] [f32]`
//! (`f32`: f32 scores and i8 targets, read as they are; otherwise f64 both).
use std::time::Instant;
use twoway_reference::testing::Rng;
use twoway_reference::{evaluate_as, ApOptions, Label, Score};

fn time<S: Score, L: Label>(s: ndarray::ArrayView2<S>, y: ndarray::ArrayView2<L>, repeats: usize) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let t = Instant::now();
        let r = evaluate_as(s, y, ApOptions::default()).expect("valid inputs");
        best = best.min(t.elapsed().as_secs_f64());
        std::hint::black_box(r);
    }
    best
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: usize| args.get(i).map_or(default, |a| a.parse().expect("rows cols [repeats] [f32]"));
    let (rows, cols, repeats) = (num(0, 31819), num(1, 620), num(2, 10));
    let narrow = args.get(3).is_some_and(|a| a == "f32");
    let (s, y) = Rng::new(2).batch(rows, cols, 3.0, 0.02, 0.5);
    let best = if narrow {
        time(s.mapv(|v| v as f32).view(), y.mapv(|v| v as i8).view(), repeats)
    } else {
        time(s.view(), y.view(), repeats)
    };
    let types = if narrow { "f32 scores, i8 targets" } else { "f64" };
    println!("{rows} x {cols} ({types}): best of {repeats}: {:.1} ms", best * 1e3);
}
