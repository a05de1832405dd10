//! The recipe's image transforms on decoded RGB images, producing normalised CHW f32 data:
//! train: RandomResizedCrop, horizontal flip, ColorJitter (brightness, contrast, saturation in a random
//! order), ToTensor, PCA lighting noise, Normalize; eval: Resize (shorter side), CenterCrop, Normalize.
//! Every random draw comes from the caller's seeded generator, so a sample's augmentation depends only on
//! (seed, epoch, sample), never on threads.

use image::RgbImage;
use twoway_reference::testing::Rng;
use twoway_spec::recipes::{ColorJitter, Lighting, Recipe};

/// The train-time augmentation, from a recipe.
#[derive(Debug, Clone)]
pub struct TrainAug {
    pub crop: u32,
    pub scale: [f64; 2],
    pub ratio: [f64; 2],
    pub hflip: bool,
    pub jitter: Option<ColorJitter>,
    pub lighting: Option<Lighting>,
    pub mean: [f64; 3],
    pub std: [f64; 3],
}

/// The eval-time transform, from a recipe.
#[derive(Debug, Clone)]
pub struct EvalTf {
    pub resize: u32,
    pub crop: u32,
    pub mean: [f64; 3],
    pub std: [f64; 3],
}

impl TrainAug {
    pub fn from_recipe(r: &Recipe) -> TrainAug {
        let t = &r.transforms.train;
        TrainAug {
            crop: t.random_resized_crop,
            scale: t.scale,
            ratio: t.ratio,
            hflip: t.hflip,
            jitter: t.color_jitter.clone(),
            lighting: t.lighting.clone(),
            mean: r.transforms.normalize.mean,
            std: r.transforms.normalize.std,
        }
    }
}

impl EvalTf {
    pub fn from_recipe(r: &Recipe) -> EvalTf {
        let e = &r.transforms.eval;
        EvalTf {
            resize: e.resize,
            crop: e.center_crop,
            mean: r.transforms.normalize.mean,
            std: r.transforms.normalize.std,
        }
    }
}

/// Bilinear resampling of the source window (x0, y0, w, h) to `out x out`, as RGB in [0, 1], HWC.
fn resample(img: &RgbImage, x0: f64, y0: f64, w: f64, h: f64, out: u32, flip: bool) -> Vec<[f64; 3]> {
    let (sw, sh) = (img.width() as i64, img.height() as i64);
    let px = |x: i64, y: i64| {
        let p = img.get_pixel(x.clamp(0, sw - 1) as u32, y.clamp(0, sh - 1) as u32).0;
        [p[0] as f64 / 255.0, p[1] as f64 / 255.0, p[2] as f64 / 255.0]
    };
    let mut v = Vec::with_capacity((out * out) as usize);
    for i in 0..out {
        for j in 0..out {
            let jj = if flip { out - 1 - j } else { j };
            let sx = x0 + (jj as f64 + 0.5) * w / out as f64 - 0.5;
            let sy = y0 + (i as f64 + 0.5) * h / out as f64 - 0.5;
            let (fx, fy) = (sx.floor(), sy.floor());
            let (ax, ay) = (sx - fx, sy - fy);
            let (ix, iy) = (fx as i64, fy as i64);
            let (a, b, c, d) = (px(ix, iy), px(ix + 1, iy), px(ix, iy + 1), px(ix + 1, iy + 1));
            v.push(std::array::from_fn(|k| {
                (a[k] * (1.0 - ax) + b[k] * ax) * (1.0 - ay) + (c[k] * (1.0 - ax) + d[k] * ax) * ay
            }));
        }
    }
    v
}

/// The crop window of RandomResizedCrop: area fraction in `scale`, aspect ratio (log-uniform) in `ratio`,
/// 10 attempts, then the whole image clipped to the ratio range, as torchvision does.
fn random_window(rng: &mut Rng, w: f64, h: f64, scale: [f64; 2], ratio: [f64; 2]) -> (f64, f64, f64, f64) {
    let area = w * h;
    for _ in 0..10 {
        let target = area * rng.uniform(scale[0], scale[1]);
        let r = (rng.uniform(ratio[0].ln(), ratio[1].ln())).exp();
        let cw = (target * r).sqrt().round();
        let ch = (target / r).sqrt().round();
        if cw > 0.0 && ch > 0.0 && cw <= w && ch <= h {
            let x0 = rng.uniform(0.0, w - cw + 1.0).floor();
            let y0 = rng.uniform(0.0, h - ch + 1.0).floor();
            return (x0, y0, cw, ch);
        }
    }
    let in_ratio = w / h;
    let (cw, ch) = if in_ratio < ratio[0] {
        (w, (w / ratio[0]).round())
    } else if in_ratio > ratio[1] {
        ((h * ratio[1]).round(), h)
    } else {
        (w, h)
    };
    ((w - cw) / 2.0, (h - ch) / 2.0, cw, ch)
}

