//! [`Renewal`]: one renewal of a [`TokenManager`]'s pair, from the single-flight lock taken to
//! the fleet's lease given back. Read top down, [`Renewal::renew`] tells the whole story.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

use super::manager::TokenManager;
use super::store::{Lease, RefreshLease, StoreError, StoredToken, TokenOwner};
use super::token::Token;
use crate::error::Error;
use crate::metrics::TokenRequest;

/// How many times a save is tried before the renewal reports the store's error.
const SAVE_ATTEMPTS: usize = 3;

/// The first pause between two tries to take the lease another process holds.
const FIRST_LEASE_PAUSE: Duration = Duration::from_millis(10);
/// The longest pause between two tries to take the lease another process holds.
const MAX_LEASE_PAUSE: Duration = Duration::from_millis(200);

/// What a manager remembers from one renewal to the next, behind its single-flight lock.
#[derive(Debug, Default)]
pub(super) struct State {
    /// A new pair that is not saved yet; it replaces the published one once saved.
    unsaved: Option<StoredToken>,
    /// The version of the pair whose refresh token was sent with an unknown outcome: it is
    /// never sent again (a new grant replaces it).
    outcome_unknown: Option<u64>,
    /// The fleet's refresh lease, kept by this process while `unsaved` waits to be saved.
    held: Option<Lease>,
}

impl State {
    /// Whether a manager whose published pair is `published` loses nothing when dropped: no
    /// unsaved pair, no lease kept, no refresh token of unknown outcome still to be remembered.
    pub fn is_settled(&self, published: Option<u64>) -> bool {
        self.unsaved.is_none() && self.held.is_none() && !self.outcome_unknown_pending(published)
    }

    /// Whether a new pair waits to be saved.
    pub fn has_unsaved(&self) -> bool {
        self.unsaved.is_some()
    }

    /// Whether the refresh token of unknown outcome is still that of the published pair (of
    /// version `published`): only then must it be remembered (a newer pair, saved by this
    /// process's recovery grant or found in the store, replaces it: nobody refreshes with the
    /// old one any more).
    fn outcome_unknown_pending(&self, published: Option<u64>) -> bool {
        self.outcome_unknown
            .is_some_and(|sent| published.is_none_or(|published| published <= sent))
    }
}

/// One renewal of a manager's pair. It holds the manager's single-flight lock (and so the
/// [`State`]) from start to end, and runs in a task of its own that no caller can cancel; while
/// it sends, it holds the fleet's refresh lease (stores with a lease), which it gives back at
/// the end, or keeps while a new pair waits to be saved.
pub(super) struct Renewal {
    manager: TokenManager,
    state: OwnedMutexGuard<State>,
}

/// What a renewal found while it waited for the fleet's lease.
enum Leased {
    /// It holds the lease.
    Held(Lease),
    /// Another process renewed meanwhile: its pair.
    Renewed(Arc<StoredToken>),
}

impl Renewal {
    /// The renewal of `manager`, whose single-flight lock (`state`) the caller took.
    pub fn new(manager: TokenManager, state: OwnedMutexGuard<State>) -> Self {
        Self { manager, state }
    }

    /// The published token, if it is valid for longer than `margin_ms` and no unsaved pair waits
    /// to replace it: then there is nothing to renew.
    pub fn needless(&self, margin_ms: u64) -> Option<Arc<StoredToken>> {
        if self.state.unsaved.is_some() {
            return None;
        }
        self.manager.fresh_for(margin_ms)
    }

    /// A token valid for longer than `margin_ms`. `started` is when the caller began waiting: it
    /// bounds the wait for another process's refresh.
    pub async fn renew(
        mut self,
        started: Instant,
        margin_ms: u64,
    ) -> Result<Arc<StoredToken>, Error> {
        self.check_store_owner()?;
        self.forget_settled_outcome();
        if let Some(token) = self.needless(margin_ms) {
            return Ok(token);
        }
        // 1. A pair an earlier renewal could not save is saved first: it is the newest.
        if let Some(pending) = self.state.unsaved.take() {
            let token = self.save(pending).await?;
            // Saved: the lease kept for it (by this process) is given back here, not waited on.
            self.release_kept().await;
            if self.manager.is_fresh_for(&token, margin_ms) {
                return Ok(token);
            }
        }
        // 2. Another process may have renewed.
        if let Some(token) = self.reload(margin_ms).await? {
            return Ok(token);
        }
        // 3. Without a lease, this process is the only one that renews.
        let store = Arc::clone(self.manager.store());
        let Some(lease) = store.lease() else {
            return self.send_and_save(0).await;
        };
        // 4. With one, only its holder renews; the others wait for its new pair.
        let held = match self.take_lease(lease, started, Some(margin_ms)).await? {
            Leased::Held(held) => held,
            Leased::Renewed(token) => return Ok(token),
        };
        // 5. Holding it: refresh (or grant) and save, extending the lease meanwhile.
        let ttl = self.manager.settings().lease_ttl;
        let outcome = keeping(lease, &held, ttl, self.renew_holding(lease, margin_ms)).await;
        // 6. Give it back, or keep it while the new pair is unsaved.
        self.hand_back(lease, held).await;
        outcome
    }

