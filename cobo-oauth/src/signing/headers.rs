//! Stage 4: the three CoboAuth headers.

use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::signer::{ApiKey, Signature};

/// `Biz-Api-Key`.
pub const API_KEY: HeaderName = HeaderName::from_static("biz-api-key");
/// `Biz-Api-Nonce`.
pub const API_NONCE: HeaderName = HeaderName::from_static("biz-api-nonce");
/// `Biz-Api-Signature`.
pub const API_SIGNATURE: HeaderName = HeaderName::from_static("biz-api-signature");

/// The values of `Biz-Api-Key`, `Biz-Api-Nonce` and `Biz-Api-Signature` for one request.
/// `Debug` hides the signature.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthHeaders {
    /// `Biz-Api-Key`.
    pub api_key: ApiKey,
    /// `Biz-Api-Nonce`.
    pub nonce: String,
    /// `Biz-Api-Signature`.
    pub signature: Signature,
}

impl AuthHeaders {
    /// The three headers as (name, value) pairs, in the order the official SDKs send them.
    pub fn pairs(&self) -> [(HeaderName, String); 3] {
        [
            (API_KEY, self.api_key.as_str().to_owned()),
            (API_NONCE, self.nonce.clone()),
            (API_SIGNATURE, self.signature.to_hex()),
        ]
    }

    /// Sets the three headers on `headers`, replacing any earlier ones (a retried request is
    /// signed again).
    pub fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in self.pairs() {
            // Hex digits and decimal digits are always valid header values.
            if let Ok(mut value) = HeaderValue::from_str(&value) {
                // Kept out of HTTP/2 header compression tables and of `Debug` output.
                value.set_sensitive(name == API_SIGNATURE);
                headers.insert(name, value);
            }
        }
    }
}

impl fmt::Debug for AuthHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthHeaders")
            .field("api_key", &self.api_key.as_str())
            .field("nonce", &self.nonce)
            .field("signature", &self.signature)
            .finish()
    }
}
