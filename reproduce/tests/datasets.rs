//! The dataset loaders on hand-written files in each dataset's own layout: `twoway data labels` gives the
//! label matrix and sample ids the layout defines (worked out here by hand), `twoway data show` the clipped
//! crop, and every bad input (unknown labels, values outside the vocabulary, wrong lengths, malformed JSON,
//! paths that leave the dataset, missing or corrupt images) is exit 2 with the file named and nothing
//! written. The generated fixtures of all four datasets load with their real class counts.

mod common;
use common::*;

use serde_json::json;
use std::path::{Path, PathBuf};

fn jpeg(path: &Path, w: u32, h: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 3) as u8, (y * 5) as u8, 77])).save(path).unwrap();
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// (shape, values) of a label matrix.
type Matrix = (Vec<usize>, Vec<i8>);

/// `twoway data labels` of a split: (exit code, stderr, the matrix, the sample ids).
fn labels(root: &Path, dataset: &str, split: &str) -> (i32, String, Option<Matrix>, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("l.npy");
    let ids = tmp.path().join("ids.txt");
    let (code, _, stderr) = twoway(&[
        "data",
        "labels",
        "--dataset",
        dataset,
        "--split",
        split,
        "--data-root",
        root.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--ids",
        ids.to_str().unwrap(),
    ]);
    if code != 0 {
        assert!(!out.exists() && !ids.exists(), "{dataset}: output written despite the error");
        return (code, stderr, None, vec![]);
    }
    use ndarray_npy::ReadNpyExt;
    let a = ndarray::Array2::<i8>::read_npy(std::fs::File::open(&out).unwrap()).unwrap();
    let ids = std::fs::read_to_string(&ids).unwrap().lines().map(String::from).collect();
    (code, stderr, Some((a.shape().to_vec(), a.iter().copied().collect())), ids)
}

/// The row of a label matrix with `ones` at 1, `zeros` at 0 and the rest `rest`.
fn row(n: usize, rest: i8, ones: &[usize], zeros: &[usize]) -> Vec<i8> {
    let mut r = vec![rest; n];
    zeros.iter().for_each(|&i| r[i] = 0);
    ones.iter().for_each(|&i| r[i] = 1);
    r
}

fn coco_categories() -> Vec<serde_json::Value> {
    twoway_reproduce::data::fixtures::COCO_CATEGORIES.iter().map(|(id, name)| json!({"id": id, "name": name})).collect()
}

fn coco(root: &Path, images: serde_json::Value, annotations: serde_json::Value) -> PathBuf {
    let dir = root.join("coco");
    for split in ["train2014", "val2014"] {
        let f = json!({"images": images, "annotations": annotations, "categories": coco_categories(), "licenses": []});
        write(&dir.join(format!("annotations/instances_{split}.json")), &f.to_string());
    }
    dir
}

#[test]
fn coco_labels_follow_the_category_list() {
    let tmp = tempfile::tempdir().unwrap();
    let images = json!([
        {"id": 7, "file_name": "a.jpg", "width": 20, "height": 10},
        {"id": 8, "file_name": "b.jpg", "width": 20, "height": 10},
        {"id": 9, "file_name": "c.jpg", "width": 20, "height": 10}
    ]);
    // person (id 1, index 0), dog (18, 16), toothbrush (90, 79); image 8 has no annotation.
    let anns = json!([
        {"id": 1, "image_id": 7, "category_id": 1, "segmentation": [[0, 0, 1, 1, 2, 2]], "bbox": [0, 0, 2, 2]},
        {"id": 2, "image_id": 7, "category_id": 18, "segmentation": {"counts": [1, 2], "size": [10, 20]}},
        {"id": 3, "image_id": 9, "category_id": 90},
        {"id": 4, "image_id": 7, "category_id": 1}
    ]);
    coco(tmp.path(), images, anns);
    let (code, err, m, ids) = labels(tmp.path(), "coco", "train2014");
    assert_eq!(code, 0, "{err}");
    let (shape, v) = m.unwrap();
    assert_eq!(shape, vec![2, 80]);
    assert_eq!(v, [row(80, 0, &[0, 16], &[]), row(80, 0, &[79], &[])].concat());
    assert_eq!(ids, ["7", "9"]);
}

