//! [`TokenManager`]: a valid Org Access Token, whenever asked.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::Instrument as _;

use super::lifetime::Lifetime;
use super::refresher::Refresher;
use super::renewal::{Renewal, State};
use super::settings::RenewalSettings;
use super::store::{MemoryStore, StoredToken, TokenOwner, TokenStore};
use super::uncancellable::uncancellable;
use crate::bearer::{BearerFuture, BearerSource, TOKEN_EXPIRED_CODE};
use crate::client::CoboClient;
use crate::error::Error;
use crate::signing::Clock;

/// Builds a [`TokenManager`].
#[derive(Debug)]
pub struct TokenManagerBuilder {
    client: CoboClient,
    owner: TokenOwner,
    store: Arc<dyn TokenStore>,
    settings: RenewalSettings,
}

impl TokenManagerBuilder {
    /// Where the newest pair is kept (default: [`MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = store;
        self
    }

    /// How long before expiry a token counts as stale (default 5 minutes). Tokens that Cobo
    /// issues to live no longer than this count as stale half-way through their life instead
    /// (logged once at `warn`): served from cache until then, renewed once.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.settings.refresh_margin = margin;
        self
    }

    /// The clock expiry is computed with (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.settings.clock = clock;
        self
    }

    /// With a store that has a refresh lease (such as `RedisStore`): how long the lease lasts
    /// without being extended (default [`DEFAULT_LEASE_TTL`](super::DEFAULT_LEASE_TTL)). The
    /// holder extends it every third of this while it refreshes or retries saving, so it runs
    /// out only when the holder stopped (or lost Redis for that long): that is how long the
    /// fleet waits for a dead holder.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.settings.lease_ttl = ttl;
        self
    }

    /// With a store that has a refresh lease: how long a call waits for another process's
    /// refresh before [`Error::RefreshBusy`] (default: the lease's time to live plus 15 s, so a
    /// dead holder's lease runs out within the wait).
    pub fn lease_wait(mut self, wait: Duration) -> Self {
        self.settings.lease_wait = Some(wait);
        self
    }

    /// All the renewal settings at once (what [`OrgTokens`](super::OrgTokens) builds its
    /// managers with).
    pub(super) fn settings(mut self, settings: RenewalSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The manager.
    pub fn build(self) -> TokenManager {
        TokenManager {
            inner: Arc::new(Inner {
                client: self.client,
                owner: self.owner,
                store: self.store,
                settings: self.settings,
                published: RwLock::new(None),
                lifetime: Lifetime::default(),
                state: Arc::new(Mutex::new(State::default())),
            }),
        }
    }
}

/// Hands out a valid Org Access Token for one `(client_id, org_id)`.
///
/// - From cache while the token is fresh (its expiry minus the margin is ahead).
/// - Otherwise one task refreshes (single-flight: concurrent callers wait for its result) with
///   the stored refresh token, or gets a first token with `GET /oauth/token`.
/// - The new pair reaches the store before the new access token is handed out. If saving fails,
///   the pair stays in memory, saving is retried on the next call, and the old refresh token is
///   never used again.
/// - A refresh whose outcome is unknown (sent, and no usable answer: the connection broke, a
///   gateway answered, the answer was not Cobo's) is [`Error::RefreshOutcomeUnknown`], and that
///   refresh token is never sent again: the next renewal asks for a new `org_implicit` grant. No
///   refresh token is ever presented twice, by this process or (with a shared store) the fleet.
/// - A refresh token Cobo rejects (`invalid_grant`) falls back once to a new `org_implicit` grant;
///   if that is refused too, [`Error::ReauthorizationRequired`].
/// - A signed answer that carries a new refresh token but no usable access token (no
///   `expires_in`, say) still has its refresh token saved; the call reports
///   [`Error::InvalidBody`] and the next call refreshes with the saved refresh token.
///
/// # Cancellation
///
/// Every method may be dropped at any `.await` (a timeout, `tokio::select!`, a web handler whose
/// client left) without losing a token pair. Waiting for another caller's renewal starts nothing;
/// a renewal itself (the request to Cobo, reading and verifying its answer, saving the new pair
/// and publishing it, and with a shared store taking, extending and giving back the refresh
/// lease) runs in a task of its own that no caller can cancel. A caller that gives up loses
/// nothing: the renewal finishes, and the next caller gets the new token without a new request.
/// Only the shutdown of the tokio runtime stops that task ([`Error::RenewalInterrupted`]).
///
/// # Owners
///
/// A manager uses only pairs recorded for its own `(client_id, org_id)`: a store that holds
/// another app's or organization's pair, or was built for one (a `RedisStore`), is refused with
/// [`StoreError::WrongOwner`](super::StoreError::WrongOwner), never handed out. Pairs written
/// before owners were recorded are used and written with the owner at their next save.
///
/// Cheap to clone; clones share the token.
#[derive(Debug, Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

