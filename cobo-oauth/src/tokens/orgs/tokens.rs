//! [`OrgTokens`]: a valid Org Access Token for any organization that installed the app.

use std::sync::Arc;

use secrecy::SecretString;

use super::builder::OrgTokensBuilder;
use super::health::OrgHealth;
use super::install::{ApprovalResult, InstallError};
use super::refresher::OrgRefresher;
use super::shared::Shared;
use super::status::OrgStatus;
use super::store::OrgStore;
use crate::client::CoboClient;
use crate::error::Error;

/// A valid Org Access Token for any organization that installed the app (`client_id`): one
/// value per app, however many organizations.
///
/// - [`access_token(org_id)`](Self::access_token): cached while fresh, otherwise renewed by that
///   organization's [`TokenManager`](crate::tokens::TokenManager) (made at first use, shared by every caller, dropped from
///   memory when idle: the pair stays in the store). Everything a manager guarantees holds per
///   organization: single-flight, cancel-safe renewals, no refresh token ever presented twice,
///   the fleet-wide lease of a shared store.
/// - [`CoboClient::for_org`](crate::CoboClient::for_org): a client that sends an organization's Bearer token.
/// - [`on_install`](Self::on_install): Cobo's install callback.
/// - [`spawn_refresher`](Self::spawn_refresher): renews every organization ahead of expiry, a
///   bounded number at a time.
/// - [`status`](Self::status): expiry, last renewal and last error per organization.
/// - [`health`](Self::health): every organization's tokens counted, from memory.
///
/// An organization whose new grant Cobo refuses ([`Error::ReauthorizationRequired`]: it
/// uninstalled the app: `unauthorized_client`, `access_denied` or `invalid_grant`) is reported
/// once (`error`, with its `org_id`) and then left alone: its calls fail at once with that error,
/// nothing is sent, until `on_install` is called for it, the store holds a newer pair for it
/// (another process got its new grant), or the refusal expires
/// ([`uninstall_recheck_after`](super::OrgTokensBuilder::uninstall_recheck_after)) and one new
/// grant is asked for.
///
/// Cheap to clone; clones share everything. `Debug` shows the app, the store and how many
/// organizations are in memory, never a token.
#[derive(Clone)]
pub struct OrgTokens {
    inner: Arc<Shared>,
}

impl std::fmt::Debug for OrgTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgTokens")
            .field("client_id", &self.inner.client_id)
            .field("store", &self.inner.store)
            .field("cached_orgs", &self.cached_orgs())
            .field("max_concurrent_renewals", &self.inner.max_renewals)
            .finish_non_exhaustive()
    }
}

impl OrgTokens {
    /// Tokens for the app `client_id`, requested with `client`.
    pub fn builder(client: CoboClient, client_id: impl Into<String>) -> OrgTokensBuilder {
        OrgTokensBuilder::new(client, client_id.into())
    }

    /// The tokens that `shared` holds (what [`OrgTokensBuilder::build`] makes).
    pub(super) fn new(shared: Shared) -> Self {
        Self {
            inner: Arc::new(shared),
        }
    }

    /// The app.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The store of every organization's pair.
    pub fn store(&self) -> &Arc<dyn OrgStore> {
        &self.inner.store
    }

    /// The most renewals that run at once.
    pub fn max_concurrent_renewals(&self) -> u32 {
        self.inner.max_renewals
    }

    /// A valid access token of `org_id`: from memory while fresh, otherwise renewed (at most
    /// [`max_concurrent_renewals`](super::OrgTokensBuilder::max_concurrent_renewals) renewals run at
    /// once). May be dropped at any `.await`: a renewal, once started, finishes in a task of
    /// its own. An organization that uninstalled the app gets
    /// [`Error::ReauthorizationRequired`] at once.
    pub async fn access_token(&self, org_id: &str) -> Result<SecretString, Error> {
        if let Some(token) = self.inner.cached(org_id) {
            return Ok(token);
        }
        // Boxed: the cached path above stays a small future.
        let renewed = Box::pin(self.inner.renew_for_caller(org_id)).await?;
        Ok(renewed.access_token.clone())
    }

