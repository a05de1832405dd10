//! The input contract of `twoway eval` and `twoway map`: every bad input is a one-line error that names the
//! file, exit code 2, and nothing written.

mod common;

use ndarray::Array2;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use std::path::{Path, PathBuf};

/// A finished `twoway` invocation.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// [`common::twoway`], its output named.
fn twoway(args: &[&str]) -> Run {
    let (code, stdout, stderr) = common::twoway(args);
    Run { code, stdout, stderr }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn npy(dir: &Path, name: &str, m: &Array2<f64>) -> String {
    let p: PathBuf = dir.join(name);
    m.write_npy(std::fs::File::create(&p).unwrap()).unwrap();
    p.display().to_string()
}

fn assert_fails(r: &Run, mentions: &[&str]) {
    assert_eq!(r.code, 2, "stdout {} stderr {}", r.stdout, r.stderr);
    assert!(r.stderr.starts_with("twoway: error: "), "{}", r.stderr);
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "one line: {}", r.stderr);
    for m in mentions {
        assert!(r.stderr.contains(m), "{m:?} not in {}", r.stderr);
    }
    assert!(r.stdout.is_empty(), "{}", r.stdout);
}

#[test]
fn eval_json_and_grad_out() {
    let d = tempfile::tempdir().unwrap();
    let x = write(d.path(), "x.json", "[[0.3, 1.2, 5.0]]");
    let y = write(d.path(), "y.json", "[[1, 0, -1]]");
    let g = d.path().join("g.npy");
    let r = twoway(&[
        "eval",
        "--loss",
        "twoway",
        "--way",
        "sample",
        "--logits",
        &x,
        "--targets",
        &y,
        "--grad-out",
        g.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    // One positive and one negative (the unknown is ignored): softplus(1.2 - 0.3).
    let want = (1.0f64 + 0.9f64.exp()).ln();
    assert!((v["value"].as_f64().unwrap() - want).abs() < 1e-12, "{v}");
    let grad = Array2::<f64>::read_npy(std::fs::File::open(&g).unwrap()).unwrap();
    let s = 1.0 / (1.0 + (-0.9f64).exp());
    assert_eq!(grad.dim(), (1, 3));
    assert!((grad[[0, 0]] + s).abs() < 1e-12 && (grad[[0, 1]] - s).abs() < 1e-12 && grad[[0, 2]] == 0.0);
    // Text output names the configuration.
    let r = twoway(&["eval", "--loss", "twoway", "--logits", &x, "--targets", &y]);
    assert!(
        r.stdout.starts_with("twoway (way both, Tp 4, Tn 1, mask exact) on 1x3 [reference (f64)]: "),
        "{}",
        r.stdout
    );
}

#[test]
fn eval_reads_f32_and_integer_npy() {
    let d = tempfile::tempdir().unwrap();
    let x = d.path().join("x.npy");
    Array2::from_shape_vec((1, 2), vec![0.3f32, 1.2]).unwrap().write_npy(std::fs::File::create(&x).unwrap()).unwrap();
    let y = d.path().join("y.npy");
    Array2::from_shape_vec((1, 2), vec![1i64, 0]).unwrap().write_npy(std::fs::File::create(&y).unwrap()).unwrap();
    let r = twoway(&[
        "eval",
        "--loss",
        "bce",
        "--logits",
        x.to_str().unwrap(),
        "--targets",
        y.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let (a, b) = (0.3f32 as f64, 1.2f32 as f64);
    let want = (1.0 + (-a).exp()).ln() + (1.0 + b.exp()).ln();
    assert!((v["value"].as_f64().unwrap() - want).abs() < 1e-12);
}

#[test]
fn bad_inputs_name_the_file_exit_2_and_write_nothing() {
    let d = tempfile::tempdir().unwrap();
    let x = write(d.path(), "logits.json", "[[0.3, 1.2], [0.1, 0.2]]");
    let y = write(d.path(), "targets.json", "[[1, 0], [0, 1]]");
    let g = d.path().join("grad.npy");
    let gs = g.to_str().unwrap();

    let bad_label = write(d.path(), "labels2.json", "[[1, 0], [2, 1]]");
    assert_fails(
        &twoway(&["eval", "--loss", "twoway", "--logits", &x, "--targets", &bad_label, "--grad-out", gs]),
        &["labels2.json", "label outside {-1, 0, 1} at [1, 0]: 2"],
    );
    let nan = npy(d.path(), "nan.npy", &Array2::from_shape_vec((2, 2), vec![0.0, f64::NAN, 1.0, 2.0]).unwrap());
    assert_fails(
        &twoway(&["eval", "--loss", "softmax", "--logits", &nan, "--targets", &y, "--grad-out", gs]),
        &["nan.npy", "non-finite logits at [0, 1]"],
    );
    let wide = write(d.path(), "wide.json", "[[1, 0, 0], [0, 1, 0]]");
    assert_fails(
        &twoway(&["eval", "--loss", "bce", "--logits", &x, "--targets", &wide, "--grad-out", gs]),
        &["logits.json", "wide.json", "(2, 3)"],
    );
    let malformed = write(d.path(), "broken.json", "[[1, 0], [0,");
    assert_fails(
        &twoway(&["eval", "--loss", "bce", "--logits", &malformed, "--targets", &y]),
        &["broken.json", "malformed JSON"],
    );
    let ragged = write(d.path(), "ragged.json", "[[1, 0], [0]]");
    assert_fails(&twoway(&["map", "--scores", &ragged, "--targets", &y]), &["ragged.json", "row 1"]);
    assert_fails(
        &twoway(&["eval", "--loss", "bce", "--logits", "missing.npy", "--targets", &y]),
        &["missing.npy", "cannot read"],
    );
    assert_fails(
        &twoway(&["eval", "--loss", "twoway", "--tn", "0", "--logits", &x, "--targets", &y, "--grad-out", gs]),
        &["temperature Tn must be finite and > 0 with a finite reciprocal, got 0"],
    );
    assert_fails(&twoway(&["eval", "--loss", "twoway", "--tp", "-2", "--logits", &x, "--targets", &y]), &["Tp", "-2"]);
    assert_fails(
        &twoway(&["eval", "--loss", "bce", "--tp", "2", "--logits", &x, "--targets", &y]),
        &["`bce` takes no parameter `tp`"],
    );
    assert_fails(&twoway(&["eval", "--loss", "focal", "--alpha", "1.5", "--logits", &x, "--targets", &y]), &["alpha"]);
    let text = write(d.path(), "scores.txt", "0.1 0.2");
    assert_fails(
        &twoway(&["map", "--scores", &text, "--targets", &y]),
        &["scores.txt", "neither a .npy file nor a JSON array"],
    );
    let three_d = d.path().join("cube.npy");
    ndarray::Array3::<f64>::zeros((2, 2, 2)).write_npy(std::fs::File::create(&three_d).unwrap()).unwrap();
    assert_fails(&twoway(&["map", "--scores", three_d.to_str().unwrap(), "--targets", &y]), &["cube.npy", "2-D"]);
    assert!(!g.exists(), "a failed run wrote its gradient");
    assert_eq!(
        std::fs::read_dir(d.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains("tmp"))
            .count(),
        0
    );
}

#[test]
fn map_reports_both_metrics_and_per_class_ap() {
    let d = tempfile::tempdir().unwrap();
    // The spec's matrix_3x3 vector: mAP@class = mAP@sample = 100 * (1/3 + 1 + 1) / 3 = 100 * (1/2 + 5/6 + 1) / 3.
    let s = write(d.path(), "s.json", "[[0.9, 0.7, 0.4], [0.1, 0.8, 0.3], [0.5, 0.6, 0.7]]");
    let y = write(d.path(), "y.json", "[[0, 1, -1], [1, 1, 0], [0, 0, 1]]");
    let r = twoway(&["map", "--scores", &s, "--targets", &y, "--per-class", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let want = 700.0 / 9.0;
    assert!((v["map_class"].as_f64().unwrap() - want).abs() < 1e-12, "{v}");
    assert!((v["map_sample"].as_f64().unwrap() - want).abs() < 1e-12, "{v}");
    let per: Vec<f64> = v["per_class"].as_array().unwrap().iter().map(|t| t.as_f64().unwrap()).collect();
    assert!((per[0] - 100.0 / 3.0).abs() < 1e-12 && per[1] == 100.0 && per[2] == 100.0, "{per:?}");
    let r = twoway(&["map", "--scores", &s, "--targets", &y]);
    assert!(r.stdout.contains("mAP@class  77.7778 (3 of 3 classes with a positive)"), "{}", r.stdout);
}

/// The same matrix as f32 scores with int8 or f32 targets (what a model's and a label file's .npy hold,
/// read without widening): the same values; an int8 label outside {-1, 0, 1} is named with its file.
#[test]
fn map_reads_f32_scores_and_int8_targets_as_they_are() {
    let d = tempfile::tempdir().unwrap();
    let put = |name: &str, write: &dyn Fn(&mut std::fs::File)| {
        let p = d.path().join(name);
        write(&mut std::fs::File::create(&p).unwrap());
        p.display().to_string()
    };
    // 0.9, 0.7, ... are not f32 values: the f64 reference takes the f32 values widened.
    let scores = [0.9f32, 0.7, 0.4, 0.1, 0.8, 0.3, 0.5, 0.6, 0.7];
    let labels = [0i8, 1, -1, 1, 1, 0, 0, 0, 1];
    let s32 = Array2::from_shape_vec((3, 3), scores.to_vec()).unwrap();
    let s = put("s.npy", &|f| s32.write_npy(f).unwrap());
    let wide = npy(d.path(), "wide.npy", &s32.mapv(|v| v as f64));
    let y8 = put("y8.npy", &|f| Array2::from_shape_vec((3, 3), labels.to_vec()).unwrap().write_npy(f).unwrap());
    let y32 = put("y32.npy", &|f| {
        Array2::from_shape_vec((3, 3), labels.map(|l| l as f32).to_vec()).unwrap().write_npy(f).unwrap()
    });
    let want = twoway(&["map", "--scores", &wide, "--targets", &y8, "--per-class", "--format", "json"]);
    assert_eq!(want.code, 0, "{}", want.stderr);
    let v: serde_json::Value = serde_json::from_str(&want.stdout).unwrap();
    assert!((v["map_class"].as_f64().unwrap() - 700.0 / 9.0).abs() < 1e-12, "{v}");
    let mut compared = 0;
    for y in [&y8, &y32] {
        let r = twoway(&["map", "--scores", &s, "--targets", y, "--per-class", "--format", "json"]);
        assert_eq!((r.code, &r.stdout), (0, &want.stdout), "{y}: {}", r.stderr);
        compared += 1;
    }
    assert_eq!(compared, 2);
    let bad = put("bad.npy", &|f| {
        Array2::from_shape_vec((3, 3), [0i8, 1, -1, 1, 3, 0, 0, 0, 1].to_vec()).unwrap().write_npy(f).unwrap()
    });
    assert_fails(&twoway(&["map", "--scores", &s, "--targets", &bad]), &["bad.npy", "[1, 1]", "3"]);
    let short = put("short.npy", &|f| Array2::from_shape_vec((1, 3), vec![0i8, 1, 0]).unwrap().write_npy(f).unwrap());
    assert_fails(&twoway(&["map", "--scores", &s, "--targets", &short]), &["s.npy", "short.npy", "(3, 3)", "(1, 3)"]);
}

#[cfg(feature = "torch")]
#[test]
fn tch_backend_options_are_checked() {
    let d = tempfile::tempdir().unwrap();
    let x = write(d.path(), "x.json", "[[0.3, 1.2]]");
    let y = write(d.path(), "y.json", "[[1, 0]]");
    assert_fails(
        &twoway(&["eval", "--loss", "twoway", "--dtype", "f32", "--logits", &x, "--targets", &y]),
        &["--dtype needs --backend tch"],
    );
    let r =
        twoway(&["eval", "--loss", "twoway", "--backend", "tch", "--device", "tpu", "--logits", &x, "--targets", &y]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown device `tpu`"), "{}", r.stderr);
    if !twoway_reproduce::tch::Cuda::is_available() {
        let r = twoway(&[
            "eval",
            "--loss",
            "twoway",
            "--backend",
            "tch",
            "--device",
            "cuda:0",
            "--logits",
            &x,
            "--targets",
            &y,
        ]);
        assert_fails(&r, &["cuda:0", "--device cpu"]);
    }
    // Every dtype of the tch backend runs, reports itself, and gives the reference's value on the logits
    // rounded to the dtype, within the suite's bound for it (f16 and bf16 compute in f32: the f32 bound).
    let logits = [0.3f64, 1.2];
    let mut compared = 0;
    for (dtype, kind) in [
        ("f64", twoway_reproduce::tch::Kind::Double),
        ("f32", twoway_reproduce::tch::Kind::Float),
        ("f16", twoway_reproduce::tch::Kind::Half),
        ("bf16", twoway_reproduce::tch::Kind::BFloat16),
    ] {
        let r = twoway(&[
            "eval",
            "--loss",
            "twoway",
            "--backend",
            "tch",
            "--dtype",
            dtype,
            "--logits",
            &x,
            "--targets",
            &y,
            "--format",
            "json",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v["backend"], format!("tch ({dtype}, cpu)"));
        let rounded: Vec<f64> = Vec::<f64>::try_from(
            &twoway_reproduce::tch::Tensor::from_slice(&logits)
                .to_kind(kind)
                .to_kind(twoway_reproduce::tch::Kind::Double),
        )
        .unwrap();
        let xr = ndarray::Array2::from_shape_vec((1, 2), rounded).unwrap();
        let yr = ndarray::array![[1.0, 0.0]];
        let want = twoway_reference::LossFn::value(&twoway_reference::TwoWay::default(), xr.view(), yr.view()).unwrap();
        let got = v["value"].as_f64().unwrap();
        let max_x = logits.iter().fold(0f64, |m, v| m.max(v.abs()));
        let bound = if dtype == "f64" { 1e-10 * want.abs() } else { 1e-5 * want.abs().max(0.01) + 1e-6 * max_x };
        assert!((got - want).abs() <= bound, "{dtype}: {got} vs {want} (bound {bound:e})");
        compared += 1;
    }
    assert_eq!(compared, 4);
}
