//! How a [`TokenManager`] renews a stale token: re-read the store, then refresh or grant, here or
//! under a fleet-wide lease, and save with compare-and-set on the version.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::manager::{State, TokenManager};
use super::store::{Lease, RefreshLease, StoreError, StoredToken, TokenOwner};
use super::token::Token;
use crate::error::Error;

/// How many times a save is tried before the refresh reports the store's error.
const SAVE_ATTEMPTS: usize = 3;

/// The longest pause between two looks at the store while another process refreshes.
const MAX_POLL_PAUSE: Duration = Duration::from_millis(200);

impl TokenManager {
    /// A token valid for longer than `margin_ms`, renewed if needed. Runs in the renewal task,
    /// with the in-process refresh lock held. `started` is when the caller began waiting: it
    /// bounds the wait for another process.
    pub(super) async fn renew(
        &self,
        state: &mut State,
        started: Instant,
        margin_ms: u64,
    ) -> Result<Arc<StoredToken>, Error> {
        self.check_store_owner()?;
        self.forget_settled_outcome(state);
        if state.unsaved.is_none()
            && let Some(token) = self.fresh_for(margin_ms)
        {
            return Ok(token);
        }
        if let Some(pending) = state.unsaved.take() {
            let token = self.save(pending, state).await?;
            // Saved: the lease kept for it (by this process) is given back here, not waited on.
            if let (Some(held), Some(lease)) = (state.held.take(), self.inner.store.lease()) {
                release(lease, &held).await;
            }
            if self.is_fresh_for(&token, margin_ms) {
                return Ok(token);
            }
        }
        if let Some(token) = self.reload(margin_ms).await? {
            return Ok(token);
        }
        match self.inner.store.lease() {
            None => self.renew_here(state, 0).await,
            Some(lease) => {
                self.renew_with_lease(lease, state, started, margin_ms)
                    .await
            }
        }
    }

    /// Refuses a store built for another `(client_id, org_id)`.
    pub(super) fn check_store_owner(&self) -> Result<(), StoreError> {
        match self.inner.store.bound_to() {
            Some(bound) if *bound != self.inner.owner => Err(self.wrong_owner(bound)),
            _ => Ok(()),
        }
    }

    /// The error for a store that holds, or is built for, `found`'s pair.
    fn wrong_owner(&self, found: &TokenOwner) -> StoreError {
        StoreError::WrongOwner {
            path: self.inner.store.location(),
            expected: self.inner.owner.clone(),
            found: found.clone(),
        }
    }

    /// Re-reads the store and adopts its pair if it is newer; the token valid for longer than
    /// `margin_ms`, if any. A pair of another owner is an error, never adopted.
    pub(super) async fn reload(&self, margin_ms: u64) -> Result<Option<Arc<StoredToken>>, Error> {
        if let Some(stored) = self.inner.store.load().await? {
            if let Some(other) = stored.owner.as_ref().filter(|o| **o != self.inner.owner) {
                return Err(Error::Store(self.wrong_owner(other)));
            }
            self.adopt(stored);
        }
        Ok(self.fresh_for(margin_ms))
    }

