//! `twoway metrics`: the six thresholded metrics (and the per-class F1 mean) at a threshold and at top-3 on
//! random logits, against counts made here entry by entry from the definitions (not from twoway's code);
//! its mAP against `twoway map`; threshold tuning; bad input (exit 2, one line naming the file or flag).
//! The command is torch-free: it runs in the torch-free build's tests only.
#![cfg(not(feature = "torch"))]

mod common;

use ndarray::Array2;
use ndarray_npy::WriteNpyExt;
use serde_json::Value;
use std::path::Path;

/// A reproducible batch: f32 logits (some exactly 0, some tied) and int8 targets with unknowns.
fn batch(rows: usize, cols: usize, seed: u64) -> (Array2<f32>, Array2<i8>) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let s = Array2::from_shape_fn((rows, cols), |_| ((next() % 97) as f32 - 48.0) / 16.0);
    let y = Array2::from_shape_fn((rows, cols), |_| match next() % 10 {
        0..=2 => 1,
        3 => -1,
        _ => 0,
    });
    (s, y)
}

fn write<T: ndarray_npy::WritableElement>(dir: &Path, name: &str, m: &Array2<T>) -> String {
    let p = dir.join(name);
    m.write_npy(std::fs::File::create(&p).unwrap()).unwrap();
    p.display().to_string()
}

/// The six metrics and the F1 mean from counts made here: predicted when sigmoid(logit) >= 0.5 (logit >= 0),
/// or among the 3 first of a stable descending sort; unknown targets count nowhere; a never-predicted
/// class has precision 0; classes without a positive are left out of the class means.
fn by_hand(s: &Array2<f32>, y: &Array2<i8>, top_k: Option<usize>) -> [f64; 7] {
    let cols = s.ncols();
    let (mut tp, mut fp, mut fn_) = (vec![0u64; cols], vec![0u64; cols], vec![0u64; cols]);
    for (srow, yrow) in s.rows().into_iter().zip(y.rows()) {
        let mut order: Vec<usize> = (0..cols).collect();
        order.sort_by(|&a, &b| srow[b].partial_cmp(&srow[a]).unwrap());
        for j in 0..cols {
            let predicted = match top_k {
                Some(k) => order[..k].contains(&j),
                None => srow[j] >= 0.0,
            };
            match (yrow[j], predicted) {
                (1, true) => tp[j] += 1,
                (1, false) => fn_[j] += 1,
                (0, true) => fp[j] += 1,
                _ => {}
            }
        }
    }
    let classes: Vec<usize> = (0..cols).filter(|&j| tp[j] + fn_[j] > 0).collect();
    let n = classes.len() as f64;
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { 100.0 * a as f64 / b as f64 };
    let cp = classes.iter().map(|&j| ratio(tp[j], tp[j] + fp[j])).sum::<f64>() / n;
    let cr = classes.iter().map(|&j| ratio(tp[j], tp[j] + fn_[j])).sum::<f64>() / n;
    let f1 = classes.iter().map(|&j| ratio(2 * tp[j], 2 * tp[j] + fp[j] + fn_[j])).sum::<f64>() / n;
    let (t, p, f) = (tp.iter().sum::<u64>(), fp.iter().sum::<u64>(), fn_.iter().sum::<u64>());
    let (op, or) = (ratio(t, t + p), ratio(t, t + f));
    let h = |a: f64, b: f64| if a + b == 0.0 { 0.0 } else { 2.0 * a * b / (a + b) };
    [cp, cr, h(cp, cr), op, or, h(op, or), f1]
}

