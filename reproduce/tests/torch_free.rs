//! The torch-free `twoway` (built with `--no-default-features`, as `make test` does): it links no libtorch
//! and needs no Python, gates results against a baseline with the same exit codes as the full build, keeps
//! tables, claims, plots, map, the reference eval, spec and data commands, and names the build that has
//! the others.
#![cfg(not(feature = "torch"))]

mod common;
use common::*;

use std::path::Path;
use twoway_reproduce::results::{self, CellId, Epoch, Metrics, ResultFile, Versions};
use twoway_spec::{Backbone, Dataset, Loss, Way};

/// (mAP@class, mAP@sample) of each (loss, way) cell.
type Cells = std::collections::BTreeMap<(Loss, Option<Way>), (Option<f64>, Option<f64>)>;

/// Result files of the embedded-ci cells with the baseline's values and, with `numerics`, its numerics
/// fingerprint (what a training job would download).
fn write_results(dir: &Path, shift: f64, numerics: bool) -> usize {
    let text = std::fs::read_to_string(workspace().join("spec/baselines/embedded-ci.csv")).unwrap();
    let fingerprint =
        text.lines().find_map(|l| l.strip_prefix("# numerics: ")).map(|j| serde_json::from_str(j).unwrap());
    assert!(fingerprint.is_some(), "the committed baseline carries no numerics fingerprint");
    let mut cells = Cells::default();
    for line in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let loss: Loss = f[2].parse().unwrap();
        let way: Option<Way> = (!f[3].is_empty()).then(|| f[3].parse().unwrap());
        let v: f64 = f[6].parse().unwrap();
        let e = cells.entry((loss, way)).or_default();
        match f[4] {
            "map_class" => e.0 = Some(v + shift),
            _ => e.1 = Some(v),
        }
    }
    for ((loss, way), (c, s)) in &cells {
        let config = serde_json::json!({"loss": loss, "way": way});
        let r = ResultFile {
            format: results::FORMAT.into(),
            cell: CellId {
                dataset: Dataset::Embedded,
                backbone: Backbone::Tiny,
                loss: *loss,
                way: *way,
                variant: None,
                seed: 0,
            },
            metrics: Metrics { map_class: *c, map_sample: *s, ..Default::default() },
            epochs: vec![Epoch {
                epoch: 1,
                train_loss: 1.0,
                map_class: *c,
                map_sample: *s,
                lr_head: 0.1,
                seconds: 1.0,
            }],
            config_hash: results::hash(&config),
            config,
            versions: Versions { twoway: "test".into(), libtorch: "none".into() },
            device: "Cpu".into(),
            threads: 1,
            wall_seconds: 1.0,
            numerics: if numerics { fingerprint.clone() } else { None },
            tuning: None,
        };
        r.write(dir).unwrap();
    }
    cells.len()
}

#[test]
fn the_binary_links_no_torch_or_cuda_library() {
    let out = std::process::Command::new("ldd").arg(env!("CARGO_BIN_EXE_twoway")).output().unwrap();
    let libs = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && libs.contains("libc"), "{libs}");
    for lib in ["torch", "c10", "cuda", "nvrtc", "gomp"] {
        assert!(!libs.contains(lib), "links {lib}:\n{libs}");
    }
    let (code, stdout, _) = twoway(&["--version"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("twoway "), "{stdout}");
}

#[test]
fn the_gate_exits_0_1_2_on_the_same_cases_as_the_full_build() {
    let tmp = tempfile::tempdir().unwrap();
    let baseline = workspace().join("spec/baselines/embedded-ci.csv");
    let b = baseline.to_str().unwrap();
    let same = tmp.path().join("same");
    assert_eq!(write_results(&same, 0.0, true), 3);
    let (code, report, err) =
        twoway(&["diff", "--results", same.to_str().unwrap(), "--against", b, "--tolerance", "0"]);
    assert_eq!(code, 0, "{report}{err}");
    assert!(report.contains("passed: 6 cell(s)") && report.contains("numerics: identical"), "{report}");
    // Results without a fingerprint are not known to share the baseline's numerics: no exact gate.
    let unknown = tmp.path().join("unknown");
    write_results(&unknown, 0.0, false);
    let (code, _, err) = twoway(&["diff", "--results", unknown.to_str().unwrap(), "--against", b, "--tolerance", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("different numerics") && err.contains("none recorded"), "{err}");
    let low = tmp.path().join("low");
    write_results(&low, -1.0, true);
    let (code, report, _) = twoway(&["diff", "--results", low.to_str().unwrap(), "--against", b, "--tolerance", "0.5"]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("FAILED: 3 of 6"), "{report}");
    let (code, _, _) = twoway(&["diff", "--results", low.to_str().unwrap(), "--against", b, "--tolerance", "1.5"]);
    assert_eq!(code, 0);
    let bad = tmp.path().join("bad.csv");
    std::fs::write(&bad, "dataset,backbone\n").unwrap();
    let (code, _, err) = twoway(&["diff", "--results", same.to_str().unwrap(), "--against", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.csv") && err.contains("header"), "{err}");
    let (code, _, err) = twoway(&["diff", "--results", tmp.path().join("nope").to_str().unwrap(), "--against", b]);
    assert_eq!(code, 2);
    assert!(err.contains("no such results folder"), "{err}");
    // Tables, claims and plots from result files.
    let s = same.to_str().unwrap();
    for args in [
        vec!["table", "--results", s, "--datasets", "embedded"],
        vec!["claims", "--results", s],
        vec!["plots", "--results", s],
    ] {
        let (code, _, err) = twoway(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
    }
    assert!(same.join("plots/losses_embedded_tiny.png").exists());
}

#[test]
fn commands_that_need_libtorch_name_the_build_that_has_them() {
    let tmp = tempfile::tempdir().unwrap();
    let x = tmp.path().join("x.json");
    let y = tmp.path().join("y.json");
    std::fs::write(&x, "[[0.3, 1.2]]").unwrap();
    std::fs::write(&y, "[[1, 0]]").unwrap();
    let (x, y) = (x.to_str().unwrap(), y.to_str().unwrap());
    let run = RunCmd::new("embedded-ci");
    for args in [
        run.argv(),
        vec!["backbone", "list"],
        vec!["eval", "--loss", "twoway", "--backend", "tch", "--logits", x, "--targets", y],
        vec!["noise", "--results", x, "--", "--grid", "embedded-ci"],
    ] {
        let (code, _, err) = twoway(&args);
        assert_eq!(code, 2, "{args:?}");
        assert!(err.contains("needs libtorch") && err.contains("make build"), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    let (code, help, _) = twoway(&["--help"]);
    assert_eq!(code, 0);
    assert!(help.contains("run") && help.contains("backbone"), "{help}");
    // The reference backend, map and spec work.
    let (code, out, err) = twoway(&["eval", "--loss", "twoway", "--logits", x, "--targets", y]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("reference (f64)"), "{out}");
    let (code, _, err) = twoway(&["map", "--scores", x, "--targets", y]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = twoway(&["spec", "--dir", workspace().join("spec/data").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) =
        twoway(&["data", "fixtures", "--out", tmp.path().join("d").to_str().unwrap(), "--samples", "6"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = twoway(&[
        "data",
        "labels",
        "--dataset",
        "wider",
        "--split",
        "test",
        "--data-root",
        tmp.path().join("d").to_str().unwrap(),
        "--out",
        tmp.path().join("l.npy").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
}
