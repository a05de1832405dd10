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

use image::RgbImage;
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

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// PIL's bilinear coefficients for one axis, in its fixed point: output `o` reads inputs
/// `start[o] .. start[o] + len[o]` with weights `weights[o * ksize ..]`. The same weights also come padded
/// to exactly `ksize` taps from `padded_start[o]` (zeros outside the filter; only when the input has at
/// least `ksize` entries), for loops of a fixed trip count; zero weights leave the sums unchanged.
struct Coeffs {
    start: Vec<usize>,
    len: Vec<usize>,
    ksize: usize,
    weights: Vec<i32>,
    padded_start: Vec<usize>,
    padded: Vec<i32>,
}

fn coeffs(in_size: usize, out_size: usize) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filterscale; // the bilinear filter's support is 1, widened by the reduction
    let ksize = support.ceil() as usize * 2 + 1;
    let mut start = Vec::with_capacity(out_size);
    let mut len = Vec::with_capacity(out_size);
    let mut weights = vec![0i32; out_size * ksize];
    let mut k = vec![0f64; ksize];
    let ss = 1.0 / filterscale;
    for o in 0..out_size {
        let center = (o as f64 + 0.5) * scale;
        let xmin = ((center - support + 0.5) as i64).max(0) as usize; // C's truncating cast, as PIL
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize - xmin;
        let mut total = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(xmax) {
            let t = ((x + xmin) as f64 - center + 0.5) * ss;
            *kx = (1.0 - t.abs()).max(0.0);
            total += *kx;
        }
        for x in 0..xmax {
            let w = if total != 0.0 { k[x] / total } else { k[x] } * (1u64 << PRECISION_BITS) as f64;
            // PIL rounds half away from zero.
            weights[o * ksize + x] = if w < 0.0 { (w - 0.5) as i32 } else { (w + 0.5) as i32 };
        }
        start.push(xmin);
        len.push(xmax);
    }
    let (mut padded_start, mut padded) = (Vec::new(), Vec::new());
    if in_size >= ksize {
        padded = vec![0i32; out_size * ksize];
        for o in 0..out_size {
            let ps = start[o].min(in_size - ksize);
            let off = start[o] - ps;
            padded[o * ksize + off..o * ksize + off + len[o]].copy_from_slice(&weights[o * ksize..o * ksize + len[o]]);
            padded_start.push(ps);
        }
    }
    Coeffs { start, len, ksize, weights, padded_start, padded }
}

/// The horizontal pass of one row with `K` taps per output (the padded coefficients): `line` is the
/// window's row of packed RGB, `out` the wanted columns `cols`.
fn hpass_fixed<const K: usize>(line: &[u8], out: &mut [u8], hc: &Coeffs, cols: std::ops::Range<usize>) {
    let half = 1i32 << (PRECISION_BITS - 1);
    for (o, px) in cols.zip(out.chunks_exact_mut(3)) {
        let s = hc.padded_start[o];
        let k: &[i32; K] = hc.padded[o * K..o * K + K].try_into().unwrap();
        let p = &line[s * 3..s * 3 + 3 * K];
        let (mut r, mut g, mut b) = (half, half, half);
        for t in 0..K {
            r += p[3 * t] as i32 * k[t];
            g += p[3 * t + 1] as i32 * k[t];
            b += p[3 * t + 2] as i32 * k[t];
        }
        px[0] = clip8(r);
        px[1] = clip8(g);
        px[2] = clip8(b);
    }
}

/// [`hpass_fixed`] on two rows at once: the weights and offsets are loaded once for both.
fn hpass_fixed2<const K: usize>(lines: [&[u8]; 2], outs: [&mut [u8]; 2], hc: &Coeffs, cols: std::ops::Range<usize>) {
    let half = 1i32 << (PRECISION_BITS - 1);
    let [oa, ob] = outs;
    for ((o, pa), pb) in cols.zip(oa.chunks_exact_mut(3)).zip(ob.chunks_exact_mut(3)) {
        let s = hc.padded_start[o];
        let k: &[i32; K] = hc.padded[o * K..o * K + K].try_into().unwrap();
        let (a, b) = (&lines[0][s * 3..s * 3 + 3 * K], &lines[1][s * 3..s * 3 + 3 * K]);
        let mut acc = [half; 6];
        for t in 0..K {
            for c in 0..3 {
                acc[c] += a[3 * t + c] as i32 * k[t];
                acc[3 + c] += b[3 * t + c] as i32 * k[t];
            }
        }
        for c in 0..3 {
            pa[c] = clip8(acc[c]);
            pb[c] = clip8(acc[3 + c]);
        }
    }
}