#[test]
fn vispr_labels_ids_and_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vispr");
    let mut tsv = String::from("idx\tattribute_id\tdescription\n\ta0_safe\tsafe\n");
    for k in 0..68 {
        tsv.push_str(&format!("{k}\ta{}_x{k}\tthing {k}\n", k + 1));
    }
    write(&dir.join("attributes.tsv"), &tsv);
    // Sample order: the JSON files' names in byte order (B < a), not the ids' order.
    write(
        &dir.join("test2017/a.json"),
        &json!({"id": "2017_2", "image_path": "images/x.jpg", "labels": ["a3_x2", "a0_safe"]}).to_string(),
    );
    write(
        &dir.join("test2017/B.json"),
        &json!({"id": 20179, "image_path": "images/y.jpg", "labels": ["a68_x67", "a1_x0", "a68_x67"]}).to_string(),
    );
    write(
        &dir.join("test2017/c.json"),
        &json!({"id": "2017_1", "image_path": "images/z.jpg", "labels": []}).to_string(),
    );
    write(&dir.join("test2017/notes.txt"), "not an annotation");
    let (code, err, m, ids) = labels(tmp.path(), "vispr", "test2017");
    assert_eq!(code, 0, "{err}");
    let (shape, v) = m.unwrap();
    assert_eq!(shape, vec![3, 68]);
    assert_eq!(v, [row(68, 0, &[0, 67], &[]), row(68, 0, &[2], &[]), row(68, 0, &[], &[])].concat());
    assert_eq!(ids, ["20179", "2017_2", "2017_1"]);
}

fn vaw(root: &Path, part1: serde_json::Value, part2: serde_json::Value) -> PathBuf {
    let dir = root.join("vaw");
    let index: serde_json::Map<String, serde_json::Value> =
        (0..620).map(|k| (format!("attr{k}"), json!(619 - k))).collect();
    write(&dir.join("data/attribute_index.json"), &serde_json::Value::Object(index).to_string());
    write(&dir.join("data/train_part1.json"), &part1.to_string());
    write(&dir.join("data/train_part2.json"), &part2.to_string());
    jpeg(&dir.join("images/VG_100K/100.jpg"), 40, 30);
    jpeg(&dir.join("images/VG_100K_2/200.jpg"), 50, 20);
    dir
}