fn json(args: &[&str]) -> Value {
    let (code, out, err) = common::twoway(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn the_six_metrics_match_counts_made_by_hand_at_a_threshold_and_at_top_3() {
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for (seed, rows, cols) in [(1, 40, 7), (2, 200, 20), (3, 9, 3)] {
        let (s, y) = batch(rows, cols, seed);
        let (sf, yf) = (write(dir.path(), "s.npy", &s), write(dir.path(), "y.npy", &y));
        for (extra, top_k) in [(vec![], None), (vec!["--top-k", "3"], Some(3))] {
            let mut args = vec!["metrics", "--scores", &sf, "--targets", &yf, "--format", "json"];
            args.extend(extra);
            let v = json(&args);
            let want = by_hand(&s, &y, top_k);
            for (key, w) in ["cp", "cr", "cf1", "op", "or", "of1", "f1_mean"].iter().zip(want) {
                let got = v[key].as_f64().unwrap_or_else(|| panic!("{key}: {}", v[key]));
                assert!((got - w).abs() <= 1e-9 * w.abs().max(1.0), "seed {seed} {top_k:?} {key}: {got} vs {w}");
                compared += 1;
            }
            // Its mAP is `twoway map`'s.
            let map = json(&["map", "--scores", &sf, "--targets", &yf, "--format", "json"]);
            assert_eq!(v["map_class"], map["map_class"]);
            assert_eq!(v["map_sample"], map["map_sample"]);
        }
    }
    assert_eq!(compared, 3 * 2 * 7);
}

#[test]
fn a_tuned_threshold_is_reported_as_a_probability_and_applied() {
    let dir = tempfile::tempdir().unwrap();
    let (s, y) = batch(120, 6, 7);
    let (ts, ty) = batch(80, 6, 8);
    let (sf, yf) = (write(dir.path(), "s.npy", &s), write(dir.path(), "y.npy", &y));
    let (tsf, tyf) = (write(dir.path(), "ts.npy", &ts), write(dir.path(), "ty.npy", &ty));
    let base = ["metrics", "--scores", &sf, "--targets", &yf, "--format", "json"];
    let tuned = json(&[&base[..], &["--tune-scores", &tsf, "--tune-targets", &tyf]].concat());
    let t = tuned["threshold"].as_f64().unwrap();
    let cut = tuned["tuning"]["cut"].as_f64().unwrap();
    assert!((t - 1.0 / (1.0 + (-cut).exp())).abs() < 1e-12, "threshold {t} is sigmoid(cut {cut})");
    // No threshold on the tuning split does better on OF1 than the tuned one (each distinct logit tried).
    let mut tried = 0;
    let tuned_on_tuning = json(&[
        "metrics",
        "--scores",
        &tsf,
        "--targets",
        &tyf,
        "--format",
        "json",
        "--tune-scores",
        &tsf,
        "--tune-targets",
        &tyf,
    ]);
    let best = tuned_on_tuning["of1"].as_f64().unwrap();
    assert!((best - tuned["tuning"]["f1"].as_f64().unwrap()).abs() < 1e-9);
    let mut logits: Vec<f32> = ts.iter().copied().collect();
    logits.sort_by(|a, b| a.partial_cmp(b).unwrap());
    logits.dedup();
    for l in logits.iter().step_by(7) {
        let p = 1.0 / (1.0 + (-(*l as f64)).exp());
        let tf = format!("{p}");
        let v = json(&["metrics", "--scores", &tsf, "--targets", &tyf, "--format", "json", "--threshold", &tf]);
        assert!(v["of1"].as_f64().unwrap() <= best + 1e-9, "threshold {p}: {} > {best}", v["of1"]);
        tried += 1;
    }
    assert!(tried >= 5);
    let per_class =
        json(&[&base[..], &["--tune-scores", &tsf, "--tune-targets", &tyf, "--per-class", "--classes"]].concat());
    assert_eq!(per_class["thresholds"].as_array().unwrap().len(), 6);
    // --classes: every class's AP is `twoway map --per-class`'s.
    let map = json(&["map", "--scores", &sf, "--targets", &yf, "--format", "json", "--per-class"]);
    let aps: Vec<&Value> = per_class["per_class"].as_array().unwrap().iter().map(|c| &c["ap"]).collect();
    assert_eq!(aps, map["per_class"].as_array().unwrap().iter().collect::<Vec<_>>());
}

fn fails(args: &[&str], mentions: &[&str]) {
    let (code, out, err) = common::twoway(args);
    assert_eq!(code, 2, "{args:?}: stdout {out} stderr {err}");
    assert!(out.is_empty(), "{out}");
    for m in mentions {
        assert!(err.contains(m), "{m:?} not in {err}");
    }
}

#[test]
fn bad_input_exits_2_naming_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (s, mut y) = batch(5, 4, 9);
    let sf = write(dir.path(), "s.npy", &s);
    y[[3, 2]] = 2;
    let bad = write(dir.path(), "bad.npy", &y);
    fails(&["metrics", "--scores", &sf, "--targets", &bad], &["bad.npy", "[3, 2]", "2"]);
    let short = write(dir.path(), "short.npy", &Array2::<i8>::zeros((4, 4)));
    fails(&["metrics", "--scores", &sf, "--targets", &short], &["short.npy", "shape"]);
    y[[3, 2]] = 1;
    let yf = write(dir.path(), "y.npy", &y);
    fails(&["metrics", "--scores", &sf, "--targets", &yf, "--threshold", "1.5"], &["--threshold 1.5", "[0, 1]"]);
    fails(&["metrics", "--scores", &sf, "--targets", &yf, "--top-k", "0"], &["--top-k"]);
    fails(
        &["metrics", "--scores", &sf, "--targets", &yf, "--score-kind", "probability"],
        &["s.npy", "[0, 1]", "logits"],
    );
    let wide = write(dir.path(), "wide.npy", &Array2::<f32>::zeros((5, 6)));
    let wide_y = write(dir.path(), "wide_y.npy", &Array2::<i8>::ones((5, 6)));
    let args = ["metrics", "--scores", &sf, "--targets", &yf, "--tune-scores", &wide, "--tune-targets", &wide_y];
    fails(&[&args[..], &["--per-class"]].concat(), &["wide.npy", "6 classes"]);
    // One tuned class is not every class's threshold.
    let one = write(dir.path(), "one.npy", &Array2::<f32>::zeros((5, 1)));
    let one_y = write(dir.path(), "one_y.npy", &Array2::<i8>::ones((5, 1)));
    let args = ["metrics", "--scores", &sf, "--targets", &yf, "--tune-scores", &one, "--tune-targets", &one_y];
    fails(&[&args[..], &["--per-class"]].concat(), &["one.npy", "1 classes"]);
    fails(&["metrics", "--scores", &sf, "--targets", &yf, "--per-class"], &["--tune-scores"]);
}
