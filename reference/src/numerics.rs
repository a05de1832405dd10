//! Numerically stable scalar helpers.

/// softplus(z) = ln(1 + e^z), stable for every z (including +-inf).
#[inline]
pub fn softplus(z: f64) -> f64 {
    if z == f64::NEG_INFINITY {
        0.0
    } else {
        z.max(0.0) + (-z.abs()).exp().ln_1p()
    }
}

/// The logistic sigmoid 1 / (1 + e^-z), stable for every z.
#[inline]
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Blocked transpose of a row-major `rows x cols` matrix into `out` (row-major `cols x rows`).
pub(crate) fn transpose<T: Copy>(src: &[T], rows: usize, cols: usize, out: &mut [T]) {
    const B: usize = 32;
    debug_assert_eq!(src.len(), rows * cols);
    debug_assert_eq!(out.len(), rows * cols);
    for i0 in (0..rows).step_by(B) {
        for j0 in (0..cols).step_by(B) {
            for i in i0..(i0 + B).min(rows) {
                for j in j0..(j0 + B).min(cols) {
                    out[j * rows + i] = src[i * cols + j];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softplus_and_sigmoid_closed_forms_and_extremes() {
        for z in [-30.0, -2.0, -0.1, 0.0, 0.5, 3.0, 30.0] {
            let direct = (1.0f64 + f64::exp(z)).ln();
            assert!((softplus(z) - direct).abs() <= 1e-15 * direct.max(1.0), "{z}");
            assert!((sigmoid(z) - 1.0 / (1.0 + (-z).exp())).abs() < 1e-16, "{z}");
        }
        assert_eq!(softplus(f64::NEG_INFINITY), 0.0);
        assert_eq!(softplus(1e4), 1e4);
        assert!(softplus(-1e4) >= 0.0 && softplus(-1e4) < 1e-300);
        assert_eq!(sigmoid(f64::NEG_INFINITY), 0.0);
        assert_eq!(sigmoid(1e4), 1.0);
    }

    #[test]
    fn transpose_blocks_cover_ragged_edges() {
        let (r, c) = (37, 70);
        let src: Vec<u32> = (0..(r * c) as u32).collect();
        let mut out = vec![0; r * c];
        transpose(&src, r, c, &mut out);
        for i in 0..r {
            for j in 0..c {
                assert_eq!(out[j * r + i], src[i * c + j]);
            }
        }
    }
}