/// The horizontal pass of two rows (`lines`, into `outs`), two at a time where the tap count allows.
fn hpass2(lines: [&[u8]; 2], outs: [&mut [u8]; 2], hc: &Coeffs, cols: std::ops::Range<usize>) {
    match (hc.ksize, hc.padded.is_empty()) {
        (3, false) => hpass_fixed2::<3>(lines, outs, hc, cols),
        (5, false) => hpass_fixed2::<5>(lines, outs, hc, cols),
        (7, false) => hpass_fixed2::<7>(lines, outs, hc, cols),
        (9, false) => hpass_fixed2::<9>(lines, outs, hc, cols),
        _ => {
            let [oa, ob] = outs;
            hpass(lines[0], oa, hc, cols.clone());
            hpass(lines[1], ob, hc, cols);
        }
    }
}

/// The horizontal pass of one row, any number of taps.
fn hpass(line: &[u8], out: &mut [u8], hc: &Coeffs, cols: std::ops::Range<usize>) {
    match (hc.ksize, hc.padded.is_empty()) {
        (3, false) => return hpass_fixed::<3>(line, out, hc, cols),
        (5, false) => return hpass_fixed::<5>(line, out, hc, cols),
        (7, false) => return hpass_fixed::<7>(line, out, hc, cols),
        (9, false) => return hpass_fixed::<9>(line, out, hc, cols),
        _ => {}
    }
    let half = 1i32 << (PRECISION_BITS - 1);
    for (o, px) in cols.zip(out.chunks_exact_mut(3)) {
        let (s, n) = (hc.start[o], hc.len[o]);
        let k = &hc.weights[o * hc.ksize..o * hc.ksize + n];
        let (mut r, mut g, mut b) = (half, half, half);
        for (p, &kt) in line[s * 3..(s + n) * 3].chunks_exact(3).zip(k) {
            r += p[0] as i32 * kt;
            g += p[1] as i32 * kt;
            b += p[2] as i32 * kt;
        }
        px[0] = clip8(r);
        px[1] = clip8(g);
        px[2] = clip8(b);
    }
}

