//! [`OrgStatus`]: what an app can read about one organization's token, without any secret.

/// The state of one organization's token, as this process knows it. Holds no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgStatus {
    /// The organization.
    pub org_id: String,
    /// When its access token expires (Unix milliseconds), if a pair is known.
    pub expires_at_ms: Option<u64>,
    /// The version of its pair (one more with each refresh or grant), if a pair is known.
    pub version: Option<u64>,
    /// When this process last got a new pair for it (refreshed, granted, or found in the store
    /// after another process renewed it), Unix milliseconds.
    pub last_renewal_ms: Option<u64>,
    /// The last renewal error since the last success (never contains a token).
    pub last_error: Option<String>,
    /// Cobo refused a new grant ([`Error::ReauthorizationRequired`](crate::Error)): the
    /// organization uninstalled the app. Nothing is sent for it until
    /// [`OrgTokens::on_install`](super::OrgTokens::on_install).
    pub uninstalled: bool,
}

/// The mutable part of an organization's status, kept with its manager.
#[derive(Debug, Default)]
pub(super) struct Record {
    /// When this process last saw a new pair.
    pub last_renewal_ms: Option<u64>,
    /// The last error since the last success.
    pub last_error: Option<String>,
}
