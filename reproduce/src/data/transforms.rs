//! The recipe's image transforms, producing normalised CHW f32 data:
//! - train: RandomResizedCrop, horizontal flip, ColorJitter (brightness, contrast, saturation in a random
//!   order), ToTensor, PCA lighting noise, Normalize;
//! - eval: Resize (shorter side), CenterCrop, Normalize.
//!
//! Resizing is PIL's bilinear resampling, which torchvision's transforms use on PIL images: a triangle filter
//! whose support widens with the reduction (antialiasing), applied horizontally then vertically in 8-bit
//! fixed point (22 fractional bits), rounding between the passes, exactly as Pillow does; so the eval
//! transform of a PNG equals torchvision's bit for bit, and of a JPEG up to the two decoders' differences.
//! ColorJitter works in floating point on the resized pixels (PIL's rounds to 8 bits after each adjustment).
//!
//! Every random draw comes from a generator keyed by (seed, epoch, sample index) through a hash
//! ([`sample_rng`]), so a sample's augmentation depends on nothing else: not on threads, workers or the
//! order in which samples are produced.

mod resample;

use image::RgbImage;
use resample::resample;
use twoway_reference::testing::Rng;
use twoway_spec::recipes::{ColorJitter, Lighting, Recipe};

/// SplitMix64's finaliser: a bijective 64-bit mix in which every input bit affects every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The key of a (seed, epoch, index) stream: each coordinate hashed in turn, so neighbouring samples (or
/// epochs) start at unrelated points of the generator's cycle instead of one step apart.
pub fn stream_key(seed: u64, epoch: u64, index: u64) -> u64 {
    mix(mix(mix(seed ^ 0x6A09_E667_F3BC_C908).wrapping_add(epoch) ^ 0xBB67_AE85_84CA_A73B).wrapping_add(index))
}

/// The generator of one sample's augmentation in one epoch.
pub fn sample_rng(seed: u64, epoch: u64, index: u64) -> Rng {
    Rng::new(stream_key(seed, epoch, index))
}

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

/// The crop window of RandomResizedCrop, as torchvision draws it: area fraction in `scale`, aspect ratio
/// log-uniform in `ratio`, 10 attempts, then the whole image clipped to the ratio range, centred.
/// Returns (x0, y0, w, h) in whole pixels.
pub fn random_window(rng: &mut Rng, width: u32, height: u32, scale: [f64; 2], ratio: [f64; 2]) -> (u32, u32, u32, u32) {
    let (w, h) = (width as f64, height as f64);
    let area = w * h;
    for _ in 0..10 {
        let target = area * rng.uniform(scale[0], scale[1]);
        let r = rng.uniform(ratio[0].ln(), ratio[1].ln()).exp();
        let cw = (target * r).sqrt().round_ties_even();
        let ch = (target / r).sqrt().round_ties_even();
        if cw > 0.0 && ch > 0.0 && cw <= w && ch <= h {
            let x0 = rng.uniform(0.0, w - cw + 1.0).floor();
            let y0 = rng.uniform(0.0, h - ch + 1.0).floor();
            return (x0 as u32, y0 as u32, cw as u32, ch as u32);
        }
    }
    let in_ratio = w / h;
    let (cw, ch) = if in_ratio < ratio[0] {
        (width, ((w / ratio[0]).round_ties_even() as u32).max(1))
    } else if in_ratio > ratio[1] {
        (((h * ratio[1]).round_ties_even() as u32).max(1), height)
    } else {
        (width, height)
    };
    ((width - cw) / 2, (height - ch) / 2, cw, ch)
}

