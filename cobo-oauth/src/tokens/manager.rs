//! [`TokenManager`]: a valid Org Access Token, whenever asked.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use secrecy::SecretString;

use super::store::{MemoryStore, StoredToken, TokenStore};
use crate::client::CoboClient;
use crate::error::Error;
use crate::signing::{Clock, SystemClock};
use crate::token::Token;

/// Cobo's error code for an expired access token (sent with HTTP 500).
pub const TOKEN_EXPIRED_CODE: i64 = 1000;

/// How many times a save is tried before the refresh reports the store's error.
const SAVE_ATTEMPTS: usize = 3;

/// Builds a [`TokenManager`].
#[derive(Debug)]
pub struct TokenManagerBuilder {
    client: CoboClient,
    client_id: String,
    org_id: String,
    store: Arc<dyn TokenStore>,
    margin: Duration,
    clock: Arc<dyn Clock>,
}

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
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: CoboClient,
    client_id: String,
    org_id: String,
    store: Arc<dyn TokenStore>,
    margin_ms: u64,
    clock: Arc<dyn Clock>,
    /// The token handed out: saved, and read without waiting.
    published: RwLock<Option<Arc<StoredToken>>>,
    /// Held by the one task that refreshes.
    refresh: tokio::sync::Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    loaded: bool,
    /// A new pair that is not saved yet; it replaces the published one once saved.
    unsaved: Option<StoredToken>,
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
        }
    }

    fn fresh(&self) -> Option<Arc<StoredToken>> {
        let published = self
            .inner
            .published
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        published
            .as_ref()
            .filter(|token| self.is_fresh(token))
            .cloned()
    }

    fn is_fresh(&self, token: &StoredToken) -> bool {
        self.inner
            .clock
            .now_millis()
            .saturating_add(self.inner.margin_ms)
            < token.expires_at_ms
    }

    fn publish(&self, token: StoredToken) -> Arc<StoredToken> {
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
        let mut state = self.inner.refresh.lock().await;
        if state.unsaved.is_none()
            && let Some(token) = self.fresh()
        {
            return Ok(token.access_token.clone());
        }
        if let Some(pending) = state.unsaved.take() {
            let token = self.save(pending, &mut state).await?;
            if self.is_fresh(&token) {
                return Ok(token.access_token.clone());
            }
        }
        if !state.loaded {
            if let Some(stored) = self.inner.store.load().await? {
                self.publish(stored);
            }
            state.loaded = true;
            if let Some(token) = self.fresh() {
                return Ok(token.access_token.clone());
            }
        }
        let current = self
            .inner
            .published
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let next = match current {
            Some(current) => self.refresh(&current).await?,
            None => self.grant().await?,
        };
        Ok(self.save(next, &mut state).await?.access_token.clone())
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

    /// Saves a new pair, retrying; publishes it once saved. On failure the pair is kept as
    /// unsaved, so its refresh token, not the old one, is used from now on.
    async fn save(&self, token: StoredToken, state: &mut State) -> Result<Arc<StoredToken>, Error> {
        let mut last = None;
        for attempt in 1..=SAVE_ATTEMPTS {
            match self.inner.store.save(&token).await {
                Ok(()) => return Ok(self.publish(token)),
                Err(error) => {
                    tracing::warn!(attempt, error = %error, "saving the new token pair failed");
                    last = Some(error);
                }
            }
        }
        state.unsaved = Some(token);
        Err(Error::Store(last.unwrap_or_else(|| {
            super::StoreError::Io {
                path: String::new(),
                reason: "no attempt".to_owned(),
            }
        })))
    }

    async fn refresh(&self, current: &StoredToken) -> Result<StoredToken, Error> {
        let inner = &self.inner;
        match inner
            .client
            .refresh_token(&inner.client_id, &current.refresh_token)
            .await
        {
            Ok(token) => self.stored(token),
            Err(Error::OAuth { error, .. }) if error == "invalid_grant" => {
                tracing::warn!(
                    client_id = %inner.client_id,
                    org_id = %inner.org_id,
                    "Cobo rejected the refresh token (invalid_grant); falling back once to a new org_implicit grant"
                );
                self.grant().await
            }
            Err(Error::Transport(error) | Error::Timeout(error)) if !error.is_connect() => {
                tracing::error!(
                    "the refresh request may have reached Cobo but no answer arrived; not resending it"
                );
                Err(Error::RefreshOutcomeUnknown(error))
            }
            Err(error) => Err(error),
        }
    }

    async fn grant(&self) -> Result<StoredToken, Error> {
        let inner = &self.inner;
        match inner
            .client
            .get_token(&inner.client_id, &inner.org_id)
            .await
        {
            Ok(token) => self.stored(token),
            Err(Error::OAuth {
                status,
                error,
                description,
            }) => {
                tracing::error!(status, error = %error, "Cobo refused a new org_implicit grant: the organization must authorize the app again");
                Err(Error::ReauthorizationRequired {
                    status,
                    error,
                    description,
                })
            }
            Err(error) => Err(error),
        }
    }

    fn stored(&self, token: Token) -> Result<StoredToken, Error> {
        let now = self.inner.clock.now_millis();
        let missing = |what: &str| Error::InvalidBody {
            status: 200,
            reason: format!("the token response has no {what}"),
        };
        let expires_in =
            u64::try_from(token.expires_in.ok_or_else(|| missing("expires_in"))?).unwrap_or(0);
        Ok(StoredToken {
            access_token: token.access_token.ok_or_else(|| missing("access_token"))?,
            refresh_token: token
                .refresh_token
                .ok_or_else(|| missing("refresh_token"))?,
            expires_at_ms: now.saturating_add(expires_in.saturating_mul(1000)),
        })
    }
}
