//! `twoway eval` and `twoway map` against an independent oracle (tools/oracle.py: PyTorch float64 autograd,
//! numpy, scikit-learn), on the seeded cases it wrote to tests/oracle/.
//! Bounds: the reference and the tch backend in f64, 1e-10 relative (gradient entries with a noise floor
//! of 1e-10 x the largest entry); the tch backend in f32, the suite's f32 bound: values within 1e-5
//! relative (1e-7 absolute below 0.01), gradients within 1e-5 x (|entry| + largest entry).

mod common;

use ndarray::Array2;
use ndarray_npy::ReadNpyExt;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle")
}

/// The JSON `twoway` printed, which must exit 0.
fn twoway(args: &[String]) -> serde_json::Value {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = common::twoway(&args);
    assert_eq!(code, 0, "twoway {args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap()
}

fn rel_ok(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-10 * want.abs()
}

/// (extra arguments, value bound, gradient bound) of each backend run against the oracle.
type Bound = fn(f64, f64) -> bool;
type GradBound = fn(f64, f64, f64) -> bool;

fn backends() -> Vec<(Vec<&'static str>, Bound, GradBound)> {
    let f64_value: Bound = rel_ok;
    let f64_grad: GradBound = |a, b, max| (a - b).abs() <= 1e-10 * (b.abs() + max);
    let f32_value: Bound = |a, b| (a - b).abs() <= 1e-5 * b.abs().max(1e-2);
    let f32_grad: GradBound = |a, b, max| (a - b).abs() <= 1e-5 * (b.abs() + max) + f32::MIN_POSITIVE as f64;
    let mut v: Vec<(Vec<&'static str>, Bound, GradBound)> = vec![(vec!["--backend", "reference"], f64_value, f64_grad)];
    // The tch backend, in the build that has it.
    if cfg!(feature = "torch") {
        v.push((vec!["--backend", "tch", "--dtype", "f64"], f64_value, f64_grad));
        v.push((vec!["--backend", "tch", "--dtype", "f32"], f32_value, f32_grad));
    }
    v
}

#[test]
fn eval_and_map_agree_with_the_oracle() {
    let cases = common::read_json(dir().join("cases.json"));
    let tmp = tempfile::tempdir().unwrap();
    let (mut losses, mut maps) = (0, 0);
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let file = |suffix: &str| dir().join(format!("{name}.{suffix}")).display().to_string();
        if case["kind"] == "loss" {
            for (extra, value_ok, grad_ok) in backends() {
                let grad_out = tmp.path().join(format!("{name}.grad.npy"));
                let mut args: Vec<String> = vec!["eval".into(), "--loss".into(), case["loss"].as_str().unwrap().into()];
                for (k, v) in case["params"].as_object().unwrap() {
                    args.push(format!("--{}", k.replace('_', "-")));
                    args.push(match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                }
                args.extend(["--logits".into(), file("logits.npy"), "--targets".into(), file("targets.npy")]);
                args.extend(["--grad-out".into(), grad_out.display().to_string(), "--format".into(), "json".into()]);
                args.extend(extra.iter().map(|s| s.to_string()));
                let got = twoway(&args);
                let (v, want) = (got["value"].as_f64().unwrap(), case["value"].as_f64().unwrap());
                assert!(value_ok(v, want), "{name} {extra:?}: value {v:e} vs oracle {want:e}");
                let g = Array2::<f64>::read_npy(std::fs::File::open(&grad_out).unwrap()).unwrap();
                let o = Array2::<f64>::read_npy(std::fs::File::open(file("grad.npy")).unwrap()).unwrap();
                assert_eq!(g.dim(), o.dim(), "{name}");
                let max = o.iter().fold(0.0f64, |m, t| m.max(t.abs()));
                for ((idx, a), b) in g.indexed_iter().zip(o.iter()) {
                    assert!(grad_ok(*a, *b, max), "{name} {extra:?}: grad{idx:?} {a:e} vs oracle {b:e}");
                }
            }
            losses += 1;
        } else {
            let args: Vec<String> = vec![
                "map".into(),
                "--scores".into(),
                file("scores.npy"),
                "--targets".into(),
                file("targets.npy"),
                "--ties".into(),
                case["ties"].as_str().unwrap().into(),
                "--format".into(),
                "json".into(),
            ];
            let got = twoway(&args);
            for m in ["map_class", "map_sample"] {
                let (a, b) = (got[m].as_f64().unwrap(), case[m].as_f64().unwrap());
                assert!(rel_ok(a, b), "{name}: {m} {a} vs oracle {b}");
            }
            maps += 1;
        }
    }
    // Every loss configuration of the oracle (both masks, every way, every reduction) and both tie rules.
    assert_eq!((losses, maps), (23, 5));
}
