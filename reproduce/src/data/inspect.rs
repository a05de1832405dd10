//! `twoway data inspect` and `twoway data check`: what a dataset's splits hold, and which of their images
//! cannot be read.

use super::split::{bar, sample_image, Split};
use rayon::prelude::*;
use std::fmt::Write;

/// Mean number of positive labels per sample.
pub fn cardinality(s: &Split) -> f64 {
    s.labels.iter().filter(|v| **v == 1).count() as f64 / s.len().max(1) as f64
}

/// The fraction of unknown (-1) labels.
pub fn unknown_fraction(s: &Split) -> f64 {
    s.labels.iter().filter(|v| **v == -1).count() as f64 / s.labels.len().max(1) as f64
}

/// The report: per split its size, drops, label cardinality and unknown fraction; class frequencies and the
/// most frequent co-occurring pairs of the first split.
pub fn report(splits: &[&Split]) -> String {
    let mut o = String::new();
    let first = splits[0];
    let _ = writeln!(o, "dataset {}: {} classes", first.dataset, first.classes.len());
    for s in splits {
        let _ = writeln!(
            o,
            "  {}: {} samples, {:.3} positive labels per sample, {:.1}% of labels unknown",
            s.name,
            s.len(),
            cardinality(s),
            100.0 * unknown_fraction(s)
        );
        if s.dropped_unannotated > 0 {
            let _ = writeln!(o, "    {} images without annotation dropped", s.dropped_unannotated);
        }
        if !s.dropped_boxes.is_empty() {
            let shown: Vec<&str> = s.dropped_boxes.iter().take(5).map(String::as_str).collect();
            let more = if s.dropped_boxes.len() > 5 { ", ..." } else { "" };
            let _ = writeln!(
                o,
                "    {} boxes empty after clipping to their image dropped: {}{more}",
                s.dropped_boxes.len(),
                shown.join(", ")
            );
        }
    }
    let train = first;
    let n = train.len().max(1) as f64;
    let freq: Vec<usize> =
        (0..train.classes.len()).map(|j| train.labels.column(j).iter().filter(|v| **v == 1).count()).collect();
    let mut order: Vec<usize> = (0..freq.len()).collect();
    order.sort_by_key(|j| std::cmp::Reverse(freq[*j]));
    let _ = writeln!(
        o,
        "class frequencies ({}, most frequent first{}):",
        train.name,
        if freq.len() > 30 { "; 30 shown" } else { "" }
    );
    for j in order.iter().take(30) {
        let _ = writeln!(o, "  {:<24} {:>7} {:>6.2}%", train.classes[*j], freq[*j], 100.0 * freq[*j] as f64 / n);
    }
    let never = freq.iter().filter(|f| **f == 0).count();
    if never > 0 {
        let _ = writeln!(o, "  ({never} classes have no positive in {})", train.name);
    }
    if freq.len() <= 100 {
        let mut pairs = Vec::new();
        for a in 0..freq.len() {
            for b in a + 1..freq.len() {
                let both = train.labels.rows().into_iter().filter(|r| r[a] == 1 && r[b] == 1).count();
                if both > 0 {
                    // Lift: how much more often than independence.
                    let lift = both as f64 * n / (freq[a] as f64 * freq[b] as f64);
                    pairs.push((both, lift, a, b));
                }
            }
        }
        pairs.sort_by(|x, y| y.1.total_cmp(&x.1));
        let _ = writeln!(o, "co-occurring pairs ({}, highest lift first):", train.name);
        for (both, lift, a, b) in pairs.iter().take(5) {
            let _ = writeln!(o, "  {} + {}: {both} samples, lift {lift:.2}", train.classes[*a], train.classes[*b]);
        }
    }
    o
}

/// The errors of the samples of `split` whose image cannot be read or decoded (in parallel, with a bar
/// labelled `what` when `progress`).
pub fn undecodable(split: &Split, progress: bool, what: String) -> Vec<String> {
    let bar = bar(split.len(), progress, what);
    let bad: Vec<String> = (0..split.len())
        .into_par_iter()
        .filter_map(|i| {
            let r = sample_image(split, i);
            bar.inc(1);
            r.err().map(|e| format!("{e:#}"))
        })
        .collect();
    bar.finish_and_clear();
    bad
}
