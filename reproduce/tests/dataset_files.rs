//! Dataset files end to end: a COCO-format and a CSV-format dataset the test writes (categories with id
//! gaps listed out of id order, shuffled annotations, unannotated images; CSV unknowns as `-1` and empty).
//! `twoway data labels` gives the matrix built here independently; a grid of both files and the five
//! losses over two seeds runs; the table has their rows with no published number; the claims name them;
//! each bad input exits 2 naming the file and the row, with nothing written. The template grids (`compare`,
//! `batch-size`) run on a dataset file and a backbone given on the command line.
#![cfg(feature = "torch")]

mod common;
use common::*;

use std::path::{Path, PathBuf};

const CLASSES: [&str; 3] = ["zebra", "bike", "cat"];
const IDS: [u64; 3] = [9, 2, 5];
const IMAGES: usize = 15;

/// Which classes image `i` holds (none for every fifth: unannotated).
fn positives(i: usize) -> Vec<usize> {
    if i % 5 == 4 {
        return vec![];
    }
    (0..3)
        .filter(|c| (i * 7 + c * 3) % 4 < 2)
        .chain(std::iter::once(i % 3))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Writes the images, a COCO file per split, a CSV per split and the two dataset files; returns the folder.
fn fixture(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("images")).unwrap();
    for i in 0..IMAGES {
        let img = image::RgbImage::from_fn(40, 40, |x, y| {
            image::Rgb([(x * 6) as u8, (y * 6 + i as u32 * 9) as u8, (i * 17) as u8])
        });
        img.save(dir.join(format!("images/im{i}.png"))).unwrap();
    }
    for (split, range) in [("train", 0..10), ("eval", 10..IMAGES)] {
        let images: Vec<serde_json::Value> = range
            .clone()
            .map(|i| serde_json::json!({"id": 100 + i, "file_name": format!("im{i}.png"), "width": 40, "height": 40}))
            .collect();
        let mut anns: Vec<serde_json::Value> = Vec::new();
        for i in range.clone() {
            for c in positives(i) {
                anns.push(serde_json::json!({"id": anns.len() + 1, "image_id": 100 + i, "category_id": IDS[c], "bbox": [1, 1, 5, 5]}));
            }
        }
        anns.reverse(); // not in image order
        let cats: Vec<serde_json::Value> =
            (0..3).map(|c| serde_json::json!({"id": IDS[c], "name": CLASSES[c]})).collect();
        let coco = serde_json::json!({"images": images, "annotations": anns, "categories": cats});
        std::fs::write(dir.join(format!("{split}.json")), coco.to_string()).unwrap();
        let mut csv = String::from("image,zebra,bike,cat\n");
        for i in range {
            let v: Vec<String> = (0..3)
                .map(|c| match (positives(i).contains(&c), (i + c) % 5) {
                    (true, _) => "1".into(),
                    (false, 0) => "-1".into(),
                    (false, 1) => String::new(),
                    _ => "0".into(),
                })
                .collect();
            csv.push_str(&format!("im{i}.png,{}\n", v.join(",")));
        }
        std::fs::write(dir.join(format!("{split}.csv")), csv).unwrap();
    }
    for (name, format, ext) in [("toys", "coco", "json"), ("toysv", "csv", "csv")] {
        let text = format!(
            "name: {name}\nformat: {format}\nsplits:\n  train: {{annotations: train.{ext}, images: images}}\n  eval: {{annotations: eval.{ext}, images: images}}\n"
        );
        std::fs::write(dir.join(format!("{name}.yaml")), text).unwrap();
    }
    dir.to_path_buf()
}

/// `twoway data labels` of a split into `out` (and its ids, when given).
fn data_labels(file: &Path, split: &str, out: &Path, ids: Option<&Path>) -> (i32, String, String) {
    let mut args = vec!["data", "labels", "--dataset", file.to_str().unwrap(), "--split", split];
    args.extend(["--out", out.to_str().unwrap()]);
    if let Some(ids) = ids {
        args.extend(["--ids", ids.to_str().unwrap()]);
    }
    twoway(&args)
}

/// The result files (`seed<k>.json`) under a results folder.
fn result_files(out: &Path) -> Vec<PathBuf> {
    let is_result = |p: &PathBuf| {
        p.extension().is_some_and(|e| e == "json") && p.file_name().unwrap().to_string_lossy().starts_with("seed")
    };
    walk(out).into_iter().filter(is_result).collect()
}

