//! Rust client for Cobo WaaS 2.0's OAuth token endpoints.
//!
//! - [`signing`]: CoboAuth request signing, as pure stages.
//! - [`verify`]: verification of Cobo's response signatures.
//! - [`Env`]: dev, sandbox, prod, or a custom server.
//! - [`CoboClient`]: the generated client with signing and verification in place, and typed
//!   [`get_token`](CoboClient::get_token) / [`refresh_token`](CoboClient::refresh_token).
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
#[cfg(feature = "mock")]
pub mod mock;
mod owner;
mod retry;
pub mod signing;
pub mod tokens;
pub mod verify;

pub use client::{CoboClient, ORG_IMPLICIT, REFRESH_TOKEN};
pub use cobo_oauth_gen as generated;
pub use config::{
    CoboClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, vars,
};
pub use env::{DEV_RESPONSE_KEY, Env, PROD_RESPONSE_KEY, ResponseKey, SANDBOX_RESPONSE_KEY};
pub use error::{ConfigError, Error};
pub use retry::RetryPolicy;
pub use secrecy::{ExposeSecret, SecretString};
pub use tokens::Token;
#[cfg(feature = "redis")]
pub use tokens::{EncryptionKey, RedisStore, RedisStoreBuilder};
pub use tokens::{FileStore, MemoryStore, TokenManager, TokenStore};

/// The README's examples, compiled as doctests so that they cannot drift from the API (they use
/// the Redis store, so they are built when the `redis` feature is on, as in
/// `cargo test --workspace`).
#[cfg(all(doctest, feature = "redis"))]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;
