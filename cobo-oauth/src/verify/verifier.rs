//! [`ResponseVerifier`]: checks one response against Cobo's public key.

use std::fmt;

use ed25519_dalek::{Signature as Ed25519Signature, VerifyingKey};
use http::HeaderMap;

use crate::signing::{Digest, KeyError};

const SIGNATURE_HEADERS: [&str; 2] = ["biz-resp-signature", "biz_resp_signature"];
const TIMESTAMP_HEADERS: [&str; 2] = ["biz-timestamp", "biz_timestamp"];

/// What [`ResponseVerifier::check`] concluded about a response it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The response is signed and the signature is valid.
    Verified,
    /// A non-2xx response without signature headers: a gateway's error, not Cobo's.
    UnsignedError,
}

/// Why a response was rejected. A rejected response never reaches the caller as data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A 2xx response without `Biz-Resp-Signature` and `Biz-Timestamp`.
    #[error("response signature missing: a {status} response from Cobo is always signed")]
    Missing {
        /// HTTP status.
        status: u16,
    },
    /// The signature headers are present but not well formed (not hex, wrong length, or only one
    /// of the two headers).
    #[error("response signature malformed: {reason}")]
    Malformed {
        /// HTTP status.
        status: u16,
        /// What is wrong.
        reason: &'static str,
    },
    /// The signature does not verify against the environment's key.
    #[error("response signature invalid for the {status} response")]
    Invalid {
        /// HTTP status.
        status: u16,
    },
}

/// Verifies response signatures with one environment's ed25519 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct ResponseVerifier {
    key: VerifyingKey,
}

impl ResponseVerifier {
    /// A verifier for a 32-byte ed25519 public key, as 64 hex characters.
    pub fn from_hex(public_key_hex: &str) -> Result<Self, KeyError> {
        let invalid = |reason: &str| KeyError::InvalidPublicKey {
            curve: "ed25519",
            reason: reason.to_owned(),
        };
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(public_key_hex.trim(), &mut bytes)
            .map_err(|_| invalid("expected 64 hex characters"))?;
        let key =
            VerifyingKey::from_bytes(&bytes).map_err(|_| invalid("not a point on the curve"))?;
        Ok(Self { key })
    }

    /// A verifier for a key.
    pub fn new(key: VerifyingKey) -> Self {
        Self { key }
    }

    /// The public key, hex.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.as_bytes())
    }

    /// Verifies `signature_hex` over `body|timestamp`.
    pub fn verify(
        &self,
        body: &[u8],
        timestamp: &str,
        signature_hex: &str,
        status: u16,
    ) -> Result<(), VerifyError> {
        let mut signature = [0u8; 64];
        hex::decode_to_slice(signature_hex.trim(), &mut signature).map_err(|_| {
            VerifyError::Malformed {
                status,
                reason: "signature must be 64 bytes of hex",
            }
        })?;
        let mut content = Vec::with_capacity(body.len() + 1 + timestamp.len());
        content.extend_from_slice(body);
        content.push(b'|');
        content.extend_from_slice(timestamp.as_bytes());
        let digest = Digest::sha256d(&content);
        self.key
            .verify_strict(digest.as_bytes(), &Ed25519Signature::from_bytes(&signature))
            .map_err(|_| VerifyError::Invalid { status })
    }

    /// Applies the rules of [the `verify` module](crate::verify) to a response.
    pub fn check(
        &self,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Verdict, VerifyError> {
        let signature = first_header(headers, &SIGNATURE_HEADERS);
        let timestamp = first_header(headers, &TIMESTAMP_HEADERS);
        match (signature, timestamp) {
            (Some(signature), Some(timestamp)) => {
                let signature = signature.ok_or(VerifyError::Malformed {
                    status,
                    reason: "signature is not ASCII",
                })?;
                let timestamp = timestamp.ok_or(VerifyError::Malformed {
                    status,
                    reason: "timestamp is not ASCII",
                })?;
                self.verify(body, timestamp, signature, status)
                    .map(|()| Verdict::Verified)
            }
            (None, None) if (200..300).contains(&status) => Err(VerifyError::Missing { status }),
            (None, None) => Ok(Verdict::UnsignedError),
            _ => Err(VerifyError::Malformed {
                status,
                reason: "only one of the signature and timestamp headers",
            }),
        }
    }
}

/// The first of `names` present: `Some(None)` when present but not ASCII.
fn first_header<'a>(headers: &'a HeaderMap, names: &[&str]) -> Option<Option<&'a str>> {
    names
        .iter()
        .find_map(|name| headers.get(*name))
        .map(|value| value.to_str().ok())
}

impl fmt::Debug for ResponseVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResponseVerifier({})", self.public_key_hex())
    }
}
