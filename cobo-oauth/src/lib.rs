#![doc = include_str!("../README.md")]
//!
//! # The client
//!
//! [`CoboClient::builder`] takes the environment ([`Env`]: dev, sandbox, prod, or
//! [`Env::custom`] with its response key) and the API secret or a [`signing::Signer`] /
//! [`signing::AsyncSigner`]; [`CoboClient::from_env`] reads `COBO_ENV`, `COBO_BASE_URL`,
//! `COBO_API_SECRET` and `COBO_RESPONSE_PUBKEY` (the response key of a custom base URL; `off`
//! turns verification off) ([`vars`]). An unknown environment is an error, never a fallback to
//! prod.
//!
//! - **Errors** are one enum, [`Error`]: the OAuth 4XX (`OAuth { status, error, description }`),
//!   Cobo's `ErrorResponse` (`Api { status, code, message, error_id }`), an unsigned gateway
//!   error (`Http`), `Transport`, `Timeout`, `InvalidBody`, `ResponseSignature`, `Signing`,
//!   `Config`, `Redirect`, `ResponseTooLarge`, and for managed tokens `Store`, `RefreshBusy`,
//!   `RefreshOutcomeUnknown`, `ReauthorizationRequired`, `RenewalInterrupted`.
//! - **Every operation** of the spec, including ones added later, is a method of the generated
//!   client [`CoboClient::raw`], signed and verified. [`CoboClient::call`] makes one call with
//!   the typed [`Error`] (the executor writes what it saw into a record scoped to that call's
//!   future); awaiting `.send()` directly gives progenitor's error. A client generated in your
//!   own crate by `cobo-oauth-codegen` is signed the same way with [`CoboClient::hooks`].
//! - **No redirects.** Cobo never redirects, and a redirect would carry the signed headers, the
//!   Bearer token and a refresh token elsewhere: a 3XX is [`Error::Redirect`] (status and target
//!   host only), and nothing is sent to the target.
//! - **Bounded bodies.** Response bodies are read up to
//!   [`max_response_bytes`](CoboClientBuilder::max_response_bytes) (default
//!   [`DEFAULT_MAX_RESPONSE_BYTES`], 4 MiB: a token answer is ~200 bytes, Cobo's largest list
//!   page a few hundred KiB); more is [`Error::ResponseTooLarge`]. A client passed with
//!   [`http_client`](CoboClientBuilder::http_client) is yours to configure: build it with
//!   `redirect(Policy::none())` and timeouts.
//! - **Retries.** Idempotent requests (GET, PUT, DELETE) are retried on 408, 429, 502, 503, 504
//!   and transport failures with exponential backoff and jitter, honouring `Retry-After` up to a
//!   cap, each attempt signed again with a fresh nonce; POST only when the connection was never
//!   made. Tune it with [`retry_policy`](CoboClientBuilder::retry_policy) ([`RetryPolicy`]).
//! - **Unsafe settings are loud.** Building a client with response verification off, or with
//!   plain `http://` to a host that is not loopback, logs one `warn`. Credentials in a custom base
//!   URL (`https://user:pass@proxy/v2`) are sent but shown as `***` in `Debug`, `Display` and
//!   errors.
//!
//! # Modules, top-down
//!
//! Every module imports only the ones above it in this list:
//!
//! - [`signing`]: CoboAuth request signing, as pure stages ([`signing::Signer`], and
//!   [`signing::AsyncSigner`] for a key in a KMS or an HSM): a leaf. [`verify`]: Cobo's
//!   response signatures (it uses the digest of `signing`).
//! - `owner` ([`tokens::TokenOwner`]) and `error` ([`Error`], [`ConfigError`],
//!   [`tokens::StoreError`]): what everything below may report.
//! - `env` ([`Env`]: dev, sandbox, prod, or a custom server), `retry` ([`RetryPolicy`]),
//!   [`bearer`] (the Bearer hook and [`bearer::TOKEN_EXPIRED_CODE`]).
//! - `config` ([`CoboClientBuilder`]): checks a configuration into a value the client consumes.
//! - `executor`: signs, sends, reads (bounded, no redirects) and verifies every request, writing
//!   what it saw into the record of the call it serves; `error_map` turns that record and
//!   progenitor's error into [`Error`].
//! - `client` ([`CoboClient`]): the generated client with all of the above in place, typed
//!   [`get_token`](CoboClient::get_token) / [`refresh_token`](CoboClient::refresh_token),
//!   [`call`](CoboClient::call) for any generated operation with the typed [`Error`], and
//!   [`hooks`](CoboClient::hooks) that give the same signing to a client generated in your own
//!   crate by `cobo-oauth-codegen` (its shared types are re-exported as [`runtime`]);
//!   `any_request`: [`send_request`](CoboClient::send_request), a request built by hand sent
//!   like an operation.
//! - [`paging`]: [`CoboClient::items`] and [`CoboClient::pages`], any list operation of a
//!   generated client read as a `Stream` across Cobo's cursor pages, each page a `call`.
//! - [`multipart`]: `upload_payment_file` with a typed [`multipart::FilePart`], sent as
//!   `multipart/form-data` through a generated client's hooks and signed as the Python SDK
//!   signs it.
//! - [`tokens`]: the token lifecycle on top of the client ([`tokens::TokenManager`], the stores,
//!   [`tokens::orgs::OrgTokens`] for many organizations). Its [`tokens::Token`] (what the token endpoints
//!   answer) is a leaf that `client` uses.
//! - [`inbound`]: what Cobo sends the app (webhook events, callbacks, User Info Tokens); it uses
//!   `verify`, `env`, `error` and `signing` only.
//! - [`metrics`]: every metric's name, labels and meaning, and the recording functions the
//!   modules above call (empty without feature `metrics`). The one module beside the order: it
//!   reads the error types of those it observes, to label their outcomes in one place.

mod any_request;
pub mod bearer;
mod client;
mod config;
mod env;
mod error;
mod error_map;
mod executor;
pub mod inbound;
pub mod metrics;
mod millis;
pub mod multipart;
mod owner;
pub mod paging;
mod retry;
pub mod signing;
pub mod tokens;
pub mod verify;

pub use client::{CoboClient, ORG_IMPLICIT, REFRESH_TOKEN};
pub use cobo_oauth_gen as generated;
pub use cobo_oauth_runtime as runtime;
pub use config::{
    CoboClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, vars,
};
pub use env::{DEV_RESPONSE_KEY, Env, PROD_RESPONSE_KEY, ResponseKey, SANDBOX_RESPONSE_KEY};
pub use error::{ConfigError, Error};
pub use retry::RetryPolicy;
pub use secrecy::{ExposeSecret, SecretString};

/// The workspace README's examples, compiled as doctests so that they cannot drift from the API.
/// They use the axum extractors (feature `axum`) and the User Info Token verifier (`jwt`), so
/// they are built when both are on, as with `--all-features` or in `cargo test --workspace` (the
/// tests crate turns them on). None uses the mock.
#[cfg(all(doctest, feature = "axum", feature = "jwt"))]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;
