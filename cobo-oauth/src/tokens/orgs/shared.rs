//! What clones of [`OrgTokens`] share: the organizations in memory, their renewals, the
//! uninstalled ones and the refresher's schedule.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use rand::Rng as _;
use secrecy::SecretString;
use tokio::sync::futures::Notified;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::health::{Ledger, OrgHealth};
use super::install::InstallError;
use super::install_queue::{InstallQueue, Outcome};
use super::rate_limit::RateLimit;
use super::refusals::{Refusal, Refusals};
use super::schedule::Schedule;
use super::status::Record;
use super::store::OrgStore;
#[cfg(doc)]
use super::tokens::OrgTokens;
use crate::client::CoboClient;
use crate::error::Error;
use crate::millis::millis;
use crate::tokens::manager::TokenManager;
use crate::tokens::settings::RenewalSettings;
use crate::tokens::store::StoredToken;
use crate::tokens::uncancellable::uncancellable;

/// How often the background refresher sets the gauges of the `metrics` module.
const GAUGES_EVERY: Duration = Duration::from_secs(15);

/// What clones of [`OrgTokens`] share.
#[derive(Debug)]
pub(super) struct Shared {
    client: CoboClient,
    pub client_id: String,
    pub store: Arc<dyn OrgStore>,
    /// What every organization's manager is built with.
    settings: RenewalSettings,
    /// One permit per renewal running.
    renewals: Arc<Semaphore>,
    pub max_renewals: u32,
    idle_after_ms: u64,
    pub rescan_every: Duration,
    /// How long a refusal of an organization's grant stands before it is checked again.
    uninstall_recheck_ms: u64,
    /// The organizations in memory.
    orgs: RwLock<HashMap<String, Arc<OrgEntry>>>,
    /// When idle organizations were last dropped from memory.
    last_sweep_ms: AtomicU64,
    /// Organizations whose grant Cobo refused (they uninstalled the app), for a while.
    uninstalled: RwLock<Refusals>,
    /// When each organization is due for a background renewal.
    schedule: Mutex<Schedule>,
    /// Wakes the background refresher when the schedule changes.
    wake: tokio::sync::Notify,
    /// The pause of every renewal while Cobo rate-limits the app.
    rate_limit: RateLimit,
    /// Install grants queued or in flight, with a budget of their own.
    installs: InstallQueue,
    /// What [`OrgHealth`] is read from.
    ledger: Ledger,
    /// When the gauges were last set from it (Unix ms).
    gauges_set_ms: AtomicU64,
}

/// One organization in memory.
#[derive(Debug)]
pub(super) struct OrgEntry {
    pub manager: TokenManager,
    /// When it was last asked for a token (ms).
    last_used_ms: AtomicU64,
    /// One background or caller renewal at a time per organization, so that one organization's
    /// waiting callers never hold more than one renewal permit.
    pub gate: Arc<tokio::sync::Mutex<()>>,
    /// Its last renewal and last error, for its status.
    record: std::sync::Mutex<Record>,
}