/// What clones of a [`TokenManager`] share.
#[derive(Debug)]
struct Inner {
    client: CoboClient,
    owner: TokenOwner,
    store: Arc<dyn TokenStore>,
    settings: RenewalSettings,
    /// The token handed out: saved, and read without waiting.
    published: RwLock<Option<Arc<StoredToken>>>,
    /// How long the tokens Cobo issues live: the margin is shorter for short-lived ones.
    lifetime: Lifetime,
    /// The single-flight lock: held by the one [`Renewal`] running, in a task of its own, so no
    /// caller can cancel it.
    state: Arc<Mutex<State>>,
}

impl TokenManager {
    /// A builder for `(client_id, org_id)`, using `client` for the token requests.
    pub fn builder(
        client: CoboClient,
        client_id: impl Into<String>,
        org_id: impl Into<String>,
    ) -> TokenManagerBuilder {
        TokenManagerBuilder {
            client,
            owner: TokenOwner::new(client_id, org_id),
            store: Arc::new(MemoryStore::default()),
            settings: RenewalSettings::default(),
        }
    }

    /// Whose tokens this manager hands out.
    pub fn owner(&self) -> &TokenOwner {
        &self.inner.owner
    }

    /// The client the token requests are sent with.
    pub(super) fn client(&self) -> &CoboClient {
        &self.inner.client
    }

    /// Where the newest pair is kept.
    pub(super) fn store(&self) -> &Arc<dyn TokenStore> {
        &self.inner.store
    }

    /// The renewal settings.
    pub(super) fn settings(&self) -> &RenewalSettings {
        &self.inner.settings
    }

    /// A valid access token: cached while fresh, otherwise renewed (see the cancellation
    /// guarantee on [`TokenManager`]).
    pub async fn access_token(&self) -> Result<SecretString, Error> {
        let margin_ms = self.margin_ms();
        if let Some(token) = self.fresh_for(margin_ms) {
            return Ok(token.access_token.clone());
        }
        // Boxed: the cached path above stays a small future.
        let renewed = Box::pin(self.renewed(margin_ms)).await?;
        Ok(renewed.access_token.clone())
    }

    /// Asks Cobo for a new `org_implicit` grant and replaces the stored pair with it, whatever
    /// the current pair is (when the organization installed the app again, or changed the app's
    /// permissions or wallet scopes: Cobo's install callback with `approval_result` 1 or 2).
    ///
    /// The old refresh token is never presented again: the new pair gets a version above every
    /// pair this process or (with a shared store) the fleet has, and it is saved before it is
    /// handed out. Runs like a renewal: under this manager's single-flight lock and, with a store
    /// that has a lease, the fleet's refresh lease, in a task of its own that no caller can
    /// cancel. A refused grant (a 4XX) is [`Error::ReauthorizationRequired`].
    pub async fn replace_with_grant(&self) -> Result<SecretString, Error> {
        Ok(self.regranted().await?.access_token.clone())
    }