    /// Cobo refused `rejected` as `org_id`'s access token (error 1000): the next call renews it
    /// (see [`TokenManager::invalidate`](crate::tokens::TokenManager::invalidate)). Returns whether the published token was marked.
    pub fn invalidate(&self, org_id: &str, rejected: &SecretString) -> bool {
        self.inner
            .orgs()
            .get(org_id)
            .is_some_and(|entry| entry.manager.invalidate(rejected))
    }

    /// What this process knows of `org_id`'s token; an organization not in memory is read from
    /// the store.
    pub async fn status(&self, org_id: &str) -> Result<OrgStatus, Error> {
        self.inner.store.check_org_id(org_id)?;
        let uninstalled = self.inner.standing_refusal(org_id).await.is_some();
        let entry = self.inner.orgs().get(org_id).cloned();
        let (pair, last_renewal_ms, last_error) = match entry {
            Some(entry) => {
                let (renewed, error) =
                    entry.update_record(|r| (r.last_renewal_ms, r.last_error.clone()));
                (entry.manager.published(), renewed, error)
            }
            None => (
                self.inner.store.org(org_id).load().await?.map(Arc::new),
                None,
                None,
            ),
        };
        Ok(OrgStatus {
            org_id: org_id.to_owned(),
            expires_at_ms: pair.as_ref().map(|p| p.expires_at_ms),
            version: pair.as_ref().map(|p| p.version),
            last_renewal_ms,
            last_error,
            uninstalled,
        })
    }

    /// The status of every organization the store holds a pair for.
    pub async fn statuses(&self) -> Result<Vec<OrgStatus>, Error> {
        let mut orgs = self.inner.store.list().await?;
        orgs.sort();
        let mut statuses = Vec::with_capacity(orgs.len());
        for org in orgs {
            statuses.push(self.status(&org).await?);
        }
        Ok(statuses)
    }

    /// The health of every organization's token, from this process's memory: how many
    /// organizations are tracked, how many have a valid token, how many are expiring (within
    /// the refresh margin), expired or failing, how many uninstalled the app, whether Cobo's rate
    /// limit pauses renewals, and when the background refresher last ran. Nothing is read from
    /// the store or sent to Cobo: a health route may answer from it on every request (see
    /// [`OrgHealth`] for what healthy means). With feature `metrics` it sets the gauges of
    /// [`crate::metrics`] too, as the refresher does every 15 s to 1 min.
    pub fn health(&self) -> OrgHealth {
        self.inner.health()
    }

    /// How many organizations have a manager in memory.
    pub fn cached_orgs(&self) -> usize {
        self.inner.orgs().len()
    }

    /// Drops from memory the managers of organizations unused for longer than
    /// [`idle_after`](super::OrgTokensBuilder::idle_after) that are settled (not renewing, nothing
    /// unsaved, no refresh token of unknown outcome). Their pairs stay in the store. Also runs
    /// by itself as organizations are added. Returns how many were dropped.
    pub fn drop_idle(&self) -> usize {
        self.inner.sweep(self.inner.now_ms())
    }

    /// Starts renewing every organization in the background, each `refresh_margin` plus a random
    /// jitter (up to half the margin) before its expiry:
    ///
    /// - the organizations of the store (listed at start and every
    ///   [`rescan_every`](super::OrgTokensBuilder::rescan_every)), and every organization used,
    ///   granted or installed through these tokens;
    /// - at most [`max_concurrent_renewals`](super::OrgTokensBuilder::max_concurrent_renewals)
    ///   at once, so a thousand tokens expiring together never make a thousand requests at once;
    /// - a failed renewal is retried with its own exponential backoff (1 s to 5 min, jittered);
    /// - a rate limit (HTTP 429 in any shape, or Cobo's error 2026) is not an organization's
    ///   failure: it pauses every renewal (the refresher's, installs', and callers' whose token
    ///   is still unexpired: they get that token meanwhile) for one pause per episode, as long
    ///   as Cobo's `Retry-After` says, or 1 s doubling with each episode until a renewal
    ///   succeeds, at most [`MAX_RATE_LIMIT_PAUSE`](super::MAX_RATE_LIMIT_PAUSE);
    /// - with a shared store (Redis), a pair another process renewed first is taken from the
    ///   store, never refreshed again: the lease rules hold per organization;
    /// - an organization whose grant Cobo refuses (it uninstalled the app) is reported once
    ///   and left alone until [`on_install`](OrgTokens::on_install), until another process
    ///   saves a newer pair for it, or until the refusal is checked again
    ///   ([`uninstall_recheck_after`](super::OrgTokensBuilder::uninstall_recheck_after)).
    ///
    /// Needs a tokio runtime. Stop it by dropping the handle. Run one per process.
    pub fn spawn_refresher(&self) -> OrgRefresher {
        OrgRefresher::spawn(Arc::clone(&self.inner))
    }

