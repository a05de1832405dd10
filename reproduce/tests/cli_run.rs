//! `twoway run` with a grid file: every loss and way of the spec trains end to end (a one-epoch smoke
//! recipe), result files carry what they promise, and bad grids, devices and data are clear errors.
#![cfg(feature = "torch")]

mod common;
use common::*;

use std::path::PathBuf;

const SMOKE: &str = "description: every loss and way, one epoch
recipe: embedded-smoke
datasets: [embedded]
backbones: [tiny]
seeds: [3]
runs:
  - {loss: twoway, way: both}
  - {loss: twoway, way: class, params: {mask: official, tp: 2.0}}
  - {loss: twoway, way: sample}
  - {loss: softmax, way: sample}
  - {loss: softmax, way: class}
  - {loss: softmax, way: both}
  - {loss: bce}
  - {loss: focal, params: {alpha: 0.25}}
  - {loss: asl, params: {focus_grad: true}}
";

#[test]
fn every_loss_and_way_trains_from_a_grid_file() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = tmp.path().join("smoke.yaml");
    std::fs::write(&grid, SMOKE).unwrap();
    let out = tmp.path().join("out");
    let root = data_root();
    let (code, stdout, stderr) = RunCmd::new(&grid).out(&out).data_root(&root).threads(2).run();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("(9 cells)"), "{stdout}");
    for cell in [
        "twoway-both",
        "twoway-class",
        "twoway-sample",
        "softmax-sample",
        "softmax-class",
        "softmax-both",
        "bce",
        "focal",
        "asl",
    ] {
        let path = out.join(format!("embedded/tiny/{cell}/seed3.json"));
        let v = read_json(&path);
        let e = &v["epochs"][0];
        assert!(e["train_loss"].as_f64().unwrap().is_finite(), "{cell}");
        assert!((0.0..=100.0).contains(&v["metrics"]["map_class"].as_f64().unwrap()), "{cell}");
        assert_eq!(v["format"], "twoway-result-v1");
        assert_eq!(v["threads"], 2);
        assert!(v["config_hash"].as_str().unwrap().len() == 64);
        assert!(v["versions"]["libtorch"].as_str().unwrap().contains("libtorch"));
        assert!(v["wall_seconds"].as_f64().unwrap() > 0.0);
        assert_eq!(v["config"]["recipe"]["name"], "embedded-smoke");
    }
    let twoway_class = read_json(out.join("embedded/tiny/twoway-class/seed3.json"));
    assert_eq!(twoway_class["config"]["loss"]["mask"], "official");
    assert_eq!(twoway_class["config"]["loss"]["tp"], 2.0);
    // Plots: the per-loss bars and one training curve per cell.
    assert!(out.join("plots/losses_embedded_tiny.png").is_file());
    assert_eq!(std::fs::read_dir(out.join("plots/curves")).unwrap().count(), 9);
    // --ways keeps the element-wise losses and the set-based ones in the given ways.
    let filtered = tmp.path().join("filtered");
    let (code, stdout, stderr) =
        RunCmd::new(&grid).out(&filtered).data_root(&root).args(["--ways", "class", "--losses", "twoway,bce"]).run();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("(2 cells)"), "{stdout}");
}

#[test]
fn bad_grids_devices_and_data_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (code, _, err) = RunCmd::new("nonesuch").out(&out).run();
    assert_eq!(code, 2);
    assert!(err.contains("unknown grid `nonesuch`") && err.contains("embedded-ci"), "{err}");
    let grid = tmp.path().join("g.yaml");
    std::fs::write(&grid, SMOKE.replace("recipe: embedded-smoke", "recipe: embedded-smoke\nepochs: 3")).unwrap();
    let (code, _, err) = RunCmd::new(&grid).out(&out).run();
    assert_eq!(code, 2);
    assert!(err.contains("g.yaml:") && err.contains("unknown field `epochs`"), "{err}");
    std::fs::write(&grid, SMOKE.replace("{loss: bce}", "{loss: bce, way: class}")).unwrap();
    let (code, _, err) = RunCmd::new(&grid).out(&out).run();
    assert_eq!(code, 2);
    assert!(err.contains("has no ways"), "{err}");
    if !twoway_reproduce::tch::Cuda::is_available() {
        let (code, _, err) = RunCmd::new("embedded-ci").args(["--device", "cuda:0"]).out(&out).run();
        assert_eq!(code, 2);
        assert!(err.contains("cuda:0"), "{err}");
    }
    // A dataset that is not there names its annotation file.
    let (code, _, err) = RunCmd::new("paper")
        .args(["--datasets", "coco", "--backbones", "resnet50", "--losses", "bce"])
        .out(&out)
        .data_root(tmp.path())
        .run();
    assert_eq!(code, 2);
    assert!(
        err.contains("instances_train2014.json") && err.contains("missing") && err.contains("nothing was trained"),
        "{err}"
    );
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().count() == 0, "a failed run left results");
}

#[test]
fn a_missing_or_corrupt_image_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    // A copy of the embedded dataset with one image removed and one corrupted.
    let root = tmp.path().join("data");
    let (code, stdout, err) = twoway(&["data", "generate", "--data-root", root.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let dir = PathBuf::from(stdout.trim().trim_start_matches("embedded dataset written to "));
    std::fs::write(dir.join("val2014/COCO_val2014_000000000002.png"), b"not a png").unwrap();
    let out = tmp.path().join("out");
    let run_bce = || RunCmd::new("embedded-ci").args(["--losses", "bce"]).out(&out).data_root(&root).run();
    let (code, _, err) = run_bce();
    assert_eq!(code, 2);
    assert!(err.contains("COCO_val2014_000000000002.png") && err.contains("corrupt"), "{err}");
    std::fs::remove_file(dir.join("val2014/COCO_val2014_000000000002.png")).unwrap();
    let (code, _, err) = run_bce();
    assert_eq!(code, 2);
    assert!(err.contains("COCO_val2014_000000000002.png") && err.contains("missing image"), "{err}");
    // Inspect reports the dataset's shape.
    let (code, report, _) = twoway(&["data", "inspect", "--data-root", root.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(report.contains("dataset embedded: 12 classes") && report.contains("labels per sample"), "{report}");
}
