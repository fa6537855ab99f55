//! Token lifecycle: never an expired token, never a lost refresh token.
//!
//! Cobo's Org Access Token lasts about 12 hours; every refresh returns a new refresh token and
//! kills the old one, and losing the newest one means the organization must reinstall the app.
//!
//! - [`Token`]: what `GET` and `POST /oauth/token` answer.
//! - [`TokenManager`] hands out a valid Org Access Token for one `(client_id, org_id)`: from
//!   cache while fresh, otherwise refreshed (single-flight) or newly granted.
//! - [`TokenStore`] keeps the newest refresh token: [`MemoryStore`] (the default) or
//!   [`FileStore`] for one process, `RedisStore` (feature `redis`, module `redis`) for a fleet of
//!   processes sharing one token pair.
//! - [`orgs`]: tokens for every organization that installed the app ([`orgs::OrgTokens`]).
//!
//! ```rust,no_run
//! use std::sync::Arc;
//! use cobo_oauth::CoboClient;
//! use cobo_oauth::tokens::{FileStore, TokenManager};
//!
//! # async fn run(client: CoboClient) -> Result<(), cobo_oauth::Error> {
//! let tokens = TokenManager::builder(client.clone(), "client id", "org id")
//!     .store(Arc::new(FileStore::new("/var/lib/my-app/cobo-tokens.json")))   // default: in memory
//!     .refresh_margin(std::time::Duration::from_secs(300))
//!     .build();
//! let access_token = tokens.access_token().await?;          // cached, refreshed or granted
//! let api = client.with_bearer(Arc::new(tokens.clone()));   // Bearer on every OAuth2 operation
//! let _refresher = tokens.spawn_refresher();                // optional: renew ahead of callers
//! # Ok(()) }
//! ```
//!
//! - **One refresh** however many tasks ask at once (single-flight); refreshed `refresh_margin`
//!   before expiry, computed from `expires_in` and the time the response arrived.
//! - **Cancel-safe.** Any call may be dropped at any `.await` (a timeout, `tokio::select!`, an
//!   axum handler whose client left). A renewal, once started, runs in a task of its own: the
//!   request, the verification of its answer, the save and, with Redis, the lease (extended while
//!   it works, given back when it ends) finish whether or not anyone still waits, and the next
//!   caller gets the new token with no new request.
//! - **Proactive refresh (optional).** `spawn_refresher()` renews `refresh_margin` plus a random
//!   jitter (up to half the margin) before expiry, so callers never wait on Cobo; failures back
//!   off exponentially; dropping the [`Refresher`] stops it.
//! - **Saved before handed out.** The new pair reaches the store before the new access token is
//!   handed out; if saving fails the pair stays in memory, saving is retried, and the old refresh
//!   token is never used again. A signed answer that carries a new refresh token but no usable
//!   access token (no `expires_in`: every field of the token response is optional in the spec)
//!   still has its refresh token saved; the call returns [`Error::InvalidBody`] and the next call
//!   refreshes with the saved token.
//! - **No refresh token is ever presented twice.** A refresh that was sent but got no usable
//!   answer (the connection broke, a gateway answered, the answer was unsigned, too large or had
//!   no refresh token) is [`Error::RefreshOutcomeUnknown`], and the next renewal asks for a new
//!   `org_implicit` grant instead of sending that refresh token again. A rejected refresh token
//!   (`invalid_grant`) falls back once to a new grant; if Cobo refuses the grant (a 4XX),
//!   [`Error::ReauthorizationRequired`] (permanent).
//! - **[`FileStore`]** writes a new temporary file (random name, created exclusively with mode
//!   0600, never through a symlink), fsyncs it, renames it over the old one and fsyncs the
//!   directory: a crash leaves the old or the new pair, never a torn file; temporary files of
//!   killed saves are removed by a later save. A corrupt file is an error.
//! - **Owners.** Every stored pair records its `client_id` and `org_id` ([`TokenOwner`]). A
//!   manager refuses a store that holds (or, like `RedisStore`, was built for) another app's or
//!   organization's pair: [`StoreError::WrongOwner`], permanent, never another organization's
//!   token. Files and Redis values written before owners were recorded are used, and get their
//!   owner at the next save.
//! - **Bearer.** With [`CoboClient::with_bearer`], every operation whose spec accepts the
//!   `OAuth2` scheme (each generated client's `OPERATIONS` table says which) sends
//!   `Authorization: Bearer`, still CoboAuth-signed. A *signed* HTTP 500 with `error_code` 1000
//!   ([`TOKEN_EXPIRED_CODE`](crate::bearer::TOKEN_EXPIRED_CODE)) invalidates the token that was refused (not whatever is current:
//!   fifty requests refused for one token cause one refresh) and resends once; an unsigned one (a
//!   gateway's) is [`Error::Http`] and changes no token.
//!
//! [`Error::InvalidBody`]: crate::Error::InvalidBody
//! [`Error::RefreshOutcomeUnknown`]: crate::Error::RefreshOutcomeUnknown
//! [`Error::ReauthorizationRequired`]: crate::Error::ReauthorizationRequired
//! [`Error::Http`]: crate::Error::Http
//! [`CoboClient::with_bearer`]: crate::CoboClient::with_bearer

// Visibility: a type that one file shares with the other files of its module is visible to
// that module only; its own fields and methods are plain `pub`, bounded by the type (as
// `orgs::schedule::Schedule`'s are). Only the methods of public types that this module alone
// calls are restricted one by one.

mod file_store;
mod lifetime;
mod manager;
pub mod orgs;
#[cfg(feature = "redis")]
pub mod redis;
mod refresher;
mod renewal;
mod settings;
mod store;
mod token;
mod uncancellable;

pub use file_store::FileStore;
pub use manager::{TokenManager, TokenManagerBuilder};
pub use refresher::Refresher;
pub use settings::DEFAULT_LEASE_TTL;
pub use store::{
    Lease, MemoryStore, RefreshLease, StoreError, StoreFuture, StoredToken, TokenOwner, TokenStore,
};
pub use token::Token;
