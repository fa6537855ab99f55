//! [`OrgHealth`]: the health of an [`OrgTokens`](super::OrgTokens), from the refresher's own
//! state, and the [`Ledger`] it is read from.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long the background refresher may go without looking at its schedule before
/// [`OrgHealth::is_healthy`] says no: twice the longest it sleeps (60 s).
pub const REFRESHER_STALL: Duration = Duration::from_secs(120);

/// The health of the tokens of every organization an [`OrgTokens`](super::OrgTokens) keeps
/// valid, as this process knows it ([`OrgTokens::health`](super::OrgTokens::health)). Read from
/// memory: nothing is asked of the store or of Cobo, so a health route may call it on every
/// request. Holds no token and no organization id; serializes to JSON for such a route.
///
/// **Healthy** ([`is_healthy`](Self::is_healthy)) means the background refresher runs (it looked
/// at its schedule within [`REFRESHER_STALL`]) and no tracked organization's token has expired.
/// Unhealthy then means: the refresher stopped or is stuck (restarting the process helps), or an
/// organization's calls wait for a renewal that does not come (see [`orgs_failing`] and the
/// logs). A rate-limit pause, or renewals that fail while the tokens are still valid, leave it
/// healthy: they are the fields and metrics to alert on, not a reason to take the process out
/// of service.
///
/// [`orgs_failing`]: Self::orgs_failing
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct OrgHealth {
    /// When this answer was made (Unix milliseconds).
    pub checked_at_ms: u64,
    /// Organizations kept valid: listed from the store by the refresher, installed, or used
    /// through these tokens, uninstalled ones apart.
    pub orgs_tracked: usize,
    /// Of those, how many have a token that has not expired (those expiring included).
    pub tokens_valid: usize,
    /// Of those, how many expire within the refresh margin: their renewal is late.
    pub tokens_expiring: usize,
    /// Of those tracked, how many have a token that expired.
    pub tokens_expired: usize,
    /// Of those tracked, how many this process has not seen a pair for yet (just listed from
    /// the store; the refresher reads each soon after).
    pub tokens_unknown: usize,
    /// Of those tracked, how many failed their last renewal (a rate limit is not a failure).
    pub orgs_failing: usize,
    /// Organizations marked as having uninstalled the app (not tracked meanwhile).
    pub orgs_uninstalled: usize,
    /// Until when Cobo's rate limit pauses every renewal (Unix milliseconds), while it does.
    pub rate_limited_until_ms: Option<u64>,
    /// When the background refresher last looked at its schedule (Unix milliseconds); none if
    /// no refresher was started.
    pub refresher_last_run_ms: Option<u64>,
}

impl OrgHealth {
    /// Whether the background refresher runs and no tracked organization's token expired: see
    /// the type's documentation.
    pub fn is_healthy(&self) -> bool {
        self.refresher_running() && self.tokens_expired == 0
    }

    /// Whether the background refresher looked at its schedule within [`REFRESHER_STALL`].
    pub fn refresher_running(&self) -> bool {
        self.refresher_last_run_ms.is_some_and(|last| {
            self.checked_at_ms.saturating_sub(last) <= REFRESHER_STALL.as_millis() as u64
        })
    }
}

/// What this process knows of one tracked organization.
#[derive(Debug, Default, Clone, Copy)]
struct Known {
    /// When its token expires (Unix ms), once a pair was seen.
    expires_at_ms: Option<u64>,
    /// From when its token counts as expiring: its expiry less the refresh margin (Unix ms).
    expiring_from_ms: u64,
    /// Its last renewal failed.
    failing: bool,
    /// It is marked as having uninstalled the app.
    uninstalled: bool,
}

/// What [`OrgHealth`] is read from: each organization's expiry and last outcome, kept as
/// renewals settle, and the refresher's last run. One small map, no token.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    orgs: Mutex<HashMap<String, Known>>,
    /// When the refresher last ran (Unix ms; 0: never).
    refresher_ms: AtomicU64,
}

