//! Tokens for every organization that installed a Portal App: [`OrgTokens`].
//!
//! A Portal App is installed by many organizations, each with its own token pair, 12-hour clock
//! and rotating refresh token. [`OrgTokens`] is one value per app that serves all of them:
//!
//! - [`OrgStore`]: one store for all organizations ([`MemoryOrgStore`], [`DirectoryStore`],
//!   `RedisOrgStore` with feature `redis`), which can list them.
//! - [`OrgTokens`]: `access_token(org_id)` for any organization, managers made at first use
//!   and dropped from memory when idle; [`CoboClient::for_org`](crate::CoboClient::for_org).
//! - [`OrgTokens::on_install`]: Cobo's install callback ([`ApprovalResult`]).
//! - [`OrgRefresher`]: every organization renewed ahead of expiry, a bounded number at a time.
//! - [`OrgStatus`]: expiry, last renewal and last error per organization.
//! - [`OrgHealth`] ([`OrgTokens::health`]): how many organizations are tracked, valid, expiring,
//!   expired or failing, whether a rate limit pauses renewals, when the refresher last ran; read
//!   from memory, for a health route (with feature `metrics`, the same as gauges).
//!
//! ```rust,no_run
//! use std::sync::Arc;
//! use cobo_oauth::CoboClient;
//! use cobo_oauth::tokens::orgs::{DirectoryStore, OrgTokens};
//!
//! # async fn run(client: CoboClient) -> Result<(), Box<dyn std::error::Error>> {
//! let tokens = OrgTokens::builder(client.clone(), "client id")
//!     .store(Arc::new(DirectoryStore::new("/var/lib/my-app/cobo")))   // or MemoryOrgStore, RedisOrgStore
//!     .max_concurrent_renewals(4)                                      // the default
//!     .build();
//! let refresher = tokens.spawn_refresher();          // every organization, ahead of expiry
//! // In the handler of Cobo's `POST <callback>?approval_result=<1|2>&org_id=<uuid>`:
//! tokens.on_install("org id", "1").await?;           // 1: first grant; 2: replace the pair
//! let access_token = tokens.access_token("org id").await?;          // ~110 ns when cached
//! let api = client.for_org(&tokens, "org id");        // that organization's Bearer on OAuth2 operations
//! let status = tokens.status("org id").await?;        // expires at, last renewal, last error
//! refresher.stop().await;                             // before the process exits
//! # Ok(()) }
//! ```
//!
//! - **The stores.** [`MemoryOrgStore`]; [`DirectoryStore`] (one `FileStore` per organization:
//!   `<org_id>.json`, 0600, written atomically, in a 0700 directory; it refuses an empty or
//!   overlong `org_id` with `Error::InvalidRequest` before anything is sent, and escapes
//!   upper-case letters in file names for case-insensitive file systems); `RedisOrgStore`
//!   (feature `redis`: each organization's keys and lease as with `RedisStore`, organizations
//!   listed with `SCAN`, never `KEYS`; the ACL user also needs `scan`). [`OrgStore::list`] names
//!   the organizations a store holds.
//! - **Managers on demand.** Each organization gets a `TokenManager` at first use, so every
//!   guarantee of the token lifecycle holds per organization (single-flight, cancel-safe, no
//!   refresh token presented twice, the fleet's lease). A manager unused for `idle_after`
//!   ([`DEFAULT_IDLE_AFTER`], 15 min) leaves memory; its pair stays in the store. A manager that
//!   is renewing, holds an unsaved pair or a refresh token of unknown outcome never leaves.
//! - **The install callback** (`on_install`): `1` makes the organization's first `org_implicit`
//!   grant and saves it; `2` (permissions or wallet scopes changed) replaces its pair with a new
//!   grant, and its old refresh token is never presented again. Another value is
//!   [`InstallError::UnknownApprovalResult`], and nothing is sent. Cobo documents no signature on
//!   this callback: treat it as a hint, never as proof. The grant is the proof (Cobo answers it
//!   only for an organization that installed the app; otherwise `Error::ReauthorizationRequired`
//!   and nothing is saved). Install grants have a budget of their own, apart from renewals: at
//!   most `max_concurrent_installs` ([`DEFAULT_MAX_CONCURRENT_INSTALLS`], 2) in flight and
//!   `max_queued_installs` ([`DEFAULT_MAX_QUEUED_INSTALLS`], 32) waiting; beyond it a callback
//!   is answered at once with [`InstallError::Busy`] (answer 503), so a flood of forged
//!   callbacks never delays the renewals of organizations that have a pair. Callbacks for one
//!   organization that arrive before its grant starts share that grant (at most 64 of them).
//!   An entry an install made for an organization not served before leaves memory again when
//!   its grant fails. Rate-limit the route too.
//! - **The background refresher** renews each organization `refresh_margin` plus a jitter of up
//!   to half of it before expiry, at most `max_concurrent_renewals` at a time (callers' renewals
//!   count too), with a backoff per organization on errors. A 429 in any shape, or Cobo's rate
//!   limit error ([`RATE_LIMITED_CODE`], 2026), pauses every renewal (callers whose token is
//!   still unexpired get it meanwhile) once per episode, for Cobo's `Retry-After` or a pause
//!   doubling from 1 s, at most [`MAX_RATE_LIMIT_PAUSE`]; it does not grow an organization's
//!   backoff. With `RedisOrgStore`, a pair
//!   another process renewed first is read, not refreshed again, and the refresher lists the
//!   store every `rescan_every` ([`DEFAULT_RESCAN_EVERY`], 5 min) to find the organizations other
//!   processes installed. Before the process exits, `stop().await` waits for the renewals in
//!   flight to be saved, and tries again (up to [`DEFAULT_STOP_SAVE_WAIT`], 10 s) to save a pair
//!   whose save had failed, logging any it could not (a refresh sent and never saved costs the
//!   fleet a new grant, as after a crash).
//! - **An uninstalled organization** (Cobo refuses its grant with `unauthorized_client`,
//!   `access_denied` or `invalid_grant`; a 401, 408, 429 or 5XX says nothing about the
//!   installation and is retried) is logged once at `error` with its `org_id`, its token is no
//!   longer handed out, and its calls fail at once with `Error::ReauthorizationRequired` without
//!   a request. The mark ends when `on_install` is called for it, when the shared store holds a
//!   newer pair (another replica got the reinstall), or after `uninstall_recheck_after`
//!   ([`DEFAULT_UNINSTALL_RECHECK_AFTER`], 10 min), when one grant is tried again; at most 10,000
//!   marks are kept.
//! - **Watching it.** [`OrgTokens::health`] counts the organizations tracked and their tokens
//!   (valid, expiring within the margin, expired, not seen yet), those failing and uninstalled,
//!   the rate-limit pause and the refresher's last run, from memory: nothing is listed or sent,
//!   so a health route may call it on every request. Healthy ([`OrgHealth::is_healthy`]): the
//!   refresher ran within [`REFRESHER_STALL`] and no tracked token expired. With feature
//!   `metrics` the refresher sets the same as gauges every 15 s to 1 min, next to the counters of
//!   renewals, pauses and uninstalls ([`crate::metrics`]: names, labels, what to alert on).
//! - **Logs** carry `org_id` fields, never tokens. `cobo-oauth tokens list --client-id .. --store
//!   DIR` (or a `redis://` URL) lists a store's organizations with their version and expiry;
//!   `cobo-oauth tokens grant --client-id .. --org-id .. --store ..` grants into it.
//!
//! `cargo run --example portal_app` runs an axum Portal App with the install callback and a call
//! on behalf of an organization, offline against the embedded mock.

mod builder;
mod client;
mod directory;
mod health;
mod install;
mod install_queue;
mod rate_limit;
mod refresher;
mod refusals;
mod schedule;
mod shared;
mod status;
mod store;
mod tokens;

pub use builder::{
    DEFAULT_IDLE_AFTER, DEFAULT_MAX_CONCURRENT_INSTALLS, DEFAULT_MAX_CONCURRENT_RENEWALS,
    DEFAULT_MAX_QUEUED_INSTALLS, DEFAULT_RESCAN_EVERY, DEFAULT_UNINSTALL_RECHECK_AFTER,
    MAX_CONCURRENT_RENEWALS, OrgTokensBuilder,
};
pub use client::OrgBearer;
pub use directory::DirectoryStore;
pub use health::{OrgHealth, REFRESHER_STALL};
pub use install::{ApprovalResult, InstallError};
pub use rate_limit::{MAX_PAUSE as MAX_RATE_LIMIT_PAUSE, RATE_LIMITED_CODE};
pub use refresher::{DEFAULT_STOP_SAVE_WAIT, OrgRefresher};
pub use status::OrgStatus;
pub use store::{MemoryOrgStore, OrgStore};
pub use tokens::OrgTokens;
