//! Token lifecycle: never an expired token, never a lost refresh token.
//!
//! - [`Token`]: what `GET` and `POST /oauth/token` answer.
//! - [`TokenManager`] hands out a valid Org Access Token for one `(client_id, org_id)`: from
//!   cache while fresh, otherwise refreshed (single-flight) or newly granted.
//! - [`TokenStore`] keeps the newest refresh token: [`MemoryStore`] or [`FileStore`] for one
//!   process, `RedisStore` (feature `redis`) for a fleet of processes sharing one token pair.
//! - [`OrgTokens`]: tokens for every organization that installed the app (module `orgs`).

// Visibility: a type that one file shares with the other files of its module is visible to
// that module only; its own fields and methods are plain `pub`, bounded by the type (as
// `orgs::schedule::Schedule`'s are). Only the methods of public types that this module alone
// calls are restricted one by one.

mod file_store;
mod manager;
mod orgs;
#[cfg(feature = "redis")]
mod redis;
mod refresher;
mod renewal;
mod settings;
mod store;
pub(crate) mod token;
mod uncancellable;

pub use crate::bearer::TOKEN_EXPIRED_CODE;
pub use file_store::FileStore;
pub use manager::{TokenManager, TokenManagerBuilder};
pub use orgs::{
    ApprovalResult, DEFAULT_IDLE_AFTER, DEFAULT_MAX_CONCURRENT_RENEWALS, DEFAULT_RESCAN_EVERY,
    DEFAULT_STOP_SAVE_WAIT, DEFAULT_UNINSTALL_RECHECK_AFTER, DirectoryStore, InstallError,
    MAX_CONCURRENT_RENEWALS, MemoryOrgStore, OrgBearer, OrgRefresher, OrgStatus, OrgStore,
    OrgTokens, OrgTokensBuilder, RATE_LIMITED_CODE,
};
#[cfg(feature = "redis")]
pub use redis::{
    DEFAULT_REDIS_TIMEOUT, EncryptionKey, RedisOrgStore, RedisStore, RedisStoreBuilder,
    vars as redis_vars,
};
pub use refresher::Refresher;
pub use settings::DEFAULT_LEASE_TTL;
pub use store::{
    Lease, MemoryStore, RefreshLease, StoreError, StoreFuture, StoredToken, TokenOwner, TokenStore,
};
pub use token::Token;
