//! The element types `evaluate` reads without widening: scores in f64 or f32 (what a model writes), targets
//! in f64, f32, i8, i32, i64, u8 or bool (what a label file or a tensor holds). Every comparison is made in
//! the scores' own type or, where scores meet thresholds, in f64 after an exact widening, so a matrix gives
//! the same results in any of these types as widened to f64.

/// A score type: f64 or f32.
pub trait Score: Copy + PartialOrd + Default + Send + Sync + std::fmt::Debug + 'static {
    /// A NaN: compares false with everything (marks entries that are not negatives).
    const NAN: Self;
    fn is_finite(self) -> bool;
    fn is_nan(self) -> bool;
    /// The score as f64 (exact).
    fn widen(self) -> f64;
    /// A value of this type given as f64 (exact for every value that [`Score::widen`] gave).
    fn narrow(value: f64) -> Self;
    /// How many of `scores` are at or above `threshold` (NaN never is), summed in integers as wide as
    /// the scores so that the comparison's lanes add up directly (vectorised).
    fn count_at_or_above(scores: &[Self], threshold: Self) -> u32;
}

impl Score for f64 {
    const NAN: f64 = f64::NAN;
    #[inline(always)]
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    #[inline(always)]
    fn widen(self) -> f64 {
        self
    }
    #[inline(always)]
    fn narrow(value: f64) -> f64 {
        value
    }
    #[inline(always)]
    fn count_at_or_above(scores: &[f64], threshold: f64) -> u32 {
        // Counted in f64 lanes (exact below 2^53): an integer count would be narrowed to 32-bit lanes
        // by the compiler, at the cost of repacking every comparison.
        let mut lanes = [0.0f64; 8];
        let chunks = scores.chunks_exact(8);
        let mut n = chunks.remainder().iter().filter(|&&w| w >= threshold).count() as f64;
        for chunk in chunks {
            for (lane, &w) in lanes.iter_mut().zip(chunk) {
                *lane += if w >= threshold { 1.0 } else { 0.0 };
            }
        }
        n += lanes.iter().sum::<f64>();
        n as u32
    }
}

impl Score for f32 {
    const NAN: f32 = f32::NAN;
    #[inline(always)]
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    #[inline(always)]
    fn widen(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn narrow(value: f64) -> f32 {
        value as f32
    }
    #[inline(always)]
    fn count_at_or_above(scores: &[f32], threshold: f32) -> u32 {
        scores.iter().map(|&w| (w >= threshold) as u32).sum()
    }
}

/// A target type: f64, f32, i8, i32, i64, u8 or bool. A target is 1 (positive), 0 (negative) or -1 (unknown, ignored);
/// anything else is refused.
pub trait Label: Copy + Send + Sync + 'static {
    fn is_positive(self) -> bool;
    fn is_negative(self) -> bool;
    fn is_valid(self) -> bool;
    /// The target as f64, for messages.
    fn value(self) -> f64;
}

macro_rules! float_label {
    ($t:ty) => {
        impl Label for $t {
            #[inline(always)]
            fn is_positive(self) -> bool {
                self == 1.0
            }
            #[inline(always)]
            fn is_negative(self) -> bool {
                self == 0.0
            }
            #[inline(always)]
            fn is_valid(self) -> bool {
                (self == 1.0) | (self == 0.0) | (self == -1.0)
            }
            #[inline(always)]
            fn value(self) -> f64 {
                self as f64
            }
        }
    };
}
float_label!(f64);
float_label!(f32);

macro_rules! int_label {
    ($($t:ty),*) => {$(
        impl Label for $t {
            #[inline(always)]
            fn is_positive(self) -> bool {
                self == 1
            }
            #[inline(always)]
            fn is_negative(self) -> bool {
                self == 0
            }
            #[inline(always)]
            fn is_valid(self) -> bool {
                // -1 only for the signed types: a u8 255 widens to 255.
                (self == 1) | (self == 0) | (self as i64 == -1)
            }
            #[inline(always)]
            fn value(self) -> f64 {
                self as f64
            }
        }
    )*};
}
int_label!(i8, i32, i64, u8);

/// A boolean target: true positive, false negative (no unknown).
impl Label for bool {
    #[inline(always)]
    fn is_positive(self) -> bool {
        self
    }
    #[inline(always)]
    fn is_negative(self) -> bool {
        !self
    }
    #[inline(always)]
    fn is_valid(self) -> bool {
        true
    }
    #[inline(always)]
    fn value(self) -> f64 {
        self as u8 as f64
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::Rng;
    use crate::{evaluate, evaluate_as, ApOptions, RefError};

    /// Every integer and boolean target type gives the f64 targets' results, bit for bit, and refuses what
    /// is not a label with its value.
    #[test]
    fn integer_and_boolean_targets_give_the_f64_results() {
        let (s, y) = Rng::new(11).batch(40, 9, 2.0, 0.3, 0.2);
        let want = evaluate(s.view(), y.view(), ApOptions::default()).unwrap();
        assert!(want.map_class.is_some() && want.map_sample.is_some());
        assert_eq!(evaluate_as(s.view(), y.mapv(|v| v as i32).view(), ApOptions::default()).unwrap(), want);
        assert_eq!(evaluate_as(s.view(), y.mapv(|v| v as i64).view(), ApOptions::default()).unwrap(), want);
        // u8 and bool hold no unknown: compared with the unknowns made negatives.
        let known = y.mapv(|v| v.max(0.0));
        let want = evaluate(s.view(), known.view(), ApOptions::default()).unwrap();
        assert_eq!(evaluate_as(s.view(), known.mapv(|v| v as u8).view(), ApOptions::default()).unwrap(), want);
        assert_eq!(evaluate_as(s.view(), known.mapv(|v| v == 1.0).view(), ApOptions::default()).unwrap(), want);
        let mut bad = y.mapv(|v| v.max(0.0) as u8);
        bad[[3, 4]] = 255;
        let e = evaluate_as(s.view(), bad.view(), ApOptions::default()).unwrap_err();
        assert_eq!(e, RefError::BadLabel { row: 3, col: 4, value: 255.0 });
        let mut bad = y.mapv(|v| v as i64);
        bad[[5, 2]] = 2;
        let e = evaluate_as(s.view(), bad.view(), ApOptions::default()).unwrap_err();
        assert_eq!(e, RefError::BadLabel { row: 5, col: 2, value: 2.0 });
    }
}
