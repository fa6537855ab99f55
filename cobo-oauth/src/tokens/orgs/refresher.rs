//! [`OrgRefresher`]: renews every organization's token ahead of expiry, a bounded number at a
//! time.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;

use super::shared::{OrgEntry, Shared};
#[cfg(doc)]
use super::tokens::OrgTokens;
use crate::error::Error;
use crate::millis::millis;

/// The first pause after a failed renewal of one organization; it doubles with each failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest pause between two failed renewals of one organization.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The longest the refresher sleeps before it looks at the schedule again.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// How long [`OrgRefresher::stop`] keeps retrying to save pairs whose save failed.
pub const DEFAULT_STOP_SAVE_WAIT: Duration = Duration::from_secs(10);
/// The pause between two tries to save the unsaved pairs while stopping.
const STOP_SAVE_PAUSE: Duration = Duration::from_millis(200);

/// A running background refresher of every organization ([`OrgTokens::spawn_refresher`]).
/// Dropping it stops it; renewals it had started still finish, as long as the runtime runs.
/// Before a process exits, [`stop`](Self::stop) it: that waits for them.
#[derive(Debug)]
pub struct OrgRefresher {
    task: tokio::task::AbortHandle,
    shared: Arc<Shared>,
}

impl OrgRefresher {
    /// Stops it and waits until every renewal running in this process (the refresher's and
    /// callers') has finished and saved its pair, retrying for up to
    /// [`DEFAULT_STOP_SAVE_WAIT`] the saves that failed: call it before the process exits, or a
    /// refresh already sent may never be saved (the next process then recovers with a new
    /// grant, as after a crash). See [`stop_within`](Self::stop_within).
    pub async fn stop(self) {
        self.stop_within(DEFAULT_STOP_SAVE_WAIT).await;
    }

    /// [`stop`](Self::stop), retrying for up to `save_wait` to save the pairs whose save failed
    /// (a renewal that got a new pair from Cobo and could not store it keeps it in memory: the
    /// process must not exit with it). Each organization whose pair is still unsaved then is
    /// logged (`error`, with its `org_id`, never a token); the pair is lost when the process
    /// exits, and the organization recovers with a new grant.
    pub async fn stop_within(self, save_wait: Duration) {
        self.task.abort();
        let shared = &self.shared;
        // Every renewal holds a permit until its pair is saved or kept unsaved: holding them
        // all waits for it.
        let _all = shared.all_permits().await;
        let _installs = shared.all_install_permits().await;
        let deadline = tokio::time::Instant::now() + save_wait;
        loop {
            let unsaved: Vec<(String, Arc<OrgEntry>)> = shared
                .orgs()
                .iter()
                .filter(|(_, entry)| entry.manager.may_have_unsaved())
                .map(|(org, entry)| (org.clone(), Arc::clone(entry)))
                .collect();
            let mut left = Vec::new();
            for (org_id, entry) in unsaved {
                let saved = tokio::time::timeout_at(deadline, entry.manager.save_unsaved()).await;
                if saved != Ok(true) {
                    left.push(org_id);
                }
            }
            if left.is_empty() {
                return;
            }
            if tokio::time::Instant::now() + STOP_SAVE_PAUSE >= deadline {
                for org_id in left {
                    tracing::error!(
                        client_id = %shared.client_id,
                        org_id = ?org_id,
                        "stopping with a token pair that could not be saved: it is lost when the process exits, and the organization recovers with a new grant"
                    );
                }
                return;
            }
            tokio::time::sleep(STOP_SAVE_PAUSE).await;
        }
    }
}

impl Drop for OrgRefresher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OrgRefresher {
    /// Starts renewing every organization of `shared` in the background
    /// ([`OrgTokens::spawn_refresher`]).
    pub(super) fn spawn(shared: Arc<Shared>) -> Self {
        let task = tokio::spawn(run(Arc::clone(&shared)));
        Self {
            task: task.abort_handle(),
            shared,
        }
    }
}

/// The refresher's loop.
async fn run(shared: Arc<Shared>) {
    let mut next_scan_ms = 0;
    loop {
        let now = shared.now_ms();
        shared.refresher_ran(now);
        if now >= next_scan_ms {
            scan(&shared, now).await;
            next_scan_ms = now.saturating_add(millis(shared.rescan_every).max(1));
        }
        // Cobo rate-limits the app: nothing is renewed until the pause is over.
        let paused_until = shared.rate_limit().until_ms();
        if paused_until > now {
            tokio::time::sleep(Duration::from_millis(paused_until - now)).await;
            continue;
        }
        let (due, next) = {
            let mut schedule = shared.schedule();
            (schedule.pop_due(now), schedule.next_due())
        };
        match due {
            Some((org_id, ahead_ms)) => {
                let Ok(permit) = shared.permit().await else {
                    return;
                };
                // The margin its due time was computed with (never a second draw, which could
                // find the token still fresh); a fresh draw for an organization found by a scan.
                let ahead_ms = ahead_ms.unwrap_or_else(|| match shared.orgs().get(&org_id) {
                    Some(entry) => entry.manager.ahead_ms(),
                    None => shared.ahead_ms(),
                });
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    refresh_one(&shared, &org_id, ahead_ms, permit).await;
                });
            }
            None => {
                let wake_at = next.unwrap_or(u64::MAX).min(next_scan_ms);
                let sleep = Duration::from_millis(wake_at.saturating_sub(now)).min(MAX_SLEEP);
                tokio::select! {
                    () = tokio::time::sleep(sleep) => {}
                    () = shared.woken() => {}
                }
            }
        }
    }
}