    /// Cobo refused `rejected` (error 1000): if it is still the published access token, it is
    /// marked expired, so the next [`Self::access_token`] renews it. If a newer token is already
    /// published (another request saw the same error and renewed), nothing changes: one
    /// rejected token causes one renewal however many requests it failed. Returns whether the
    /// published token was marked.
    pub fn invalidate(&self, rejected: &SecretString) -> bool {
        let mut published = self
            .inner
            .published
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match published.as_ref() {
            Some(token)
                if token.expires_at_ms > 0
                    && token.access_token.expose_secret() == rejected.expose_secret() =>
            {
                let mut expired = StoredToken::clone(token);
                expired.expires_at_ms = 0;
                *published = Some(Arc::new(expired));
                true
            }
            _ => false,
        }
    }

    /// Runs `call` with a valid access token. When Cobo answers HTTP 500 with `error_code` 1000
    /// (the token expired), invalidates that token, and runs `call` once more with a valid one.
    pub async fn with_token<T, F, Fut>(&self, call: F) -> Result<T, Error>
    where
        F: Fn(SecretString) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let token = self.access_token().await?;
        match call(token.clone()).await {
            Err(Error::Api {
                code: TOKEN_EXPIRED_CODE,
                ..
            }) => {
                tracing::info!(
                    "access token expired early (error 1000); renewing it and retrying once"
                );
                self.invalidate(&token);
                call(self.access_token().await?).await
            }
            outcome => outcome,
        }
    }

    /// Starts renewing the token in the background, `refresh_margin` plus a random jitter of up
    /// to half the margin before it expires, so that callers find a fresh token and never wait
    /// on Cobo, and several processes sharing a token do not all wake at once. A failed renewal
    /// is logged at `warn` and tried again with exponential backoff (1 s to 5 min); a permanent
    /// error stops the refresher (logged at `error`). Without a token yet, it gets one at once.
    ///
    /// Needs a tokio runtime. Stop it by dropping the handle.
    pub fn spawn_refresher(&self) -> Refresher {
        Refresher::spawn(self.clone())
    }

    /// A token valid for longer than `margin_ms` (at most what a token of the lifetime seen can
    /// be, see [`Lifetime::clamp`]), renewed if needed by a [`Renewal`] in a task of
    /// its own, which finishes whether or not this caller still waits.
    pub(super) async fn renewed(&self, margin_ms: u64) -> Result<Arc<StoredToken>, Error> {
        let margin_ms = self
            .inner
            .lifetime
            .clamp(margin_ms, self.inner.settings.margin_ms());
        // The wait for another process's refresh counts from here, queueing included.
        let started = Instant::now();
        // Waiting for the lock starts nothing: a caller dropped here leaves nothing behind.
        let renewal = self.renewal().await;
        if let Some(token) = renewal.needless(margin_ms) {
            return Ok(token);
        }
        uncancellable(renewal.renew(started, margin_ms).instrument(self.span())).await
    }

    /// [`Self::replace_with_grant`], giving the saved pair.
    pub(super) async fn regranted(&self) -> Result<Arc<StoredToken>, Error> {
        let started = Instant::now();
        let renewal = self.renewal().await;
        uncancellable(renewal.regrant(started).instrument(self.span())).await
    }

    /// Tries once more to save a pair whose save failed (and gives back the lease kept for it);
    /// whether no pair is left unsaved. Runs in a task of its own: a caller dropped midway
    /// loses nothing (the pair goes back to the state if the save fails).
    pub(super) async fn save_unsaved(&self) -> bool {
        let renewal = self.renewal().await;
        uncancellable(async move { Ok::<_, Error>(renewal.save_unsaved().await) })
            .await
            .unwrap_or(false)
    }

    /// Waits for the single-flight lock: the [`Renewal`] that holds it.
    pub(super) async fn renewal(&self) -> Renewal {
        let state = Arc::clone(&self.inner.state).lock_owned().await;
        Renewal::new(self.clone(), state)
    }

    /// Whether dropping this manager loses nothing: no renewal holds it (only the caller has a
    /// reference), and it keeps no unsaved pair, no held lease and no refresh token of unknown
    /// outcome that is still the published one (a new manager would send that one again; once a
    /// newer pair is published, that refresh token is never sent by anyone).
    pub(super) fn is_settled(&self) -> bool {
        Arc::strong_count(&self.inner) == 1
            && self
                .idle_state()
                .is_some_and(|state| state.is_settled(self.published().map(|token| token.version)))
    }

    /// Whether it may keep a pair it could not save (a renewal holding the state counts).
    pub(super) fn may_have_unsaved(&self) -> bool {
        self.idle_state().is_none_or(|state| state.has_unsaved())
    }

    /// The state, unless a renewal holds it.
    fn idle_state(&self) -> Option<tokio::sync::MutexGuard<'_, State>> {
        self.inner.state.try_lock().ok()
    }

    /// The span of a renewal task: every event it logs carries `client_id` and `org_id`.
    fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "token_renewal",
            client_id = %self.inner.owner.client_id,
            org_id = ?self.inner.owner.org_id
        )
    }

    /// How long before expiry a token counts as stale: the refresh margin, or half the tokens'
    /// lifetime when they live no longer than the margin (see [`Lifetime`]).
    pub(super) fn margin_ms(&self) -> u64 {
        self.inner
            .lifetime
            .margin_ms(self.inner.settings.margin_ms())
    }

    /// How long before expiry a background renewal is due: [`Self::margin_ms`] plus a random
    /// jitter (see [`Lifetime::ahead_ms`]).
    pub(super) fn ahead_ms(&self) -> u64 {
        self.inner
            .lifetime
            .ahead_ms(self.inner.settings.margin_ms())
    }

    /// Records that Cobo issued a token that lives `lifetime_ms`.
    pub(super) fn observe_lifetime(&self, lifetime_ms: u64) {
        self.inner
            .lifetime
            .observe(lifetime_ms, self.inner.settings.margin_ms());
    }

    /// The published token, if valid for longer than `margin_ms`.
    pub(super) fn fresh_for(&self, margin_ms: u64) -> Option<Arc<StoredToken>> {
        self.published()
            .filter(|token| self.is_fresh_for(token, margin_ms))
    }

    /// Whether `token` is valid for longer than `margin_ms`.
    pub(super) fn is_fresh_for(&self, token: &StoredToken, margin_ms: u64) -> bool {
        self.inner
            .settings
            .clock
            .now_millis()
            .saturating_add(margin_ms)
            < token.expires_at_ms
    }

    /// The published token, fresh or not.
    pub(super) fn published(&self) -> Option<Arc<StoredToken>> {
        self.inner
            .published
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Publishes `token` unless the published one is at least as new.
    pub(super) fn adopt(&self, token: StoredToken) {
        let mut published = self
            .inner
            .published
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if published
            .as_ref()
            .is_none_or(|current| token.version > current.version)
        {
            *published = Some(Arc::new(token));
        }
    }

    /// Publishes `token`.
    pub(super) fn publish(&self, token: StoredToken) -> Arc<StoredToken> {
        let token = Arc::new(token);
        *self
            .inner
            .published
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::clone(&token));
        token
    }
}

/// A manager is the usual source of the Bearer token of a client
/// ([`CoboClient::with_bearer`](crate::CoboClient::with_bearer)).
impl BearerSource for TokenManager {
    fn token(&self) -> BearerFuture<'_, Result<SecretString, Error>> {
        Box::pin(self.access_token())
    }

    fn expired(&self, rejected: &SecretString) {
        self.invalidate(rejected);
    }
}