fn gaussian(rng: &mut Rng) -> f64 {
    let u1 = rng.uniform(f64::MIN_POSITIVE, 1.0);
    let u2 = rng.uniform(0.0, 1.0);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// ITU-R 601 luma of one pixel (the planes are walked together, so that the loops vectorise).
#[inline(always)]
fn luma(r: f32, g: f32, b: f32) -> f32 {
    0.299 * r + 0.587 * g + 0.114 * b
}

/// The sum of the lumas of planar RGB in [0, 1], in f64, equal to the sum taken in pixel order.
///
/// Taken in pixel order the sum is a chain of dependent additions; taken in eight lanes it vectorises, but
/// floating-point addition is not associative. Both orders give the same, exact, value when no addition
/// rounds: each luma at most TOP (a little above 1) keeps every partial sum below 2^(e+1), e being the
/// exponent of TOP times the pixel count; f64 holds every multiple of 2^(e-52) there exactly, and an f32 of
/// at least 2^(e-29) is such a multiple. So the lanes are used when every nonzero luma lies in
/// [2^(e-29), TOP], and the pixel-order chain otherwise (lumas that small are rare: near-black pixels
/// after a strong jitter).
#[inline(always)]
fn grey_sum(r: &[f32], g: &[f32], b: &[f32]) -> f64 {
    const LANES: usize = 8;
    let n = r.len();
    let chain = || r.iter().zip(g).zip(b).map(|((&r, &g), &b)| luma(r, g, b) as f64).sum::<f64>();
    const TOP: f32 = 1.000_001;
    let e = (n as f64 * TOP as f64).log2().floor() as i32;
    if !(0..60).contains(&e) {
        return chain();
    }
    let small = 2f32.powi(e - 29);
    let (mut acc, mut tiny) = ([0f64; LANES], [false; LANES]);
    let whole = n / LANES * LANES;
    for ((r, g), b) in
        r[..whole].chunks_exact(LANES).zip(g[..whole].chunks_exact(LANES)).zip(b[..whole].chunks_exact(LANES))
    {
        for l in 0..LANES {
            let y = luma(r[l], g[l], b[l]);
            tiny[l] |= !(y == 0.0 || (small..=TOP).contains(&y));
            acc[l] += y as f64;
        }
    }
    let mut rest = 0.0;
    for i in whole..n {
        let y = luma(r[i], g[i], b[i]);
        tiny[0] |= !(y == 0.0 || (small..=TOP).contains(&y));
        rest += y as f64;
    }
    if tiny.iter().any(|&t| t) {
        return chain();
    }
    acc.iter().sum::<f64>() + rest
}

/// ColorJitter on planar RGB in [0, 1] (`n` pixels a plane): brightness, contrast and saturation in a random
/// order, each factor uniform in [1 - v, 1 + v]; grey is ITU-R 601 luma, as PIL's L conversion.
#[inline(always)]
fn jitter(px: &mut [f32], n: usize, j: &ColorJitter, rng: &mut Rng) {
    let mut order = [0usize, 1, 2];
    for i in (1..3).rev() {
        let k = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, k);
    }
    for op in order {
        match op {
            0 if j.brightness > 0.0 => {
                let f = rng.uniform(1.0 - j.brightness, 1.0 + j.brightness).max(0.0) as f32;
                px.iter_mut().for_each(|v| *v = (*v * f).clamp(0.0, 1.0));
            }
            1 if j.contrast > 0.0 => {
                let f = rng.uniform(1.0 - j.contrast, 1.0 + j.contrast).max(0.0) as f32;
                let (r, rest) = px[..3 * n].split_at(n);
                let (g, b) = rest.split_at(n);
                let mean = grey_sum(r, g, b) as f32 / n as f32;
                px.iter_mut().for_each(|v| *v = ((*v - mean) * f + mean).clamp(0.0, 1.0));
            }
            2 if j.saturation > 0.0 => {
                let f = rng.uniform(1.0 - j.saturation, 1.0 + j.saturation).max(0.0) as f32;
                let (r, rest) = px[..3 * n].split_at_mut(n);
                let (g, b) = rest.split_at_mut(n);
                for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
                    let y = luma(*r, *g, *b);
                    for v in [r, g, b] {
                        *v = ((*v - y) * f + y).clamp(0.0, 1.0);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Packed 8-bit RGB (`side` x `side`) to planar f32 in [0, 1], mirrored when `flip`.
#[inline(always)]
fn planar(rgb: &[u8], side: usize, flip: bool, out: &mut [f32]) {
    let n = side * side;
    // v / 255 for every byte: the same divisions, looked up.
    let unit: [f32; 256] = std::array::from_fn(|v| v as f32 / 255.0);
    let (r, rest) = out[..3 * n].split_at_mut(n);
    let (g, b) = rest.split_at_mut(n);
    let planes = r.chunks_exact_mut(side).zip(g.chunks_exact_mut(side)).zip(b.chunks_exact_mut(side));
    for (src, ((r, g), b)) in rgb.chunks_exact(side * 3).zip(planes) {
        let dst = r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut());
        let put = |(px, ((r, g), b)): (&[u8], ((&mut f32, &mut f32), &mut f32))| {
            *r = unit[px[0] as usize];
            *g = unit[px[1] as usize];
            *b = unit[px[2] as usize];
        };
        if flip {
            src.chunks_exact(3).rev().zip(dst).for_each(put);
        } else {
            src.chunks_exact(3).zip(dst).for_each(put);
        }
    }
}

/// (v + offset - mean) / std per channel, in place.
#[inline(always)]
fn normalise(out: &mut [f32], n: usize, offset: [f64; 3], mean: [f64; 3], std: [f64; 3]) {
    for c in 0..3 {
        let (a, b) = ((offset[c] - mean[c]) as f32, (1.0 / std[c]) as f32);
        out[c * n..(c + 1) * n].iter_mut().for_each(|v| *v = (*v + a) * b);
    }
}

/// The window (x0, y0, w, h) of `img` resized to `side` x `side` as packed 8-bit RGB: torchvision's
/// `resized_crop` on a PIL image, the resampling of RandomResizedCrop.
pub fn resized_crop(img: &RgbImage, window: (u32, u32, u32, u32), side: u32) -> Vec<u8> {
    resample(img, window, (side, side), 0..side as usize, 0..side as usize)
}

/// One augmented training sample into `out` (3 x crop x crop).
pub fn train_sample(img: &RgbImage, aug: &TrainAug, rng: &mut Rng, out: &mut [f32]) {
    let window = random_window(rng, img.width(), img.height(), aug.scale, aug.ratio);
    let flip = aug.hflip && rng.uniform(0.0, 1.0) < 0.5;
    let side = aug.crop as usize;
    let rgb = resized_crop(img, window, aug.crop);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { augment_avx2(&rgb, side, flip, aug, rng, out) };
    }
    augment(&rgb, side, flip, aug, rng, out)
}

/// [`augment`] compiled for AVX2 (eight f32 lanes instead of four; the same operations on each value, so
/// the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn augment_avx2(rgb: &[u8], side: usize, flip: bool, aug: &TrainAug, rng: &mut Rng, out: &mut [f32]) {
    augment(rgb, side, flip, aug, rng, out)
}

/// The float part of a training sample: the resized crop to planar [0, 1], flipped, jittered, lit, normalised.
#[inline(always)]
fn augment(rgb: &[u8], side: usize, flip: bool, aug: &TrainAug, rng: &mut Rng, out: &mut [f32]) {
    planar(rgb, side, flip, out);
    let n = side * side;
    if let Some(j) = &aug.jitter {
        jitter(out, n, j, rng);
    }
    let mut offset = [0.0; 3];
    if let Some(l) = &aug.lighting {
        if l.alphastd > 0.0 {
            let alpha: [f64; 3] = std::array::from_fn(|_| gaussian(rng) * l.alphastd);
            offset = std::array::from_fn(|c| (0..3).map(|k| l.eigvec[c][k] * alpha[k] * l.eigval[k]).sum());
        }
    }
    normalise(out, n, offset, aug.mean, aug.std);
}

/// The size of torchvision's `Resize(size)` on a `w` x `h` image: the shorter side becomes `size`, the
/// longer one `int(size * long / short)`.
pub fn resized(w: u32, h: u32, size: u32) -> (u32, u32) {
    let long = |a: u32, b: u32| ((size as f64 * a as f64 / b as f64) as u32).max(1);
    if w <= h {
        (size, long(h, w))
    } else {
        (long(w, h), size)
    }
}

/// One evaluation sample into `out` (3 x crop x crop): shorter side resized to `resize`, then the centre
/// crop (offsets `int(round((size - crop) / 2))`, as torchvision).
pub fn eval_sample(img: &RgbImage, tf: &EvalTf, out: &mut [f32]) {
    let (rw, rh) = resized(img.width(), img.height(), tf.resize);
    let side = tf.crop as usize;
    // A crop larger than the resized image is padded with black, as torchvision's CenterCrop does.
    let offset = |size: u32| ((size as f64 - tf.crop as f64) / 2.0).round_ties_even() as i64;
    let (left, top) = (offset(rw), offset(rh));
    let cols = left.max(0) as usize..((left + side as i64).min(rw as i64)) as usize;
    let rows = top.max(0) as usize..((top + side as i64).min(rh as i64)) as usize;
    let part = resample(img, (0, 0, img.width(), img.height()), (rw, rh), cols.clone(), rows.clone());
    let mut rgb = vec![0u8; side * side * 3];
    let (dx, dy) = ((cols.start as i64 - left) as usize, (rows.start as i64 - top) as usize);
    for (i, line) in part.chunks_exact(cols.len() * 3).enumerate() {
        let at = ((dy + i) * side + dx) * 3;
        rgb[at..at + line.len()].copy_from_slice(line);
    }
    planar(&rgb, side, false, out);
    normalise(out, side * side, [0.0; 3], tf.mean, tf.std);
}

#[cfg(test)]
mod tests {
    use super::resample::resample_any;
    use super::*;

    #[test]
    fn identity_resize_reproduces_the_image_and_normalisation_is_exact() {
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
    fn a_flat_image_stays_flat_at_any_scale() {
        let img = RgbImage::from_pixel(37, 23, image::Rgb([200, 17, 90]));
        for (w, h) in [(5, 3), (37, 23), (100, 61), (16, 40)] {
            let out = resample(&img, (0, 0, 37, 23), (w, h), 0..w as usize, 0..h as usize);
            assert!(out.chunks(3).all(|p| p == [200, 17, 90]), "{w} x {h}");
        }
    }

    #[test]
    fn downscaling_by_two_averages_pixel_pairs_with_the_wider_filter() {
        // Halving: each output's triangle filter of support 2 covers 4 inputs with weights 1/8, 3/8, 3/8, 1/8
        // (PIL's antialiasing), cut to 3 at the borders.
        let img = RgbImage::from_fn(8, 1, |x, _| image::Rgb([(x * 32) as u8, 0, 0]));
        let out = resample(&img, (0, 0, 8, 1), (4, 1), 0..4, 0..1);
        let v: Vec<u8> = out.chunks(3).map(|p| p[0]).collect();
        // Interior output 1 reads x = 1..5: (32 + 3*64 + 3*96 + 128) / 8 = 80.
        assert_eq!(v[1], 80);
        assert_eq!(v[2], 144);
    }

    #[test]
    fn random_windows_stay_inside_and_respect_scale() {
        let mut rng = Rng::new(3);
        for _ in 0..500 {
            let (x0, y0, w, h) = random_window(&mut rng, 32, 32, [0.5, 1.0], [0.75, 4.0 / 3.0]);
            assert!(x0 + w <= 32 && y0 + h <= 32);
            assert!((w * h) as f64 >= 0.45 * 1024.0, "{w} x {h}");
        }
    }

    #[test]
    fn neighbouring_samples_draw_unrelated_streams() {
        // With a key linear in the index, the stream of sample i + 1 would be that of sample i shifted by
        // one draw; hashed keys share no value in their first thousand draws.
        for (a, b) in [((0, 0, 5), (0, 0, 6)), ((0, 3, 5), (0, 4, 5)), ((1, 0, 5), (2, 0, 5))] {
            let mut ra = sample_rng(a.0, a.1, a.2);
            let mut rb = sample_rng(b.0, b.1, b.2);
            let va: std::collections::HashSet<u64> = (0..1000).map(|_| ra.next_u64()).collect();
            assert!((0..1000).all(|_| !va.contains(&rb.next_u64())), "{a:?} {b:?}");
        }
    }

    #[test]
    fn the_lane_sum_of_lumas_equals_the_pixel_order_sum() {
        let pixel_order = |r: &[f32], g: &[f32], b: &[f32]| {
            let mut s = 0.0f64;
            for i in 0..r.len() {
                s += (0.299f32 * r[i] + 0.587f32 * g[i] + 0.114f32 * b[i]) as f64;
            }
            s
        };
        let mut rng = Rng::new(7);
        let mut compared = 0;
        for n in [1usize, 7, 8, 9, 1024, 32 * 32, 224 * 224 + 3] {
            for case in 0..4 {
                let mut planes: Vec<Vec<f32>> =
                    (0..3).map(|_| (0..n).map(|_| rng.uniform(0.0, 1.0) as f32).collect()).collect();
                match case {
                    // Zeros and ones, which stay on the lanes.
                    1 => planes.iter_mut().for_each(|p| p.iter_mut().step_by(3).for_each(|v| *v = 0.0)),
                    2 => planes.iter_mut().for_each(|p| p.iter_mut().step_by(5).for_each(|v| *v = 1.0)),
                    // Near-black pixels whose lumas are below the exact range: the chain is taken.
                    3 => planes.iter_mut().for_each(|p| p.iter_mut().step_by(11).for_each(|v| *v = 1e-9)),
                    _ => {}
                }
                let (r, g, b) = (&planes[0], &planes[1], &planes[2]);
                let want = pixel_order(r, g, b);
                assert_eq!(grey_sum(r, g, b).to_bits(), want.to_bits(), "n = {n}, case {case}");
                compared += 1;
            }
        }
        assert_eq!(compared, 28);
    }

    #[test]
    fn the_avx2_builds_give_the_baseline_builds_bytes() {
        // On a CPU with AVX2 `resample` and `train_sample` take the AVX2 builds; `resample_any` and `augment`
        // called from here are compiled for the baseline x86-64. Both must give the same bits.
        let mut rng = Rng::new(11);
        let img = RgbImage::from_fn(97, 61, |_, _| image::Rgb([0, 0, 0].map(|_: u8| (rng.next_u64() % 256) as u8)));
        let spec = twoway_spec::Spec::embedded();
        let mut compared = 0;
        for k in 0..40u64 {
            let mut r = sample_rng(3, 0, k);
            let window = random_window(&mut r, 97, 61, [0.05, 1.0], [0.5, 2.0]);
            let side = 8 + (k as u32 * 7) % 90;
            let fast = resample(&img, window, (side, side), 0..side as usize, 0..side as usize);
            let base = resample_any(&img, window, (side, side), 0..side as usize, 0..side as usize);
            assert_eq!(fast, base, "window {window:?} to {side}");
            let aug = TrainAug::from_recipe(&spec.recipes[if k % 2 == 0 { "release" } else { "embedded" }]);
            let n = aug.crop as usize;
            let (mut a, mut b) = (vec![0f32; 3 * n * n], vec![0f32; 3 * n * n]);
            train_sample(&img, &aug, &mut sample_rng(5, 1, k), &mut a);
            let mut r = sample_rng(5, 1, k);
            let window = random_window(&mut r, 97, 61, aug.scale, aug.ratio);
            let flip = aug.hflip && r.uniform(0.0, 1.0) < 0.5;
            augment(&resample_any(&img, window, (aug.crop, aug.crop), 0..n, 0..n), n, flip, &aug, &mut r, &mut b);
            assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()), "sample {k}");
            compared += 1;
        }
        assert_eq!(compared, 40);
    }

    #[test]
    fn resized_sizes_follow_torchvision() {
        assert_eq!(resized(640, 480, 256), (341, 256));
        assert_eq!(resized(480, 640, 256), (256, 341));
        assert_eq!(resized(32, 32, 36), (36, 36));
    }
}
