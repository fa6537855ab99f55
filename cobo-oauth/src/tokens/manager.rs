//! [`TokenManager`]: a valid Org Access Token, whenever asked.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use secrecy::SecretString;

use super::store::{MemoryStore, StoredToken, TokenStore};
use crate::client::CoboClient;
use crate::error::Error;
use crate::signing::{Clock, SystemClock};

/// Cobo's error code for an expired access token (sent with HTTP 500).
pub const TOKEN_EXPIRED_CODE: i64 = 1000;

/// Builds a [`TokenManager`].
#[derive(Debug)]
pub struct TokenManagerBuilder {
    client: CoboClient,
    client_id: String,
    org_id: String,
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
                client_id: self.client_id,
                org_id: self.org_id,
                store: self.store,
                margin_ms: u64::try_from(self.margin.as_millis()).unwrap_or(u64::MAX),
                clock: self.clock,
                lease_ttl: self.lease_ttl,
                lease_wait: self
                    .lease_wait
                    .unwrap_or(self.lease_ttl + Duration::from_secs(15)),
                published: RwLock::new(None),
                refresh: tokio::sync::Mutex::new(State::default()),
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
/// - A refresh whose outcome is unknown (sent, no answer) is not resent:
///   [`Error::RefreshOutcomeUnknown`].
/// - A refresh token Cobo rejects (`invalid_grant`) falls back once to a new `org_implicit` grant;
///   if that is refused too, [`Error::ReauthorizationRequired`].
///
/// Cheap to clone; clones share the token.
#[derive(Debug, Clone)]
pub struct TokenManager {
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) client: CoboClient,
    pub(super) client_id: String,
    pub(super) org_id: String,
    pub(super) store: Arc<dyn TokenStore>,
    margin_ms: u64,
    pub(super) clock: Arc<dyn Clock>,
    /// How long a refresh lease lasts (stores with a lease).
    pub(super) lease_ttl: Duration,
    /// How long to wait for another process's refresh.
    pub(super) lease_wait: Duration,
    /// The token handed out: saved, and read without waiting.
    published: RwLock<Option<Arc<StoredToken>>>,
    /// Held by the one task that refreshes.
    pub(super) refresh: tokio::sync::Mutex<State>,
}

#[derive(Debug, Default)]
pub(super) struct State {
    /// A new pair that is not saved yet; it replaces the published one once saved.
    pub(super) unsaved: Option<StoredToken>,
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
            client_id: client_id.into(),
            org_id: org_id.into(),
            store: Arc::new(MemoryStore::default()),
            margin: Duration::from_secs(300),
            clock: Arc::new(SystemClock),
            lease_ttl: DEFAULT_LEASE_TTL,
            lease_wait: None,
        }
    }

    /// The published token, if fresh.
    pub(super) fn fresh(&self) -> Option<Arc<StoredToken>> {
        self.published().filter(|token| self.is_fresh(token))
    }

    /// Whether `token` is valid for longer than the margin.
    pub(super) fn is_fresh(&self, token: &StoredToken) -> bool {
        self.inner
            .clock
            .now_millis()
            .saturating_add(self.inner.margin_ms)
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

    /// Publishes `token` unless the published one is at least as new; returns the fresh
    /// published token, if any.
    pub(super) fn adopt(&self, token: StoredToken) -> Option<Arc<StoredToken>> {
        {
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
        self.fresh()
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

    /// A valid access token.
    pub async fn access_token(&self) -> Result<SecretString, Error> {
        if let Some(token) = self.fresh() {
            return Ok(token.access_token.clone());
        }
        // The wait for another process's refresh counts from here, queueing included.
        let started = tokio::time::Instant::now();
        let mut state = self.inner.refresh.lock().await;
        Ok(self.renew(&mut state, started).await?.access_token.clone())
    }

    /// Marks the current token as expired: the next [`Self::access_token`] refreshes it.
    pub async fn invalidate(&self) {
        let _state = self.inner.refresh.lock().await;
        let mut published = self
            .inner
            .published
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(token) = published.as_ref() {
            let mut expired = StoredToken::clone(token);
            expired.expires_at_ms = 0;
            *published = Some(Arc::new(expired));
        }
    }

    /// Runs `call` with a valid access token. When Cobo answers HTTP 500 with `error_code` 1000
    /// (the token expired), refreshes and runs it once more.
    pub async fn with_token<T, F, Fut>(&self, call: F) -> Result<T, Error>
    where
        F: Fn(SecretString) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        match call(self.access_token().await?).await {
            Err(Error::Api {
                code: TOKEN_EXPIRED_CODE,
                ..
            }) => {
                tracing::info!(
                    "access token expired early (error 1000); refreshing and retrying once"
                );
                self.invalidate().await;
                call(self.access_token().await?).await
            }
            outcome => outcome,
        }
    }
}