fn labels(file: &Path, split: &str, out: &Path) -> (Vec<i8>, Vec<String>) {
    let ids = out.with_extension("txt");
    let (code, _, err) = data_labels(file, split, out, Some(&ids));
    assert_eq!(code, 0, "{err}");
    let (shape, values) = read_npy_i8(out);
    assert_eq!(shape[1], 3);
    (values, std::fs::read_to_string(ids).unwrap().lines().map(String::from).collect())
}

fn read_npy_i8(path: &Path) -> (Vec<usize>, Vec<i8>) {
    use ndarray_npy::ReadNpyExt;
    let a = ndarray::ArrayD::<i8>::read_npy(std::fs::File::open(path).unwrap()).unwrap();
    (a.shape().to_vec(), a.iter().copied().collect())
}

#[test]
fn data_labels_equal_the_matrices_built_independently() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fixture(tmp.path());
    // COCO: the eval images with an annotation, in the file's image order; classes in the categories' order.
    let (got, ids) = labels(&dir.join("toys.yaml"), "eval", &tmp.path().join("coco.npy"));
    let kept: Vec<usize> = (10..IMAGES).filter(|i| !positives(*i).is_empty()).collect();
    assert!(kept.len() < IMAGES - 10, "the fixture has an unannotated eval image");
    let want: Vec<i8> = kept.iter().flat_map(|i| (0..3).map(move |c| positives(*i).contains(&c) as i8)).collect();
    assert_eq!(got, want);
    assert_eq!(ids, kept.iter().map(|i| (100 + i).to_string()).collect::<Vec<_>>());
    // CSV: every row, unknowns (-1 and empty) as -1; ids are the image paths.
    let (got, ids) = labels(&dir.join("toysv.yaml"), "eval", &tmp.path().join("csv.npy"));
    let want: Vec<i8> = (10..IMAGES)
        .flat_map(|i| {
            (0..3).map(move |c| {
                if positives(i).contains(&c) {
                    1
                } else if (i + c) % 5 < 2 {
                    -1
                } else {
                    0
                }
            })
        })
        .collect();
    assert!(want.contains(&-1));
    assert_eq!(got, want);
    assert_eq!(ids, (10..IMAGES).map(|i| format!("im{i}.png")).collect::<Vec<_>>());
}

