//! Dynamic loss scaling, as `torch.cuda.amp.GradScaler`: the state machine of the scale, apart from the
//! tensors it scales (so it is tested on its own, on any machine).

use twoway_spec::recipes::LossScaling;

/// The scale and how many steps in a row found finite gradients.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossScaler {
    pub scale: f64,
    pub growth_tracker: u32,
    pub config: LossScaling,
}

impl LossScaler {
    pub fn new(config: &LossScaling) -> LossScaler {
        LossScaler { scale: config.init_scale, growth_tracker: 0, config: config.clone() }
    }

    /// After a backward pass: with inf / NaN gradients the step is skipped (returns false), the scale backs
    /// off and the count restarts; otherwise the step is taken (returns true), and after `growth_interval`
    /// such steps in a row the scale grows.
    pub fn update(&mut self, found_inf: bool) -> bool {
        if found_inf {
            self.scale *= self.config.backoff_factor;
            self.growth_tracker = 0;
            return false;
        }
        self.growth_tracker += 1;
        if self.growth_tracker == self.config.growth_interval {
            let grown = self.scale * self.config.growth_factor;
            // As torch: the scale only grows while it stays finite.
            if grown.is_finite() {
                self.scale = grown;
            }
            self.growth_tracker = 0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release() -> LossScaler {
        LossScaler::new(Spec::embedded().recipes["release"].precision.loss_scaling.as_ref().unwrap())
    }
    use twoway_spec::Spec;

    #[test]
    fn the_release_scale_starts_at_2_16_and_doubles_after_2000_clean_steps() {
        let mut s = release();
        assert_eq!(s.scale, 65536.0);
        for _ in 0..1999 {
            assert!(s.update(false));
        }
        assert_eq!((s.scale, s.growth_tracker), (65536.0, 1999));
        assert!(s.update(false));
        assert_eq!((s.scale, s.growth_tracker), (131072.0, 0));
    }

    #[test]
    fn an_overflow_skips_the_step_halves_the_scale_and_restarts_the_count() {
        let mut s = release();
        for _ in 0..1500 {
            s.update(false);
        }
        assert!(!s.update(true));
        assert_eq!((s.scale, s.growth_tracker), (32768.0, 0));
        assert!(!s.update(true));
        assert_eq!(s.scale, 16384.0);
        // The count starts again: 1999 clean steps do not grow it, the 2000th does.
        for _ in 0..1999 {
            s.update(false);
        }
        assert_eq!(s.scale, 16384.0);
        s.update(false);
        assert_eq!(s.scale, 32768.0);
    }

    #[test]
    fn the_scale_never_grows_to_infinity() {
        let mut s = release();
        s.scale = f64::MAX;
        for _ in 0..2000 {
            s.update(false);
        }
        assert_eq!(s.scale, f64::MAX);
    }
}
