//! The release's data order against PyTorch itself: on an MS-COCO split whose annotations are not in image
//! order and with images without annotations, `twoway data order` gives, id for id, the replica batches of
//! `DistributedSampler` + `DataLoader(drop_last=True)` as the release runs them (tools/release_sampler.py in
//! the tools venv), in epochs 0 and 3 (`set_epoch` is never called: the same batches every epoch), and the
//! samples a run never trains on.
#![cfg(feature = "torch")]

mod common;
use common::*;

use serde_json::json;
use std::path::Path;

/// A COCO train split of 46 images, 42 annotated (some several times) in an order unlike the images'.
fn coco(root: &Path) -> std::path::PathBuf {
    let images: Vec<serde_json::Value> = (0..46u64)
        .map(|i| json!({"id": 1000 + i, "file_name": format!("COCO_{i:04}.jpg"), "width": 8, "height": 8}))
        .collect();
    let mut annotations = Vec::new();
    // Image k's first annotation comes at position (k * 17) mod 42: a fixed scramble of the image order.
    let mut first = [0u64; 42];
    for k in 0..42u64 {
        first[((k * 17) % 42) as usize] = 1000 + k;
    }
    for (n, image) in first.iter().chain([1003, 1040, 1007].iter()).enumerate() {
        annotations.push(json!({"id": n, "image_id": image, "category_id": 1 + n % 5}));
    }
    let categories: Vec<serde_json::Value> = twoway_reproduce::data::fixtures::COCO_CATEGORIES
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name}))
        .collect();
    let file = root.join("coco/annotations/instances_train2014.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let doc = json!({"images": images, "annotations": annotations, "categories": categories});
    std::fs::write(&file, doc.to_string()).unwrap();
    file
}

#[test]
fn the_release_order_is_the_distributed_samplers_id_for_id() {
    let tmp = tempfile::tempdir().unwrap();
    let annotations = coco(tmp.path());
    let root = tmp.path().to_str().unwrap();
    // Batch 8 on the release's 4 replicas: 42 images padded to 44, 11 a replica, 5 batches of 2 each.
    let py = std::process::Command::new(venv_python())
        .arg(workspace().join("tools/release_sampler.py"))
        .args(["--annotations", annotations.to_str().unwrap(), "--batch-size", "8", "--epochs", "0,3"])
        .output()
        .unwrap();
    assert!(py.status.success(), "{}", String::from_utf8_lossy(&py.stderr));
    let torch: serde_json::Value = serde_json::from_slice(&py.stdout).unwrap();
    let mut compared = 0;
    for epoch in ["0", "3"] {
        let base = ["data", "order", "--dataset", "coco", "--split", "train2014", "--data-root", root];
        let mut args = base.to_vec();
        args.extend(["--recipe", "release", "--set", "batch_size=8", "--epoch", epoch, "--format", "json"]);
        let (code, out, err) = twoway(&args);
        assert_eq!(code, 0, "{err}");
        let mine: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(mine["replicas"], 4);
        assert_eq!(mine["batches"], torch[epoch], "epoch {epoch}");
        let steps = mine["batches"].as_array().unwrap();
        assert_eq!(steps.len(), 5);
        compared += steps.iter().flat_map(|s| s.as_array().unwrap()).flat_map(|r| r.as_array().unwrap()).count();
        // Each replica's 11th index is never batched: two of those four are samples seen nowhere else.
        assert_eq!(mine["unused"].as_array().unwrap().len(), 2, "{}", mine["unused"]);
    }
    assert_eq!(compared, 80);
    // The shuffle order of our own recipes draws a new permutation every epoch.
    let shuffle = |epoch: &str| {
        let (code, out, err) = twoway(&[
            "data",
            "order",
            "--dataset",
            "coco",
            "--split",
            "train2014",
            "--data-root",
            root,
            "--recipe",
            "release",
            "--set",
            "batch_size=8",
            "--set",
            "data_order=shuffle",
            "--epoch",
            epoch,
            "--format",
            "json",
        ]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["batches"].clone()
    };
    assert_ne!(shuffle("0"), shuffle("3"));
}

/// The sampler's permutation is libtorch's `randperm` on a generator seeded as `manual_seed` seeds it, bit
/// for bit (the only test of this binary that touches libtorch's global generator).
#[test]
fn randperm_is_libtorchs() {
    let mut compared = 0;
    for (n, seed) in [(1, 0), (2, 0), (10, 0), (42, 0), (1000, 0), (1000, 7), (82_081, 0), (5, 1 << 33)] {
        twoway_reproduce::tch::manual_seed(seed as i64);
        let t = twoway_reproduce::tch::Tensor::randperm(
            n,
            (twoway_reproduce::tch::Kind::Int64, twoway_reproduce::tch::Device::Cpu),
        );
        let want: Vec<usize> = Vec::<i64>::try_from(&t).unwrap().into_iter().map(|i| i as usize).collect();
        assert_eq!(twoway_reproduce::train::order::randperm(n as usize, seed), want, "n {n}, seed {seed}");
        compared += 1;
    }
    assert_eq!(compared, 8);
}
