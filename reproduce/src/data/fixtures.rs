//! Small datasets written in the four datasets' own layouts (MS-COCO, VISPR, VAW, WIDER-Attribute), with
//! their real class counts (80 / 68 / 620 / 14), small JPEGs of assorted sizes, boxes (some reaching past
//! the image, a few empty once clipped), unknown labels where the dataset has them, and the odd corner the
//! loaders must handle (COCO images without annotations, VISPR labels that are not classes). They are
//! generated deterministically from a seed; the tests and `make paper-smoke` (`twoway data fixtures`) use
//! them. Their numbers mean nothing: they exercise the real code paths without the real data.

use super::coco::{CocoAnnotation, CocoCategory, CocoFile, CocoImage, CocoInfo};
use super::transforms::sample_rng;
use super::wider::ATTRIBUTES;
use anyhow::{Context, Result};
use image::{Rgb, RgbImage};
use rayon::prelude::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use twoway_reference::testing::Rng;

/// How big the fixtures are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// Samples (images, or boxes for the box datasets) per split, roughly.
    pub per_split: usize,
    /// Image sides are drawn in this range of pixels.
    pub side: (u32, u32),
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes { per_split: 40, side: (40, 96) }
    }
}

/// MS-COCO's 80 categories: (id, name), in the order of its instances files.
pub const COCO_CATEGORIES: [(u64, &str); 80] = [
    (1, "person"),
    (2, "bicycle"),
    (3, "car"),
    (4, "motorcycle"),
    (5, "airplane"),
    (6, "bus"),
    (7, "train"),
    (8, "truck"),
    (9, "boat"),
    (10, "traffic light"),
    (11, "fire hydrant"),
    (13, "stop sign"),
    (14, "parking meter"),
    (15, "bench"),
    (16, "bird"),
    (17, "cat"),
    (18, "dog"),
    (19, "horse"),
    (20, "sheep"),
    (21, "cow"),
    (22, "elephant"),
    (23, "bear"),
    (24, "zebra"),
    (25, "giraffe"),
    (27, "backpack"),
    (28, "umbrella"),
    (31, "handbag"),
    (32, "tie"),
    (33, "suitcase"),
    (34, "frisbee"),
    (35, "skis"),
    (36, "snowboard"),
    (37, "sports ball"),
    (38, "kite"),
    (39, "baseball bat"),
    (40, "baseball glove"),
    (41, "skateboard"),
    (42, "surfboard"),
    (43, "tennis racket"),
    (44, "bottle"),
    (46, "wine glass"),
    (47, "cup"),
    (48, "fork"),
    (49, "knife"),
    (50, "spoon"),
    (51, "bowl"),
    (52, "banana"),
    (53, "apple"),
    (54, "sandwich"),
    (55, "orange"),
    (56, "broccoli"),
    (57, "carrot"),
    (58, "hot dog"),
    (59, "pizza"),
    (60, "donut"),
    (61, "cake"),
    (62, "chair"),
    (63, "couch"),
    (64, "potted plant"),
    (65, "bed"),
    (67, "dining table"),
    (70, "toilet"),
    (72, "tv"),
    (73, "laptop"),
    (74, "mouse"),
    (75, "remote"),
    (76, "keyboard"),
    (77, "cell phone"),
    (78, "microwave"),
    (79, "oven"),
    (80, "toaster"),
    (81, "sink"),
    (82, "refrigerator"),
    (84, "book"),
    (85, "clock"),
    (86, "vase"),
    (87, "scissors"),
    (88, "teddy bear"),
    (89, "hair drier"),
    (90, "toothbrush"),
];

