//! The statistics of claims over seeds: Student's t distribution (two-sided p-values and quantiles) for a
//! paired t-test of per-seed differences.

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error below 1e-13 on the half-integers used here).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 - x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// The regularised incomplete beta function I_x(a, b), for a, b > 0 and x in [0, 1].
pub fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The two-sided p-value of Student's t statistic `t` with `df` degrees of freedom: P(|T| >= |t|).
pub fn t_two_sided_p(t: f64, df: f64) -> f64 {
    if !t.is_finite() {
        return if t.is_nan() { f64::NAN } else { 0.0 };
    }
    incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
}

/// The quantile of Student's t distribution: the `t` with P(T <= t) = `q` (0 < q < 1), by bisection on the
/// distribution function.
pub fn t_quantile(q: f64, df: f64) -> f64 {
    let cdf = |t: f64| {
        let tail = 0.5 * t_two_sided_p(t, df);
        if t >= 0.0 {
            1.0 - tail
        } else {
            tail
        }
    };
    let (mut lo, mut hi) = (-1e6, 1e6);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Holm's step-down adjustment of `p` (one family of tests): sorted ascending, the i-th smallest (from 0)
/// becomes max over j <= i of min(1, (m - j) p_(j)); returned in the input's order. A test is rejected at
/// level a when its adjusted p is below a, which keeps the family-wise error rate at a.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|a, b| p[*a].total_cmp(&p[*b]));
    let mut out = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
}

/// A float written as a JSON number when finite, else as the string `"inf"`, `"-inf"` or `"nan"`, so
/// that a reader tells an infinite statistic from a missing one (`null`).
pub fn serialize_float<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else if v.is_nan() {
        s.serialize_str("nan")
    } else if *v > 0.0 {
        s.serialize_str("inf")
    } else {
        s.serialize_str("-inf")
    }
}

/// A paired t-test of per-seed differences.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PairedT {
    pub n: usize,
    pub mean: f64,
    pub sd: f64,
    /// Infinite when every difference is the same non-zero number (written `"inf"` / `"-inf"` in JSON).
    #[serde(serialize_with = "serialize_float")]
    pub t: f64,
    pub df: f64,
    /// Two-sided p-value of "the mean difference is 0".
    pub p: f64,
    /// 95% confidence interval of the mean difference.
    pub ci95: (f64, f64),
}

/// The paired t-test of `diffs` (one per seed); `None` below two seeds.
pub fn paired_t(diffs: &[f64]) -> Option<PairedT> {
    let n = diffs.len();
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mean = diffs.iter().sum::<f64>() / nf;
    let sd = (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (nf - 1.0)).sqrt();
    let se = sd / nf.sqrt();
    let df = nf - 1.0;
    let t = if se > 0.0 {
        mean / se
    } else if mean == 0.0 {
        0.0
    } else {
        mean.signum() * f64::INFINITY
    };
    let p = if se > 0.0 {
        t_two_sided_p(t, df)
    } else if mean == 0.0 {
        1.0
    } else {
        0.0
    };
    let half = t_quantile(0.975, df) * se;
    Some(PairedT { n, mean, sd, t, df, p, ci95: (mean - half, mean + half) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_values_match_the_closed_forms_of_one_and_two_degrees_of_freedom() {
        let mut checked = 0;
        for t in [0.0, 0.3, 1.0, 2.5, 12.7, 100.0] {
            // df = 1 is Cauchy: P(|T| >= t) = 1 - 2 atan(t) / π.
            let want = 1.0 - 2.0 * f64::atan(t) / std::f64::consts::PI;
            assert!((t_two_sided_p(t, 1.0) - want).abs() < 1e-12, "df 1, t {t}");
            // df = 2: P(|T| >= t) = 1 - t / sqrt(t² + 2).
            let want = 1.0 - t / (t * t + 2.0).sqrt();
            assert!((t_two_sided_p(t, 2.0) - want).abs() < 1e-12, "df 2, t {t}");
            assert_eq!(t_two_sided_p(-t, 2.0), t_two_sided_p(t, 2.0));
            checked += 2;
        }
        assert_eq!(checked, 12);
    }

    #[test]
    fn quantiles_invert_the_distribution() {
        // df = 1: tan(π (q - 1/2)); df = 2: (2q - 1) sqrt(2 / (1 - (2q - 1)²)).
        for q in [0.6, 0.9, 0.975, 0.995] {
            let want1 = (std::f64::consts::PI * (q - 0.5)).tan();
            assert!((t_quantile(q, 1.0) - want1).abs() < 1e-8 * want1.abs().max(1.0), "q {q}");
            let a = 2.0 * q - 1.0;
            let want2 = a * (2.0 / (1.0 - a * a)).sqrt();
            assert!((t_quantile(q, 2.0) - want2).abs() < 1e-8 * want2.abs().max(1.0), "q {q}");
        }
        // Large df tends to the normal quantile 1.959964.
        assert!((t_quantile(0.975, 1e6) - 1.959_963_985).abs() < 1e-5);
    }

    #[test]
    fn holm_adjusts_by_rank_and_keeps_the_order_monotone() {
        // Sorted 0.01, 0.02, 0.04 of m = 3: 0.03, max(0.03, 0.04) = 0.04, max(0.04, 0.04) = 0.04.
        let a = holm(&[0.04, 0.01, 0.02]);
        let want = [0.04, 0.03, 0.04];
        for (g, w) in a.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{a:?}");
        }
        // Capped at 1, and monotone: 0.3 x 2 = 0.6 > 0.5 x 1, so the larger p takes 0.6 too.
        assert_eq!(holm(&[0.5, 0.3]), vec![0.6, 0.6]);
        assert_eq!(holm(&[0.9, 0.8]), vec![1.0, 1.0]);
        assert!(holm(&[]).is_empty());
    }

    #[test]
    fn an_infinite_t_is_written_so_that_it_reads_apart_from_a_missing_one() {
        let r = paired_t(&[0.5, 0.5, 0.5]).unwrap();
        let json = serde_json::to_value(r).unwrap();
        assert_eq!(json["t"], "inf");
        assert_eq!(json["p"], 0.0);
        let r = paired_t(&[-0.5, -0.5]).unwrap();
        assert_eq!(serde_json::to_value(r).unwrap()["t"], "-inf");
        assert_eq!(serde_json::to_value(paired_t(&[1.0, 2.0]).unwrap()).unwrap()["t"], 3.0);
    }

    #[test]
    fn the_paired_test_of_a_clear_and_a_null_difference() {
        // Differences 1, 2, 3: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 2 sqrt 3, df 2.
        let r = paired_t(&[1.0, 2.0, 3.0]).unwrap();
        assert!((r.t - 2.0 * 3f64.sqrt()).abs() < 1e-12);
        let want = 1.0 - r.t / (r.t * r.t + 2.0).sqrt();
        assert!((r.p - want).abs() < 1e-12);
        assert!(r.ci95.0 < 2.0 && r.ci95.1 > 2.0);
        let null = paired_t(&[0.1, -0.1, 0.2, -0.2]).unwrap();
        assert!(null.mean.abs() < 1e-15 && (null.p - 1.0).abs() < 1e-9);
        assert!(paired_t(&[0.09]).is_none());
    }
}
