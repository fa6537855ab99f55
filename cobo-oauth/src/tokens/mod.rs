//! Token lifecycle: never an expired token, never a lost refresh token.
//!
//! - [`Token`]: what `GET` and `POST /oauth/token` answer.
//! - [`TokenManager`] hands out a valid Org Access Token for one `(client_id, org_id)`: from
//!   cache while fresh, otherwise refreshed (single-flight) or newly granted.
//! - [`TokenStore`] keeps the newest refresh token: [`MemoryStore`] or [`FileStore`] for one
//!   process, `RedisStore` (feature `redis`) for a fleet of processes sharing one token pair.

mod file_store;
mod manager;
#[cfg(feature = "redis")]
mod redis;
mod refresher;
mod renew;
mod store;
pub(crate) mod token;

pub use crate::bearer::TOKEN_EXPIRED_CODE;
pub use file_store::FileStore;
pub use manager::{DEFAULT_LEASE_TTL, TokenManager, TokenManagerBuilder};
#[cfg(feature = "redis")]
pub use redis::{
    DEFAULT_REDIS_TIMEOUT, EncryptionKey, RedisStore, RedisStoreBuilder, vars as redis_vars,
};
pub use refresher::Refresher;
pub use store::{
    Lease, MemoryStore, RefreshLease, StoreError, StoreFuture, StoredToken, TokenOwner, TokenStore,
};
pub use token::Token;
