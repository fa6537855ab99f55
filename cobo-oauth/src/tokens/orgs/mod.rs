//! Tokens for every organization that installed a Portal App: [`OrgTokens`].
//!
//! - [`OrgStore`]: one store for all organizations ([`MemoryOrgStore`], [`DirectoryStore`],
//!   `RedisOrgStore` with feature `redis`), which can list them.
//! - [`OrgTokens`]: `access_token(org_id)` for any organization, managers made at first use
//!   and dropped from memory when idle; [`CoboClient::for_org`](crate::CoboClient::for_org).
//! - [`OrgTokens::on_install`]: Cobo's install callback ([`ApprovalResult`]).
//! - [`OrgRefresher`]: every organization renewed ahead of expiry, a bounded number at a time.
//! - [`OrgStatus`]: expiry, last renewal and last error per organization.

mod builder;
mod client;
mod directory;
mod install;
mod refresher;
mod refusals;
mod schedule;
mod shared;
mod status;
mod store;
mod tokens;

pub use builder::{
    DEFAULT_IDLE_AFTER, DEFAULT_MAX_CONCURRENT_RENEWALS, DEFAULT_RESCAN_EVERY,
    DEFAULT_UNINSTALL_RECHECK_AFTER, MAX_CONCURRENT_RENEWALS, OrgTokensBuilder,
};
pub use client::OrgBearer;
pub use directory::DirectoryStore;
pub use install::{ApprovalResult, InstallError};
pub use refresher::{DEFAULT_STOP_SAVE_WAIT, OrgRefresher, RATE_LIMITED_CODE};
pub use status::OrgStatus;
pub use store::{MemoryOrgStore, OrgStore};
pub use tokens::OrgTokens;
