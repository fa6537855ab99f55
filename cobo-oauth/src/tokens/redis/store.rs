//! [`RedisStore`]: the store itself (its builder is `builder.rs`).

use std::fmt;
use std::time::Duration;

use rand::RngCore as _;
use redis::aio::ConnectionManager;
use secrecy::{ExposeSecret as _, SecretString};

use super::keys::Keys;
use super::sealing::Sealing;
use super::{errors, scripts};
use crate::tokens::store::{
    Lease, RefreshLease, StoreError, StoreFuture, StoredToken, TokenOwner, TokenStore,
};

/// A [`TokenStore`] in Redis, shared by every process of a fleet that uses one Org Access Token,
/// with a [`RefreshLease`] so that only one of them refreshes.
///
/// ```no_run
/// # async fn f(client: cobo_oauth::CoboClient) -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use cobo_oauth::tokens::redis::{EncryptionKey, RedisStore};
/// use cobo_oauth::tokens::TokenManager;
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
    connected: Connected,
    keys: Keys,
    /// The `(client_id, org_id)` its keys name.
    owner: TokenOwner,
    save: redis::Script,
    release: redis::Script,
    extend: redis::Script,
}

/// How a [`RedisStore`] reaches Redis: what every store of one connection shares.
#[derive(Clone)]
pub(super) struct Connected {
    pub connection: ConnectionManager,
    pub sealing: Sealing,
    /// `redis://host:port/db` (`rediss://` for TLS), without credentials.
    pub endpoint: String,
    /// The URL's password, cut out of error messages. Never shown.
    pub password: Option<SecretString>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("endpoint", &self.connected.endpoint)
            .field("pair_key", &self.keys.pair)
            .field("format", &self.connected.sealing.format())
            .finish()
    }
}

/// A lease's time to live in whole milliseconds (at least 1: Redis refuses 0).
fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Connected {
    /// A failed command as a store error: permanent when Redis refused it, [`StoreError::Io`]
    /// when it may pass.
    pub fn io(&self, error: &redis::RedisError) -> StoreError {
        let password = self.password.as_ref().map(|p| p.expose_secret());
        errors::store_error(&self.endpoint, password, error)
    }
}

impl RedisStore {
    /// The store of `owner`'s pair, under keys that start with `prefix`.
    pub(super) fn new(connected: Connected, prefix: &str, owner: TokenOwner) -> Self {
        Self {
            connected,
            keys: Keys::new(prefix, &owner.client_id, &owner.org_id),
            owner,
            save: scripts::save(),
            release: scripts::release(),
            extend: scripts::extend(),
        }
    }

    /// The key of the pair's hash.
    pub fn pair_key(&self) -> &str {
        &self.keys.pair
    }

    /// A failed command as a store error.
    fn io(&self, error: &redis::RedisError) -> StoreError {
        self.connected.io(error)
    }

    async fn load_pair(&self) -> Result<Option<StoredToken>, StoreError> {
        let mut connection = self.connected.connection.clone();
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
                self.connected
                    .sealing
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
        let payload = zeroize::Zeroizing::new(self.connected.sealing.seal(token, &self.keys.pair)?);
        let mut connection = self.connected.connection.clone();
        let stored: i64 = self
            .save
            .key(&self.keys.pair)
            .key(&self.keys.sends)
            .arg(token.version)
            .arg(token.expires_at_ms)
            .arg(self.connected.sealing.format())
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
        let mut connection = self.connected.connection.clone();
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
        let mut connection = self.connected.connection.clone();
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
        let mut connection = self.connected.connection.clone();
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
        let mut connection = self.connected.connection.clone();
        let sends: u64 = redis::cmd("HINCRBY")
            .arg(&self.keys.sends)
            .arg(version)
            .arg(1)
            .query_async(&mut connection)
            .await
            .map_err(|e| self.io(&e))?;
        Ok(sends.saturating_sub(1))
    }

    async fn uncount_send(&self, version: u64) -> Result<(), StoreError> {
        let mut connection = self.connected.connection.clone();
        let _sends: i64 = redis::cmd("HINCRBY")
            .arg(&self.keys.sends)
            .arg(version)
            .arg(-1)
            .query_async(&mut connection)
            .await
            .map_err(|e| self.io(&e))?;
        Ok(())
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

    fn forget_refresh(&self, version: u64) -> StoreFuture<'_, ()> {
        Box::pin(self.uncount_send(version))
    }
}