fn gaussian(rng: &mut Rng) -> f64 {
    let u1 = rng.uniform(f64::MIN_POSITIVE, 1.0);
    let u2 = rng.uniform(0.0, 1.0);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn gray(p: &[f64; 3]) -> f64 {
    0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]
}

fn jitter(pixels: &mut [[f64; 3]], j: &ColorJitter, rng: &mut Rng) {
    let mut order = [0usize, 1, 2];
    for i in (1..3).rev() {
        let k = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, k);
    }
    for op in order {
        match op {
            0 if j.brightness > 0.0 => {
                let f = rng.uniform(1.0 - j.brightness, 1.0 + j.brightness).max(0.0);
                pixels.iter_mut().for_each(|p| *p = p.map(|c| (c * f).clamp(0.0, 1.0)));
            }
            1 if j.contrast > 0.0 => {
                let f = rng.uniform(1.0 - j.contrast, 1.0 + j.contrast).max(0.0);
                let mean = pixels.iter().map(gray).sum::<f64>() / pixels.len() as f64;
                pixels.iter_mut().for_each(|p| *p = p.map(|c| ((c - mean) * f + mean).clamp(0.0, 1.0)));
            }
            2 if j.saturation > 0.0 => {
                let f = rng.uniform(1.0 - j.saturation, 1.0 + j.saturation).max(0.0);
                pixels.iter_mut().for_each(|p| {
                    let g = gray(p);
                    *p = p.map(|c| ((c - g) * f + g).clamp(0.0, 1.0));
                });
            }
            _ => {}
        }
    }
}

fn to_chw(pixels: &[[f64; 3]], offset: [f64; 3], mean: [f64; 3], std: [f64; 3], out: &mut [f32]) {
    let n = pixels.len();
    for (i, p) in pixels.iter().enumerate() {
        for c in 0..3 {
            out[c * n + i] = ((p[c] + offset[c] - mean[c]) / std[c]) as f32;
        }
    }
}

/// One augmented training sample into `out` (3 x crop x crop).
pub fn train_sample(img: &RgbImage, aug: &TrainAug, rng: &mut Rng, out: &mut [f32]) {
    let (x0, y0, w, h) = random_window(rng, img.width() as f64, img.height() as f64, aug.scale, aug.ratio);
    let flip = aug.hflip && rng.uniform(0.0, 1.0) < 0.5;
    let mut pixels = resample(img, x0, y0, w, h, aug.crop, flip);
    if let Some(j) = &aug.jitter {
        jitter(&mut pixels, j, rng);
    }
    let mut offset = [0.0; 3];
    if let Some(l) = &aug.lighting {
        if l.alphastd > 0.0 {
            let alpha: [f64; 3] = std::array::from_fn(|_| gaussian(rng) * l.alphastd);
            offset = std::array::from_fn(|c| (0..3).map(|k| l.eigvec[c][k] * alpha[k] * l.eigval[k]).sum());
        }
    }
    to_chw(&pixels, offset, aug.mean, aug.std, out);
}

/// One evaluation sample into `out` (3 x crop x crop): shorter side resized to `resize`, centre crop.
pub fn eval_sample(img: &RgbImage, tf: &EvalTf, out: &mut [f32]) {
    let (w, h) = (img.width() as f64, img.height() as f64);
    let scale = tf.resize as f64 / w.min(h);
    let side = tf.crop as f64 / scale;
    let pixels = resample(img, (w - side) / 2.0, (h - side) / 2.0, side, side, tf.crop, false);
    to_chw(&pixels, [0.0; 3], tf.mean, tf.std, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_window_reproduces_the_image_and_normalisation_is_exact() {
        let mut img = RgbImage::new(4, 4);
        for (i, p) in img.pixels_mut().enumerate() {
            *p = image::Rgb([(i * 10) as u8, 255, 0]);
        }
        let tf = EvalTf { resize: 4, crop: 4, mean: [0.5, 0.5, 0.5], std: [0.5, 0.25, 1.0] };
        let mut out = vec![0.0f32; 48];
        eval_sample(&img, &tf, &mut out);
        for i in 0..16 {
            assert!((out[i] as f64 - ((i * 10) as f64 / 255.0 - 0.5) / 0.5).abs() < 1e-6);
            assert!((out[16 + i] - 2.0).abs() < 1e-6);
            assert!((out[32 + i] + 0.5).abs() < 1e-6);
        }
    }

    #[test]
    fn random_windows_stay_inside_and_respect_scale() {
        let mut rng = Rng::new(3);
        for _ in 0..500 {
            let (x0, y0, w, h) = random_window(&mut rng, 32.0, 32.0, [0.5, 1.0], [0.75, 4.0 / 3.0]);
            assert!(x0 >= 0.0 && y0 >= 0.0 && x0 + w <= 32.0 && y0 + h <= 32.0);
            assert!(w * h >= 0.45 * 1024.0, "{w} x {h}");
        }
    }
}