/// Schedules, due now, every organization of the store not scheduled yet (a fresh pair is then
/// only read, nothing is sent).
async fn scan(shared: &Shared, now: u64) {
    match shared.store.list().await {
        Ok(orgs) => {
            let mut schedule = shared.schedule();
            for org in orgs {
                if !shared.is_uninstalled(&org) {
                    schedule.add(&org, now);
                    shared.listed(&org);
                }
            }
        }
        Err(error) => {
            tracing::warn!(client_id = %shared.client_id, error = %error, "listing the organizations of the token store failed");
        }
    }
}

/// Renews one organization (holding a renewal permit) and schedules its next renewal.
async fn refresh_one(
    shared: &Shared,
    org_id: &str,
    ahead_ms: u64,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    if shared.standing_refusal(org_id).await.is_some() {
        return;
    }
    let entry = shared.entry(org_id);
    let outcome = {
        // A caller or an install renewing the same organization holds the gate: its renewal is
        // enough, so this one looks again in a second. Never waited for while holding a permit
        // (the gate holder may be waiting for that permit).
        let Ok(_gate) = Arc::clone(&entry.gate).try_lock_owned() else {
            drop(permit);
            let mut schedule = shared.schedule();
            if !schedule.is_scheduled(org_id) {
                let due = shared.now_ms().saturating_add(1_000);
                schedule.set_ahead(org_id, due, ahead_ms);
            }
            return;
        };
        let outcome = shared.renew(org_id, &entry, ahead_ms).await;
        drop(permit);
        outcome
    };
    let now = shared.now_ms();
    let retry = match outcome {
        // Fresh for the margin that follows from the lifetime of the token just issued.
        Ok(token)
            if entry
                .manager
                .is_fresh_for(&token, entry.manager.margin_ms()) =>
        {
            tracing::debug!(org_id = ?org_id, "renewed the token ahead of its expiry");
            return; // `renew` scheduled the next renewal.
        }
        Ok(_) => {
            tracing::warn!(
                org_id = ?org_id,
                "the new token expires within the refresh margin; is the margin longer than the token's lifetime?"
            );
            None
        }
        // `renew` reported the uninstall once and left the organization alone.
        Err(error) if error.is_uninstall() => return,
        Err(error) if error.is_permanent() && !is_reauthorization(&error) => {
            tracing::error!(org_id = ?org_id, error = %error, "background renewal of this organization stopped");
            remove(shared, org_id);
            return;
        }
        // Not this organization's failure: `renew` raised the shared pause, and the
        // organization is due again when it ends, its own backoff unchanged.
        Err(error) if error.is_rate_limited() => {
            let resume = shared.rate_limit().until_ms().max(now);
            let jitter = rand::thread_rng().gen_range(0..=millis(FIRST_BACKOFF) / 4);
            let mut schedule = shared.schedule();
            schedule.set_ahead(org_id, resume.saturating_add(jitter), ahead_ms);
            drop(schedule);
            shared.wake_refresher();
            return;
        }
        Err(error) => Some(error),
    };
    let failures = {
        let mut schedule = shared.schedule();
        schedule.failed(org_id)
    };
    let backoff = backoff(failures);
    if let Some(error) = &retry {
        tracing::warn!(org_id = ?org_id, error = %error, retry_in_ms = millis(backoff), "background renewal failed");
    }
    let mut schedule = shared.schedule();
    schedule.set_ahead(org_id, now.saturating_add(millis(backoff)), ahead_ms);
    drop(schedule);
    shared.wake_refresher();
}

fn remove(shared: &Shared, org_id: &str) {
    shared.schedule().remove(org_id);
}

/// The backoff after `failures` failures in a row: doubling from 1 s up to 5 min, with a random
/// jitter of up to a quarter.
fn backoff(failures: u32) -> Duration {
    let base = FIRST_BACKOFF
        .saturating_mul(1_u32 << failures.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let jitter = rand::thread_rng().gen_range(0..=millis(base) / 4);
    base + Duration::from_millis(jitter)
}

/// Whether `error` is a refused grant (one that [`Error::is_uninstall`] does not take as an uninstall
/// is retried).
fn is_reauthorization(error: &Error) -> bool {
    matches!(error, Error::ReauthorizationRequired { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert!(backoff(1) >= FIRST_BACKOFF && backoff(1) <= FIRST_BACKOFF * 5 / 4);
        assert!(backoff(3) >= Duration::from_secs(4));
        assert!(backoff(40) >= MAX_BACKOFF && backoff(40) <= MAX_BACKOFF * 5 / 4);
    }
}