    /// Replaces the pair with a new `org_implicit` grant, whatever the current pair is, under
    /// the fleet's lease when the store has one (see
    /// [`TokenManager::replace_with_grant`]).
    pub async fn regrant(mut self, started: Instant) -> Result<Arc<StoredToken>, Error> {
        self.check_store_owner()?;
        let store = Arc::clone(self.manager.store());
        let Some(lease) = store.lease() else {
            return self.grant_and_save().await;
        };
        // A lease this process kept for an unsaved pair is already ours.
        let held = match self.state.held.take() {
            Some(held) => held,
            None => match self.take_lease(lease, started, None).await? {
                Leased::Held(held) => held,
                Leased::Renewed(token) => return Ok(token),
            },
        };
        let ttl = self.manager.settings().lease_ttl;
        let outcome = keeping(lease, &held, ttl, self.grant_and_save()).await;
        self.hand_back(lease, held).await;
        outcome
    }

    /// Saves the unsaved pair again, if there is one, and gives back the lease kept for it once
    /// none is left unsaved; whether none is left.
    pub async fn save_unsaved(mut self) -> bool {
        self.save_again().await
    }

    /// Refuses a store built for another `(client_id, org_id)`.
    fn check_store_owner(&self) -> Result<(), StoreError> {
        match self.manager.store().bound_to() {
            Some(bound) if bound != self.manager.owner() => Err(self.wrong_owner(bound)),
            _ => Ok(()),
        }
    }

    /// The error for a store that holds, or is built for, `found`'s pair.
    fn wrong_owner(&self, found: &TokenOwner) -> StoreError {
        StoreError::WrongOwner {
            path: self.manager.store().location(),
            expected: self.manager.owner().clone(),
            found: found.clone(),
        }
    }

    /// Re-reads the store and adopts its pair if it is newer; the token valid for longer than
    /// `margin_ms`, if any. A pair of another owner is an error, never adopted.
    async fn reload(&self, margin_ms: u64) -> Result<Option<Arc<StoredToken>>, Error> {
        if let Some(stored) = self.manager.store().load().await? {
            if let Some(other) = stored.owner.as_ref().filter(|o| *o != self.manager.owner()) {
                return Err(Error::Store(self.wrong_owner(other)));
            }
            self.manager.adopt(stored);
        }
        Ok(self.manager.fresh_for(margin_ms))
    }

    /// Takes the fleet's refresh lease, waiting while another process holds it. With
    /// `look_for`, a token valid for longer than that which the holder saved meanwhile ends the
    /// wait. After the manager's lease wait, [`Error::RefreshBusy`].
    async fn take_lease(
        &self,
        lease: &dyn RefreshLease,
        started: Instant,
        look_for: Option<u64>,
    ) -> Result<Leased, Error> {
        let settings = self.manager.settings();
        let mut pause = FIRST_LEASE_PAUSE;
        loop {
            if let Some(held) = lease.try_acquire(settings.lease_ttl).await? {
                tracing::debug!("took the refresh lease");
                return Ok(Leased::Held(held));
            }
            let waited = started.elapsed();
            if waited >= settings.lease_wait() {
                tracing::warn!(
                    ?waited,
                    "another process holds the refresh lease and no new token pair appeared"
                );
                return Err(Error::RefreshBusy { waited });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_LEASE_PAUSE);
            if let Some(margin_ms) = look_for
                && let Some(token) = self.reload(margin_ms).await?
            {
                return Ok(Leased::Renewed(token));
            }
        }
    }

