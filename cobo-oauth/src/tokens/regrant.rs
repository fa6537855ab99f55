//! [`TokenManager::replace_with_grant`]: a new `org_implicit` grant that replaces the pair, for
//! an organization that installed the app again or changed its permissions.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument as _;

use super::manager::{State, TokenManager};
use super::store::StoredToken;
use crate::error::Error;

/// The longest pause between two tries to take a lease held by another process.
const MAX_LEASE_PAUSE: Duration = Duration::from_millis(200);

impl TokenManager {
    /// Asks Cobo for a new `org_implicit` grant and replaces the stored pair with it, whatever
    /// the current pair is (when the organization installed the app again, or changed the app's
    /// permissions or wallet scopes: Cobo's install callback with `approval_result` 1 or 2).
    ///
    /// The old refresh token is never presented again: the new pair gets a version above every
    /// pair this process or (with a shared store) the fleet has, and it is saved before it is
    /// handed out. Runs like a renewal: under this manager's single-flight lock and, with a store
    /// that has a lease, the fleet's refresh lease, in a task of its own that no caller can
    /// cancel. A refused grant (a 4XX) is [`Error::ReauthorizationRequired`].
    pub async fn replace_with_grant(&self) -> Result<secrecy::SecretString, Error> {
        Ok(self.regranted().await?.access_token.clone())
    }

    /// [`Self::replace_with_grant`], giving the saved pair.
    pub(super) async fn regranted(&self) -> Result<Arc<StoredToken>, Error> {
        let started = Instant::now();
        let mut state = Arc::clone(&self.inner.refresh).lock_owned().await;
        let manager = self.clone();
        let span = self.span();
        let work = tokio::spawn(
            async move { manager.regrant(&mut state, started).await }.instrument(span),
        );
        match work.await {
            Ok(outcome) => outcome,
            Err(stopped) if stopped.is_panic() => std::panic::resume_unwind(stopped.into_panic()),
            Err(_) => Err(Error::RenewalInterrupted),
        }
    }

    /// Replaces the pair, under the fleet's lease when the store has one.
    async fn regrant(
        &self,
        state: &mut State,
        started: Instant,
    ) -> Result<Arc<StoredToken>, Error> {
        self.check_store_owner()?;
        let Some(lease) = self.inner.store.lease() else {
            return self.regrant_here(state).await;
        };
        let mut pause = Duration::from_millis(10);
        let held = loop {
            // A lease this process kept for an unsaved pair is already ours.
            if let Some(held) = state.held.take() {
                break held;
            }
            if let Some(held) = lease.try_acquire(self.inner.lease_ttl).await? {
                break held;
            }
            let waited = started.elapsed();
            if waited >= self.inner.lease_wait {
                return Err(Error::RefreshBusy { waited });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_LEASE_PAUSE);
        };
        let outcome = {
            let work = self.regrant_here(state);
            self.keeping(lease, &held, work).await
        };
        self.hand_back(lease, held, state).await;
        outcome
    }

    /// Grants and saves a pair whose version is above every pair known here.
    async fn regrant_here(&self, state: &mut State) -> Result<Arc<StoredToken>, Error> {
        // The newest pair of the store (another process may have refreshed) sets the version.
        self.reload(0).await?;
        let newest = [
            self.published().map(|t| t.version),
            state.unsaved.as_ref().map(|t| t.version),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
        let issued = self.grant(newest + 1).await?;
        // The new grant supersedes an unsaved pair and a refresh token of unknown outcome.
        state.unsaved = None;
        state.outcome_unknown = None;
        let saved = self.save(issued.pair, state).await?;
        tracing::info!(
            client_id = %self.inner.owner.client_id,
            org_id = ?self.inner.owner.org_id,
            version = saved.version,
            "replaced the token pair with a new org_implicit grant"
        );
        match issued.unusable {
            Some(error) => Err(error),
            None => Ok(saved),
        }
    }
}
