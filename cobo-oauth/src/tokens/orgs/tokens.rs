//! [`OrgTokens`]: a valid Org Access Token for any organization that installed the app.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rand::Rng as _;
use secrecy::SecretString;
use tokio::sync::Semaphore;

use super::schedule::Schedule;
use super::status::{OrgStatus, Recorded};
use super::store::{MemoryOrgStore, OrgStore};
use crate::client::CoboClient;
use crate::error::Error;
use crate::signing::{Clock, SystemClock};
use crate::tokens::manager::{DEFAULT_LEASE_TTL, TokenManager, millis};
use crate::tokens::store::StoredToken;

/// How many renewals run at once by default ([`OrgTokensBuilder::max_concurrent_renewals`]).
pub const DEFAULT_MAX_CONCURRENT_RENEWALS: u32 = 4;
/// The most [`OrgTokensBuilder::max_concurrent_renewals`] accepts.
pub const MAX_CONCURRENT_RENEWALS: u32 = 65_536;
/// How long an organization's manager stays in memory unused by default
/// ([`OrgTokensBuilder::idle_after`]).
pub const DEFAULT_IDLE_AFTER: Duration = Duration::from_secs(15 * 60);
/// How often a background refresher lists the store by default, to find organizations that
/// another process installed ([`OrgTokensBuilder::rescan_every`]).
pub const DEFAULT_RESCAN_EVERY: Duration = Duration::from_secs(5 * 60);

/// Builds [`OrgTokens`].
#[derive(Debug)]
pub struct OrgTokensBuilder {
    client: CoboClient,
    client_id: String,
    store: Arc<dyn OrgStore>,
    margin: Duration,
    clock: Arc<dyn Clock>,
    lease_ttl: Duration,
    lease_wait: Option<Duration>,
    max_renewals: u32,
    idle_after: Duration,
    rescan_every: Duration,
}

impl OrgTokensBuilder {
    /// Where the pairs are kept (default: [`MemoryOrgStore`]).
    pub fn store(mut self, store: Arc<dyn OrgStore>) -> Self {
        self.store = store;
        self
    }

    /// How long before expiry a token counts as stale (default 5 minutes); the background
    /// refresher renews this long plus a random jitter of up to half of it before expiry.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The clock expiry is computed with (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// With a store shared by processes: the refresh lease's time to live (see
    /// [`TokenManagerBuilder::lease_ttl`](crate::tokens::TokenManagerBuilder::lease_ttl)).
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// With a store shared by processes: how long a call waits for another process's refresh
    /// (see [`TokenManagerBuilder::lease_wait`](crate::tokens::TokenManagerBuilder::lease_wait)).
    pub fn lease_wait(mut self, wait: Duration) -> Self {
        self.lease_wait = Some(wait);
        self
    }

    /// How many renewals (refreshes, grants, loads of a stale pair) run at once, across all
    /// organizations, in the background and for callers alike (default
    /// [`DEFAULT_MAX_CONCURRENT_RENEWALS`]; from 1 to [`MAX_CONCURRENT_RENEWALS`]): a thousand
    /// tokens expiring together are renewed this many at a time, never all at once.
    pub fn max_concurrent_renewals(mut self, renewals: usize) -> Self {
        self.max_renewals = u32::try_from(renewals)
            .unwrap_or(MAX_CONCURRENT_RENEWALS)
            .clamp(1, MAX_CONCURRENT_RENEWALS);
        self
    }

    /// How long an organization's manager stays in memory after its last use (default
    /// [`DEFAULT_IDLE_AFTER`]). An idle organization's pair stays in the store; its manager is
    /// made again at its next use. A manager is never dropped while it renews, holds an unsaved
    /// pair or remembers a refresh token whose outcome is unknown.
    pub fn idle_after(mut self, idle: Duration) -> Self {
        self.idle_after = idle;
        self
    }

    /// How often a background refresher lists the store to find organizations installed by
    /// another process (default [`DEFAULT_RESCAN_EVERY`]).
    pub fn rescan_every(mut self, every: Duration) -> Self {
        self.rescan_every = every;
        self
    }