/// A picture with some structure (gradient, blocks, noise), `w` x `h`.
fn picture(rng: &mut Rng, w: u32, h: u32) -> RgbImage {
    let base: [f64; 3] = std::array::from_fn(|_| rng.uniform(40.0, 215.0));
    let grad: [f64; 3] = std::array::from_fn(|_| rng.uniform(-60.0, 60.0));
    let blocks: Vec<(u32, u32, u32, u32, [f64; 3])> = (0..3)
        .map(|_| {
            let (x, y) = ((rng.uniform(0.0, w as f64)) as u32, (rng.uniform(0.0, h as f64)) as u32);
            let (bw, bh) = ((rng.uniform(4.0, w as f64 / 2.0)) as u32, (rng.uniform(4.0, h as f64 / 2.0)) as u32);
            (x, y, bw, bh, std::array::from_fn(|_| rng.uniform(0.0, 255.0)))
        })
        .collect();
    let seed = rng.next_u64();
    RgbImage::from_fn(w, h, |x, y| {
        let mut noise = Rng::new(seed ^ ((y as u64) << 32 | x as u64));
        let t = x as f64 / w as f64 + y as f64 / h as f64;
        let mut p: [f64; 3] = std::array::from_fn(|c| base[c] + grad[c] * t + noise.uniform(-12.0, 12.0));
        for (bx, by, bw, bh, col) in &blocks {
            if x >= *bx && x < bx + bw && y >= *by && y < by + bh {
                p = *col;
            }
        }
        Rgb(p.map(|v| v.clamp(0.0, 255.0) as u8))
    })
}

fn save_jpeg(img: &RgbImage, path: &Path) -> Result<()> {
    std::fs::create_dir_all(path.parent().unwrap())?;
    let f = std::fs::File::create(path).with_context(|| format!("{}: cannot create", path.display()))?;
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(f), 90);
    enc.encode_image(img).with_context(|| format!("{}: cannot write", path.display()))
}

fn side(rng: &mut Rng, s: Sizes) -> (u32, u32) {
    let mut d = || rng.uniform(s.side.0 as f64, s.side.1 as f64 + 1.0) as u32;
    (d(), d())
}

fn write_json(path: &Path, v: &serde_json::Value) -> Result<()> {
    std::fs::create_dir_all(path.parent().unwrap())?;
    std::fs::write(path, serde_json::to_vec(v)?).with_context(|| format!("{}: cannot write", path.display()))
}

/// A box around part of a `w` x `h` image; every 9th reaches past the edge, every 23rd lies outside
/// entirely (empty once clipped).
fn a_box(rng: &mut Rng, w: u32, h: u32, k: usize) -> [f64; 4] {
    let (w, h) = (w as f64, h as f64);
    if k % 23 == 22 {
        return [w + 5.0, rng.uniform(0.0, h / 2.0), 10.0, 10.0];
    }
    let bw = rng.uniform(w * 0.3, w * 0.9);
    let bh = rng.uniform(h * 0.3, h * 0.9);
    let x = rng.uniform(0.0, w - bw);
    let y = rng.uniform(0.0, h - bh);
    if k % 9 == 8 {
        [x + w * 0.3, y - h * 0.2, bw, bh]
    } else {
        [(x * 2.0).round() / 2.0, (y * 2.0).round() / 2.0, bw.round(), bh.round()]
    }
}

/// MS-COCO 2014: `annotations/instances_{train,val}2014.json` with polygons, `train2014/`, `val2014/`.
pub fn write_coco(dir: &Path, seed: u64, s: Sizes) -> Result<()> {
    std::fs::create_dir_all(dir.join("annotations"))?;
    for (k, split) in ["train2014", "val2014"].iter().enumerate() {
        let n = s.per_split + 2;
        let rendered = (0..n)
            .into_par_iter()
            .map(|i| -> Result<(CocoImage, Vec<CocoAnnotation>)> {
                let mut rng = sample_rng(seed ^ 0x434f, k as u64, i as u64);
                let (w, h) = side(&mut rng, s);
                let id = (k * 1_000_000 + i + 1) as u64;
                let file_name = format!("COCO_{split}_{id:012}.jpg");
                save_jpeg(&picture(&mut rng, w, h), &dir.join(split).join(&file_name))?;
                // Two images per split carry no annotation (the loader drops them).
                let count = if i < 2 { 0 } else { 1 + (rng.next_u64() % 4) as usize };
                let anns = (0..count)
                    .map(|j| {
                        let cat = if rng.uniform(0.0, 1.0) < 0.3 { 0 } else { (rng.next_u64() % 80) as usize };
                        let b = a_box(&mut rng, w, h, j);
                        CocoAnnotation {
                            id: id * 10 + j as u64,
                            image_id: id,
                            category_id: COCO_CATEGORIES[cat].0,
                            bbox: Some(b),
                            area: Some(b[2] * b[3]),
                            iscrowd: Some(0),
                            segmentation: Some(super::coco::box_polygon(b)),
                        }
                    })
                    .collect();
                Ok((CocoImage { id, file_name, width: w, height: h }, anns))
            })
            .collect::<Result<Vec<_>>>()?;
        let (images, anns): (Vec<_>, Vec<_>) = rendered.into_iter().unzip();
        let file = CocoFile {
            info: Some(CocoInfo { description: format!("twoway fixture, {split}"), version: "1".into() }),
            images,
            annotations: anns.into_iter().flatten().collect(),
            categories: COCO_CATEGORIES
                .iter()
                .map(|(id, name)| CocoCategory { id: *id, name: name.to_string(), supercategory: String::new() })
                .collect(),
        };
        let path = dir.join(format!("annotations/instances_{split}.json"));
        std::fs::write(&path, serde_json::to_vec(&file)?)
            .with_context(|| format!("{}: cannot write", path.display()))?;
    }
    Ok(())
}