fn clip8(v: i32) -> u8 {
    if v >= 255 << PRECISION_BITS {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// PIL's `resize((out_w, out_h), BILINEAR)` of the window `(x0, y0, w, h)` of `img` (the window taken as the
/// whole image, as `crop(...).resize(...)` does), computing only the output columns `cols` and rows `rows`.
/// Returns packed RGB of `cols.len() x rows.len()`.
#[allow(clippy::too_many_arguments)]
fn resample(
    img: &RgbImage,
    (x0, y0, w, h): (u32, u32, u32, u32),
    (out_w, out_h): (u32, u32),
    cols: std::ops::Range<usize>,
    rows: std::ops::Range<usize>,
) -> Vec<u8> {
    let src = img.as_raw();
    let stride = img.width() as usize * 3;
    let (x0, y0, w, h) = (x0 as usize, y0 as usize, w as usize, h as usize);
    let hc = coeffs(w, out_w as usize);
    let vc = coeffs(h, out_h as usize);
    // The rows of the window the vertical pass reads.
    let first = rows.clone().map(|r| vc.start[r]).min().unwrap_or(0);
    let last = rows.clone().map(|r| vc.start[r] + vc.len[r]).max().unwrap_or(0);
    let need_h = w != out_w as usize;
    let need_v = h != out_h as usize;
    let ncols = cols.len();
    // Horizontal pass into 8 bits, rows first..last of the window, only the wanted columns.
    let mut tmp = vec![0u8; (last - first) * ncols * 3];
    let half = 1i32 << (PRECISION_BITS - 1);
    let line = |y: usize| &src[(y0 + y) * stride + x0 * 3..(y0 + y) * stride + (x0 + w) * 3];
    let row_bytes = ncols * 3;
    if !need_h {
        for (out, y) in tmp.chunks_exact_mut(row_bytes).zip(first..last) {
            out.copy_from_slice(&line(y)[cols.start * 3..cols.end * 3]);
        }
    } else {
        let mut pairs = tmp.chunks_exact_mut(2 * row_bytes);
        let mut y = first;
        for pair in &mut pairs {
            let (oa, ob) = pair.split_at_mut(row_bytes);
            hpass2([line(y), line(y + 1)], [oa, ob], &hc, cols.clone());
            y += 2;
        }
        let rest = pairs.into_remainder();
        if !rest.is_empty() {
            hpass(line(y), rest, &hc, cols.clone());
        }
    }
    // Vertical pass: whole rows at a time (each output row is a weighted sum of input rows).
    let width = ncols * 3;
    let mut out = vec![0u8; rows.len() * width];
    let mut acc = vec![0i32; width];
    for (i, o) in rows.clone().enumerate() {
        let dst = &mut out[i * width..(i + 1) * width];
        if !need_v {
            let ty = o - first;
            dst.copy_from_slice(&tmp[ty * width..(ty + 1) * width]);
            continue;
        }
        let (s, n) = (vc.start[o], vc.len[o]);
        acc.fill(half);
        for (t, &kt) in vc.weights[o * vc.ksize..o * vc.ksize + n].iter().enumerate() {
            let row = &tmp[(s + t - first) * width..(s + t - first + 1) * width];
            for (a, &p) in acc.iter_mut().zip(row) {
                *a += p as i32 * kt;
            }
        }
        for (d, &a) in dst.iter_mut().zip(&acc) {
            *d = clip8(a);
        }
    }
    out
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

/// ColorJitter on planar RGB in [0, 1] (`n` pixels a plane): brightness, contrast and saturation in a random
/// order, each factor uniform in [1 - v, 1 + v]; grey is ITU-R 601 luma, as PIL's L conversion.
fn jitter(px: &mut [f32], n: usize, j: &ColorJitter, rng: &mut Rng) {
    let mut order = [0usize, 1, 2];
    for i in (1..3).rev() {
        let k = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, k);
    }
    let grey = |px: &[f32], i: usize| 0.299 * px[i] + 0.587 * px[n + i] + 0.114 * px[2 * n + i];
    for op in order {
        match op {
            0 if j.brightness > 0.0 => {
                let f = rng.uniform(1.0 - j.brightness, 1.0 + j.brightness).max(0.0) as f32;
                px.iter_mut().for_each(|v| *v = (*v * f).clamp(0.0, 1.0));
            }
            1 if j.contrast > 0.0 => {
                let f = rng.uniform(1.0 - j.contrast, 1.0 + j.contrast).max(0.0) as f32;
                let mean = (0..n).map(|i| grey(px, i) as f64).sum::<f64>() as f32 / n as f32;
                px.iter_mut().for_each(|v| *v = ((*v - mean) * f + mean).clamp(0.0, 1.0));
            }
            2 if j.saturation > 0.0 => {
                let f = rng.uniform(1.0 - j.saturation, 1.0 + j.saturation).max(0.0) as f32;
                for i in 0..n {
                    let g = grey(px, i);
                    for c in 0..3 {
                        let v = &mut px[c * n + i];
                        *v = ((*v - g) * f + g).clamp(0.0, 1.0);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Packed 8-bit RGB (`side` x `side`) to planar f32 in [0, 1], mirrored when `flip`.
fn planar(rgb: &[u8], side: usize, flip: bool, out: &mut [f32]) {
    let n = side * side;
    for y in 0..side {
        for x in 0..side {
            let sx = if flip { side - 1 - x } else { x };
            let p = (y * side + sx) * 3;
            let i = y * side + x;
            out[i] = rgb[p] as f32 / 255.0;
            out[n + i] = rgb[p + 1] as f32 / 255.0;
            out[2 * n + i] = rgb[p + 2] as f32 / 255.0;
        }
    }
}

/// (v + offset - mean) / std per channel, in place.
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
    planar(&rgb, side, flip, out);
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
    fn resized_sizes_follow_torchvision() {
        assert_eq!(resized(640, 480, 256), (341, 256));
        assert_eq!(resized(480, 640, 256), (256, 341));
        assert_eq!(resized(32, 32, 36), (36, 36));
    }
}
