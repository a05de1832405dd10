//! `twoway run` with the paper's backbone families: a grid with a pretrained backbone trains end to end
//! from a weight file (random torchvision weights here; the same code path as ImageNet's), records the
//! file's sha256 in its configuration, and a run whose weights or datasets are missing stops before it
//! reads anything, naming every missing file and the command that provides it.
#![cfg(feature = "torch")]

mod common;
use common::*;

const GRID: &str = "description: a paper-family backbone on the embedded dataset
recipe: embedded-smoke
datasets: [embedded]
backbones: [regnety_400mf]
seeds: [1]
runs:
  - {loss: twoway, way: both}
";

#[test]
fn a_pretrained_backbone_trains_from_its_weight_file() {
    let (weights, _) = backbone_fixture("regnety_400mf", "f32", "64x64");
    let tmp = tempfile::tempdir().unwrap();
    let wdir = tmp.path().join("weights");
    std::fs::create_dir(&wdir).unwrap();
    std::fs::copy(&weights, wdir.join("regnety_400mf.safetensors")).unwrap();
    let grid = tmp.path().join("g.yaml");
    std::fs::write(&grid, GRID).unwrap();
    let out = tmp.path().join("out");
    let root = data_root();
    let cmd = RunCmd::new(&grid).out(&out).data_root(&root).weights_dir(&wdir).threads(2);
    let (code, _, stderr) = cmd.run();
    assert_eq!(code, 0, "{stderr}");
    let path = out.join("embedded/regnety_400mf/twoway-both/seed1.json");
    let v = read_json(&path);
    let done = std::fs::read_to_string(weights.parent().unwrap().join("done")).unwrap();
    let sha = v["config"]["weights_sha256"].as_str().unwrap();
    assert!(done.contains(sha), "the result's weights_sha256 {sha} is not the exported file's ({done})");
    for m in ["map_class", "map_sample"] {
        let x = v["metrics"][m].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&x), "{m} {x}");
    }
    assert!(v["epochs"][0]["train_loss"].as_f64().unwrap().is_finite());
    // Other weights are another configuration: --resume refuses the old result.
    let (bad_weights, _) = backbone_fixture("regnety_400mf", "f16", "64x64");
    std::fs::copy(&bad_weights, wdir.join("regnety_400mf.safetensors")).unwrap();
    let (code, _, stderr) = cmd.resume().run();
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("another configuration"), "{stderr}");
}

#[test]
fn the_paper_grid_without_inputs_stops_before_reading_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    std::fs::create_dir(&root).unwrap();
    let out = tmp.path().join("out");
    let (code, _, stderr) = RunCmd::new("paper").out(&out).data_root(&root).run();
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("8 input(s)") && stderr.contains("nothing was trained"), "{stderr}");
    for file in [
        "coco/annotations/instances_train2014.json",
        "wider/",
        "vaw/",
        "vispr/",
        "weights/resnet50.safetensors",
        "weights/resnext50_32x4d.safetensors",
        "weights/densenet169.safetensors",
        "weights/regnety_32gf.safetensors",
        "tools/export_torchvision.py --backbone regnety_32gf",
    ] {
        assert!(stderr.contains(file), "`{file}` not named in: {stderr}");
    }
    assert!(!out.exists(), "the results folder was created");
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0, "something was written under the data root");
}

#[test]
fn an_unusable_weight_file_is_named_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let wdir = tmp.path().join("weights");
    std::fs::create_dir(&wdir).unwrap();
    // A resnet50 file where regnety_400mf's is expected.
    let (resnet, _) = backbone_fixture("resnet50", "f32", "224x224,97x161");
    std::fs::copy(&resnet, wdir.join("regnety_400mf.safetensors")).unwrap();
    let grid = tmp.path().join("g.yaml");
    std::fs::write(&grid, GRID).unwrap();
    let out = tmp.path().join("out");
    let (code, _, stderr) = RunCmd::new(&grid).out(&out).data_root(data_root()).weights_dir(&wdir).run();
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("regnety_400mf.safetensors") && stderr.contains("backbone `regnety_400mf`"), "{stderr}");
    assert!(!out.exists());
}
