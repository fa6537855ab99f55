//! Cobo's install callback: [`OrgTokens::on_install`].

use std::fmt;

use super::refusals::is_uninstall;
use super::tokens::OrgTokens;
use crate::error::Error;

/// What Cobo's install callback says (`POST <callback_url>?approval_result=<1|2>&org_id=<uuid>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalResult {
    /// `1`: the organization installed (approved) the app.
    Installed,
    /// `2`: the organization changed the app's permissions or wallet scopes: the app needs a
    /// new Org Access Token.
    PermissionsChanged,
}

impl ApprovalResult {
    /// The value Cobo sends.
    pub fn code(self) -> u8 {
        match self {
            Self::Installed => 1,
            Self::PermissionsChanged => 2,
        }
    }
}

impl fmt::Display for ApprovalResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// Why [`OrgTokens::on_install`] failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// `approval_result` is neither `1` nor `2`. Nothing was sent.
    #[error("unknown approval_result {0:?}: Cobo sends 1 (installed) or 2 (permissions changed)")]
    UnknownApprovalResult(String),
    /// The `org_id` is empty. Nothing was sent.
    #[error("the install callback carries no org_id")]
    MissingOrgId,
    /// The grant failed: [`Error::ReauthorizationRequired`] when Cobo refused it (the app is not
    /// installed for that organization: the callback was not Cobo's, or is stale), or another
    /// error of the request or the store.
    #[error(transparent)]
    Grant(#[from] Error),
}

impl From<std::convert::Infallible> for InstallError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl TryFrom<&str> for ApprovalResult {
    type Error = InstallError;

    fn try_from(value: &str) -> Result<Self, InstallError> {
        match value.trim() {
            "1" => Ok(Self::Installed),
            "2" => Ok(Self::PermissionsChanged),
            _ => Err(InstallError::UnknownApprovalResult(
                value.chars().take(32).collect(),
            )),
        }
    }
}

impl TryFrom<&String> for ApprovalResult {
    type Error = InstallError;

    fn try_from(value: &String) -> Result<Self, InstallError> {
        Self::try_from(value.as_str())
    }
}

impl TryFrom<i64> for ApprovalResult {
    type Error = InstallError;

    fn try_from(value: i64) -> Result<Self, InstallError> {
        match value {
            1 => Ok(Self::Installed),
            2 => Ok(Self::PermissionsChanged),
            _ => Err(InstallError::UnknownApprovalResult(value.to_string())),
        }
    }
}

impl TryFrom<i32> for ApprovalResult {
    type Error = InstallError;

    fn try_from(value: i32) -> Result<Self, InstallError> {
        Self::try_from(i64::from(value))
    }
}

impl OrgTokens {
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
    /// callbacks costs one grant request each: rate-limit the route. The work runs in a task of
    /// its own, so a callback request that is dropped midway still saves the new pair.
    ///
    /// ```no_run
    /// # async fn f(tokens: cobo_oauth::tokens::OrgTokens) -> Result<(), cobo_oauth::tokens::InstallError> {
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
        tracing::info!(
            client_id = %self.inner.client_id,
            org_id = ?org_id,
            approval_result = result.code(),
            "install callback: asking for a new org_implicit grant"
        );
        let shared = std::sync::Arc::clone(&self.inner);
        let org_id = org_id.to_owned();
        let work = tokio::spawn(async move {
            let entry = shared.entry(&org_id);
            let _gate = std::sync::Arc::clone(&entry.gate).lock_owned().await;
            let _permit = std::sync::Arc::clone(&shared.renewals)
                .acquire_owned()
                .await
                .map_err(|_| Error::RenewalInterrupted)?;
            let before = entry.manager.published().map(|t| t.version);
            let outcome = entry.manager.regranted().await;
            // Cobo issued a pair and it was saved (an answer with an unusable access token still
            // has its refresh token saved): the organization has the app again.
            let saved = outcome.is_ok() || entry.manager.published().map(|t| t.version) > before;
            if saved && !matches!(&outcome, Err(error) if is_uninstall(error)) {
                shared.forget_uninstall(&org_id);
            }
            shared.settle(
                &org_id,
                &entry,
                before,
                outcome.as_ref().map(std::sync::Arc::clone),
            );
            outcome.map(|_| ())
        });
        match work.await {
            Ok(outcome) => Ok(outcome?),
            Err(stopped) if stopped.is_panic() => std::panic::resume_unwind(stopped.into_panic()),
            Err(_) => Err(Error::RenewalInterrupted.into()),
        }
    }
}