    /// Takes the fleet's refresh lease and renews, or waits for the holder's new pair.
    async fn renew_with_lease(
        &self,
        lease: &dyn RefreshLease,
        state: &mut State,
        started: Instant,
        margin_ms: u64,
    ) -> Result<Arc<StoredToken>, Error> {
        let mut pause = Duration::from_millis(10);
        loop {
            if let Some(held) = lease.try_acquire(self.inner.lease_ttl).await? {
                tracing::debug!("took the refresh lease");
                let outcome = {
                    let work = self.renew_holding(lease, state, margin_ms);
                    self.keeping(lease, &held, work).await
                };
                self.hand_back(lease, held, state).await;
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
            if let Some(token) = self.reload(margin_ms).await? {
                return Ok(token);
            }
        }
    }

    /// Runs `work`, extending `held` every third of its time to live until `work` is done.
    pub(super) async fn keeping<T>(
        &self,
        lease: &dyn RefreshLease,
        held: &Lease,
        work: impl Future<Output = T>,
    ) -> T {
        let ttl = self.inner.lease_ttl;
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                biased;
                outcome = &mut work => return outcome,
                () = tokio::time::sleep(ttl / 3) => {
                    extend(lease, held, ttl).await;
                }
            }
        }
    }

    /// After the work done holding `held`: gives the lease back, unless a new pair is unsaved.
    /// Nobody else may refresh then, so the lease is kept (in the state, so that the next
    /// renewal here can save and give it back) and the save is retried in the background.
    pub(super) async fn hand_back(&self, lease: &dyn RefreshLease, held: Lease, state: &mut State) {
        if state.unsaved.is_some() {
            state.held = Some(held);
            self.keep_saving();
        } else {
            release(lease, &held).await;
        }
    }

    /// Saves the unsaved pair again, if there is one (on failure it stays unsaved; the error was
    /// logged); once no pair is unsaved, gives back the lease kept for it. Whether no pair is
    /// left unsaved.
    pub(super) async fn save_again(&self, state: &mut State) -> bool {
        if let Some(pending) = state.unsaved.take() {
            let _ = self.save(pending, state).await;
        }
        if state.unsaved.is_some() {
            return false;
        }
        if let (Some(held), Some(lease)) = (state.held.take(), self.inner.store.lease()) {
            release(lease, &held).await;
        }
        true
    }

    /// Keeps the lease in `State::held` while a new pair is unsaved, retrying the save every
    /// third of the lease's time to live, and gives the lease back once the pair is saved. A
    /// later renewal in this process that saves the pair first gives the lease back itself.
    pub(super) fn keep_saving(&self) {
        let manager = self.clone();
        tokio::spawn(async move {
            let ttl = manager.inner.lease_ttl;
            let Some(lease) = manager.inner.store.lease() else {
                return;
            };
            loop {
                tokio::time::sleep(ttl / 3).await;
                let mut state = manager.inner.refresh.lock().await;
                if state.held.is_none() || manager.save_again(&mut state).await {
                    return; // Saved and given back, by a renewal or just now.
                }
                let extended = match &state.held {
                    Some(held) => extend(lease, held, ttl).await,
                    None => false,
                };
                if !extended {
                    state.held = None;
                    return;
                }
            }
        });
    }

    /// Renews while holding the lease.
    async fn renew_holding(
        &self,
        lease: &dyn RefreshLease,
        state: &mut State,
        margin_ms: u64,
    ) -> Result<Arc<StoredToken>, Error> {
        // The previous holder may have saved a new pair just before its lease ended.
        if let Some(token) = self.reload(margin_ms).await? {
            return Ok(token);
        }
        let recorded = self.published().map(|current| current.version);
        let unsaved_sends = match recorded {
            Some(version) => {
                let sends = lease.record_refresh(version).await?;
                if sends > 0 {
                    tracing::warn!(
                        client_id = %self.inner.owner.client_id,
                        org_id = ?self.inner.owner.org_id,
                        version,
                        sends,
                        "an earlier lease holder sent this refresh token and never saved the result (it probably stopped mid-refresh)"
                    );
                }
                sends
            }
            None => 0,
        };
        let outcome = self.renew_here(state, unsaved_sends).await;
        if let (Err(error), Some(version)) = (&outcome, recorded)
            && never_left(error)
        {
            // The refresh token was not spent: take the recorded send back, or the next holder
            // would ask for a new grant it does not need.
            if let Err(forget) = lease.forget_refresh(version).await {
                tracing::warn!(error = %forget, "taking back a refresh send that never left failed");
            }
        }
        outcome
    }

    /// Refreshes the published pair (or gets a first one) and saves the result.
    async fn renew_here(
        &self,
        state: &mut State,
        unsaved_sends: u64,
    ) -> Result<Arc<StoredToken>, Error> {
        let current = self.published();
        let version = current.as_ref().map_or(0, |c| c.version) + 1;
        let sent_here = current
            .as_ref()
            .is_some_and(|c| state.outcome_unknown == Some(c.version));
        let unsaved_sends = unsaved_sends + u64::from(sent_here);
        let issued = match &current {
            // A refresh token already sent with an unknown outcome (by this process, or by an
            // earlier lease holder that never saved the result) is never sent again: Cobo may
            // have rotated it, and presenting it twice can only fail or race. A new
            // `org_implicit` grant is asked for instead.
            Some(current) if unsaved_sends == 0 => match self.refresh(current, version).await {
                Err(unknown @ Error::RefreshOutcomeUnknown(_)) => {
                    state.outcome_unknown = Some(current.version);
                    return Err(unknown);
                }
                outcome => outcome?,
            },
            Some(_) => {
                tracing::warn!(
                    unsaved_sends,
                    "not sending this refresh token again; asking for a new org_implicit grant"
                );
                self.grant(version).await?
            }
            None => self.grant(version).await?,
        };
        let saved = self.save(issued.pair, state).await?;
        match issued.unusable {
            // The new refresh token is saved; the next call refreshes with it.
            Some(error) => Err(error),
            None => Ok(saved),
        }
    }

    /// Saves a new pair, retrying; publishes it once saved. On failure the pair is kept as
    /// unsaved, so its refresh token, not the old one, is used from now on. When the store
    /// already holds a newer pair (another process renewed), that pair is used instead.
    pub(super) async fn save(
        &self,
        token: StoredToken,
        state: &mut State,
    ) -> Result<Arc<StoredToken>, Error> {
        let mut last = None;
        for attempt in 1..=SAVE_ATTEMPTS {
            match self.inner.store.save(&token).await {
                Ok(()) => {
                    let saved = self.publish(token);
                    self.forget_settled_outcome(state);
                    return Ok(saved);
                }
                Err(conflict @ StoreError::Conflict { stored, attempted }) => {
                    tracing::warn!(
                        stored,
                        attempted,
                        "another process saved a newer token pair meanwhile; using it"
                    );
                    return self.reload(0).await?.ok_or(Error::Store(conflict));
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

    /// Whether the refresh token of unknown outcome is still the published pair's: only then
    /// must it be remembered (a newer pair, saved by this process's recovery grant or found in
    /// the store, replaces it: nobody refreshes with the old one any more).
    pub(super) fn outcome_unknown_pending(&self, state: &State) -> bool {
        state.outcome_unknown.is_some_and(|sent| {
            self.published()
                .is_none_or(|published| published.version <= sent)
        })
    }

    /// Forgets the refresh token of unknown outcome once a newer pair is published.
    pub(super) fn forget_settled_outcome(&self, state: &mut State) {
        if state.outcome_unknown.is_some() && !self.outcome_unknown_pending(state) {
            state.outcome_unknown = None;
        }
    }

    async fn refresh(&self, current: &StoredToken, version: u64) -> Result<Issued, Error> {
        let inner = &self.inner;
        let answer = inner
            .client
            .refresh_token(&inner.owner.client_id, &current.refresh_token)
            .await;
        // An answer without a refresh token is `InvalidBody` here: Cobo spent the old one.
        match answer.and_then(|token| self.stored(token, version)) {
            Err(Error::OAuth { error, .. }) if error == "invalid_grant" => {
                tracing::warn!(
                    client_id = %inner.owner.client_id,
                    org_id = ?inner.owner.org_id,
                    "Cobo rejected the refresh token (invalid_grant); falling back once to a new org_implicit grant"
                );
                self.grant(version).await
            }
            Err(error) if may_have_rotated(&error) => {
                tracing::error!(
                    error = %error,
                    "the refresh request may have reached Cobo but no usable answer arrived; this refresh token is not sent again (the next renewal asks for a new grant)"
                );
                Err(Error::RefreshOutcomeUnknown(Box::new(error)))
            }
            outcome => outcome,
        }
    }

    pub(super) async fn grant(&self, version: u64) -> Result<Issued, Error> {
        let inner = &self.inner;
        match inner
            .client
            .get_token(&inner.owner.client_id, &inner.owner.org_id)
            .await
        {
            Ok(token) => self.stored(token, version),
            // Only a 4XX refusal of the grant itself means the app must be authorized again: not
            // a 5XX, not 401 (Cobo refused the key, the signature or the nonce), not 408 or 429
            // (try again later).
            Err(Error::OAuth {
                status,
                error,
                description,
            }) if (400..500).contains(&status) && !matches!(status, 401 | 408 | 429) => {
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

    /// The pair to store from a signed token answer. An answer with a new refresh token is
    /// always kept, even when the rest is unusable: Cobo has already killed the old one.
    fn stored(&self, token: Token, version: u64) -> Result<Issued, Error> {
        let missing = |what: &str, kept: bool| Error::InvalidBody {
            status: 200,
            reason: if kept {
                format!(
                    "the token response has no {what}; its new refresh token was saved and the next call refreshes with it"
                )
            } else {
                format!("the token response has no {what}")
            },
        };
        let unusable = match (&token.access_token, token.expires_in) {
            (None, _) => Some(missing("access_token", true)),
            (Some(_), None) => Some(missing("expires_in", true)),
            (Some(_), Some(_)) => None,
        };
        let owner = Some(self.inner.owner.clone());
        let now = self.inner.clock.now_millis();
        let pair = StoredToken::from_answer(token, version, owner, now)
            .ok_or_else(|| missing("refresh_token", false))?;
        if let Some(error) = &unusable {
            tracing::warn!(error = %error, "keeping the refresh token of an unusable token answer");
        }
        Ok(Issued { pair, unusable })
    }
}

/// A pair Cobo issued, to be saved, and why its access token cannot be used, if it cannot.
pub(super) struct Issued {
    pub(super) pair: StoredToken,
    pub(super) unusable: Option<Error>,
}

/// Whether a refresh that failed with `error` may have reached Cobo, which then rotated the
/// refresh token: the connection broke or timed out after sending, a gateway answered 5XX or 408
/// (unsigned: it may have forwarded the request), or an answer came that cannot be used (a bad
/// signature, too large, not a token answer). A refused connection never reached it.
fn may_have_rotated(error: &Error) -> bool {
    match error {
        Error::Transport(error) | Error::Timeout(error) => !error.is_connect(),
        Error::Http { status, .. } => *status >= 500 || *status == 408,
        Error::ResponseSignature(_)
        | Error::ResponseTooLarge { .. }
        | Error::InvalidBody { .. } => true,
        _ => false,
    }
}

/// Whether a failed renewal spent nothing: signing failed, no connection was made, or Cobo
/// refused the request's authentication with a signed HTTP 401 (the key, the signature or the
/// nonce: the request was refused before it was processed, so the refresh token is unspent).
fn never_left(error: &Error) -> bool {
    match error {
        Error::Signing(_) | Error::InvalidRequest(_) | Error::Config(_) => true,
        Error::OAuth { status: 401, .. } | Error::Api { status: 401, .. } => true,
        Error::Transport(error) | Error::Timeout(error) => error.is_connect(),
        _ => false,
    }
}

/// Extends `held`; false (with a warning) if it was lost or could not be extended.
async fn extend(lease: &dyn RefreshLease, held: &Lease, ttl: Duration) -> bool {
    match lease.extend(held, ttl).await {
        Ok(true) => true,
        Ok(false) => {
            tracing::warn!(
                "the refresh lease ran out while this process held it; another process may renew too"
            );
            false
        }
        Err(error) => {
            tracing::warn!(error = %error, "extending the refresh lease failed");
            false
        }
    }
}

/// Gives `held` back; if that fails, it runs out by itself.
pub(super) async fn release(lease: &dyn RefreshLease, held: &Lease) {
    if let Err(error) = lease.release(held).await {
        tracing::warn!(error = %error, "releasing the refresh lease failed; it will expire");
    }
}
