//! Rust client for Cobo WaaS 2.0's OAuth token endpoints.
//!
//! Read it top-down; every module imports only the ones above it in this list:
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
//!   crate by `cobo-oauth-codegen` (its shared types are re-exported as [`runtime`]).
//! - [`tokens`]: the token lifecycle on top of the client ([`TokenManager`], the stores). Its
//!   [`Token`] (what the token endpoints answer) is a leaf that `client` uses.
//! - [`inbound`]: what Cobo sends the app (webhook events, callbacks, User Info Tokens); it uses
//!   `verify`, `env`, `error` and `signing` only.
//!
//! No feature is on by default. `redis` adds the Redis store,
//! `secp256k1` local secp256k1 keys, `jwt` the User Info Token verifier, `axum` the axum
//! extractors of [`inbound`]. The `cobo-oauth` command is the `cobo-oauth-cli` crate, and the mock
//! Cobo server the `cobo-oauth-mock` crate: no feature of this crate builds an HTTP server.
//!
//! ```no_run
//! # async fn f() -> Result<(), cobo_oauth::Error> {
//! use cobo_oauth::{CoboClient, Env};
//!
//! let client = CoboClient::builder().env(Env::Dev).api_secret("<64 hex characters>").build()?;
//! let token = client.get_token("client id", "org id").await?;
//! println!("expires in {:?} s", token.expires_in);
//! # Ok(()) }
//! ```

pub mod bearer;
mod client;
mod config;
mod env;
mod error;
mod error_map;
mod executor;
pub mod inbound;
mod owner;
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

/// The README's examples, compiled as doctests so that they cannot drift from the API. They use
/// the Redis store (feature `redis`), the axum extractors (`axum`) and the User Info Token
/// verifier (`jwt`), so they are built when all three are on, as with `--all-features` or in
/// `cargo test --workspace` (the tests crate turns them on). None uses the mock.
#[cfg(all(doctest, feature = "redis", feature = "axum", feature = "jwt"))]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;
