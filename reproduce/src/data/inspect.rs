//! `twoway data inspect`: what a dataset holds.

use super::coco::Split;
use std::fmt::Write;
use twoway_spec::Dataset;

/// Mean number of positive labels per sample.
pub fn cardinality(s: &Split) -> f64 {
    s.labels.iter().filter(|v| **v == 1.0).count() as f64 / s.len().max(1) as f64
}

/// The report: sizes, label cardinality, class frequencies, the most frequent co-occurring pairs.
pub fn report(dataset: Dataset, train: &Split, eval: &Split) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "dataset {dataset}: {} classes", train.classes.len());
    for (name, s) in [("train", train), ("eval", eval)] {
        let _ = writeln!(
            o,
            "  {name}: {} samples ({} images without annotation dropped), {:.3} labels per sample",
            s.len(),
            s.dropped,
            cardinality(s)
        );
    }
    let n = train.len().max(1) as f64;
    let freq: Vec<usize> =
        (0..train.classes.len()).map(|j| train.labels.column(j).iter().filter(|v| **v == 1.0).count()).collect();
    let mut order: Vec<usize> = (0..freq.len()).collect();
    order.sort_by_key(|j| std::cmp::Reverse(freq[*j]));
    let _ = writeln!(o, "class frequencies (train, most frequent first):");
    for j in &order {
        let _ = writeln!(o, "  {:<16} {:>6} {:>6.2}%", train.classes[*j], freq[*j], 100.0 * freq[*j] as f64 / n);
    }
    let mut pairs = Vec::new();
    for a in 0..freq.len() {
        for b in a + 1..freq.len() {
            let both = train.labels.rows().into_iter().filter(|r| r[a] == 1.0 && r[b] == 1.0).count();
            if both > 0 {
                // Lift: how much more often than independence.
                let lift = both as f64 * n / (freq[a] as f64 * freq[b] as f64);
                pairs.push((both, lift, a, b));
            }
        }
    }
    pairs.sort_by(|x, y| y.1.total_cmp(&x.1));
    let _ = writeln!(o, "co-occurring pairs (train, highest lift first):");
    for (both, lift, a, b) in pairs.iter().take(5) {
        let _ = writeln!(o, "  {} + {}: {both} samples, lift {lift:.2}", train.classes[*a], train.classes[*b]);
    }
    o
}