    /// The tokens.
    pub fn build(self) -> OrgTokens {
        OrgTokens {
            inner: Arc::new(Shared {
                lease_wait: self
                    .lease_wait
                    .unwrap_or(self.lease_ttl + Duration::from_secs(15)),
                client: self.client,
                client_id: self.client_id,
                store: self.store,
                margin_ms: millis(self.margin),
                clock: self.clock,
                lease_ttl: self.lease_ttl,
                renewals: Arc::new(Semaphore::new(self.max_renewals as usize)),
                max_renewals: self.max_renewals,
                idle_after_ms: millis(self.idle_after),
                rescan_every: self.rescan_every,
                orgs: RwLock::new(HashMap::new()),
                last_sweep_ms: AtomicU64::new(0),
                uninstalled: RwLock::new(HashMap::new()),
                schedule: Mutex::new(Schedule::default()),
                wake: tokio::sync::Notify::new(),
            }),
        }
    }
}

/// A valid Org Access Token for any organization that installed the app (`client_id`): one
/// value per app, however many organizations.
///
/// - [`access_token(org_id)`](Self::access_token): cached while fresh, otherwise renewed by that
///   organization's [`TokenManager`] (made at first use, shared by every caller, dropped from
///   memory when idle: the pair stays in the store). Everything a manager guarantees holds per
///   organization: single-flight, cancel-safe renewals, no refresh token ever presented twice,
///   the fleet-wide lease of a shared store.
/// - [`CoboClient::for_org`]: a client that sends an organization's Bearer token.
/// - [`on_install`](Self::on_install): Cobo's install callback.
/// - [`spawn_refresher`](Self::spawn_refresher): renews every organization ahead of expiry, a
///   bounded number at a time.
/// - [`status`](Self::status): expiry, last renewal and last error per organization.
///
/// An organization whose new grant Cobo refuses ([`Error::ReauthorizationRequired`]: it
/// uninstalled the app) is reported once (`error`, with its `org_id`) and then left alone: its
/// calls fail at once with that error, nothing is sent, until `on_install` is called for it.
///
/// Cheap to clone; clones share everything. `Debug` shows the app, the store and how many
/// organizations are in memory, never a token.
#[derive(Clone)]
pub struct OrgTokens {
    pub(super) inner: Arc<Shared>,
}

impl std::fmt::Debug for OrgTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgTokens")
            .field("client_id", &self.inner.client_id)
            .field("store", &self.inner.store)
            .field("cached_orgs", &self.cached_orgs())
            .field("max_concurrent_renewals", &self.inner.max_renewals)
            .finish_non_exhaustive()
    }
}

/// What clones of [`OrgTokens`] share.
#[derive(Debug)]
pub(super) struct Shared {
    pub client: CoboClient,
    pub client_id: String,
    pub store: Arc<dyn OrgStore>,
    pub margin_ms: u64,
    pub clock: Arc<dyn Clock>,
    lease_ttl: Duration,
    lease_wait: Duration,
    /// One permit per renewal running.
    pub renewals: Arc<Semaphore>,
    pub max_renewals: u32,
    idle_after_ms: u64,
    pub rescan_every: Duration,
    /// The organizations in memory.
    orgs: RwLock<HashMap<String, Arc<OrgEntry>>>,
    /// When idle organizations were last dropped from memory.
    last_sweep_ms: AtomicU64,
    /// Organizations whose grant Cobo refused, with that refusal.
    uninstalled: RwLock<HashMap<String, Refusal>>,
    /// When each organization is due for a background renewal.
    pub schedule: Mutex<Schedule>,
    /// Wakes the background refresher when the schedule changes.
    pub wake: tokio::sync::Notify,
}

/// Cobo's refusal of a grant, kept to answer without asking again.
#[derive(Debug, Clone)]
struct Refusal {
    status: u16,
    error: String,
    description: String,
}

impl Refusal {
    fn to_error(&self) -> Error {
        Error::ReauthorizationRequired {
            status: self.status,
            error: self.error.clone(),
            description: self.description.clone(),
        }
    }
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
    pub record: Recorded,
}

impl OrgTokens {
    /// Tokens for the app `client_id`, requested with `client`.
    pub fn builder(client: CoboClient, client_id: impl Into<String>) -> OrgTokensBuilder {
        OrgTokensBuilder {
            client,
            client_id: client_id.into(),
            store: Arc::new(MemoryOrgStore::default()),
            margin: Duration::from_secs(300),
            clock: Arc::new(SystemClock),
            lease_ttl: DEFAULT_LEASE_TTL,
            lease_wait: None,
            max_renewals: DEFAULT_MAX_CONCURRENT_RENEWALS,
            idle_after: DEFAULT_IDLE_AFTER,
            rescan_every: DEFAULT_RESCAN_EVERY,
        }
    }

