//! CoboAuth request signing, as pure, typed stages.
//!
//! 1. The string to sign ([`StringToSign`]): `METHOD|PATH|NONCE|PARAMS|BODY`, the bytes as sent,
//!    with the query encoded exactly as Cobo's official Python SDK encodes it ([`encode_query`]).
//!    A `multipart/form-data` request signs an empty BODY, as that SDK signs it
//!    ([`signs_empty_body`]).
//! 2. The digest ([`Digest`]): `SHA-256(SHA-256(string_to_sign))`.
//! 3. The signature ([`Signature`]): a [`Signer`]'s signature over the digest.
//! 4. The headers ([`AuthHeaders`]): `Biz-Api-Key`, `Biz-Api-Nonce`, `Biz-Api-Signature`.
//!
//! [`CoboAuth`] runs them on a `reqwest::Request` just before it is sent, so the signed bytes are
//! the sent bytes. The stages are plain values: [`CoboAuth::sign_parts`] returns the string to
//! sign, digest, signature and headers without any HTTP (`cobo-oauth sign` prints them, to debug
//! a signature mismatch).
//!
//! **Keys.** A key in this process implements [`Signer`]: [`Ed25519Signer`], and with feature
//! `secp256k1` `Secp256k1Signer` (RFC 6979 nonces, low S, DER signatures). A key that never
//! leaves a KMS or an HSM implements [`AsyncSigner`]: each request awaits the signature without
//! blocking a runtime thread, for at most [`ASYNC_SIGN_TIMEOUT`]. AWS KMS and Google Cloud KMS
//! sign a secp256k1 digest, which is what CoboAuth's secp256k1 scheme needs:
//!
//! ```rust,no_run
//! use std::sync::Arc;
//! use cobo_oauth::signing::{ApiKey, AsyncSigner, Digest, SignError, SignFuture};
//!
//! /// Your KMS client: it holds the key and signs a 32-byte digest over the network.
//! #[derive(Debug)]
//! struct Kms {
//!     api_key: ApiKey, // the public key, hex, as registered with Cobo
//! }
//!
//! impl AsyncSigner for Kms {
//!     fn api_key(&self) -> &ApiKey {
//!         &self.api_key
//!     }
//!     fn sign<'a>(&'a self, digest: &'a Digest) -> SignFuture<'a> {
//!         Box::pin(async move {
//!             // e.g. kms.sign().key_id(..).message(digest.as_bytes()).send().await, then
//!             // Ok(Signature::from_bytes(der))
//!             let _ = digest.as_bytes();
//!             Err(SignError::new("connect your KMS here"))
//!         })
//!     }
//! }
//!
//! # fn build(kms: Kms) -> Result<cobo_oauth::CoboClient, cobo_oauth::ConfigError> {
//! let client = cobo_oauth::CoboClient::builder()
//!     .env(cobo_oauth::Env::Sandbox)
//!     .async_signer(Arc::new(kms))
//!     .build()?;
//! # Ok(client) }
//! ```
//!
//! **Nonces** ([`NonceSource`]) are the clock's milliseconds, strictly increasing up to 1,000
//! requests a second per key; if the wall clock steps back by more than a second (NTP), the next
//! nonce follows it (one `warn`) instead of staying ahead of it and being refused.

mod cobo_auth;
mod digest;
mod ed25519;
mod form_body;
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
pub use form_body::{MULTIPART_FORM_DATA, signs_empty_body};
pub use headers::{API_KEY, API_NONCE, API_SIGNATURE, AuthHeaders};
pub use nonce::{Clock, MAX_NONCE_LEAD_MS, NonceSource, SystemClock, TokioClock};
pub use query::{encode_component, encode_query, reencode_query};
#[cfg(feature = "secp256k1")]
pub use secp256k1::Secp256k1Signer;
pub use signer::{ApiKey, AsyncSigner, KeyError, SignError, SignFuture, Signature, Signer};
pub use string_to_sign::StringToSign;
