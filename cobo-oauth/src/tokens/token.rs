//! [`Token`]: an Org Access Token and its Refresh Token.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The answer of `GET /oauth/token` or `POST /oauth/token`. Both tokens are secrets: `Debug`
/// redacts them and there is no `Display`.
#[derive(Clone, Deserialize)]
pub struct Token {
    /// The Org Access Token, sent as `Authorization: Bearer ...`.
    pub access_token: Option<SecretString>,
    /// The Refresh Token. Every refresh returns a new one and kills the old one: store it.
    pub refresh_token: Option<SecretString>,
    /// `Bearer`.
    pub token_type: Option<String>,
    /// Currently empty.
    pub scope: Option<String>,
    /// Seconds until the access token expires (about 12 hours).
    pub expires_in: Option<i64>,
}

impl Token {
    /// The token response as JSON, tokens included: for handing to the token's owner only.
    pub fn to_json_exposing_secrets(&self) -> serde_json::Value {
        serde_json::json!({
            "access_token": self.access_token.as_ref().map(|t| t.expose_secret().to_owned()),
            "token_type": self.token_type,
            "scope": self.scope,
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token.as_ref().map(|t| t.expose_secret().to_owned()),
        })
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |t: &Option<SecretString>| t.as_ref().map(|_| "<redacted>");
        f.debug_struct("Token")
            .field("access_token", &redacted(&self.access_token))
            .field("refresh_token", &redacted(&self.refresh_token))
            .field("token_type", &self.token_type)
            .field("scope", &self.scope)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// A secret of the generated types as a `SecretString` (the generated copy is wiped on drop).
fn exposed(text: &cobo_oauth_runtime::SecretText) -> SecretString {
    SecretString::from(text.expose_secret().to_owned())
}

/// The fields both generated token responses have.
macro_rules! from_generated {
    ($($generated:ty),*) => {$(
        impl From<$generated> for Token {
            fn from(response: $generated) -> Self {
                Self {
                    access_token: response.access_token.as_ref().map(exposed),
                    refresh_token: response.refresh_token.as_ref().map(exposed),
                    token_type: response.token_type,
                    scope: response.scope,
                    expires_in: response.expires_in,
                }
            }
        }
    )*};
}

from_generated!(
    cobo_oauth_gen::types::GetTokenResponse,
    cobo_oauth_gen::types::RefreshTokenResponse
);
