//! [`TokenManager`]: a valid Org Access Token, whenever asked.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use tracing::Instrument as _;

use super::store::{MemoryStore, StoredToken, TokenOwner, TokenStore};
use crate::bearer::{BearerFuture, BearerSource, TOKEN_EXPIRED_CODE};
use crate::client::CoboClient;
use crate::error::Error;
use crate::signing::{Clock, SystemClock};

/// Builds a [`TokenManager`].
#[derive(Debug)]
pub struct TokenManagerBuilder {
    client: CoboClient,
    owner: TokenOwner,
    store: Arc<dyn TokenStore>,
    margin: Duration,
    clock: Arc<dyn Clock>,
    lease_ttl: Duration,
    lease_wait: Option<Duration>,
}

/// How long a refresh lease lasts by default without being extended: how long the fleet waits
/// before another process takes over from a holder that stopped.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(45);

impl TokenManagerBuilder {
    /// Where the newest pair is kept (default: [`MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = store;
        self
    }

    /// How long before expiry a token counts as stale (default 5 minutes).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The clock expiry is computed with (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// With a store that has a refresh lease (such as `RedisStore`): how long the lease lasts
    /// without being extended (default [`DEFAULT_LEASE_TTL`]). The holder extends it every third
    /// of this while it refreshes or retries saving, so it runs out only when the holder stopped
    /// (or lost Redis for that long): that is how long the fleet waits for a dead holder.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// With a store that has a refresh lease: how long a call waits for another process's
    /// refresh before [`Error::RefreshBusy`] (default: the lease's time to live plus 15 s, so a
    /// dead holder's lease runs out within the wait).
    pub fn lease_wait(mut self, wait: Duration) -> Self {
        self.lease_wait = Some(wait);
        self
    }

    /// The manager.
    pub fn build(self) -> TokenManager {
        TokenManager {
            inner: Arc::new(Inner {
                client: self.client,
                owner: self.owner,
                store: self.store,
                margin_ms: millis(self.margin),
                clock: self.clock,
                lease_ttl: self.lease_ttl,
                lease_wait: self
                    .lease_wait
                    .unwrap_or(self.lease_ttl + Duration::from_secs(15)),
                published: RwLock::new(None),
                refresh: Arc::new(tokio::sync::Mutex::new(State::default())),
            }),
        }
    }
}

/// `duration` in whole milliseconds, saturating.
pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
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
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) client: CoboClient,
    pub(super) owner: TokenOwner,
    pub(super) store: Arc<dyn TokenStore>,
    pub(super) margin_ms: u64,
    pub(super) clock: Arc<dyn Clock>,
    /// How long a refresh lease lasts (stores with a lease).
    pub(super) lease_ttl: Duration,
    /// How long to wait for another process's refresh.
    pub(super) lease_wait: Duration,
    /// The token handed out: saved, and read without waiting.
    published: RwLock<Option<Arc<StoredToken>>>,
    /// Held by the one task that renews; owned by that task, so no caller can cancel it.
    pub(super) refresh: Arc<tokio::sync::Mutex<State>>,
}

#[derive(Debug, Default)]
pub(super) struct State {
    /// A new pair that is not saved yet; it replaces the published one once saved.
    pub(super) unsaved: Option<StoredToken>,
    /// The version of the pair whose refresh token was sent with an unknown outcome: it is
    /// never sent again (a new grant replaces it).
    pub(super) outcome_unknown: Option<u64>,
    /// The fleet's refresh lease, kept by this process while `unsaved` waits to be saved.
    pub(super) held: Option<super::store::Lease>,
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
            margin: Duration::from_secs(300),
            clock: Arc::new(SystemClock),
            lease_ttl: DEFAULT_LEASE_TTL,
            lease_wait: None,
        }
    }

    /// Whose tokens this manager hands out.
    pub fn owner(&self) -> &TokenOwner {
        &self.inner.owner
    }

    /// The span of a renewal task: every event it logs carries `client_id` and `org_id`.
    pub(super) fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "token_renewal",
            client_id = %self.inner.owner.client_id,
            org_id = ?self.inner.owner.org_id
        )
    }

    /// The published token, if valid for longer than `margin_ms`.
    pub(super) fn fresh_for(&self, margin_ms: u64) -> Option<Arc<StoredToken>> {
        self.published()
            .filter(|token| self.is_fresh_for(token, margin_ms))
    }

    /// Whether `token` is valid for longer than `margin_ms`.
    pub(super) fn is_fresh_for(&self, token: &StoredToken, margin_ms: u64) -> bool {
        self.inner.clock.now_millis().saturating_add(margin_ms) < token.expires_at_ms
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

    /// A valid access token: cached while fresh, otherwise renewed (see the cancellation
    /// guarantee on [`TokenManager`]).
    pub async fn access_token(&self) -> Result<SecretString, Error> {
        if let Some(token) = self.fresh_for(self.inner.margin_ms) {
            return Ok(token.access_token.clone());
        }
        // Boxed: the cached path above stays a small future.
        let renewed = Box::pin(self.renewed(self.inner.margin_ms)).await?;
        Ok(renewed.access_token.clone())
    }

    /// A token valid for longer than `margin_ms`, renewed if needed by a task of its own, which
    /// finishes whether or not this caller still waits.
    pub(super) async fn renewed(&self, margin_ms: u64) -> Result<Arc<StoredToken>, Error> {
        // The wait for another process's refresh counts from here, queueing included.
        let started = tokio::time::Instant::now();
        // Waiting for the lock starts nothing: a caller dropped here leaves nothing behind.
        let mut state = Arc::clone(&self.inner.refresh).lock_owned().await;
        if state.unsaved.is_none()
            && let Some(token) = self.fresh_for(margin_ms)
        {
            return Ok(token);
        }
        let manager = self.clone();
        let span = self.span();
        let work = tokio::spawn(
            async move { manager.renew(&mut state, started, margin_ms).await }.instrument(span),
        );
        match work.await {
            Ok(outcome) => outcome,
            Err(stopped) if stopped.is_panic() => std::panic::resume_unwind(stopped.into_panic()),
            Err(_) => Err(Error::RenewalInterrupted),
        }
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