/// VISPR: `attributes.tsv` (68 indexed attributes and the unindexed `a0_safe`), one JSON per image in
/// `train2017/`, `val2017/`, `test2017/`, images under `images/<split>/`.
pub fn write_vispr(dir: &Path, seed: u64, s: Sizes) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let ids: Vec<String> = (1..=68).map(|k| format!("a{k}_attribute_{k}")).collect();
    let mut tsv = String::from("idx\tattribute_id\tdescription\n\ta0_safe\tsafe (no private information)\n");
    for (k, id) in ids.iter().enumerate() {
        tsv.push_str(&format!("{k}\t{id}\tprivacy attribute {}\n", k + 1));
    }
    std::fs::write(dir.join("attributes.tsv"), tsv)?;
    for (k, split) in ["train2017", "val2017", "test2017"].iter().enumerate() {
        (0..s.per_split).into_par_iter().try_for_each(|i| -> Result<()> {
            let mut rng = sample_rng(seed ^ 0x5650, k as u64, i as u64);
            let (w, h) = side(&mut rng, s);
            let name = format!("2017_{:08}", 10_000_000 * (k + 1) + i * 7 + 3);
            let rel = format!("images/{split}/{name}.jpg");
            save_jpeg(&picture(&mut rng, w, h), &dir.join(&rel))?;
            let mut labels: Vec<String> =
                (0..1 + rng.next_u64() % 5).map(|_| ids[(rng.next_u64() % 68) as usize].clone()).collect();
            if i % 7 == 0 {
                labels.push("a0_safe".into());
            }
            labels.dedup();
            write_json(
                &dir.join(split).join(format!("{name}.json")),
                &json!({"id": name, "image_path": rel, "labels": labels}),
            )
        })?;
    }
    Ok(())
}

/// `n` distinct VAW attribute names (fewer after duplicates are removed).
fn pick(rng: &mut Rng, n: u64) -> Vec<String> {
    let mut v: Vec<u64> = (0..n).map(|_| rng.next_u64() % 620).collect();
    v.sort_unstable();
    v.dedup();
    v.into_iter().map(|a| format!("attribute {a:03}")).collect()
}

/// VAW: `data/attribute_index.json` (620 attributes), `data/{train_part1,train_part2,val,test}.json`, images
/// `images/VG_100K/<id>.jpg` and `images/VG_100K_2/<id>.jpg`.
pub fn write_vaw(dir: &Path, seed: u64, s: Sizes) -> Result<()> {
    let index: serde_json::Map<String, serde_json::Value> =
        (0..620).map(|k| (format!("attribute {k:03}"), json!(k))).collect();
    write_json(&dir.join("data/attribute_index.json"), &serde_json::Value::Object(index))?;
    let files = ["train_part1", "train_part2", "val", "test"];
    for (k, file) in files.iter().enumerate() {
        let per = if k < 2 { s.per_split.div_ceil(2) } else { s.per_split };
        let images = per.div_ceil(2);
        let instances = (0..images)
            .into_par_iter()
            .map(|i| -> Result<Vec<serde_json::Value>> {
                let mut rng = sample_rng(seed ^ 0x5641, k as u64, i as u64);
                let (w, h) = side(&mut rng, s);
                let image_id = 2_300_000 + k * 10_000 + i;
                let folder = if i % 3 == 2 { "VG_100K_2" } else { "VG_100K" };
                save_jpeg(&picture(&mut rng, w, h), &dir.join(format!("images/{folder}/{image_id}.jpg")))?;
                Ok((0..2)
                    .map(|j| {
                        let n_pos = 1 + rng.next_u64() % 3;
                        let pos = pick(&mut rng, n_pos);
                        let n_neg = 5 + rng.next_u64() % 15;
                        let neg: Vec<String> = pick(&mut rng, n_neg).into_iter().filter(|a| !pos.contains(a)).collect();
                        json!({
                            "image_id": image_id.to_string(),
                            "instance_id": format!("{image_id}{j:03}"),
                            "instance_bbox": a_box(&mut rng, w, h, i * 2 + j),
                            "instance_polygon": null,
                            "object_name": "thing",
                            "positive_attributes": pos,
                            "negative_attributes": neg,
                        })
                    })
                    .collect())
            })
            .collect::<Result<Vec<_>>>()?;
        let list: Vec<serde_json::Value> = instances.into_iter().flatten().collect();
        write_json(&dir.join(format!("data/{file}.json")), &json!(list))?;
    }
    Ok(())
}