impl Ledger {
    fn orgs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Known>> {
        self.orgs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The refresher found `org_id` in the store.
    pub fn listed(&self, org_id: &str) {
        let mut orgs = self.orgs();
        if !orgs.contains_key(org_id) {
            orgs.insert(org_id.to_owned(), Known::default());
        }
    }

    /// `org_id` has a pair valid until `expires_at_ms`, renewed `margin_ms` before that.
    pub fn renewed(&self, org_id: &str, expires_at_ms: u64, margin_ms: u64) {
        let mut orgs = self.orgs();
        let known = match orgs.get_mut(org_id) {
            Some(known) => known,
            None => orgs.entry(org_id.to_owned()).or_default(),
        };
        *known = Known {
            expires_at_ms: Some(expires_at_ms),
            expiring_from_ms: expires_at_ms.saturating_sub(margin_ms),
            failing: false,
            uninstalled: false,
        };
    }

    /// A renewal of `org_id` failed (tracked organizations only: a failure never adds one).
    pub fn failed(&self, org_id: &str) {
        if let Some(known) = self.orgs().get_mut(org_id) {
            known.failing = true;
        }
    }

    /// `org_id` uninstalled the app (tracked organizations only).
    pub fn uninstalled(&self, org_id: &str) {
        if let Some(known) = self.orgs().get_mut(org_id) {
            known.uninstalled = true;
        }
    }

    /// The refresher looks at its schedule at `now_ms`.
    pub fn refresher_ran(&self, now_ms: u64) {
        self.refresher_ms.store(now_ms, Ordering::Relaxed);
    }

    /// The health at `now_ms`, while Cobo's rate limit pauses renewals until
    /// `rate_limited_until_ms` (in the past: no pause).
    pub fn health(&self, now_ms: u64, rate_limited_until_ms: u64) -> OrgHealth {
        let mut health = OrgHealth {
            checked_at_ms: now_ms,
            orgs_tracked: 0,
            tokens_valid: 0,
            tokens_expiring: 0,
            tokens_expired: 0,
            tokens_unknown: 0,
            orgs_failing: 0,
            orgs_uninstalled: 0,
            rate_limited_until_ms: (rate_limited_until_ms > now_ms)
                .then_some(rate_limited_until_ms),
            refresher_last_run_ms: match self.refresher_ms.load(Ordering::Relaxed) {
                0 => None,
                ms => Some(ms),
            },
        };
        for known in self.orgs().values() {
            if known.uninstalled {
                health.orgs_uninstalled += 1;
                continue;
            }
            health.orgs_tracked += 1;
            health.orgs_failing += usize::from(known.failing);
            match known.expires_at_ms {
                None => health.tokens_unknown += 1,
                Some(expires) if expires <= now_ms => health.tokens_expired += 1,
                Some(_) => {
                    health.tokens_valid += 1;
                    health.tokens_expiring += usize::from(known.expiring_from_ms <= now_ms);
                }
            }
        }
        health
    }
}

impl OrgHealth {
    /// What the gauges of the `metrics` module show of it.
    pub(super) fn gauges(&self) -> crate::metrics::OrgGauges {
        crate::metrics::OrgGauges {
            tracked: self.orgs_tracked,
            expiring: self.tokens_expiring,
            expired: self.tokens_expired,
            failing: self.orgs_failing,
            refresher_last_run_ms: self.refresher_last_run_ms.unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_tracked_org_once_by_its_tokens_state() {
        let ledger = Ledger::default();
        ledger.renewed("valid", 100_000, 1_000);
        ledger.renewed("expiring", 10_500, 1_000);
        ledger.renewed("expired", 9_000, 1_000);
        ledger.listed("listed");
        ledger.listed("valid"); // already known: unchanged
        ledger.renewed("gone", 100_000, 1_000);
        ledger.uninstalled("gone");
        ledger.failed("expired");
        ledger.failed("never-tracked");
        let health = ledger.health(10_000, 0);
        assert_eq!(
            (
                health.orgs_tracked,
                health.tokens_valid,
                health.tokens_expiring,
                health.tokens_expired,
                health.tokens_unknown,
                health.orgs_failing,
                health.orgs_uninstalled,
            ),
            (4, 2, 1, 1, 1, 1, 1)
        );
        assert_eq!(health.rate_limited_until_ms, None);
        // No refresher, and an expired token: unhealthy either way.
        assert!(!health.is_healthy());
        ledger.refresher_ran(9_999);
        ledger.renewed("expired", 200_000, 1_000);
        let health = ledger.health(10_000, 12_000);
        assert!(health.is_healthy(), "{health:?}");
        assert_eq!(health.rate_limited_until_ms, Some(12_000));
        assert_eq!(health.orgs_failing, 0);
        // The refresher stalled.
        let later = ledger.health(9_999 + REFRESHER_STALL.as_millis() as u64 + 1, 0);
        assert!(!later.refresher_running() && !later.is_healthy());
    }
}
