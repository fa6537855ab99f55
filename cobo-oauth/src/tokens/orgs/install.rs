//! Cobo's install callback: [`OrgTokens::on_install`].

use std::fmt;
use std::sync::Arc;

#[cfg(doc)]
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
#[non_exhaustive]
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
    /// The grant failed, and its error is shared: callbacks for the organization that arrived
    /// before its grant started were all answered by that one grant. The error is what
    /// [`Grant`](Self::Grant) would hold; [`grant_error`](InstallError::grant_error) gives it
    /// for both.
    #[error(transparent)]
    SharedGrant(Arc<Error>),
    /// Too many install grants are queued or in flight
    /// ([`max_concurrent_installs`](super::OrgTokensBuilder::max_concurrent_installs) plus
    /// [`max_queued_installs`](super::OrgTokensBuilder::max_queued_installs)), or the
    /// organization's waiting grant already answers its most callbacks: answered at once,
    /// nothing was sent. Answer the callback with 503 (Service Unavailable): the install route
    /// is flooded.
    #[error("too many install callbacks are being handled; nothing was sent (answer 503)")]
    Busy,
}

impl InstallError {
    /// The grant's error ([`Grant`](Self::Grant) or [`SharedGrant`](Self::SharedGrant)), e.g.
    /// [`Error::ReauthorizationRequired`] when Cobo refused it.
    pub fn grant_error(&self) -> Option<&Error> {
        match self {
            Self::Grant(error) => Some(error),
            Self::SharedGrant(error) => Some(error),
            _ => None,
        }
    }

    /// The error of a grant that answered one or more callbacks: itself when it answers this
    /// callback alone.
    pub(super) fn from_grant(error: Arc<Error>) -> Self {
        match Arc::try_unwrap(error) {
            Ok(error) => Self::Grant(error),
            Err(shared) => Self::SharedGrant(shared),
        }
    }
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
