//! [`RedisStore`]: one token pair shared by a fleet of processes, with a refresh lease
//! (cargo feature `redis`).
//!
//! Per `(client_id, org_id)`, under a prefix (default `cobo-oauth`), three keys share the hash
//! tag `{client_id:org_id}`:
//! - `…:pair`, a hash: `version`, `expires_at_ms`, `format` and `payload` (the pair, sealed with
//!   XChaCha20-Poly1305 under the user's [`EncryptionKey`], or plaintext JSON if the user opts
//!   in). A save is one Lua script: it writes only if its version is higher than the stored one.
//! - `…:lease`, the refresh lease: `SET NX PX` with a random holder id; released by a script that
//!   deletes it only for its holder.
//! - `…:refresh-sends`, how often each version's refresh token was sent; cleared by every save,
//!   so a count left over means a holder died between sending and saving.
//!
//! The connection: `redis://` or `rediss://` (rustls; the system's CA roots, or a CA and a client
//! certificate given to the [`RedisStoreBuilder`]), optionally as an ACL user. What Redis refuses
//! (credentials, permissions, scripts, TLS certificates) is a permanent error; an outage is
//! [`StoreError::Io`], transient.

mod builder;
mod errors;
mod keys;
mod orgs;
mod scripts;
mod sealing;
mod store;
mod tls;

pub use builder::{DEFAULT_REDIS_TIMEOUT, RedisStoreBuilder, vars};
pub use orgs::RedisOrgStore;
pub use sealing::EncryptionKey;
pub use store::RedisStore;