impl OrgEntry {
    /// Runs `change` on its status record.
    pub fn update_record<T>(&self, change: impl FnOnce(&mut Record) -> T) -> T {
        change(
            &mut self
                .record
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// The limits an [`OrgTokensBuilder`](super::OrgTokensBuilder) sets beyond the renewal settings.
pub(super) struct Limits {
    pub max_renewals: u32,
    pub max_installs: u32,
    pub max_queued_installs: u32,
    pub idle_after: Duration,
    pub rescan_every: Duration,
    pub uninstall_recheck_after: Duration,
}

impl Shared {
    /// Nothing in memory yet.
    pub fn new(
        client: CoboClient,
        client_id: String,
        store: Arc<dyn OrgStore>,
        settings: RenewalSettings,
        limits: Limits,
    ) -> Self {
        let uninstall_recheck_ms = millis(limits.uninstall_recheck_after);
        Self {
            client,
            client_id,
            store,
            settings,
            renewals: Arc::new(Semaphore::new(limits.max_renewals as usize)),
            max_renewals: limits.max_renewals,
            idle_after_ms: millis(limits.idle_after),
            rescan_every: limits.rescan_every,
            uninstall_recheck_ms,
            orgs: RwLock::new(HashMap::new()),
            last_sweep_ms: AtomicU64::new(0),
            uninstalled: RwLock::new(Refusals::new(uninstall_recheck_ms)),
            schedule: Mutex::new(Schedule::default()),
            wake: tokio::sync::Notify::new(),
            rate_limit: RateLimit::default(),
            installs: InstallQueue::new(limits.max_installs, limits.max_queued_installs),
            ledger: Ledger::default(),
            gauges_set_ms: AtomicU64::new(0),
        }
    }

    /// The health of every tracked organization's token, from memory; sets the gauges too.
    pub fn health(&self) -> OrgHealth {
        let health = self
            .ledger
            .health(self.now_ms(), self.rate_limit.until_ms());
        self.gauges_set_ms
            .store(health.checked_at_ms, Ordering::Relaxed);
        crate::metrics::org_gauges(&self.client_id, health.gauges());
        health
    }

    /// The background refresher looks at its schedule at `now`: recorded, and the gauges set if
    /// they are older than [`GAUGES_EVERY`].
    pub fn refresher_ran(&self, now: u64) {
        self.ledger.refresher_ran(now);
        let set = self.gauges_set_ms.load(Ordering::Relaxed);
        if crate::metrics::ENABLED && now.saturating_sub(set) >= millis(GAUGES_EVERY) {
            self.health();
        }
    }

    /// The refresher found `org_id` in the store.
    pub fn listed(&self, org_id: &str) {
        self.ledger.listed(org_id);
    }

    /// When each organization is due for a background renewal.
    pub fn schedule(&self) -> MutexGuard<'_, Schedule> {
        self.schedule
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The pause of every renewal while Cobo rate-limits the app.
    pub fn rate_limit(&self) -> &RateLimit {
        &self.rate_limit
    }

    /// Wakes the background refresher: the schedule changed.
    pub fn wake_refresher(&self) {
        self.wake.notify_one();
    }

    /// Resolves when [`Self::wake_refresher`] is called.
    pub fn woken(&self) -> Notified<'_> {
        self.wake.notified()
    }

    /// A renewal permit: one of the
    /// [`max_concurrent_renewals`](super::OrgTokensBuilder::max_concurrent_renewals) renewals
    /// that may run at once.
    pub async fn permit(&self) -> Result<OwnedSemaphorePermit, Error> {
        Arc::clone(&self.renewals)
            .acquire_owned()
            .await
            .map_err(|_| Error::RenewalInterrupted)
    }

    /// Every renewal permit: no renewal runs while they are held.
    pub async fn all_permits(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.renewals)
            .acquire_many_owned(self.max_renewals)
            .await
            .ok()
    }

    /// Now, by the clock of the settings (Unix milliseconds).
    pub fn now_ms(&self) -> u64 {
        self.settings.clock.now_millis()
    }

    pub fn orgs(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<OrgEntry>>> {
        self.orgs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The fresh access token of an organization in memory, marking it used.
    pub fn cached(&self, org_id: &str) -> Option<SecretString> {
        let orgs = self.orgs();
        let entry = orgs.get(org_id)?;
        let now = self.now_ms();
        entry.last_used_ms.store(now, Ordering::Relaxed);
        let token = entry.manager.published()?;
        (now.saturating_add(entry.manager.margin_ms()) < token.expires_at_ms)
            .then(|| token.access_token.clone())
    }

    /// The refusal of an organization that uninstalled the app, while it stands (it expires
    /// after [`uninstall_recheck_after`](super::OrgTokensBuilder::uninstall_recheck_after)).
    fn refusal(&self, org_id: &str) -> Option<Refusal> {
        self.uninstalled
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(org_id, self.now_ms())
            .cloned()
    }

    /// Whether Cobo refused `org_id`'s grant (and that refusal still stands).
    pub fn is_uninstalled(&self, org_id: &str) -> bool {
        self.refusal(org_id).is_some()
    }

    /// The refusal of `org_id` that still stands: none once it expired, or once the store holds
    /// a pair newer than the one refused (another process got the organization's new grant,
    /// after it installed the app again), which forgets the refusal. A store that cannot be
    /// read leaves the refusal standing.
    pub async fn standing_refusal(&self, org_id: &str) -> Option<Refusal> {
        let refusal = self.refusal(org_id)?;
        match self.store.org(org_id).load().await {
            Ok(Some(stored)) if refusal.superseded_by(stored.version) => {
                tracing::info!(
                    client_id = %self.client_id,
                    org_id = ?org_id,
                    version = stored.version,
                    "the store holds a newer token pair for an organization that had uninstalled the app: it installed it again"
                );
                self.forget_uninstall(org_id);
                None
            }
            Ok(_) => Some(refusal),
            Err(error) => {
                tracing::debug!(org_id = ?org_id, error = %error, "reading the store of an uninstalled organization failed");
                Some(refusal)
            }
        }
    }

    /// Forgets that `org_id` uninstalled the app.
    fn forget_uninstall(&self, org_id: &str) {
        self.uninstalled
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(org_id);
    }

    /// The organization's entry, made (with its manager) if it is not in memory.
    pub fn entry(&self, org_id: &str) -> Arc<OrgEntry> {
        let now = self.now_ms();
        if let Some(entry) = self.orgs().get(org_id) {
            entry.last_used_ms.store(now, Ordering::Relaxed);
            return Arc::clone(entry);
        }
        let entry = {
            let mut orgs = self
                .orgs
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(orgs.entry(org_id.to_owned()).or_insert_with(|| {
                Arc::new(OrgEntry {
                    manager: self.manager(org_id),
                    last_used_ms: AtomicU64::new(now),
                    gate: Arc::default(),
                    record: std::sync::Mutex::default(),
                })
            }))
        };
        let last_sweep = self.last_sweep_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last_sweep) > self.idle_after_ms / 2 {
            self.sweep(now);
        }
        entry
    }

    /// A new manager of `org_id`'s pair, built with the shared settings.
    fn manager(&self, org_id: &str) -> TokenManager {
        TokenManager::builder(self.client.clone(), self.client_id.clone(), org_id)
            .store(self.store.org(org_id))
            .settings(self.settings.clone())
            .build()
    }

    /// Drops idle, settled organizations from memory.
    pub fn sweep(&self, now: u64) -> usize {
        self.last_sweep_ms.store(now, Ordering::Relaxed);
        let mut orgs = self
            .orgs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = orgs.len();
        orgs.retain(|_, entry| {
            let idle =
                now.saturating_sub(entry.last_used_ms.load(Ordering::Relaxed)) > self.idle_after_ms;
            // Nobody else holds the entry (it is taken from the map only under its lock, which
            // this holds) or the manager (a renewal task holds a clone of it).
            !(idle && Arc::strong_count(entry) == 1 && entry.manager.is_settled())
        });
        let dropped = before - orgs.len();
        if dropped > 0 {
            tracing::debug!(
                client_id = %self.client_id,
                dropped,
                "dropped idle organizations from memory"
            );
        }
        dropped
    }

    /// Renews for a caller, in a task of its own holding a renewal permit.
    pub async fn renew_for_caller(
        self: &Arc<Self>,
        org_id: &str,
    ) -> Result<Arc<StoredToken>, Error> {
        if org_id.trim().is_empty() {
            return Err(Error::InvalidRequest("the org_id is empty".to_owned()));
        }
        self.store.check_org_id(org_id)?;
        if let Some(refusal) = self.standing_refusal(org_id).await {
            return Err(refusal.to_error());
        }
        let shared = Arc::clone(self);
        let org_id = org_id.to_owned();
        uncancellable(async move {
            let entry = shared.entry(&org_id);
            let margin_ms = entry.manager.margin_ms();
            let _gate = Arc::clone(&entry.gate).lock_owned().await;
            if let Some(token) = entry.manager.fresh_for(margin_ms) {
                return Ok(token);
            }
            let _permit = shared.permit().await?;
            // Cobo rate-limits the app: a token still unexpired is handed out without renewing.
            if shared.rate_limit.is_paused(shared.now_ms())
                && let Some(token) = entry.manager.fresh_for(0)
            {
                return Ok(token);
            }
            shared.renew(&org_id, &entry, margin_ms).await
        })
        .await
    }

    /// Renews `entry`'s token to be valid for longer than `ahead_ms`, recording the outcome and
    /// scheduling the next background renewal.
    pub async fn renew(
        &self,
        org_id: &str,
        entry: &OrgEntry,
        ahead_ms: u64,
    ) -> Result<Arc<StoredToken>, Error> {
        let before = entry.manager.published().map(|t| t.version);
        let outcome = entry.manager.renewed(ahead_ms).await;
        self.settle(org_id, entry, before, outcome.as_ref().map(Arc::clone));
        outcome
    }

    /// Records the outcome of a renewal or grant (`before`: the version published before it).
    fn settle(
        &self,
        org_id: &str,
        entry: &OrgEntry,
        before: Option<u64>,
        outcome: Result<Arc<StoredToken>, &Error>,
    ) {
        let now = self.now_ms();
        match outcome {
            Ok(token) => {
                self.rate_limit.calm();
                self.ledger
                    .renewed(org_id, token.expires_at_ms, entry.manager.margin_ms());
                entry.update_record(|r| {
                    if Some(token.version) != before {
                        r.last_renewal_ms = Some(now);
                    }
                    r.last_error = None;
                });
                let mut schedule = self.schedule();
                schedule.succeeded(org_id);
                let (due, ahead) = due(&entry.manager, &token, now);
                schedule.set_ahead(org_id, due, ahead);
                drop(schedule);
                self.wake_refresher();
            }
            Err(error) => {
                entry.update_record(|r| r.last_error = Some(error.to_string()));
                if !error.is_rate_limited() && !error.is_uninstall() {
                    self.ledger.failed(org_id);
                }
                if error.is_rate_limited()
                    && let Some(pause) = self.rate_limit.raise(now, error.retry_after())
                {
                    crate::metrics::rate_limit_paused(pause);
                    tracing::warn!(
                        client_id = %self.client_id,
                        org_id = ?org_id,
                        pause_ms = millis(pause),
                        retry_after_ms = error.retry_after().map(millis),
                        "Cobo rate-limits the app (HTTP 429 or error 2026); pausing every renewal"
                    );
                }
                let published = entry.manager.published();
                if error.is_uninstall()
                    && let Some(refusal) =
                        Refusal::new(error, now, published.as_ref().map(|p| p.version))
                {
                    let had_pair = refusal.version.is_some();
                    let first = self
                        .uninstalled
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(org_id, refusal);
                    self.ledger.uninstalled(org_id);
                    let mut schedule = self.schedule();
                    if had_pair {
                        // Asked about again when the refusal expires, in case the install
                        // callback of its reinstall was lost.
                        schedule.set(org_id, now.saturating_add(self.uninstall_recheck_ms));
                    } else {
                        // Never had a pair here (a forged or stale callback, an unknown id):
                        // nothing to renew in the background.
                        schedule.remove(org_id);
                    }
                    drop(schedule);
                    // Its access token died with the installation: never hand it out again.
                    if let Some(published) = published {
                        entry.manager.invalidate(&published.access_token);
                    }
                    if first {
                        crate::metrics::uninstall_marked();
                        tracing::error!(
                            client_id = %self.client_id,
                            org_id = ?org_id,
                            error = %error,
                            "Cobo refused a new grant: the organization uninstalled the app (or revoked it); nothing more is sent for it until it installs the app again (or the refusal is checked again)"
                        );
                    } else {
                        tracing::info!(
                            client_id = %self.client_id,
                            org_id = ?org_id,
                            "Cobo still refuses a new grant for an organization that uninstalled the app"
                        );
                    }
                }
            }
        }
    }

    /// The margin plus a random jitter of up to half of it.
    pub fn ahead_ms(&self) -> u64 {
        let margin_ms = self.settings.margin_ms();
        margin_ms.saturating_add(rand::thread_rng().gen_range(0..=margin_ms / 2))
    }

    /// Admits an install callback for `org_id` ([`InstallQueue::admit`]): its answer, once the
    /// grant that answers it has run; [`InstallError::Busy`] at once when the budget of install
    /// grants is spent. A new grant runs in a task of its own, so it completes whether or not
    /// the callback still waits.
    pub fn install(
        self: &Arc<Self>,
        org_id: &str,
    ) -> Result<tokio::sync::oneshot::Receiver<Outcome>, InstallError> {
        let admitted = self.installs.admit(org_id)?;
        if admitted.new_grant {
            let shared = Arc::clone(self);
            let org_id = org_id.to_owned();
            tokio::spawn(async move { shared.run_install(&org_id).await });
        }
        Ok(admitted.answer)
    }

    /// Runs an admitted install grant: after the organization's grant that runs (if any), with
    /// an install permit, once no rate limit pauses renewals; then answers its callbacks.
    async fn run_install(&self, org_id: &str) {
        let turn = self.installs.turn(org_id).await;
        self.rate_limit.wait(|| self.now_ms()).await;
        // From here, a new callback for the organization makes a new grant after this one.
        let answers = self.installs.start(org_id);
        let outcome = match turn {
            Ok(_turn) => self.grant_for_install(org_id).await,
            Err(error) => Err(error),
        };
        self.installs
            .finish(org_id, answers, outcome.map_err(Arc::new));
    }

    /// Replaces `org_id`'s pair with a new grant (Cobo's install callback); forgets that the
    /// organization uninstalled the app once Cobo issued a pair. An entry made here for an
    /// organization that was not in memory is dropped again when the grant fails and left no
    /// pair (a forged or stale callback, or Cobo unreachable): install callbacks, which anyone
    /// can send, never leave entries behind. The callback's caller gets the error.
    async fn grant_for_install(&self, org_id: &str) -> Result<(), Error> {
        let existed = self.orgs().contains_key(org_id);
        let entry = self.entry(org_id);
        let outcome = {
            let _gate = Arc::clone(&entry.gate).lock_owned().await;
            let before = entry.manager.published().map(|t| t.version);
            let outcome = entry.manager.regranted().await;
            // Cobo issued a pair and it was saved (an answer with an unusable access token still
            // has its refresh token saved): the organization has the app again.
            let saved = outcome.is_ok() || entry.manager.published().map(|t| t.version) > before;
            if saved && !matches!(&outcome, Err(error) if error.is_uninstall()) {
                self.forget_uninstall(org_id);
            }
            self.settle(org_id, &entry, before, outcome.as_ref().map(Arc::clone));
            outcome.map(|_| ())
        };
        // Failed without a pair for an organization not served before: nothing of it stays.
        if outcome.is_err() && !existed && entry.manager.published().is_none() {
            self.forget_entry(org_id, &entry);
        }
        outcome
    }

    /// Drops `entry` from memory, if it is still `org_id`'s.
    fn forget_entry(&self, org_id: &str, entry: &Arc<OrgEntry>) {
        let mut orgs = self
            .orgs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if orgs
            .get(org_id)
            .is_some_and(|kept| Arc::ptr_eq(kept, entry))
        {
            orgs.remove(org_id);
        }
    }

    /// Every install permit: no install grant runs while they are held.
    pub async fn all_install_permits(&self) -> Option<OwnedSemaphorePermit> {
        self.installs.all_permits().await
    }
}

/// When `token` of `manager` is due for a background renewal: the margin plus a random jitter
/// of up to half of it (`ahead`, returned too; see [`TokenManager::ahead_ms`]) before expiry,
/// and never sooner than a second from now. A renewal at that time for a token valid for longer
/// than `ahead` always renews.
fn due(manager: &TokenManager, token: &StoredToken, now: u64) -> (u64, u64) {
    let ahead = manager.ahead_ms();
    let due = token
        .expires_at_ms
        .saturating_sub(ahead)
        .max(now.saturating_add(1_000).min(token.expires_at_ms));
    (due, ahead)
}
