//! CoboAuth request signing, as pure, typed stages.
//!
//! 1. The string to sign ([`StringToSign`]): `METHOD|PATH|NONCE|PARAMS|BODY`, the bytes as sent.
//! 2. The digest ([`Digest`]): `SHA-256(SHA-256(string_to_sign))`.
//! 3. The signature ([`Signature`]): a [`Signer`]'s signature over the digest.
//! 4. The headers ([`AuthHeaders`]): `Biz-Api-Key`, `Biz-Api-Nonce`, `Biz-Api-Signature`.
//!
//! [`CoboAuth`] runs them on a `reqwest::Request` just before it is sent, so the signed bytes are
//! the sent bytes.

mod cobo_auth;
mod digest;
mod ed25519;
mod headers;
mod nonce;
mod query;
#[cfg(feature = "secp256k1")]
mod secp256k1;
mod signer;
mod string_to_sign;

pub(crate) use cobo_auth::Keys;
pub use cobo_auth::{ASYNC_SIGN_TIMEOUT, CoboAuth, SignRequestError, SignedParts};
pub use digest::Digest;
pub use ed25519::Ed25519Signer;
pub use headers::{API_KEY, API_NONCE, API_SIGNATURE, AuthHeaders};
pub use nonce::{Clock, MAX_NONCE_LEAD_MS, NonceSource, SystemClock, TokioClock};
pub use query::{encode_component, encode_query, reencode_query};
#[cfg(feature = "secp256k1")]
pub use secp256k1::Secp256k1Signer;
pub use signer::{ApiKey, AsyncSigner, KeyError, SignError, SignFuture, Signature, Signer};
pub use string_to_sign::StringToSign;
