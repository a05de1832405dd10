//! The embedded dataset: procedurally rendered multi-object scenes, generated deterministically from a
//! seed and written in the MS-COCO 2014 instances format (annotations JSON + PNG images), so that it runs
//! through the same loader as real MS-COCO.
//!
//! 12 categories (4 shapes x 3 colours) with non-contiguous COCO ids (the loader maps them by position);
//! 1-4 objects per scene; a long-tailed category frequency; three pairs of categories that co-occur;
//! colour jitter, background gradients, noise, clutter (hollow distractor shapes and lines in any colour)
//! and occlusion (later objects paint over earlier ones). About 1.5% of the scenes are empty and carry no
//! annotation (the loader drops them, as the authors' release does for MS-COCO).

use super::coco::{CocoAnnotation, CocoCategory, CocoFile, CocoImage, CocoInfo};
use anyhow::{Context, Result};
use image::{Rgb, RgbImage};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use twoway_reference::testing::Rng;

/// The generator's version: part of the cache folder name, bumped when the rendering changes.
pub const VERSION: u32 = 1;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EmbeddedSpec {
    pub seed: u64,
    pub train: usize,
    pub eval: usize,
    /// Side of the square images, in pixels.
    pub size: u32,
}

impl Default for EmbeddedSpec {
    fn default() -> Self {
        EmbeddedSpec { seed: 2023, train: 4000, eval: 1000, size: 32 }
    }
}

