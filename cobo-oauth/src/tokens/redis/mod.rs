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

mod keys;
mod scripts;
mod sealing;

use std::fmt;
use std::time::Duration;

use rand::RngCore as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret as _, SecretString};

pub use sealing::EncryptionKey;

use self::keys::Keys;
use self::sealing::Sealing;
use super::store::{
    Lease, RefreshLease, StoreError, StoreFuture, StoredToken, TokenOwner, TokenStore,
};

/// The environment variables [`RedisStoreBuilder::from_env`] reads.
pub mod vars {
    /// The Redis URL, e.g. `redis://:password@redis.internal:6379/0` (`rediss://` for TLS is
    /// not compiled in).
    pub const REDIS_URL: &str = "COBO_REDIS_URL";
    /// 64 hex characters: the key that encrypts the pair at rest.
    pub const ENCRYPTION_KEY: &str = "COBO_TOKEN_ENCRYPTION_KEY";
    /// `1` to store the pair as plaintext instead (when no encryption key is set).
    pub const PLAINTEXT: &str = "COBO_TOKEN_PLAINTEXT";
}

/// The default timeout of connecting to Redis and of one Redis command.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// Builds a [`RedisStore`].
pub struct RedisStoreBuilder {
    url: SecretString,
    client_id: String,
    org_id: String,
    prefix: String,
    sealing: Option<Sealing>,
    timeout: Duration,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("url", &"<redacted>")
            .field("client_id", &self.client_id)
            .field("org_id", &self.org_id)
            .field("prefix", &self.prefix)
            .field("format", &self.sealing.as_ref().map(Sealing::format))
            .finish()
    }
}

impl RedisStoreBuilder {
    /// Reads [`vars::REDIS_URL`], and [`vars::ENCRYPTION_KEY`] or [`vars::PLAINTEXT`].
    pub fn from_env(
        client_id: impl Into<String>,
        org_id: impl Into<String>,
    ) -> Result<Self, StoreError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let url = var(vars::REDIS_URL).ok_or_else(|| StoreError::Config {
            reason: format!("{} is not set", vars::REDIS_URL),
        })?;
        let mut builder = RedisStore::builder(url, client_id, org_id);
        if let Some(key) = var(vars::ENCRYPTION_KEY).map(zeroize::Zeroizing::new) {
            builder = builder.encryption_key(EncryptionKey::from_hex(&key)?);
        } else if var(vars::PLAINTEXT).as_deref() == Some("1") {
            builder = builder.plaintext();
        }
        Ok(builder)
    }

    /// Encrypts the pair at rest with `key` (every process of the fleet needs the same key).
    pub fn encryption_key(mut self, key: EncryptionKey) -> Self {
        self.sealing = Some(Sealing::Encrypted(key));
        self
    }

    /// Stores the pair as plaintext JSON: anyone who can read the Redis keys can then use the
    /// tokens. Choose it only when Redis itself is trusted with secrets.
    pub fn plaintext(mut self) -> Self {
        self.sealing = Some(Sealing::Plaintext);
        self
    }

    /// The prefix of the keys (default `cobo-oauth`).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The timeout of connecting and of each command (default [`DEFAULT_REDIS_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects. Fails if no encryption key was given and plaintext was not chosen, if the URL
    /// is malformed, or if Redis cannot be reached.
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        let sealing = self.sealing.ok_or_else(|| StoreError::Config {
            reason: "choose .encryption_key(...) or, knowingly, .plaintext() for the Redis store"
                .to_owned(),
        })?;
        let client =
            redis::Client::open(self.url.expose_secret()).map_err(|_| StoreError::Config {
                reason:
                    "the Redis URL is malformed (expected redis://[user:password@]host[:port][/db])"
                        .to_owned(),
            })?;
        let info = client.get_connection_info();
        let endpoint = format!("redis://{}/{}", info.addr(), info.redis_settings().db());
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| io(&endpoint, &e))?;
        Ok(RedisStore {
            connection,
            keys: Keys::new(&self.prefix, &self.client_id, &self.org_id),
            owner: TokenOwner::new(self.client_id, self.org_id),
            sealing,
            endpoint,
            save: scripts::save(),
            release: scripts::release(),
            extend: scripts::extend(),
        })
    }
}

/// A [`TokenStore`] in Redis, shared by every process of a fleet that uses one Org Access Token,
/// with a [`RefreshLease`] so that only one of them refreshes.
///
/// ```no_run
/// # async fn f(client: cobo_oauth::CoboClient) -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use cobo_oauth::tokens::{EncryptionKey, RedisStore, TokenManager};
/// let store = RedisStore::builder("redis://127.0.0.1:6379/0", "client-id", "org-id")
///     .encryption_key(EncryptionKey::from_hex(&std::env::var("COBO_TOKEN_ENCRYPTION_KEY")?)?)
///     .connect()
///     .await?;
/// let tokens = TokenManager::builder(client, "client-id", "org-id")
///     .store(Arc::new(store))
///     .build();
/// let access_token = tokens.access_token().await?;
/// # Ok(()) }
/// ```
pub struct RedisStore {
    connection: ConnectionManager,
    keys: Keys,
    /// The `(client_id, org_id)` its keys name.
    owner: TokenOwner,
    sealing: Sealing,
    /// `redis://host:port/db`, without credentials.
    endpoint: String,
    save: redis::Script,
    release: redis::Script,
    extend: redis::Script,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("endpoint", &self.endpoint)
            .field("pair_key", &self.keys.pair)
            .field("format", &self.sealing.format())
            .finish()
    }
}

