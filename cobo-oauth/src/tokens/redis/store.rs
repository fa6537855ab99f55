//! [`RedisStore`]: the store itself (its builder is `builder.rs`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};

use super::connection::RedisConnection;
use super::keys::Keys;
use super::last_sealed::LastSealed;
use super::replication::{Acked, Replication};
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
    lease_scripts: scripts::LeaseScripts,
}

/// How a [`RedisStore`] reaches Redis: what every store of one connection shares.
#[derive(Clone)]
pub(super) struct Connected {
    /// The connection of every command but the guarded writes.
    pub connection: RedisConnection,
    /// The replica acknowledgements of the guarded writes (and their own connections).
    pub replication: Arc<Replication>,
    pub sealing: Sealing,
    /// The payload last sealed for each pair, so that a retried save sends the same bytes.
    pub last_sealed: Arc<LastSealed>,
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
    crate::millis::millis(ttl).max(1)
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
            lease_scripts: scripts::LeaseScripts::default(),
        }
    }

    /// The key of the pair's hash.
    pub fn pair_key(&self) -> &str {
        &self.keys.pair
    }

    /// How many pairs saved through this store's connection (shared with every store of its
    /// builder, e.g. all organizations of a [`RedisOrgStore`](super::RedisOrgStore)) wait for a
    /// replica's acknowledgement: handed out, kept in memory and saved again until a replica
    /// acknowledges them. Above 0 for long means a replica is gone or lagging.
    pub fn saves_waiting_for_replica(&self) -> usize {
        self.connected.replication.waiting()
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
        let save = scripts::SaveArgs {
            pair_key: self.keys.pair.clone(),
            sends_key: self.keys.sends.clone(),
            version: token.version,
            expires_at_ms: token.expires_at_ms,
            format: self.connected.sealing.format(),
            payload: self.connected.last_sealed.payload(
                &self.connected.sealing,
                token,
                &self.keys.pair,
            )?,
        };
        let replication = &self.connected.replication;
        let (stored, acked): (i64, Acked) = replication
            .write(&self.connected.connection, &self.keys.pair, save.command())
            .await
            .map_err(|e| self.io(&e))?;
        if let Ok(stored) = u64::try_from(stored) {
            return Err(StoreError::Conflict {
                stored,
                attempted: token.version,
            });
        }
        if acked == Acked::No {
            // The pair is valid and saved on the primary: handed out, and kept here to be saved
            // again until a replica has it (a failover before then would lose it).
            tracing::warn!(
                key = %self.keys.pair,
                version = token.version,
                "no replica acknowledged the saved token pair in time; it is used, kept in memory and saved again until a replica acknowledges it"
            );
            replication.keep(&self.connected.connection, token.version, save);
        } else {
            replication
                .settled(&self.connected.connection, &self.keys.pair, token.version)
                .await;
        }
        Ok(())
    }

    async fn acquire(&self, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        let mut id = [0_u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let holder = hex::encode(id);
        let ttl_ms = ttl_millis(ttl);
        let mut set = redis::cmd("SET");
        set.arg(&self.keys.lease)
            .arg(&holder)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms);
        let (taken, acked): (Option<String>, Acked) = self
            .connected
            .replication
            .write(&self.connected.connection, &self.keys.lease, set)
            .await
            .map_err(|e| self.io(&e))?;
        let Some(_) = taken else {
            return Ok(None);
        };
        let lease = Lease { holder };
        if acked == Acked::No {
            // A failover now could forget the lease, and two holders would refresh: no refresh
            // is sent under it.
            if let Err(error) = self.give_back(&lease).await {
                tracing::warn!(error = %error, "giving back an unacknowledged refresh lease failed; it will expire");
            }
            return Err(self.unacknowledged("the refresh lease"));
        }
        Ok(Some(lease))
    }

    /// The error of a guarded write that no replica acknowledged in time.
    fn unacknowledged(&self, what: &str) -> StoreError {
        StoreError::Io {
            path: self.connected.endpoint.clone(),
            reason: format!("no replica acknowledged {what} in time (WAIT 1); no refresh was sent"),
        }
    }

    async fn prolong(&self, lease: &Lease, ttl: Duration) -> Result<bool, StoreError> {
        let mut connection = self.connected.connection.clone();
        let extended: i64 = self
            .lease_scripts
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
        if self.connected.replication.defer_release(
            &self.keys.pair,
            &self.keys.lease,
            &lease.holder,
        ) {
            // The pair saved under it waits for a replica: the lease is given back once a
            // replica has the pair, so that a failover meanwhile cannot let another process
            // refresh the previous pair.
            return Ok(());
        }
        let mut connection = self.connected.connection.clone();
        let _deleted: i64 = self
            .lease_scripts
            .release
            .key(&self.keys.lease)
            .arg(&lease.holder)
            .invoke_async(&mut connection)
            .await
            .map_err(|e| self.io(&e))?;
        Ok(())
    }

    async fn count_send(&self, version: u64) -> Result<u64, StoreError> {
        let mut count = redis::cmd("HINCRBY");
        count.arg(&self.keys.sends).arg(version).arg(1);
        let (sends, acked): (u64, Acked) = self
            .connected
            .replication
            .write(&self.connected.connection, &self.keys.sends, count)
            .await
            .map_err(|e| self.io(&e))?;
        if acked == Acked::No {
            // Not sent: taken back, or the next holder would ask for a needless new grant.
            if let Err(error) = self.uncount_send(version).await {
                tracing::warn!(error = %error, "taking back an unacknowledged refresh send count failed");
            }
            return Err(self.unacknowledged("the refresh send count"));
        }
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