#[test]
fn vaw_labels_crops_and_dropped_boxes() {
    let tmp = tempfile::tempdir().unwrap();
    let part1 = json!([
        {"image_id": "100", "instance_id": "100001", "instance_bbox": [2.5, 3.5, 10.0, 7.0], "instance_polygon": null,
         "object_name": "cup", "positive_attributes": ["attr0", "attr5"], "negative_attributes": ["attr619"]},
        {"image_id": 200, "instance_id": 200001, "instance_bbox": [45.0, -4.0, 20.0, 10.0],
         "object_name": "tree", "positive_attributes": [], "negative_attributes": ["attr1"]}
    ]);
    let part2 = json!([
        {"image_id": "100", "instance_id": "100002", "instance_bbox": [41.0, 2.0, 5.0, 5.0],
         "object_name": "gone", "positive_attributes": ["attr3"], "negative_attributes": []}
    ]);
    vaw(tmp.path(), part1, part2);
    let (code, err, m, ids) = labels(tmp.path(), "vaw", "train");
    assert_eq!(code, 0, "{err}");
    let (shape, v) = m.unwrap();
    // Index k of attr{k} is 619 - k; the third box lies right of the 40-px image and is dropped.
    assert_eq!(shape, vec![2, 620]);
    assert_eq!(v, [row(620, -1, &[619, 614], &[0]), row(620, -1, &[], &[618])].concat());
    assert_eq!(ids, ["100001", "200001"]);
    // The crops: (round(2.5), round(3.5), round(12.5), round(10.5)) = (2, 4, 12, 10) -> 10 x 6 px, and the
    // second box clipped to the 50 x 20 image: (45, 0, 50, 6) -> 5 x 6 px.
    for (index, w, h) in [(0, 10, 6), (1, 5, 6)] {
        let out = tmp.path().join(format!("s{index}.png"));
        let (code, stdout, stderr) = twoway(&[
            "data",
            "show",
            "--dataset",
            "vaw",
            "--split",
            "train",
            "--index",
            &index.to_string(),
            "--data-root",
            tmp.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(image::image_dimensions(&out).unwrap(), (w, h), "{stdout}");
    }
    let (code, stdout, _) = twoway(&[
        "data",
        "inspect",
        "--dataset",
        "vaw",
        "--split",
        "train",
        "--data-root",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(stdout.contains("1 boxes empty after clipping to their image dropped: 100002"), "{stdout}");
}

fn wider(root: &Path, images: serde_json::Value, id_map: Option<serde_json::Value>) -> PathBuf {
    let dir = root.join("wider");
    let map: serde_json::Map<String, serde_json::Value> =
        twoway_reproduce::data::wider::ATTRIBUTES.iter().enumerate().map(|(k, n)| (k.to_string(), json!(n))).collect();
    let f = json!({"images": images, "attribute_id_map": id_map.unwrap_or(serde_json::Value::Object(map)), "scene_id_map": {"0": "Parade"}});
    write(&dir.join("wider_attribute_annotation/wider_attribute_test.json"), &f.to_string());
    jpeg(&dir.join("Image/test/0--Parade/p1.jpg"), 30, 30);
    jpeg(&dir.join("Image/test/0--Parade/p2.jpg"), 30, 30);
    dir
}

#[test]
fn wider_labels_map_1_minus1_0_and_ids_name_the_target() {
    let tmp = tempfile::tempdir().unwrap();
    let a = [1, -1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1];
    let b = [0; 14];
    wider(
        tmp.path(),
        json!([
            {"file_name": "test/0--Parade/p1.jpg", "scene_id": 0, "targets": [{"attribute": a, "bbox": [1, 1, 10, 10]}, {"attribute": b, "bbox": [5, 5, 10, 20]}]},
            {"file_name": "test/0--Parade/p2.jpg", "scene_id": 0, "targets": [{"attribute": a, "bbox": [0, 0, 30, 30]}]}
        ]),
        None,
    );
    let (code, err, m, ids) = labels(tmp.path(), "wider", "test");
    assert_eq!(code, 0, "{err}");
    let (shape, v) = m.unwrap();
    assert_eq!(shape, vec![3, 14]);
    let ra = vec![1, 0, -1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0];
    assert_eq!(v, [ra.clone(), vec![-1; 14], ra].concat());
    assert_eq!(ids, ["test/0--Parade/p1.jpg#0", "test/0--Parade/p1.jpg#1", "test/0--Parade/p2.jpg#0"]);
}

/// Each case: (what, setup writing a broken dataset under the root, dataset, split, words the error must have).
#[test]
fn bad_inputs_are_exit_2_with_the_file_named_and_nothing_written() {
    type Setup = Box<dyn Fn(&Path)>;
    let ok_vaw = || json!([{"image_id": "100", "instance_id": "1", "instance_bbox": [0, 0, 5, 5], "positive_attributes": ["attr1"]}]);
    let cases: Vec<(&str, Setup, &str, &str, Vec<&str>)> = vec![
        (
            "coco truncated",
            Box::new(|r| {
                coco(r, json!([]), json!([]));
                write(&r.join("coco/annotations/instances_train2014.json"), "{\"images\": [{\"id\": 1, ");
            }),
            "coco",
            "train2014",
            vec!["instances_train2014.json", "not a COCO instances file"],
        ),
        (
            "coco category",
            Box::new(|r| {
                coco(r, json!([{"id": 1, "file_name": "a.jpg"}]), json!([{"id": 5, "image_id": 1, "category_id": 12}]));
            }),
            "coco",
            "train2014",
            vec!["instances_train2014.json", "annotation 5", "category id 12"],
        ),
        (
            "coco escape",
            Box::new(|r| {
                coco(
                    r,
                    json!([{"id": 1, "file_name": "../../../etc/passwd"}]),
                    json!([{"id": 5, "image_id": 1, "category_id": 1}]),
                );
            }),
            "coco",
            "train2014",
            vec!["instances_train2014.json", "leaves the image folder"],
        ),
        (
            "vispr label",
            Box::new(|r| {
                let mut tsv = String::from("idx\tattribute_id\tdescription\n");
                (0..68).for_each(|k| tsv.push_str(&format!("{k}\ta{k}\td\n")));
                write(&r.join("vispr/attributes.tsv"), &tsv);
                write(
                    &r.join("vispr/train2017/x.json"),
                    &json!({"id": "x", "image_path": "i/x.jpg", "labels": ["a99_nope"]}).to_string(),
                );
            }),
            "vispr",
            "train2017",
            vec!["x.json", "label `a99_nope` is not in attributes.tsv"],
        ),
        (
            "vispr json",
            Box::new(|r| {
                let mut tsv = String::from("idx\tattribute_id\tdescription\n");
                (0..68).for_each(|k| tsv.push_str(&format!("{k}\ta{k}\td\n")));
                write(&r.join("vispr/attributes.tsv"), &tsv);
                write(&r.join("vispr/train2017/y.json"), "{\"id\": \"y\", \"image_path\": ");
            }),
            "vispr",
            "train2017",
            vec!["y.json", "not a VISPR annotation"],
        ),
        (
            "vispr absolute",
            Box::new(|r| {
                let mut tsv = String::from("idx\tattribute_id\tdescription\n");
                (0..68).for_each(|k| tsv.push_str(&format!("{k}\ta{k}\td\n")));
                write(&r.join("vispr/attributes.tsv"), &tsv);
                write(
                    &r.join("vispr/train2017/z.json"),
                    &json!({"id": "z", "image_path": "/etc/passwd", "labels": []}).to_string(),
                );
            }),
            "vispr",
            "train2017",
            vec!["z.json", "leaves the image folder"],
        ),
        (
            "vispr index",
            Box::new(|r| {
                write(&r.join("vispr/attributes.tsv"), "idx\tattribute_id\tdescription\n0\ta\td\n2\tb\td\n");
                write(
                    &r.join("vispr/train2017/z.json"),
                    &json!({"id": "z", "image_path": "x.jpg", "labels": []}).to_string(),
                );
            }),
            "vispr",
            "train2017",
            vec!["attributes.tsv", "no attribute has idx 1"],
        ),
        (
            "vaw attribute",
            Box::new(move |r| {
                vaw(
                    r,
                    json!([{"image_id": "100", "instance_id": "9", "instance_bbox": [0, 0, 5, 5], "positive_attributes": ["shiny"]}]),
                    ok_vaw(),
                );
            }),
            "vaw",
            "train",
            vec!["train_part1.json", "instance_id 9", "`shiny` is not in attribute_index.json"],
        ),
        (
            "vaw bbox",
            Box::new(move |r| {
                vaw(r, ok_vaw(), json!([{"image_id": "100", "instance_id": "9", "instance_bbox": [0, 0, 5]}]));
            }),
            "vaw",
            "train",
            vec!["train_part2.json", "instance_bbox [0.0, 0.0, 5.0]"],
        ),
        (
            "vaw conflict",
            Box::new(move |r| {
                vaw(
                    r,
                    json!([{"image_id": "100", "instance_id": "9", "instance_bbox": [0, 0, 5, 5], "positive_attributes": ["attr2"], "negative_attributes": ["attr2"]}]),
                    ok_vaw(),
                );
            }),
            "vaw",
            "train",
            vec!["train_part1.json", "`attr2` is both positive and negative"],
        ),
        (
            "vaw missing image",
            Box::new(move |r| {
                vaw(r, json!([{"image_id": "300", "instance_id": "9", "instance_bbox": [0, 0, 5, 5]}]), ok_vaw());
            }),
            "vaw",
            "train",
            vec!["VG_100K/300.jpg", "missing or unreadable image"],
        ),
        (
            "vaw corrupt image",
            Box::new(move |r| {
                vaw(r, ok_vaw(), ok_vaw());
                write(&r.join("vaw/images/VG_100K/100.jpg"), "garbage");
            }),
            "vaw",
            "train",
            vec!["VG_100K/100.jpg", "missing or unreadable image"],
        ),
        (
            "wider length",
            Box::new(|r| {
                wider(
                    r,
                    json!([{"file_name": "test/0--Parade/p1.jpg", "targets": [{"attribute": vec![1; 13], "bbox": [0, 0, 5, 5]}]}]),
                    None,
                );
            }),
            "wider",
            "test",
            vec!["wider_attribute_test.json", "images[0].targets[0]", "13 attribute values, expected 14"],
        ),
        (
            "wider value",
            Box::new(|r| {
                wider(
                    r,
                    json!([{"file_name": "test/0--Parade/p1.jpg", "targets": [{"attribute": [1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], "bbox": [0, 0, 5, 5]}]}]),
                    None,
                );
            }),
            "wider",
            "test",
            vec!["wider_attribute_test.json", "attribute value 2 is not 1, -1 or 0"],
        ),
        (
            "wider map",
            Box::new(|r| {
                wider(r, json!([]), Some(json!({"0": "Female"})));
            }),
            "wider",
            "test",
            vec!["wider_attribute_test.json", "attribute_id_map[\"0\"]"],
        ),
        (
            "wider escape",
            Box::new(|r| {
                wider(r, json!([{"file_name": "../../x.jpg", "targets": []}]), None);
            }),
            "wider",
            "test",
            vec!["wider_attribute_test.json", "leaves the image folder"],
        ),
    ];
    let mut checked = 0;
    for (what, setup, dataset, split, wants) in cases {
        let tmp = tempfile::tempdir().unwrap();
        setup(tmp.path());
        let (code, err, m, _) = labels(tmp.path(), dataset, split);
        assert_eq!(code, 2, "{what}: {err}");
        assert!(m.is_none());
        assert_eq!(err.trim().lines().count(), 1, "{what}: one line: {err}");
        for w in wants {
            assert!(err.contains(w), "{what}: `{w}` not in: {err}");
        }
        checked += 1;
    }
    assert_eq!(checked, 16);
}

#[test]
fn images_are_checked_when_read_links_included() {
    let tmp = tempfile::tempdir().unwrap();
    let images =
        json!([{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}, {"id": 3, "file_name": "c.jpg"}]);
    let anns = json!([{"id": 1, "image_id": 1, "category_id": 1}, {"id": 2, "image_id": 2, "category_id": 1}, {"id": 3, "image_id": 3, "category_id": 1}]);
    let dir = coco(tmp.path(), images, anns);
    jpeg(&dir.join("train2014/a.jpg"), 8, 8);
    write(&dir.join("train2014/b.jpg"), "corrupt");
    jpeg(&tmp.path().join("outside.jpg"), 8, 8);
    std::os::unix::fs::symlink(tmp.path().join("outside.jpg"), dir.join("train2014/c.jpg")).unwrap();
    let root = tmp.path().to_str().unwrap();
    let (code, stdout, stderr) =
        twoway(&["data", "check", "--dataset", "coco", "--split", "train2014", "--data-root", root]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.contains("1 of 3 samples decode"), "{stdout}");
    assert!(stdout.contains("b.jpg") && stdout.contains("corrupt"), "{stdout}");
    assert!(stdout.contains("c.jpg") && stdout.contains("outside the image folder"), "{stdout}");
    assert!(stderr.contains("2 of 3 samples of `coco` cannot be read"), "{stderr}");
    let out = tmp.path().join("s.png");
    let (code, _, stderr) = twoway(&[
        "data",
        "show",
        "--dataset",
        "coco",
        "--split",
        "train2014",
        "--index",
        "2",
        "--data-root",
        root,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("c.jpg") && stderr.contains("outside the image folder"), "{stderr}");
    assert!(!out.exists());
    let (code, _, stderr) = twoway(&[
        "data",
        "show",
        "--dataset",
        "coco",
        "--split",
        "train2014",
        "--index",
        "9",
        "--data-root",
        root,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("past the end"), "{stderr}");
}

#[test]
fn the_generated_fixtures_of_every_dataset_load_with_their_real_class_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_str().unwrap();
    let (code, _, stderr) = twoway(&["data", "fixtures", "--out", root, "--samples", "12"]);
    assert_eq!(code, 0, "{stderr}");
    let spec = twoway_spec::Spec::embedded();
    let mut loaded = 0;
    for (dataset, classes) in [("coco", 80), ("vispr", 68), ("vaw", 620), ("wider", 14)] {
        let d = &spec.datasets[&dataset.parse().unwrap()];
        for split in d.splits.keys() {
            let (code, err, m, ids) = labels(tmp.path(), dataset, split);
            assert_eq!(code, 0, "{dataset}/{split}: {err}");
            let (shape, v) = m.unwrap();
            assert_eq!(shape[1], classes, "{dataset}/{split}");
            assert!(shape[0] >= 8 && ids.len() == shape[0], "{dataset}/{split}: {shape:?}");
            assert!(v.iter().all(|x| [-1, 0, 1].contains(x)));
            assert_eq!(v.contains(&-1), d.encoding.unknown_labels, "{dataset}/{split}: unknown labels");
            loaded += 1;
        }
        let (code, stdout, stderr) = twoway(&["data", "check", "--dataset", dataset, "--data-root", root]);
        assert_eq!(code, 0, "{dataset}: {stdout}{stderr}");
    }
    assert_eq!(loaded, 2 + 3 + 3 + 2);
}
