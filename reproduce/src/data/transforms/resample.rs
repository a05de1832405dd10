//! PIL's bilinear resampling (`Image.resize(..., BILINEAR)`), which torchvision's resizing transforms use on
//! PIL images: a triangle filter whose support widens with the reduction, applied horizontally then
//! vertically in 8-bit fixed point with 22 fractional bits, rounding between the passes, as Pillow does.

use image::RgbImage;

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
#[inline(always)]
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
#[inline(always)]
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
#[inline(always)]
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
#[inline(always)]
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

#[inline(always)]
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
pub(super) fn resample(
    img: &RgbImage,
    window: (u32, u32, u32, u32),
    out_size: (u32, u32),
    cols: std::ops::Range<usize>,
    rows: std::ops::Range<usize>,
) -> Vec<u8> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { resample_avx2(img, window, out_size, cols, rows) };
    }
    resample_any(img, window, out_size, cols, rows)
}

/// [`resample`] compiled for AVX2, where the integer multiply-adds of both passes vectorise (the baseline
/// x86-64 has no 32-bit vector multiply). The arithmetic is the same integer arithmetic: the bytes are too.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn resample_avx2(
    img: &RgbImage,
    window: (u32, u32, u32, u32),
    out_size: (u32, u32),
    cols: std::ops::Range<usize>,
    rows: std::ops::Range<usize>,
) -> Vec<u8> {
    resample_any(img, window, out_size, cols, rows)
}

#[inline(always)]
pub(super) fn resample_any(
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