#[test]
fn a_grid_of_dataset_files_runs_the_five_losses_and_the_table_and_claims_name_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fixture(&tmp.path().join("data"));
    let grid = dir.join("grid.yaml");
    std::fs::write(
        &grid,
        "description: the five losses on two dataset files\nrecipe: embedded-ci\ndatasets: [toys.yaml, toysv.yaml]\n\
         backbones: [tiny]\nseeds: [0, 1]\nruns:\n  - {loss: softmax}\n  - {loss: bce}\n  - {loss: focal}\n  - {loss: asl}\n  - {loss: twoway}\n",
    )
    .unwrap();
    let out = tmp.path().join("results");
    let cmd = RunCmd::new(&grid).out(&out).threads(2).set("batch_size=4").set("epochs=1");
    let (code, _, err) = cmd.run();
    assert_eq!(code, 0, "{err}");
    let results = result_files(&out);
    assert_eq!(results.len(), 20, "2 datasets x 5 losses x 2 seeds: {results:?}");
    let (code, csv, err) =
        twoway(&["table", "--results", out.to_str().unwrap(), "--datasets", "toys,toysv", "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let ours: Vec<&Vec<&str>> = rows.iter().filter(|r| r[0] == "toys" || r[0] == "toysv").collect();
    assert_eq!(ours.len(), 20, "5 losses x 2 metrics x 2 datasets:\n{csv}");
    for r in &ours {
        assert_eq!(r[5], "", "no published number for a dataset file: {r:?}");
        assert!(r[6].parse::<f64>().is_ok(), "a reproduced number: {r:?}");
        assert_eq!(r[9], "2", "two seeds: {r:?}");
    }
    let (code, claims, err) = twoway(&["claims", "--results", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(claims.contains("toys/Tiny") && claims.contains("toysv/Tiny"), "{claims}");
}

/// Exit 2, `want` on stderr, nothing at `out`.
fn refused(file: &Path, out: &Path, want: &str) {
    let (code, _, err) = data_labels(file, "train", out, None);
    assert_eq!(code, 2, "{want}: {err}");
    assert!(err.contains(want), "stderr does not say `{want}`:\n{err}");
    assert!(!out.exists(), "{} was written", out.display());
}

#[test]
fn bad_dataset_files_are_refused_naming_the_file_and_row() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fixture(tmp.path());
    let out = tmp.path().join("never.npy");
    let csv_file = |name: &str, text: &str| {
        std::fs::write(dir.join(format!("{name}.csv")), text).unwrap();
        let yaml = dir.join(format!("{name}.yaml"));
        std::fs::write(&yaml, format!("name: {name}\nformat: csv\nsplits:\n  train: {{annotations: {name}.csv, images: images}}\n  eval: {{annotations: eval.csv, images: images}}\n")).unwrap();
        yaml
    };
    refused(
        &csv_file("badvalue", "image,zebra,bike,cat\nim0.png,1,0,0\nim1.png,0,2,1\n"),
        &out,
        "badvalue.csv:3: class `bike`: value `2` is not 1, 0, -1 or empty",
    );
    refused(
        &csv_file("dupcol", "image,zebra,bike,zebra\nim0.png,1,0,0\n"),
        &out,
        "dupcol.csv:1: duplicate class column `zebra`",
    );
    refused(
        &csv_file("shortrow", "image,zebra,bike,cat\nim0.png,1,0\n"),
        &out,
        "shortrow.csv:2: 3 values, the header has 4 columns",
    );
    refused(&csv_file("nothing", "image,zebra,bike,cat\n"), &out, "split `train` of dataset `nothing` has no sample");
    refused(&csv_file("escape", "image,zebra,bike,cat\n../outside.png,1,0,0\n"), &out, "leaves the image folder");
    let yaml = |name: &str, text: &str| {
        let p = dir.join(format!("{name}.yaml"));
        std::fs::write(&p, text).unwrap();
        p
    };
    refused(&yaml("fmt", "name: fmt\nformat: tsv\nsplits:\n  train: {annotations: train.csv, images: images}\n  eval: {annotations: eval.csv, images: images}\n"), &out, "unknown variant `tsv`");
    refused(&yaml("shadow", "name: coco\nformat: coco\nsplits:\n  train: {annotations: train.json, images: images}\n  eval: {annotations: eval.json, images: images}\n"), &out, "shadow.yaml: field `name`: name `coco` is a built-in dataset's key");
    refused(&yaml("up", "name: up\nformat: coco\nsplits:\n  train: {annotations: ../train.json, images: images}\n  eval: {annotations: eval.json, images: images}\n"), &out, "up.yaml: field `splits.train.annotations`");
    refused(
        &yaml("noeval", "name: noeval\nformat: coco\nsplits:\n  train: {annotations: train.json, images: images}\n"),
        &out,
        "noeval.yaml: field `splits`: no `eval` split",
    );
    // A missing image is named by `twoway data check`.
    std::fs::remove_file(dir.join("images/im3.png")).unwrap();
    let (code, out, err) = twoway(&["data", "check", "--dataset", dir.join("toysv.yaml").to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(out.contains("im3.png") || err.contains("im3.png"), "{out}{err}");
}

/// A CSV dataset of `n` small images (every image has a positive), with its dataset file.
fn csv_dataset(dir: &Path, n: usize) -> PathBuf {
    std::fs::create_dir_all(dir.join("images")).unwrap();
    let mut csv = String::from("image,a,b,c,d\n");
    for i in 0..n {
        let img =
            image::RgbImage::from_fn(40, 40, |x, y| image::Rgb([(x * 6) as u8, (y * 6) as u8, (i * 37 % 251) as u8]));
        img.save(dir.join(format!("images/{i}.png"))).unwrap();
        let row: Vec<&str> = (0..4)
            .map(|c| {
                if (i + c) % 3 == 0 || c == i % 4 {
                    "1"
                } else if (i * c) % 7 == 1 {
                    ""
                } else {
                    "0"
                }
            })
            .collect();
        csv.push_str(&format!("{i}.png,{}\n", row.join(",")));
    }
    std::fs::write(dir.join("labels.csv"), csv).unwrap();
    let file = dir.join("many.yaml");
    std::fs::write(&file, "name: many\nformat: csv\nsplits:\n  train: {annotations: labels.csv, images: images}\n  eval: {annotations: labels.csv, images: images}\n").unwrap();
    file
}

#[test]
fn the_compare_template_runs_on_a_dataset_file_and_prints_the_table_and_claims() {
    let tmp = tempfile::tempdir().unwrap();
    let file = fixture(&tmp.path().join("data")).join("toysv.yaml");
    let out = tmp.path().join("results");
    // Two worker processes: each gets the dataset file on its command line.
    let cmd = RunCmd::new("compare")
        .args(["--datasets", file.to_str().unwrap(), "--backbones", "tiny", "--seeds", "0,1", "--workers", "2"])
        .out(&out)
        .threads(1)
        .set("batch_size=4")
        .set("epochs=1");
    let (code, stdout, err) = cmd.run();
    assert_eq!(code, 0, "{err}");
    let results = result_files(&out).len();
    assert_eq!(results, 10, "5 losses x 2 seeds");
    for loss in ["Softmax", "BCE", "Focal", "ASL", "Ours"] {
        assert!(stdout.contains(&format!("| toysv | {loss} |")), "the table has {loss}'s row:\n{stdout}");
    }
    assert!(stdout.contains("Reproduced claims") && stdout.contains("toysv/Tiny"), "{stdout}");
    assert!(out.join("plots").read_dir().unwrap().count() > 0);
    // A grid that is not a template does not take a dataset it does not list.
    let (code, _, err) =
        RunCmd::new("embedded-ci").args(["--datasets", file.to_str().unwrap()]).out(tmp.path().join("x")).run();
    assert_eq!(code, 2);
    assert!(err.contains("grid `embedded-ci` has no dataset `toysv`") && err.contains("--grid compare"), "{err}");
}

#[test]
fn the_batch_size_sweep_runs_on_a_dataset_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = csv_dataset(&tmp.path().join("data"), 260);
    let out = tmp.path().join("results");
    let cmd = RunCmd::new("batch-size")
        .args(["--datasets", file.to_str().unwrap(), "--losses", "twoway"])
        .out(&out)
        .threads(2)
        .set("epochs=1");
    let (code, _, err) = cmd.run();
    assert_eq!(code, 0, "{err}");
    for b in [16, 32, 64, 128, 256] {
        let variant = out.join(format!("many/tiny/twoway-both/batch_size={b}/seed0.json"));
        assert!(variant.exists(), "{} missing", variant.display());
    }
    assert!(out.join("plots/sweep_batch_size.png").exists());
}

#[test]
fn a_run_checks_a_dataset_file_whole_before_any_cell_and_one_file_is_one_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fixture(&tmp.path().join("data"));
    // The same file by two spellings is one dataset (a grid lists it relative to itself).
    std::fs::create_dir(dir.join("grids")).unwrap();
    let grid = dir.join("grids/g.yaml");
    std::fs::write(&grid, "description: x\nrecipe: embedded-ci\ndatasets: [../toysv.yaml]\nbackbones: [tiny]\nseeds: [0]\nruns: [{loss: bce}]\n").unwrap();
    let spelled = dir.join("grids/../toysv.yaml");
    let (code, _, err) = RunCmd::new(&grid)
        .args(["--datasets", spelled.to_str().unwrap(), "--list-cells"])
        .out(tmp.path().join("l"))
        .run();
    assert_eq!(code, 0, "{err}");
    // A bad row in the eval split (read only after training) stops the run before any cell: exit 2, the file
    // and line named, nothing written.
    let eval = std::fs::read_to_string(dir.join("eval.csv")).unwrap();
    std::fs::write(dir.join("eval.csv"), eval.replacen(",0\n", ",7\n", 1)).unwrap();
    let out = tmp.path().join("results");
    let (code, _, err) = RunCmd::new(&grid).out(&out).set("batch_size=4").set("epochs=1").run();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("eval.csv:") && err.contains("value `7` is not 1, 0, -1 or empty"), "{err}");
    let written: Vec<PathBuf> =
        if out.exists() { walk(&out).into_iter().filter(|p| p.is_file()).collect() } else { vec![] };
    assert!(written.is_empty(), "written: {written:?}");
}
