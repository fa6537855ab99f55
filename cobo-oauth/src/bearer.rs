//! Org Access Tokens on the operations that accept them.
//!
//! An operation whose spec lists the `OAuth2` scheme (its row of the generated client's
//! `OPERATIONS` table says so) is sent with `Authorization: Bearer <token>` when the
//! client has a [`BearerSource`] ([`CoboClient::with_bearer`](crate::CoboClient::with_bearer)),
//! still CoboAuth-signed with the app key. When Cobo answers HTTP 500 with `error_code` 1000 (the
//! token expired) in a response it signed, the source is told which token was refused, and the
//! request is sent once more with a new token. An unsigned answer (a gateway's) never renews a
//! token, whatever its body says.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use secrecy::SecretString;

use crate::error::Error;

/// Cobo's error code for an expired access token (sent with HTTP 500).
pub const TOKEN_EXPIRED_CODE: i64 = 1000;

/// The future a [`BearerSource`] returns.
pub type BearerFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where Org Access Tokens come from.
pub trait BearerSource: Send + Sync + fmt::Debug {
    /// A valid access token.
    fn token(&self) -> BearerFuture<'_, Result<SecretString, Error>>;
    /// Cobo said `rejected` expired (a signed error 1000): the next [`Self::token`] must not
    /// return it. A source that has already replaced it keeps its newer token.
    fn expired(&self, rejected: &SecretString);
}

/// Whether a response body is Cobo's "token expired" error (`error_code` 1000).
pub(crate) fn is_token_expired(status: u16, body: &[u8]) -> bool {
    status == 500
        && serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("error_code").and_then(serde_json::Value::as_i64))
            == Some(TOKEN_EXPIRED_CODE)
}
