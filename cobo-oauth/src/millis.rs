//! [`millis`]: a [`Duration`] in whole milliseconds, the unit every time kept by this crate is in
//! (expiry times, leases, pauses, nonces).

use std::time::Duration;

/// `duration` in whole milliseconds, saturating at `u64::MAX`.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
