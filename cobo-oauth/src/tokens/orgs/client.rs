//! [`CoboClient::for_org`]: a client that sends one organization's Bearer token.

use std::sync::Arc;

use secrecy::SecretString;

use super::tokens::OrgTokens;
use crate::bearer::{BearerFuture, BearerSource};
use crate::client::CoboClient;
use crate::error::Error;

/// The Bearer token of one organization, looked up in [`OrgTokens`] at every request (so it
/// never keeps a manager in memory past its idle time).
#[derive(Debug, Clone)]
pub struct OrgBearer {
    tokens: OrgTokens,
    org_id: String,
}

impl OrgBearer {
    /// `org_id`'s tokens.
    pub fn new(tokens: OrgTokens, org_id: impl Into<String>) -> Self {
        Self {
            tokens,
            org_id: org_id.into(),
        }
    }

    /// The organization.
    pub fn org_id(&self) -> &str {
        &self.org_id
    }
}

impl BearerSource for OrgBearer {
    fn token(&self) -> BearerFuture<'_, Result<SecretString, Error>> {
        Box::pin(self.tokens.access_token(&self.org_id))
    }

    fn expired(&self, rejected: &SecretString) {
        self.tokens.invalidate(&self.org_id, rejected);
    }
}

impl CoboClient {
    /// The same client, sending `org_id`'s Org Access Token from `tokens` as
    /// `Authorization: Bearer` with every operation that accepts the `OAuth2` scheme (see
    /// [`crate::bearer`]; a signed error 1000 renews that organization's token and resends
    /// once). Cheap: make one per request if that is simplest.
    pub fn for_org(&self, tokens: &OrgTokens, org_id: impl Into<String>) -> CoboClient {
        self.with_bearer(Arc::new(OrgBearer::new(tokens.clone(), org_id)))
    }
}