    /// Handles Cobo's install callback for `org_id`: `approval_result` `1` (installed) makes the
    /// organization's first `org_implicit` grant and saves it; `2` (permissions or wallet scopes
    /// changed) replaces its pair with a new grant, and its old refresh token is never presented
    /// again. A `1` for an organization that already has a pair (it installed the app again, or
    /// the callback came twice) also replaces it: a pair from before an uninstall is dead.
    /// Either forgets that the organization had uninstalled the app. Any other value is
    /// [`InstallError::UnknownApprovalResult`] and sends nothing.
    ///
    /// Cobo documents no signature on this callback, so anyone who can reach the route can call
    /// it: treat it as a hint, never as proof. The grant itself is the proof: Cobo answers it
    /// (signed, verified here) only for an organization that installed the app; otherwise the
    /// call fails with [`Error::ReauthorizationRequired`] and nothing is saved. A flood of forged
    /// callbacks costs one grant request each, within a budget: rate-limit the route too.
    ///
    /// Install grants have a budget of their own, apart from renewals (whose permits they never
    /// take): at most
    /// [`max_concurrent_installs`](super::OrgTokensBuilder::max_concurrent_installs) in flight
    /// and [`max_queued_installs`](super::OrgTokensBuilder::max_queued_installs) waiting (2 and
    /// 32 by default). A callback beyond them is answered at once with [`InstallError::Busy`]
    /// (answer 503): nothing is spawned or sent for it. Callbacks for one organization that
    /// arrive while its grant waits share that grant (a failure then comes as
    /// [`InstallError::SharedGrant`]; [`InstallError::grant_error`] reads either); one that
    /// arrives while its grant is sent gets a new grant after it, so a `2` is never lost. An
    /// admitted grant runs in a task of its own, so a callback request that is dropped midway
    /// still saves the new pair; an organization that was not in memory leaves it again when
    /// its grant fails. A waiting grant answers at most 64 callbacks still waiting (beyond
    /// them, `Busy`). Installs wait while a rate limit pauses renewals, and a grant's 429 is
    /// not retried while it holds its place: it pauses every renewal instead.
    ///
    /// ```no_run
    /// # async fn f(tokens: cobo_oauth::tokens::orgs::OrgTokens) -> Result<(), cobo_oauth::tokens::orgs::InstallError> {
    /// // In the app's `POST /cobo/install?approval_result=1&org_id=...` handler:
    /// tokens.on_install("org id from the query", "1").await?;
    /// # Ok(()) }
    /// ```
    pub async fn on_install<R>(&self, org_id: &str, approval_result: R) -> Result<(), InstallError>
    where
        R: TryInto<ApprovalResult>,
        R::Error: Into<InstallError>,
    {
        let result = approval_result.try_into().map_err(Into::into)?;
        if org_id.trim().is_empty() {
            return Err(InstallError::MissingOrgId);
        }
        // An id the store cannot keep a pair for: a grant would be lost.
        self.inner.store.check_org_id(org_id)?;
        let answer = match self.inner.install(org_id) {
            Ok(answer) => answer,
            Err(busy) => {
                // Logged at `debug` only: a flood of callbacks would flood the logs too.
                tracing::debug!(
                    client_id = %self.inner.client_id,
                    org_id = ?org_id,
                    "install callback refused: too many install grants queued or in flight"
                );
                return Err(busy);
            }
        };
        tracing::info!(
            client_id = %self.inner.client_id,
            org_id = ?org_id,
            approval_result = result.code(),
            "install callback: asking for a new org_implicit grant"
        );
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(InstallError::from_grant(error)),
            // The grant's task stopped without answering: the runtime is shutting down.
            Err(_) => Err(Error::RenewalInterrupted.into()),
        }
    }
}
