//! What Cobo sends the app: webhook events, transaction-approval callbacks, and (feature `jwt`)
//! the User Info Tokens of the app's page inside Cobo Portal.
//!
//! Webhook events and callback messages are signed like Cobo's responses: `Biz-Resp-Signature`
//! is ed25519 over `SHA-256(SHA-256(RAW_BODY|Biz-Timestamp))` with the environment's response
//! key. [`InboundVerifier`] checks that over the raw body bytes before anything is parsed, in any
//! framework: give it the request's headers and body, parse the [`VerifiedBody`] it hands back
//! ([`WebhookEvent`], [`CallbackMessage`]), and check that it is meant for this app.
//!
//! ```
//! # async fn f(headers: &http::HeaderMap, body: bytes::Bytes) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use cobo_oauth::{Env, inbound::{Endpoints, InboundVerifier, Subject}};
//! let verifier = InboundVerifier::for_env(&Env::Prod)?
//!     .endpoints(Endpoints::parse(["https://app.example/cobo/webhook"])?)
//!     .subjects(Arc::new(|about: &Subject| about.org_id.as_deref() == Some("<installed org>")));
//! let event = verifier.verify(headers, body)?.webhook_event()?; // signed by Cobo (401 if not)
//! verifier.admit_webhook(&event).await?;                        // and meant for this app (403)
//! println!("{} {}", event.event_id, event.event_type);
//! # Ok(()) }
//! ```
//!
//! - **What a signature proves: that Cobo produced the body, not that it was meant for this
//!   app.** Cobo signs its API responses with the same key and scheme, so any Cobo customer can
//!   post a signed `WebhookEvent` (`get_webhook_event_by_id`) or transaction
//!   (`get_transaction_by_id`, the shape of a callback) to the app; and any organization can
//!   register the app's URL as its webhook endpoint, so Cobo itself sends signed events about
//!   organizations that never installed the app. Configure the app's endpoint URL(s)
//!   ([`InboundVerifier::endpoints`], [`Endpoints`]: an event whose `url` differs is
//!   [`ContextError::WrongEndpoint`]) and a check of whom a message is about
//!   ([`InboundVerifier::subjects`], [`SubjectCheck`], [`Subject`]: the `org_id` and
//!   `wallet_id`s its data carries; one the app does not serve is
//!   [`ContextError::UnknownSubject`]). The axum extractors apply both; elsewhere call
//!   [`InboundVerifier::admit_webhook`] / [`InboundVerifier::admit_callback`].
//! - **Why a request is refused** ([`InboundError`], answered 401): `MissingHeader`, `Malformed`,
//!   `MalformedTimestamp`, `BadSignature`, or `Stale` when you turn on the freshness window
//!   ([`InboundVerifier::max_age`], off by default: Cobo documents none; turn it on when the app
//!   acts on callbacks, where an old signed transaction must not answer a new question). Both
//!   header spellings are read, case-insensitively. Not meant for this app ([`ContextError`]):
//!   403 ([`not_for_this_app`]).
//! - Answer a webhook event with 200 within 2 s ([`webhook_accepted`]); Cobo retries up to 10
//!   times, does not follow redirects, and delivers some events twice. Handle each `event_id`
//!   once without losing one: [`ClaimRunner`] claims it for a short lease (renewed while the
//!   handler runs), completes it when the handler succeeds and releases it when it fails
//!   ([`Deduplicator`]: [`MemoryDeduplicator`] for one process, `RedisDeduplicator` (`SET NX PX`
//!   and Lua scripts, feature `redis`) for a fleet). A delivery that finds the event completed
//!   answers 200; one that finds it claimed answers 503 so Cobo retries later; a crash leaves a
//!   claim that lapses, and a later retry handles the event.
//! - Answer a callback with 200 and the plain text `ok` or `deny` ([`CallbackDecision`]).
//! - Answer a request that fails verification with 401 ([`rejected`]).
//! - **Behind nginx**, request headers with underscores (`BIZ_TIMESTAMP` / `BIZ_RESP_SIGNATURE`,
//!   the spelling of Cobo's docs) are dropped unless the `server` block says
//!   `underscores_in_headers on;`. The verifier reads both spellings; a proxy that drops one of
//!   them leaves [`InboundError::MissingHeader`].
//! - **The envelopes.** [`WebhookEvent`] keeps `event_id`, `type` (`event_type`),
//!   `created_timestamp`, `url`, `data` (`data_type` and its other fields;
//!   [`WebhookEventData::parse`]) and the raw JSON ([`WebhookEvent::raw`]). They mirror the spec's
//!   `WebhookEvent` and `Transaction` schemas by hand: generating `data`'s 25 shapes (about 185
//!   schemas) would make every build compile them. For a typed `data`, generate the webhook
//!   schemas in your own crate with `cobo-oauth-codegen`; its normalization fixes the spec's
//!   `required: [id]` (the property is `event_id`) and reports it. A body with both `event_id`
//!   and the spec's `id` is read by its `event_id`.
//! - Feature `axum`: extractors that do all of this, with a complete router (module `axum`). A
//!   signed body that is not a `WebhookEvent` (or `CallbackMessage`) gets 400 from them, with a
//!   message that never quotes the body; for a shape this version does not model, take the raw
//!   `Verified` body and parse it yourself.
//!
//! # User Info Tokens (feature `jwt`)
//!
//! ```rust,no_run
//! # #[cfg(feature = "jwt")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use cobo_oauth::inbound::{JwksCache, UserInfoVerifier};
//!
//! let users = UserInfoVerifier::new(
//!     JwksCache::for_env(&cobo_oauth::Env::Prod),  // <base_url>/oauth/authorize/jwks.json
//!     "<iss of your environment's tokens>",
//!     "<your app's client ID>",
//! );
//! let claims = users.verify("<the JWT from getAuthInfo()>").await?;
//! # Ok(()) }
//! ```
//!
//! The algorithm comes from an allowed list of asymmetric algorithms (`alg: none` and HMAC are
//! refused before any key is looked at), the key from the JWKS by `kid`; `iss`, `aud` and `exp`
//! are required, `nbf` checked, 30 s leeway. The JWKS is cached; an unknown `kid` fetches it again
//! at most once per 30 s (counted from the last fetch an unknown `kid` caused, so a key rotated in
//! just after start is found), one fetch at a time, in a task of its own (a dropped caller leaves
//! nothing stuck). A known `kid` never waits: a set older than an hour still answers it while it
//! is fetched again in the background (a failed fetch is retried after 30 s at the earliest).
//! Each refusal is its own `UserInfoError` variant.
//!
//! # Testing the app
//!
//! The embedded mock Cobo server is the other side too: its sender delivers signed events with
//! Cobo's retries (and duplicates, tampering or the underscore spelling on request) and records
//! every answer, and it issues User Info Tokens that its `/v2/oauth/authorize/jwks.json`
//! publishes. From the command line, `cobo-oauth webhook listen | send | verify` (the
//! `cobo-oauth-cli` crate).

#[cfg(feature = "axum")]
pub mod axum;
mod claim;
mod context;
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

pub use claim::{ClaimRunner, DEFAULT_CLAIM_LEASE, Outcome, RunError};
pub use context::{CheckError, CheckFuture, ContextError, Endpoints, Subject, SubjectCheck};
pub use dedup::{
    Claim, ClaimToken, DEFAULT_DEDUP_TTL, DEFAULT_MEMORY_CAPACITY, DedupError, DedupFuture,
    Deduplicator, MemoryDeduplicator,
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
pub use reply::{CallbackDecision, not_for_this_app, rejected, webhook_accepted};
pub use verifier::{
    InboundError, InboundVerifier, SIGNATURE_HEADERS, TIMESTAMP_HEADERS, VerifiedBody,
};