    /// Renews while holding the lease: the previous holder's pair if it saved one, otherwise a
    /// refresh (or grant) recorded with the lease, so that the next holder knows when a refresh
    /// token was sent and never saved.
    async fn renew_holding(
        &mut self,
        lease: &dyn RefreshLease,
        margin_ms: u64,
    ) -> Result<Arc<StoredToken>, Error> {
        // The previous holder may have saved a new pair just before its lease ended.
        if let Some(token) = self.reload(margin_ms).await? {
            return Ok(token);
        }
        let recorded = self.manager.published().map(|current| current.version);
        let unsaved_sends = match recorded {
            Some(version) => {
                let sends = lease.record_refresh(version).await?;
                if sends > 0 {
                    let owner = self.manager.owner();
                    tracing::warn!(
                        client_id = %owner.client_id,
                        org_id = ?owner.org_id,
                        version,
                        sends,
                        "an earlier lease holder sent this refresh token and never saved the result (it probably stopped mid-refresh)"
                    );
                }
                sends
            }
            None => 0,
        };
        let outcome = self.send_and_save(unsaved_sends).await;
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

    /// Refreshes the published pair (or gets a first one) and saves the result. `unsaved_sends`:
    /// how many times an earlier lease holder sent the published refresh token without saving
    /// what came back.
    async fn send_and_save(&mut self, unsaved_sends: u64) -> Result<Arc<StoredToken>, Error> {
        let current = self.manager.published();
        let version = current.as_ref().map_or(0, |c| c.version) + 1;
        let sent_here = current
            .as_ref()
            .is_some_and(|c| self.state.outcome_unknown == Some(c.version));
        let unsaved_sends = unsaved_sends + u64::from(sent_here);
        let issued = match &current {
            // A refresh token already sent with an unknown outcome (by this process, or by an
            // earlier lease holder that never saved the result) is never sent again: Cobo may
            // have rotated it, and presenting it twice can only fail or race. A new
            // `org_implicit` grant is asked for instead.
            Some(current) if unsaved_sends == 0 => match self.refresh(current, version).await {
                Err(unknown @ Error::RefreshOutcomeUnknown(_)) => {
                    self.state.outcome_unknown = Some(current.version);
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
        let saved = self.save(issued.pair).await?;
        match issued.unusable {
            // The new refresh token is saved; the next call refreshes with it.
            Some(error) => Err(error),
            None => Ok(saved),
        }
    }

    /// Grants and saves a pair whose version is above every pair known here.
    async fn grant_and_save(&mut self) -> Result<Arc<StoredToken>, Error> {
        // The newest pair of the store (another process may have refreshed) sets the version.
        self.reload(0).await?;
        let newest = [
            self.manager.published().map(|t| t.version),
            self.state.unsaved.as_ref().map(|t| t.version),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
        let issued = self.grant(newest + 1).await?;
        // The new grant supersedes an unsaved pair and a refresh token of unknown outcome.
        self.state.unsaved = None;
        self.state.outcome_unknown = None;
        let saved = self.save(issued.pair).await?;
        let owner = self.manager.owner();
        tracing::info!(
            client_id = %owner.client_id,
            org_id = ?owner.org_id,
            version = saved.version,
            "replaced the token pair with a new org_implicit grant"
        );
        match issued.unusable {
            Some(error) => Err(error),
            None => Ok(saved),
        }
    }

    /// After the work done holding `held`: gives the lease back, unless a new pair is unsaved.
    /// Nobody else may refresh then, so the lease is kept (in the state, so that the next
    /// renewal here can save and give it back) and the save is retried in the background.
    async fn hand_back(&mut self, lease: &dyn RefreshLease, held: Lease) {
        if self.state.unsaved.is_some() {
            self.state.held = Some(held);
            keep_saving(self.manager.clone());
        } else {
            release(lease, &held).await;
        }
    }

    /// Gives back the lease kept for a pair that is now saved.
    async fn release_kept(&mut self) {
        if let (Some(held), Some(lease)) = (self.state.held.take(), self.manager.store().lease()) {
            release(lease, &held).await;
        }
    }

    /// Saves the unsaved pair again, if there is one (on failure it stays unsaved; the error was
    /// logged); once no pair is unsaved, gives back the lease kept for it. Whether no pair is
    /// left unsaved.
    async fn save_again(&mut self) -> bool {
        if let Some(pending) = self.state.unsaved.take() {
            let _ = self.save(pending).await;
        }
        if self.state.unsaved.is_some() {
            return false;
        }
        self.release_kept().await;
        true
    }

    /// Saves a new pair, retrying; publishes it once saved. On failure the pair is kept as
    /// unsaved, so its refresh token, not the old one, is used from now on. When the store
    /// already holds a newer pair (another process renewed), that pair is used instead.
    async fn save(&mut self, token: StoredToken) -> Result<Arc<StoredToken>, Error> {
        let mut last = None;
        for attempt in 1..=SAVE_ATTEMPTS {
            match self.manager.store().save(&token).await {
                Ok(()) => {
                    let saved = self.manager.publish(token);
                    self.forget_settled_outcome();
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
        self.state.unsaved = Some(token);
        Err(Error::Store(last.unwrap_or_else(|| StoreError::Io {
            path: String::new(),
            reason: "no attempt".to_owned(),
        })))
    }

    /// Forgets the refresh token of unknown outcome once a newer pair is published.
    fn forget_settled_outcome(&mut self) {
        let published = self.manager.published().map(|token| token.version);
        if self.state.outcome_unknown.is_some() && !self.state.outcome_unknown_pending(published) {
            self.state.outcome_unknown = None;
        }
    }

    /// Sends the refresh token of `current`, for the pair of `version`.
    async fn refresh(&self, current: &StoredToken, version: u64) -> Result<Issued, Error> {
        let owner = self.manager.owner();
        let answer = self
            .manager
            .client()
            .refresh_token(&owner.client_id, &current.refresh_token)
            .await;
        // An answer without a refresh token is `InvalidBody` here: Cobo spent the old one.
        let outcome = match answer.and_then(|token| self.issued(token, version)) {
            Err(error) if may_have_rotated(&error) => {
                tracing::error!(
                    error = %error,
                    "the refresh request may have reached Cobo but no usable answer arrived; this refresh token is not sent again (the next renewal asks for a new grant)"
                );
                Err(Error::RefreshOutcomeUnknown(Box::new(error)))
            }
            outcome => outcome,
        };
        crate::metrics::renewal_answered(TokenRequest::Refresh, &outcome);
        match outcome {
            Err(Error::OAuth { error, .. }) if error == "invalid_grant" => {
                tracing::warn!(
                    client_id = %owner.client_id,
                    org_id = ?owner.org_id,
                    "Cobo rejected the refresh token (invalid_grant); falling back once to a new org_implicit grant"
                );
                self.grant(version).await
            }
            outcome => outcome,
        }
    }

    /// Asks for a new `org_implicit` grant, for the pair of `version`.
    async fn grant(&self, version: u64) -> Result<Issued, Error> {
        let owner = self.manager.owner();
        let outcome = match self
            .manager
            .client()
            .get_token_unless_rate_limited(&owner.client_id, &owner.org_id)
            .await
        {
            Ok(token) => self.issued(token, version),
            // Only a 4XX refusal of the grant itself means the app must be authorized again: not
            // a 5XX, not 401 (Cobo refused the key, the signature or the nonce), not 408 or 429
            // (try again later).
            Err(Error::OAuth {
                status,
                error,
                description,
                ..
            }) if (400..500).contains(&status) && !matches!(status, 401 | 408 | 429) => {
                tracing::error!(status, error = %error, "Cobo refused a new org_implicit grant: the organization must authorize the app again");
                Err(Error::ReauthorizationRequired {
                    status,
                    error,
                    description,
                })
            }
            Err(error) => Err(error),
        };
        crate::metrics::renewal_answered(TokenRequest::Grant, &outcome);
        outcome
    }

    /// The pair to store from a signed token answer. An answer with a new refresh token is
    /// always kept, even when the rest is unusable: Cobo has already killed the old one.
    fn issued(&self, token: Token, version: u64) -> Result<Issued, Error> {
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
            (Some(_), Some(expires_in)) => {
                let lifetime_s = u64::try_from(expires_in).unwrap_or(0);
                self.manager
                    .observe_lifetime(lifetime_s.saturating_mul(1_000));
                None
            }
        };
        let owner = Some(self.manager.owner().clone());
        let now = self.manager.settings().clock.now_millis();
        let pair = StoredToken::from_answer(token, version, owner, now)
            .ok_or_else(|| missing("refresh_token", false))?;
        if let Some(error) = &unusable {
            tracing::warn!(error = %error, "keeping the refresh token of an unusable token answer");
        }
        Ok(Issued { pair, unusable })
    }
}

/// A pair Cobo issued, to be saved, and why its access token cannot be used, if it cannot.
struct Issued {
    pair: StoredToken,
    unusable: Option<Error>,
}

/// Keeps the lease in [`State`] while a new pair is unsaved, retrying the save every third of
/// the lease's time to live, and gives the lease back once the pair is saved. A later renewal
/// in this process that saves the pair first gives the lease back itself.
fn keep_saving(manager: TokenManager) {
    tokio::spawn(async move {
        let ttl = manager.settings().lease_ttl;
        let store = Arc::clone(manager.store());
        let Some(lease) = store.lease() else {
            return;
        };
        loop {
            tokio::time::sleep(ttl / 3).await;
            let mut renewal = manager.renewal().await;
            if renewal.state.held.is_none() || renewal.save_again().await {
                return; // Saved and given back, by a renewal or just now.
            }
            let extended = match &renewal.state.held {
                Some(held) => extend(lease, held, ttl).await,
                None => false,
            };
            if !extended {
                renewal.state.held = None;
                return;
            }
        }
    });
}

/// Runs `work`, extending `held` (for another `ttl`) every third of `ttl` until `work` is done.
async fn keeping<T>(
    lease: &dyn RefreshLease,
    held: &Lease,
    ttl: Duration,
    work: impl Future<Output = T>,
) -> T {
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
async fn release(lease: &dyn RefreshLease, held: &Lease) {
    if let Err(error) = lease.release(held).await {
        tracing::warn!(error = %error, "releasing the refresh lease failed; it will expire");
    }
}