impl EmbeddedSpec {
    /// The folder of this dataset under the data root.
    pub fn dir(&self, root: &Path) -> PathBuf {
        root.join(format!("embedded-v{VERSION}-seed{}-{}x{}-{}px", self.seed, self.train, self.eval, self.size))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Circle,
    Square,
    Triangle,
    Cross,
}

const SHAPES: [(Shape, &str); 4] =
    [(Shape::Circle, "circle"), (Shape::Square, "square"), (Shape::Triangle, "triangle"), (Shape::Cross, "cross")];
const COLOURS: [(&str, [f64; 3]); 3] =
    [("red", [205.0, 45.0, 40.0]), ("green", [45.0, 170.0, 60.0]), ("blue", [40.0, 70.0, 210.0])];

/// Category k = shape * 3 + colour. Its COCO id is non-contiguous on purpose.
fn category_id(k: usize) -> u64 {
    3 + 4 * k as u64
}

/// Long-tailed base frequency (a permuted power law, so the tail is not one colour or one shape).
const TAIL_ORDER: [usize; 12] = [4, 0, 9, 2, 7, 11, 1, 6, 10, 3, 8, 5];

fn category_weights() -> [f64; 12] {
    let mut w = [0.0; 12];
    for (rank, &k) in TAIL_ORDER.iter().enumerate() {
        w[k] = 1.0 / (rank as f64 + 1.0).powf(1.1);
    }
    w
}

/// Pairs that co-occur: when one is placed, its partner joins with probability 0.6.
const PAIRS: [(usize, usize); 3] = [(0, 5), (7, 11), (2, 4)];

pub fn categories() -> Vec<CocoCategory> {
    (0..12)
        .map(|k| {
            let (_, shape) = SHAPES[k / 3];
            let (colour, _) = COLOURS[k % 3];
            CocoCategory { id: category_id(k), name: format!("{colour} {shape}"), supercategory: shape.to_string() }
        })
        .collect()
}

struct Object {
    category: usize,
    cx: f64,
    cy: f64,
    r: f64,
    angle: f64,
    colour: [f64; 3],
}

impl Object {
    /// Whether pixel centre (x, y) lies inside the shape.
    fn contains(&self, x: f64, y: f64) -> bool {
        let (dx, dy) = (x - self.cx, y - self.cy);
        let (s, c) = self.angle.sin_cos();
        let (u, v) = (c * dx + s * dy, -s * dx + c * dy);
        match SHAPES[self.category / 3].0 {
            Shape::Circle => dx * dx + dy * dy <= self.r * self.r,
            Shape::Square => u.abs() <= 0.8 * self.r && v.abs() <= 0.8 * self.r,
            Shape::Triangle => {
                // Equilateral triangle with circumradius r, apex up (in the rotated frame).
                let h = self.r;
                v >= -h && v <= 0.5 * h && u.abs() <= (v + h) / 1.5 * 0.866_025_4
            }
            Shape::Cross => {
                let arm = 0.32 * self.r;
                (u.abs() <= arm && v.abs() <= self.r) || (v.abs() <= arm && u.abs() <= self.r)
            }
        }
    }
}

fn pick(rng: &mut Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.uniform(0.0, total);
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}

fn gaussian(rng: &mut Rng) -> f64 {
    let u1 = rng.uniform(f64::MIN_POSITIVE, 1.0);
    let u2 = rng.uniform(0.0, 1.0);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Renders scene `index` of a split; returns the image and its objects (empty for an empty scene).
fn render(spec: &EmbeddedSpec, split_salt: u64, index: usize) -> (RgbImage, Vec<Object>) {
    let mut rng = Rng::new(spec.seed ^ split_salt ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let n = spec.size as f64;
    // Background: a low-saturation gradient between two random greys / tints, plus noise.
    let base: [f64; 3] = std::array::from_fn(|_| rng.uniform(70.0, 190.0));
    let tint: [f64; 3] = std::array::from_fn(|_| rng.uniform(-35.0, 35.0));
    let (gx, gy) = (rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0));
    let mut img = RgbImage::new(spec.size, spec.size);
    let mut canvas: Vec<[f64; 3]> = (0..spec.size * spec.size)
        .map(|p| {
            let (x, y) = ((p % spec.size) as f64 / n - 0.5, (p / spec.size) as f64 / n - 0.5);
            let t = gx * x + gy * y;
            std::array::from_fn(|c| base[c] + tint[c] * t * 2.0)
        })
        .collect();
    let paint = |canvas: &mut [[f64; 3]], inside: &dyn Fn(f64, f64) -> bool, colour: [f64; 3]| {
        for (p, px) in canvas.iter_mut().enumerate() {
            let (x, y) = ((p as u32 % spec.size) as f64 + 0.5, (p as u32 / spec.size) as f64 + 0.5);
            if inside(x, y) {
                *px = colour;
            }
        }
    };
    // Clutter below the objects: hollow rings / frames and lines in any colour.
    for _ in 0..rng.uniform(1.0, 4.0) as usize {
        let colour: [f64; 3] = std::array::from_fn(|_| rng.uniform(20.0, 235.0));
        let (cx, cy, r) = (rng.uniform(0.0, n), rng.uniform(0.0, n), rng.uniform(0.12, 0.3) * n);
        let thick = rng.uniform(0.8, 1.6);
        if rng.uniform(0.0, 1.0) < 0.5 {
            paint(&mut canvas, &|x, y| ((x - cx).hypot(y - cy) - r).abs() <= thick, colour);
        } else {
            let (a, b) = (rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0));
            let norm = a.hypot(b).max(1e-6);
            paint(&mut canvas, &|x, y| ((x - cx) * a + (y - cy) * b).abs() / norm <= thick * 0.6, colour);
        }
    }
    // Objects.
    let mut objects = Vec::new();
    if rng.uniform(0.0, 1.0) >= 0.015 {
        let count = pick(&mut rng, &[0.35, 0.35, 0.2, 0.1]) + 1;
        let weights = category_weights();
        let mut cats = Vec::new();
        while cats.len() < count {
            let k = pick(&mut rng, &weights);
            cats.push(k);
            for (a, b) in PAIRS {
                let partner = if k == a {
                    Some(b)
                } else if k == b {
                    Some(a)
                } else {
                    None
                };
                if let Some(p) = partner {
                    if cats.len() < 4 && rng.uniform(0.0, 1.0) < 0.6 {
                        cats.push(p);
                    }
                }
            }
        }
        for k in cats {
            let r = rng.uniform(0.13, 0.25) * n;
            let jitter: [f64; 3] = std::array::from_fn(|_| rng.uniform(-30.0, 30.0));
            let shade = rng.uniform(0.75, 1.15);
            let colour: [f64; 3] = std::array::from_fn(|c| (COLOURS[k % 3].1[c] * shade + jitter[c]).clamp(0.0, 255.0));
            let o = Object {
                category: k,
                cx: rng.uniform(r * 0.6, n - r * 0.6),
                cy: rng.uniform(r * 0.6, n - r * 0.6),
                r,
                angle: rng.uniform(0.0, std::f64::consts::TAU),
                colour,
            };
            paint(&mut canvas, &|x, y| o.contains(x, y), o.colour);
            objects.push(o);
        }
    }
    for (p, px) in canvas.iter().enumerate() {
        let noise = 6.0 * gaussian(&mut rng);
        let v = px.map(|c| (c + noise).round().clamp(0.0, 255.0) as u8);
        img.put_pixel(p as u32 % spec.size, p as u32 / spec.size, Rgb(v));
    }
    (img, objects)
}

fn bbox(o: &Object, size: f64) -> [f64; 4] {
    let (x0, y0) = ((o.cx - o.r).max(0.0), (o.cy - o.r).max(0.0));
    let (x1, y1) = ((o.cx + o.r).min(size), (o.cy + o.r).min(size));
    [x0, y0, x1 - x0, y1 - y0]
}

/// Generates the dataset into `spec.dir(root)` (atomically: a temp folder renamed into place) unless it is
/// already there. Returns its folder.
pub fn ensure(spec: &EmbeddedSpec, root: &Path, progress: bool) -> Result<PathBuf> {
    let dir = spec.dir(root);
    if complete(&dir) {
        return Ok(dir);
    }
    generate(spec, root, progress, false)
}

fn complete(dir: &Path) -> bool {
    dir.join("annotations/instances_val2014.json").is_file()
}

/// Generates the dataset; with `replace`, also over an existing copy (swapped in by renames, so a reader
/// never sees a half-written folder).
pub fn generate(spec: &EmbeddedSpec, root: &Path, progress: bool, replace: bool) -> Result<PathBuf> {
    let dir = spec.dir(root);
    std::fs::create_dir_all(root).with_context(|| format!("{}: cannot create the data root", root.display()))?;
    let tmp = root.join(format!(".{}.tmp{}", dir.file_name().unwrap().to_string_lossy(), std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let bar = if progress { ProgressBar::new((spec.train + spec.eval) as u64) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("generating {msg} [{bar:30}] {pos}/{len} images, ETA {eta}").unwrap());
    bar.set_message(format!("embedded dataset (seed {})", spec.seed));
    let result = (|| -> Result<()> {
        std::fs::create_dir_all(tmp.join("annotations"))?;
        for (split, folder, count, salt) in [
            ("train", "train2014", spec.train, 0x7472_6169_6e00u64),
            ("val", "val2014", spec.eval, 0x7661_6c00_0000u64),
        ] {
            std::fs::create_dir_all(tmp.join(folder))?;
            let rendered: Vec<(CocoImage, Vec<Object>)> = (0..count)
                .into_par_iter()
                .map(|i| -> Result<(CocoImage, Vec<Object>)> {
                    let (img, objects) = render(spec, salt, i);
                    let id = i as u64 + 1;
                    let file_name = format!("COCO_{folder}_{id:012}.png");
                    img.save(tmp.join(folder).join(&file_name)).with_context(|| format!("cannot write {file_name}"))?;
                    bar.inc(1);
                    Ok((CocoImage { id, file_name, width: spec.size, height: spec.size }, objects))
                })
                .collect::<Result<_>>()?;
            let mut images = Vec::new();
            let mut annotations = Vec::new();
            for (image, objects) in rendered {
                for o in objects {
                    let b = bbox(&o, spec.size as f64);
                    annotations.push(CocoAnnotation {
                        id: annotations.len() as u64 + 1,
                        image_id: image.id,
                        category_id: category_id(o.category),
                        bbox: Some(b),
                        area: Some(b[2] * b[3]),
                        iscrowd: Some(0),
                        segmentation: Some(super::coco::box_polygon(b)),
                    });
                }
                images.push(image);
            }
            let file = CocoFile {
                info: Some(CocoInfo {
                    description: format!("twoway embedded shapes v{VERSION}, {split} split, seed {}", spec.seed),
                    version: VERSION.to_string(),
                }),
                images,
                annotations,
                categories: categories(),
            };
            let path = tmp.join(format!("annotations/instances_{split}2014.json"));
            std::fs::write(&path, serde_json::to_vec(&file)?)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    })();
    bar.finish_and_clear();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if complete(&dir) && !replace {
        // Another process finished the same (deterministic) dataset first.
        let _ = std::fs::remove_dir_all(&tmp);
        return Ok(dir);
    }
    let old = root.join(format!(".{}.old{}", dir.file_name().unwrap().to_string_lossy(), std::process::id()));
    let had_old = dir.exists() && std::fs::rename(&dir, &old).is_ok();
    if let Err(e) = std::fs::rename(&tmp, &dir) {
        let _ = std::fs::remove_dir_all(&tmp);
        if !complete(&dir) {
            return Err(anyhow::anyhow!("{}: cannot move the generated dataset into place: {e}", dir.display()));
        }
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_is_deterministic_and_objects_are_visible() {
        let spec = EmbeddedSpec { seed: 5, train: 10, eval: 5, size: 32 };
        for i in 0..20 {
            let (a, oa) = render(&spec, 1, i);
            let (b, ob) = render(&spec, 1, i);
            assert_eq!(a.as_raw(), b.as_raw());
            assert_eq!(oa.len(), ob.len());
            for o in &oa {
                assert!(o.r >= 4.0 && o.cx >= 0.0 && o.cx <= 32.0);
            }
        }
        let cats = categories();
        assert_eq!(cats.len(), 12);
        assert_eq!(cats[0].name, "red circle");
        assert_eq!(cats[11].name, "blue cross");
    }
}
