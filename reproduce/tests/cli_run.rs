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
        // CF1 / OF1 at 0.5 and at top-3 always; the tuned ones only with a held-out slice.
        for m in ["cf1", "of1", "cf1_top3", "of1_top3"] {
            assert!((0.0..=100.0).contains(&v["metrics"][m].as_f64().unwrap()), "{cell} {m}");
        }
        assert!(v["metrics"].get("cf1_tuned").is_none(), "{cell}: tuned without a holdout");
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

/// A recipe's `holdout` slice tunes the thresholds of the tuned CF1 / OF1, and `--save-scores` writes the
/// final evaluation beside the result: `twoway metrics` on those files gives the result's numbers exactly.
#[test]
fn a_held_out_slice_tunes_thresholds_and_saved_scores_reproduce_the_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = tmp.path().join("g.yaml");
    std::fs::write(
        &grid,
        "description: holdout\nrecipe: embedded-smoke\ndatasets: [embedded]\nbackbones: [tiny]\nseeds: [3]\nruns:\n  - {loss: twoway, way: both}\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let cmd = RunCmd::new(&grid).out(&out).data_root(data_root()).threads(2).set("holdout=32").arg("--save-scores");
    let (code, _, stderr) = cmd.run();
    assert_eq!(code, 0, "{stderr}");
    let cell = out.join("embedded/tiny/twoway-both");
    let v = read_json(cell.join("seed3.json"));
    assert_eq!(v["config"]["recipe"]["recipe"]["holdout"], 32);
    assert_eq!(v["tuning"]["held_out"], 32);
    let per_class = v["tuning"]["thresholds"].as_array().unwrap();
    assert_eq!(per_class.len(), 12);
    assert!(per_class.iter().chain([&v["tuning"]["threshold"]]).all(|t| (0.0..=1.0).contains(&t.as_f64().unwrap())));
    let m = &v["metrics"];
    for key in ["cf1_tuned", "of1_tuned", "cf1_tuned_class", "of1_tuned_class"] {
        assert!((0.0..=100.0).contains(&m[key].as_f64().unwrap()), "{key}: {m}");
    }
    let (scores, targets) = (cell.join("seed3.scores.npy"), cell.join("seed3.targets.npy"));
    let ids = std::fs::read_to_string(cell.join("seed3.ids.txt")).unwrap();
    assert_eq!(f32_npy_shape(&scores), vec![64, 12]);
    assert_eq!(ids.lines().count(), 64);
    let (s, t) = (scores.to_str().unwrap(), targets.to_str().unwrap());
    let mut compared = 0;
    for (flags, pairs) in [
        (vec![], vec![("cf1", "cf1"), ("of1", "of1"), ("map_class", "map_class"), ("map_sample", "map_sample")]),
        (vec!["--top-k", "3"], vec![("cf1", "cf1_top3"), ("of1", "of1_top3")]),
    ] {
        let args = [&["metrics", "--scores", s, "--targets", t, "--format", "json"][..], &flags[..]].concat();
        let (code, stdout, stderr) = twoway(&args);
        assert_eq!(code, 0, "{stderr}");
        let got: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        for (cli, result) in pairs {
            assert_eq!(got[cli], m[result], "{cli} of the saved scores vs the result's {result}");
            compared += 1;
        }
    }
    assert_eq!(compared, 6);
}

/// The shape of a 2-D f32 `.npy` (it fails on any other element type).
fn f32_npy_shape(path: &std::path::Path) -> Vec<usize> {
    use ndarray_npy::ReadNpyExt;
    ndarray::Array2::<f32>::read_npy(std::fs::File::open(path).unwrap()).unwrap().shape().to_vec()
}
