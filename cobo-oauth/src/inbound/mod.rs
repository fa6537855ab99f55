//! What Cobo sends the app: webhook events, transaction-approval callbacks, and (feature `jwt`)
//! the User Info Tokens of the app's page inside Cobo Portal.
//!
//! Webhook events and callback messages are signed like Cobo's responses: `Biz-Resp-Signature`
//! is ed25519 over `SHA-256(SHA-256(RAW_BODY|Biz-Timestamp))` with the environment's response
//! key. [`InboundVerifier`] checks that over the raw body bytes, in any framework: give it the
//! request's headers and body, and parse the [`VerifiedBody`] it hands back
//! ([`WebhookEvent`], [`CallbackMessage`]).
//!
//! ```
//! # fn f(headers: &http::HeaderMap, body: bytes::Bytes) -> Result<(), Box<dyn std::error::Error>> {
//! use cobo_oauth::{Env, inbound::InboundVerifier};
//! let verifier = InboundVerifier::for_env(&Env::Prod)?;
//! let event = verifier.verify(headers, body)?.webhook_event()?;
//! println!("{} {}", event.event_id, event.event_type);
//! # Ok(()) }
//! ```
//!
//! - Answer a webhook event with 200 within 2 s ([`webhook_accepted`]); Cobo retries up to 10
//!   times, does not follow redirects, and delivers some events twice: deduplicate by
//!   `event_id` ([`Deduplicator`]).
//! - Answer a callback with 200 and the plain text `ok` or `deny` ([`CallbackDecision`]).
//! - Answer a request that fails verification with 401 ([`rejected`]).
//! - **Behind nginx**, request headers with underscores (`BIZ_TIMESTAMP`, the spelling of Cobo's
//!   docs) are dropped unless the `server` block says `underscores_in_headers on;`. The verifier
//!   reads both spellings; a proxy that drops one of them leaves
//!   [`InboundError::MissingHeader`].
//! - Feature `axum`: extractors that do all of this (`cobo_oauth::inbound::axum`).

#[cfg(feature = "axum")]
pub mod axum;
mod dedup;
#[cfg(feature = "redis")]
mod dedup_redis;
mod envelope;
#[cfg(feature = "jwt")]
mod jwks;
#[cfg(feature = "jwt")]
mod jwt;
mod reply;
mod verifier;

pub use dedup::{
    DEFAULT_DEDUP_TTL, DEFAULT_MEMORY_CAPACITY, DedupError, DedupFuture, Deduplicator,
    MemoryDeduplicator, Seen,
};
#[cfg(feature = "redis")]
pub use dedup_redis::RedisDeduplicator;
pub use envelope::{CallbackMessage, EnvelopeError, WebhookEvent, WebhookEventData};
#[cfg(feature = "jwt")]
pub use jwks::{DEFAULT_JWKS_MIN_REFRESH_INTERVAL, JwksCache, JwksError, jwks_url};
#[cfg(feature = "jwt")]
pub use jwt::ensure_crypto_provider;
#[cfg(feature = "jwt")]
pub use jwt::{
    Audience, DEFAULT_ALGORITHMS, DEFAULT_LEEWAY, UserInfoClaims, UserInfoError, UserInfoVerifier,
};
pub use reply::{CallbackDecision, rejected, webhook_accepted};
pub use verifier::{
    InboundError, InboundVerifier, SIGNATURE_HEADERS, TIMESTAMP_HEADERS, VerifiedBody,
};
