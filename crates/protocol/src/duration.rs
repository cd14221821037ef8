//! Durations given as seconds by people and other languages (CLI flags, Python
//! floats, C doubles), checked before they reach a `Duration` constructor that
//! would panic on NaN, negative or huge values.

use std::time::Duration;

use crate::error::{Error, Result};

/// The longest duration any setting accepts: 30 days. Longer timeouts or
/// cool-downs are mistakes (or `1e300`), not intentions.
pub const MAX_SETTING_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Converts `secs` into a `Duration` for the setting `name`, or an
/// [`Error::InvalidInput`] naming the setting when `secs` is not finite, is
/// negative, or exceeds [`MAX_SETTING_DURATION`]. Zero is allowed; settings that
/// need a positive value check that themselves.
pub fn duration_from_secs(name: &str, secs: f64) -> Result<Duration> {
    if !secs.is_finite() || secs < 0.0 {
        return Err(Error::InvalidInput(format!(
            "{name} must be a finite number of seconds >= 0, got {}",
            short(secs)
        )));
    }
    if secs > MAX_SETTING_DURATION.as_secs_f64() {
        return Err(Error::InvalidInput(format!(
            "{name} of {} s is longer than the maximum of {} s (30 days)",
            short(secs),
            MAX_SETTING_DURATION.as_secs()
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A number as people write it: `1e300`, not three hundred digits.
fn short(secs: f64) -> String {
    if secs.abs() >= 1e9 {
        format!("{secs:e}")
    } else {
        format!("{secs}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_values_and_refuses_the_rest() {
        assert_eq!(
            duration_from_secs("timeout", 2.5).unwrap(),
            Duration::from_millis(2500)
        );
        assert_eq!(duration_from_secs("t", 0.0).unwrap(), Duration::ZERO);
        for bad in [f64::NAN, f64::INFINITY, -1.0, 1e300, 31.0 * 24.0 * 3600.0] {
            let e = duration_from_secs("timeout", bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{bad}");
            assert!(e.to_string().contains("timeout"), "{e}");
            assert!(e.to_string().len() < 120, "{e}");
        }
    }
}