    /// The app.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The store of every organization's pair.
    pub fn store(&self) -> &Arc<dyn OrgStore> {
        &self.inner.store
    }

    /// The most renewals that run at once.
    pub fn max_concurrent_renewals(&self) -> u32 {
        self.inner.max_renewals
    }

    /// A valid access token of `org_id`: from memory while fresh, otherwise renewed (at most
    /// [`max_concurrent_renewals`](OrgTokensBuilder::max_concurrent_renewals) renewals run at
    /// once). May be dropped at any `.await`: a renewal, once started, finishes in a task of
    /// its own. An organization that uninstalled the app gets
    /// [`Error::ReauthorizationRequired`] at once.
    pub async fn access_token(&self, org_id: &str) -> Result<SecretString, Error> {
        if let Some(token) = self.inner.cached(org_id) {
            return Ok(token);
        }
        // Boxed: the cached path above stays a small future.
        let renewed = Box::pin(self.inner.renew_for_caller(org_id)).await?;
        Ok(renewed.access_token.clone())
    }

    /// Cobo refused `rejected` as `org_id`'s access token (error 1000): the next call renews it
    /// (see [`TokenManager::invalidate`]). Returns whether the published token was marked.
    pub fn invalidate(&self, org_id: &str, rejected: &SecretString) -> bool {
        self.inner
            .orgs()
            .get(org_id)
            .is_some_and(|entry| entry.manager.invalidate(rejected))
    }

    /// What this process knows of `org_id`'s token; an organization not in memory is read from
    /// the store.
    pub async fn status(&self, org_id: &str) -> Result<OrgStatus, Error> {
        let uninstalled = self.inner.refusal(org_id).is_some();
        let entry = self.inner.orgs().get(org_id).cloned();
        let (pair, last_renewal_ms, last_error) = match entry {
            Some(entry) => {
                let (renewed, error) = entry
                    .record
                    .update(|r| (r.last_renewal_ms, r.last_error.clone()));
                (entry.manager.published(), renewed, error)
            }
            None => (
                self.inner.store.org(org_id).load().await?.map(Arc::new),
                None,
                None,
            ),
        };
        Ok(OrgStatus {
            org_id: org_id.to_owned(),
            expires_at_ms: pair.as_ref().map(|p| p.expires_at_ms),
            version: pair.as_ref().map(|p| p.version),
            last_renewal_ms,
            last_error,
            uninstalled,
        })
    }

    /// The status of every organization the store holds a pair for.
    pub async fn statuses(&self) -> Result<Vec<OrgStatus>, Error> {
        let mut orgs = self.inner.store.list().await?;
        orgs.sort();
        let mut statuses = Vec::with_capacity(orgs.len());
        for org in orgs {
            statuses.push(self.status(&org).await?);
        }
        Ok(statuses)
    }

    /// How many organizations have a manager in memory.
    pub fn cached_orgs(&self) -> usize {
        self.inner.orgs().len()
    }

    /// Drops from memory the managers of organizations unused for longer than
    /// [`idle_after`](OrgTokensBuilder::idle_after) that are settled (not renewing, nothing
    /// unsaved, no refresh token of unknown outcome). Their pairs stay in the store. Also runs
    /// by itself as organizations are added. Returns how many were dropped.
    pub fn drop_idle(&self) -> usize {
        self.inner.sweep(self.inner.clock.now_millis())
    }
}

