//! [`RenewalSettings`]: the settings of renewals that [`TokenManagerBuilder`] and
//! [`OrgTokensBuilder`] share.

use std::sync::Arc;
use std::time::Duration;

#[cfg(doc)]
use super::{TokenManagerBuilder, orgs::OrgTokensBuilder};
use crate::millis::millis;
use crate::signing::{Clock, SystemClock};

/// How long a refresh lease lasts by default without being extended: how long the fleet waits
/// before another process takes over from a holder that stopped.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(45);

/// How long before expiry a token counts as stale by default.
const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// How much longer than the lease's time to live a call waits by default for another process's
/// refresh, so that a dead holder's lease runs out within the wait.
const LEASE_WAIT_BEYOND_TTL: Duration = Duration::from_secs(15);

/// When a token counts as stale, the clock that says so, and the fleet's refresh lease: one
/// value that both builders hold (their setters document each) and that every manager of an
/// [`OrgTokens`](super::OrgTokens) is built with.
#[derive(Debug, Clone)]
pub(super) struct RenewalSettings {
    /// How long before expiry a token counts as stale.
    pub refresh_margin: Duration,
    /// The clock expiry is computed with.
    pub clock: Arc<dyn Clock>,
    /// How long a refresh lease lasts without being extended (stores with a lease).
    pub lease_ttl: Duration,
    /// How long to wait for another process's refresh; `None`: the lease's time to live plus
    /// 15 s.
    pub lease_wait: Option<Duration>,
}

impl Default for RenewalSettings {
    fn default() -> Self {
        Self {
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            clock: Arc::new(SystemClock),
            lease_ttl: DEFAULT_LEASE_TTL,
            lease_wait: None,
        }
    }
}

impl RenewalSettings {
    /// The refresh margin in whole milliseconds.
    pub fn margin_ms(&self) -> u64 {
        millis(self.refresh_margin)
    }

    /// How long to wait for another process's refresh.
    pub fn lease_wait(&self) -> Duration {
        self.lease_wait
            .unwrap_or(self.lease_ttl + LEASE_WAIT_BEYOND_TTL)
    }
}