/// WIDER-Attribute: `wider_attribute_annotation/wider_attribute_{trainval,test}.json`, images under
/// `Image/{train,val,test}/<event>/`.
pub fn write_wider(dir: &Path, seed: u64, s: Sizes) -> Result<()> {
    let id_map: serde_json::Map<String, serde_json::Value> =
        ATTRIBUTES.iter().enumerate().map(|(k, a)| (k.to_string(), json!(a))).collect();
    for (k, file) in ["trainval", "test"].iter().enumerate() {
        let images = s.per_split.div_ceil(2);
        let entries = (0..images)
            .into_par_iter()
            .map(|i| -> Result<serde_json::Value> {
                let mut rng = sample_rng(seed ^ 0x5749, k as u64, i as u64);
                let (w, h) = side(&mut rng, s);
                let part = if k == 1 {
                    "test"
                } else if i % 4 == 3 {
                    "val"
                } else {
                    "train"
                };
                let file_name = format!("{part}/{}--Event/{}_Event_{i}.jpg", i % 3, i % 3);
                save_jpeg(&picture(&mut rng, w, h), &dir.join("Image").join(&file_name))?;
                let targets: Vec<serde_json::Value> = (0..2)
                    .map(|j| {
                        let attribute: Vec<i64> =
                            (0..14).map(|_| [1, -1, -1, 0][(rng.next_u64() % 4) as usize]).collect();
                        json!({"attribute": attribute, "bbox": a_box(&mut rng, w, h, i * 2 + j)})
                    })
                    .collect();
                Ok(json!({"file_name": file_name, "scene_id": i % 3, "targets": targets}))
            })
            .collect::<Result<Vec<_>>>()?;
        let scene_map = json!({"0": "Parade", "1": "Handshaking", "2": "Meeting"});
        write_json(
            &dir.join(format!("wider_attribute_annotation/wider_attribute_{file}.json")),
            &json!({"images": entries, "attribute_id_map": id_map, "scene_id_map": scene_map}),
        )?;
    }
    Ok(())
}

/// Writes all four datasets under `root` (`coco/`, `vispr/`, `vaw/`, `wider/`), each built in a temporary
/// folder and renamed into place, replacing what was there. Returns their folders.
pub fn write_all(root: &Path, seed: u64, s: Sizes) -> Result<Vec<PathBuf>> {
    type Writer = fn(&Path, u64, Sizes) -> Result<()>;
    let writers: [(&str, Writer); 4] =
        [("coco", write_coco), ("vispr", write_vispr), ("vaw", write_vaw), ("wider", write_wider)];
    std::fs::create_dir_all(root).with_context(|| format!("{}: cannot create", root.display()))?;
    let mut out = Vec::new();
    for (name, write) in writers {
        let dir = root.join(name);
        let tmp = root.join(format!(".{name}.tmp{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        if let Err(e) = write(&tmp, seed, s) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e.context(format!("writing the {name} fixture")));
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("{}: cannot replace", dir.display()))?;
        }
        std::fs::rename(&tmp, &dir).with_context(|| format!("{}: cannot move into place", dir.display()))?;
        out.push(dir);
    }
    Ok(out)
}