impl Shared {
    pub(super) fn orgs(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<OrgEntry>>> {
        self.orgs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The fresh access token of an organization in memory, marking it used.
    fn cached(&self, org_id: &str) -> Option<SecretString> {
        let orgs = self.orgs();
        let entry = orgs.get(org_id)?;
        let now = self.clock.now_millis();
        entry.last_used_ms.store(now, Ordering::Relaxed);
        let token = entry.manager.published()?;
        (now.saturating_add(self.margin_ms) < token.expires_at_ms)
            .then(|| token.access_token.clone())
    }

    /// The refusal of an organization that uninstalled the app.
    fn refusal(&self, org_id: &str) -> Option<Refusal> {
        self.uninstalled
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(org_id)
            .cloned()
    }

    /// Whether Cobo refused `org_id`'s grant.
    pub(super) fn is_uninstalled(&self, org_id: &str) -> bool {
        self.refusal(org_id).is_some()
    }

    /// Forgets that `org_id` uninstalled the app.
    pub(super) fn forget_uninstall(&self, org_id: &str) {
        self.uninstalled
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(org_id);
    }

    /// The organization's entry, made (with its manager) if it is not in memory.
    pub(super) fn entry(&self, org_id: &str) -> Arc<OrgEntry> {
        let now = self.clock.now_millis();
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
                    record: Recorded::default(),
                })
            }))
        };
        let last_sweep = self.last_sweep_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last_sweep) > self.idle_after_ms / 2 {
            self.sweep(now);
        }
        entry
    }

    fn manager(&self, org_id: &str) -> TokenManager {
        TokenManager::builder(self.client.clone(), self.client_id.clone(), org_id)
            .store(self.store.org(org_id))
            .refresh_margin(Duration::from_millis(self.margin_ms))
            .clock(Arc::clone(&self.clock))
            .lease_ttl(self.lease_ttl)
            .lease_wait(self.lease_wait)
            .build()
    }

    /// Drops idle, settled organizations from memory.
    fn sweep(&self, now: u64) -> usize {
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
    async fn renew_for_caller(self: &Arc<Self>, org_id: &str) -> Result<Arc<StoredToken>, Error> {
        if org_id.trim().is_empty() {
            return Err(Error::InvalidRequest("the org_id is empty".to_owned()));
        }
        if let Some(refusal) = self.refusal(org_id) {
            return Err(refusal.to_error());
        }
        let shared = Arc::clone(self);
        let org_id = org_id.to_owned();
        let work = tokio::spawn(async move {
            let entry = shared.entry(&org_id);
            let _gate = Arc::clone(&entry.gate).lock_owned().await;
            if let Some(token) = entry.manager.fresh_for(shared.margin_ms) {
                return Ok(token);
            }
            let _permit = Arc::clone(&shared.renewals)
                .acquire_owned()
                .await
                .map_err(|_| Error::RenewalInterrupted)?;
            shared.renew(&org_id, &entry, shared.margin_ms).await
        });
        match work.await {
            Ok(outcome) => outcome,
            Err(stopped) if stopped.is_panic() => std::panic::resume_unwind(stopped.into_panic()),
            Err(_) => Err(Error::RenewalInterrupted),
        }
    }

    /// Renews `entry`'s token to be valid for longer than `ahead_ms`, recording the outcome and
    /// scheduling the next background renewal.
    pub(super) async fn renew(
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
    pub(super) fn settle(
        &self,
        org_id: &str,
        entry: &OrgEntry,
        before: Option<u64>,
        outcome: Result<Arc<StoredToken>, &Error>,
    ) {
        let now = self.clock.now_millis();
        match outcome {
            Ok(token) => {
                entry.record.update(|r| {
                    if Some(token.version) != before {
                        r.last_renewal_ms = Some(now);
                    }
                    r.last_error = None;
                });
                let mut schedule = self
                    .schedule
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                schedule.succeeded(org_id);
                schedule.set(org_id, self.due(&token, now));
                drop(schedule);
                self.wake.notify_one();
            }
            Err(error) => {
                entry
                    .record
                    .update(|r| r.last_error = Some(error.to_string()));
                if let Error::ReauthorizationRequired {
                    status,
                    error: name,
                    description,
                } = error
                {
                    let first = self
                        .uninstalled
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(
                            org_id.to_owned(),
                            Refusal {
                                status: *status,
                                error: name.clone(),
                                description: description.clone(),
                            },
                        )
                        .is_none();
                    self.schedule
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .remove(org_id);
                    // Its access token died with the installation: never hand it out again.
                    if let Some(published) = entry.manager.published() {
                        entry.manager.invalidate(&published.access_token);
                    }
                    if first {
                        tracing::error!(
                            client_id = %self.client_id,
                            org_id,
                            error = %error,
                            "Cobo refused a new grant: the organization uninstalled the app (or revoked it); nothing more is sent for it until it installs the app again"
                        );
                    }
                }
            }
        }
    }

    /// When `token` is due for a background renewal: the margin plus a random jitter of up to
    /// half of it before expiry, and never sooner than a second from now.
    pub(super) fn due(&self, token: &StoredToken, now: u64) -> u64 {
        let ahead = self.ahead_ms();
        token
            .expires_at_ms
            .saturating_sub(ahead)
            .max(now.saturating_add(1_000).min(token.expires_at_ms))
    }

    /// The margin plus a random jitter of up to half of it.
    pub(super) fn ahead_ms(&self) -> u64 {
        self.margin_ms
            .saturating_add(rand::thread_rng().gen_range(0..=self.margin_ms / 2))
    }
}