/// A lease's time to live in whole milliseconds (at least 1: Redis refuses 0).
fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// A Redis failure as a store error: where, and what (never the URL's credentials).
fn io(endpoint: &str, error: &redis::RedisError) -> StoreError {
    StoreError::Io {
        path: endpoint.to_owned(),
        reason: error.to_string(),
    }
}

impl RedisStore {
    /// A builder for the pair of `(client_id, org_id)` in the Redis at `url`.
    pub fn builder(
        url: impl Into<String>,
        client_id: impl Into<String>,
        org_id: impl Into<String>,
    ) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: SecretString::from(url.into()),
            client_id: client_id.into(),
            org_id: org_id.into(),
            prefix: "cobo-oauth".to_owned(),
            sealing: None,
            timeout: DEFAULT_REDIS_TIMEOUT,
        }
    }

    /// The key of the pair's hash.
    pub fn pair_key(&self) -> &str {
        &self.keys.pair
    }

    fn io(&self, error: &redis::RedisError) -> StoreError {
        io(&self.endpoint, error)
    }

    async fn load_pair(&self) -> Result<Option<StoredToken>, StoreError> {
        let mut connection = self.connection.clone();
        let (version, format, payload): (Option<u64>, Option<String>, Option<Vec<u8>>) =
            redis::cmd("HMGET")
                .arg(&self.keys.pair)
                .arg("version")
                .arg("format")
                .arg("payload")
                .query_async(&mut connection)
                .await
                .map_err(|e| self.io(&e))?;
        match (version, format, payload) {
            (None, None, None) => Ok(None),
            (Some(version), Some(format), Some(payload)) => {
                // Plaintext JSON in the plaintext format: zeroized once read.
                let payload = zeroize::Zeroizing::new(payload);
                self.sealing
                    .open(&format, &payload, &self.keys.pair, version)
                    .map(Some)
            }
            _ => Err(StoreError::Corrupt {
                path: self.keys.pair.clone(),
                reason: "the pair hash lacks version, format or payload".to_owned(),
            }),
        }
    }

    async fn save_pair(&self, token: &StoredToken) -> Result<(), StoreError> {
        let payload = zeroize::Zeroizing::new(self.sealing.seal(token, &self.keys.pair)?);
        let mut connection = self.connection.clone();
        let stored: i64 = self
            .save
            .key(&self.keys.pair)
            .key(&self.keys.sends)
            .arg(token.version)
            .arg(token.expires_at_ms)
            .arg(self.sealing.format())
            .arg(payload.as_slice())
            .invoke_async(&mut connection)
            .await
            .map_err(|e| self.io(&e))?;
        match u64::try_from(stored) {
            Ok(stored) => Err(StoreError::Conflict {
                stored,
                attempted: token.version,
            }),
            Err(_) => Ok(()),
        }
    }

    async fn acquire(&self, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        let mut id = [0_u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let holder = hex::encode(id);
        let ttl_ms = ttl_millis(ttl);
        let mut connection = self.connection.clone();
        let taken: Option<String> = redis::cmd("SET")
            .arg(&self.keys.lease)
            .arg(&holder)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut connection)
            .await
            .map_err(|e| self.io(&e))?;
        Ok(taken.map(|_| Lease { holder }))
    }

    async fn prolong(&self, lease: &Lease, ttl: Duration) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let extended: i64 = self
            .extend
            .key(&self.keys.lease)
            .arg(&lease.holder)
            .arg(ttl_millis(ttl))
            .invoke_async(&mut connection)
            .await
            .map_err(|e| self.io(&e))?;
        Ok(extended == 1)
    }

    async fn give_back(&self, lease: &Lease) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let _deleted: i64 = self
            .release
            .key(&self.keys.lease)
            .arg(&lease.holder)
            .invoke_async(&mut connection)
            .await
            .map_err(|e| self.io(&e))?;
        Ok(())
    }

    async fn count_send(&self, version: u64) -> Result<u64, StoreError> {
        let mut connection = self.connection.clone();
        let sends: u64 = redis::cmd("HINCRBY")
            .arg(&self.keys.sends)
            .arg(version)
            .arg(1)
            .query_async(&mut connection)
            .await
            .map_err(|e| self.io(&e))?;
        Ok(sends.saturating_sub(1))
    }
}

impl TokenStore for RedisStore {
    fn load(&self) -> StoreFuture<'_, Option<StoredToken>> {
        Box::pin(self.load_pair())
    }

    fn save<'a>(&'a self, token: &'a StoredToken) -> StoreFuture<'a, ()> {
        Box::pin(self.save_pair(token))
    }

    fn lease(&self) -> Option<&dyn RefreshLease> {
        Some(self)
    }

    fn bound_to(&self) -> Option<&TokenOwner> {
        Some(&self.owner)
    }

    fn location(&self) -> String {
        self.keys.pair.clone()
    }
}

impl RefreshLease for RedisStore {
    fn try_acquire(&self, ttl: Duration) -> StoreFuture<'_, Option<Lease>> {
        Box::pin(self.acquire(ttl))
    }

    fn extend<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> StoreFuture<'a, bool> {
        Box::pin(self.prolong(lease, ttl))
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> StoreFuture<'a, ()> {
        Box::pin(self.give_back(lease))
    }

    fn record_refresh(&self, version: u64) -> StoreFuture<'_, u64> {
        Box::pin(self.count_send(version))
    }
}
