//! [`OrgTokensBuilder`]: the settings of [`OrgTokens`].

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::refusals::{MAX_REFUSALS, Refusals};
use super::schedule::Schedule;
use super::shared::Shared;
use super::store::{MemoryOrgStore, OrgStore};
use super::tokens::OrgTokens;
use crate::client::CoboClient;
use crate::signing::{Clock, SystemClock};
use crate::tokens::manager::{DEFAULT_LEASE_TTL, millis};

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
/// How long a refused grant (the organization uninstalled the app) stands by default before the
/// organization is asked about again ([`OrgTokensBuilder::uninstall_recheck_after`]).
pub const DEFAULT_UNINSTALL_RECHECK_AFTER: Duration = Duration::from_secs(10 * 60);

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
    uninstall_recheck_after: Duration,
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

    /// How long an organization whose grant Cobo refused (it uninstalled the app) is left alone
    /// before one new grant is asked for again (default [`DEFAULT_UNINSTALL_RECHECK_AFTER`]): in
    /// case it installed the app again and the install callback was lost. Until then its calls
    /// fail at once, unless [`on_install`](OrgTokens::on_install) runs for it or the store
    /// (shared with another process) holds a newer pair for it.
    pub fn uninstall_recheck_after(mut self, after: Duration) -> Self {
        self.uninstall_recheck_after = after;
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
                uninstalled: RwLock::new(Refusals::new(
                    millis(self.uninstall_recheck_after),
                    MAX_REFUSALS,
                )),
                uninstall_recheck_ms: millis(self.uninstall_recheck_after),
                schedule: Mutex::new(Schedule::default()),
                wake: tokio::sync::Notify::new(),
            }),
        }
    }
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
            uninstall_recheck_after: DEFAULT_UNINSTALL_RECHECK_AFTER,
        }
    }
}
