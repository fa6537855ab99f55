//! [`OrgTokensBuilder`]: the settings of [`OrgTokens`].

use std::sync::Arc;
use std::time::Duration;

use super::shared::{Limits, Shared};
use super::store::{MemoryOrgStore, OrgStore};
use super::tokens::OrgTokens;
use crate::client::CoboClient;
use crate::signing::Clock;
use crate::tokens::settings::RenewalSettings;

/// How many renewals run at once by default ([`OrgTokensBuilder::max_concurrent_renewals`]).
pub const DEFAULT_MAX_CONCURRENT_RENEWALS: u32 = 4;
/// The most [`OrgTokensBuilder::max_concurrent_renewals`] accepts.
pub const MAX_CONCURRENT_RENEWALS: u32 = 65_536;
/// How many install grants ([`OrgTokens::on_install`]) are sent at once by default
/// ([`OrgTokensBuilder::max_concurrent_installs`]).
pub const DEFAULT_MAX_CONCURRENT_INSTALLS: u32 = 2;
/// How many install grants wait for their turn by default
/// ([`OrgTokensBuilder::max_queued_installs`]).
pub const DEFAULT_MAX_QUEUED_INSTALLS: u32 = 32;
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
    settings: RenewalSettings,
    max_renewals: u32,
    max_installs: u32,
    max_queued_installs: u32,
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
    /// Tokens that Cobo issues to live no longer than this count as stale half-way through
    /// their life instead (logged once per organization at `warn`): served from cache until
    /// then, renewed once.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.settings.refresh_margin = margin;
        self
    }

    /// The clock expiry is computed with (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.settings.clock = clock;
        self
    }

    /// With a store shared by processes: the refresh lease's time to live (see
    /// [`TokenManagerBuilder::lease_ttl`](crate::tokens::TokenManagerBuilder::lease_ttl)).
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.settings.lease_ttl = ttl;
        self
    }

    /// With a store shared by processes: how long a call waits for another process's refresh
    /// (see [`TokenManagerBuilder::lease_wait`](crate::tokens::TokenManagerBuilder::lease_wait)).
    pub fn lease_wait(mut self, wait: Duration) -> Self {
        self.settings.lease_wait = Some(wait);
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

    /// How many install grants ([`OrgTokens::on_install`]) are sent at once (default
    /// [`DEFAULT_MAX_CONCURRENT_INSTALLS`]; at least 1), with a budget of their own: installs
    /// never take the permits of renewals, so a flood of install callbacks (anyone can send
    /// them) never delays the renewals of organizations that have a pair.
    pub fn max_concurrent_installs(mut self, installs: usize) -> Self {
        self.max_installs = u32::try_from(installs)
            .unwrap_or(MAX_CONCURRENT_RENEWALS)
            .clamp(1, MAX_CONCURRENT_RENEWALS);
        self
    }

    /// How many install grants wait for their turn beyond those sent
    /// ([`max_concurrent_installs`](Self::max_concurrent_installs)) (default
    /// [`DEFAULT_MAX_QUEUED_INSTALLS`]). A callback beyond them is answered at once with
    /// [`InstallError::Busy`](super::InstallError::Busy), and nothing is spawned or sent for
    /// it.
    pub fn max_queued_installs(mut self, queued: usize) -> Self {
        self.max_queued_installs = u32::try_from(queued).unwrap_or(MAX_CONCURRENT_RENEWALS);
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
        OrgTokens::new(Shared::new(
            self.client,
            self.client_id,
            self.store,
            self.settings,
            Limits {
                max_renewals: self.max_renewals,
                max_installs: self.max_installs,
                max_queued_installs: self.max_queued_installs,
                idle_after: self.idle_after,
                rescan_every: self.rescan_every,
                uninstall_recheck_after: self.uninstall_recheck_after,
            },
        ))
    }
}

impl OrgTokensBuilder {
    /// The defaults, for the app `client_id`, requested with `client`.
    pub(super) fn new(client: CoboClient, client_id: String) -> Self {
        Self {
            client,
            client_id,
            store: Arc::new(MemoryOrgStore::default()),
            settings: RenewalSettings::default(),
            max_renewals: DEFAULT_MAX_CONCURRENT_RENEWALS,
            max_installs: DEFAULT_MAX_CONCURRENT_INSTALLS,
            max_queued_installs: DEFAULT_MAX_QUEUED_INSTALLS,
            idle_after: DEFAULT_IDLE_AFTER,
            rescan_every: DEFAULT_RESCAN_EVERY,
            uninstall_recheck_after: DEFAULT_UNINSTALL_RECHECK_AFTER,
        }
    }
}
