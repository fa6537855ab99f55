//! How a [`TokenManager`] renews a stale token: re-read the store, then refresh or grant, here or
//! under a fleet-wide lease, and save with compare-and-set on the version.

use std::sync::Arc;
use std::time::Duration;

use super::manager::{State, TokenManager};
use super::store::{RefreshLease, StoreError, StoredToken};
use crate::error::Error;
use crate::token::Token;

/// How many times a save is tried before the refresh reports the store's error.
const SAVE_ATTEMPTS: usize = 3;

/// A refresh token that earlier lease holders sent this many times without saving the result is
/// not sent again: a new `org_implicit` grant is asked for instead.
const MAX_UNSAVED_SENDS: u64 = 1;

/// The longest pause between two looks at the store while another process refreshes.
const MAX_POLL_PAUSE: Duration = Duration::from_millis(200);

impl TokenManager {
    /// A fresh token, renewed if needed. Called with the in-process refresh lock held.
    pub(super) async fn renew(&self, state: &mut State) -> Result<Arc<StoredToken>, Error> {
        if state.unsaved.is_none()
            && let Some(token) = self.fresh()
        {
            return Ok(token);
        }
        if let Some(pending) = state.unsaved.take() {
            let token = self.save(pending, state).await?;
            if self.is_fresh(&token) {
                return Ok(token);
            }
        }
        if let Some(token) = self.reload().await? {
            return Ok(token);
        }
        match self.inner.store.lease() {
            None => self.renew_here(state, 0).await,
            Some(lease) => self.renew_with_lease(lease, state).await,
        }
    }

    /// Re-reads the store and adopts its pair if it is newer; the fresh token, if any.
    async fn reload(&self) -> Result<Option<Arc<StoredToken>>, Error> {
        Ok(match self.inner.store.load().await? {
            Some(stored) => self.adopt(stored),
            None => self.fresh(),
        })
    }

    /// Takes the fleet's refresh lease and renews, or waits for the holder's new pair.
    async fn renew_with_lease(
        &self,
        lease: &dyn RefreshLease,
        state: &mut State,
    ) -> Result<Arc<StoredToken>, Error> {
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(10);
        loop {
            if let Some(held) = lease.try_acquire(self.inner.lease_ttl).await? {
                tracing::debug!("took the refresh lease");
                let outcome = self.renew_holding(lease, state).await;
                // While a new pair is unsaved, nobody else may refresh: the lease runs out instead.
                if state.unsaved.is_none()
                    && let Err(error) = lease.release(&held).await
                {
                    tracing::warn!(error = %error, "releasing the refresh lease failed; it will expire");
                }
                return outcome;
            }
            let waited = started.elapsed();
            if waited >= self.inner.lease_wait {
                tracing::warn!(
                    ?waited,
                    "another process holds the refresh lease and no new token pair appeared"
                );
                return Err(Error::RefreshBusy { waited });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_POLL_PAUSE);
            if let Some(token) = self.reload().await? {
                return Ok(token);
            }
        }
    }

    /// Renews while holding the lease.
    async fn renew_holding(
        &self,
        lease: &dyn RefreshLease,
        state: &mut State,
    ) -> Result<Arc<StoredToken>, Error> {
        // The previous holder may have saved a new pair just before its lease ended.
        if let Some(token) = self.reload().await? {
            return Ok(token);
        }
        let unsaved_sends = match self.published() {
            Some(current) => {
                let sends = lease.record_refresh(current.version).await?;
                if sends > 0 {
                    tracing::warn!(
                        client_id = %self.inner.client_id,
                        org_id = %self.inner.org_id,
                        version = current.version,
                        sends,
                        "an earlier lease holder sent this refresh token and never saved the result (it probably stopped mid-refresh)"
                    );
                }
                sends
            }
            None => 0,
        };
        self.renew_here(state, unsaved_sends).await
    }

    /// Refreshes the published pair (or gets a first one) and saves the result.
    async fn renew_here(
        &self,
        state: &mut State,
        unsaved_sends: u64,
    ) -> Result<Arc<StoredToken>, Error> {
        let current = self.published();
        let version = current.as_ref().map_or(0, |c| c.version) + 1;
        let next = match &current {
            Some(current) if unsaved_sends <= MAX_UNSAVED_SENDS => {
                self.refresh(current, version).await?
            }
            Some(_) => {
                tracing::warn!(
                    unsaved_sends,
                    "not sending this refresh token again; asking for a new org_implicit grant"
                );
                self.grant(version).await?
            }
            None => self.grant(version).await?,
        };
        self.save(next, state).await
    }

    /// Saves a new pair, retrying; publishes it once saved. On failure the pair is kept as
    /// unsaved, so its refresh token, not the old one, is used from now on. When the store
    /// already holds a newer pair (another process renewed), that pair is used instead.
    async fn save(&self, token: StoredToken, state: &mut State) -> Result<Arc<StoredToken>, Error> {
        let mut last = None;
        for attempt in 1..=SAVE_ATTEMPTS {
            match self.inner.store.save(&token).await {
                Ok(()) => return Ok(self.publish(token)),
                Err(conflict @ StoreError::Conflict { stored, attempted }) => {
                    tracing::warn!(
                        stored,
                        attempted,
                        "another process saved a newer token pair meanwhile; using it"
                    );
                    return self.reload().await?.ok_or(Error::Store(conflict));
                }
                Err(error) => {
                    tracing::warn!(attempt, error = %error, "saving the new token pair failed");
                    last = Some(error);
                }
            }
        }
        state.unsaved = Some(token);
        Err(Error::Store(last.unwrap_or_else(|| StoreError::Io {
            path: String::new(),
            reason: "no attempt".to_owned(),
        })))
    }

    async fn refresh(&self, current: &StoredToken, version: u64) -> Result<StoredToken, Error> {
        let inner = &self.inner;
        match inner
            .client
            .refresh_token(&inner.client_id, &current.refresh_token)
            .await
        {
            Ok(token) => self.stored(token, version),
            Err(Error::OAuth { error, .. }) if error == "invalid_grant" => {
                tracing::warn!(
                    client_id = %inner.client_id,
                    org_id = %inner.org_id,
                    "Cobo rejected the refresh token (invalid_grant); falling back once to a new org_implicit grant"
                );
                self.grant(version).await
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

    async fn grant(&self, version: u64) -> Result<StoredToken, Error> {
        let inner = &self.inner;
        match inner
            .client
            .get_token(&inner.client_id, &inner.org_id)
            .await
        {
            Ok(token) => self.stored(token, version),
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

    fn stored(&self, token: Token, version: u64) -> Result<StoredToken, Error> {
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
            version,
        })
    }
}
