//! [`RedisOrgStore`]: the pairs of every organization of an app in one Redis (or a Redis
//! Cluster), listed with `SCAN` (on every primary of a cluster).

use std::fmt;
use std::sync::Arc;

use super::builder::RedisStoreBuilder;
use super::cluster;
use super::keys::Keys;
use super::store::{Connected, RedisStore};
use crate::tokens::orgs::OrgStore;
use crate::tokens::store::{StoreError, StoreFuture, TokenOwner, TokenStore};

/// An [`OrgStore`] in Redis: each organization's pair under its own keys
/// (`<prefix>:{<client_id>:<org_id>}:pair`, `…:lease`, `…:refresh-sends`), each a
/// [`RedisStore`] with its refresh lease, all sharing one connection. Lists organizations with
/// `SCAN` on the app's keys (never `KEYS`), so a fleet's processes find each other's
/// organizations; on a Redis Cluster, on every primary (found with `CLUSTER SLOTS`). The ACL
/// user also needs the `scan` command.
///
/// ```no_run
/// # async fn f(client: cobo_oauth::CoboClient) -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use cobo_oauth::tokens::redis::{EncryptionKey, RedisOrgStore};
/// use cobo_oauth::tokens::orgs::OrgTokens;
/// let store = RedisOrgStore::builder("redis://127.0.0.1:6379/0", "client-id")
///     .encryption_key(EncryptionKey::from_hex(&std::env::var("COBO_TOKEN_ENCRYPTION_KEY")?)?)
///     .connect_orgs()
///     .await?;
/// let tokens = OrgTokens::builder(client, "client-id").store(Arc::new(store)).build();
/// # Ok(()) }
/// ```
pub struct RedisOrgStore {
    /// The connection, sealing and credentials every organization's store shares.
    connected: Connected,
    client_id: String,
    prefix: String,
}

impl RedisOrgStore {
    /// The stores of `client_id`'s organizations under `prefix`, sharing `connected`.
    pub(super) fn new(connected: Connected, client_id: String, prefix: String) -> Self {
        Self {
            connected,
            client_id,
            prefix,
        }
    }
}

impl fmt::Debug for RedisOrgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisOrgStore")
            .field("endpoint", &self.connected.endpoint)
            .field("prefix", &self.prefix)
            .field("client_id", &self.client_id)
            .field("format", &self.connected.sealing.format())
            .finish()
    }
}

impl RedisOrgStore {
    /// A builder for every organization of `client_id` in the Redis at `url`; finish it with
    /// [`RedisStoreBuilder::connect_orgs`].
    pub fn builder(url: impl Into<String>, client_id: impl Into<String>) -> RedisStoreBuilder {
        RedisStore::builder(url, client_id, "")
    }

    /// Like [`RedisStoreBuilder::from_env`], for every organization of `client_id`.
    pub fn from_env(client_id: impl Into<String>) -> Result<RedisStoreBuilder, StoreError> {
        RedisStoreBuilder::from_env(client_id, "")
    }

    /// The store of `org_id`'s pair.
    pub fn store_of(&self, org_id: &str) -> RedisStore {
        let owner = TokenOwner::new(self.client_id.clone(), org_id);
        RedisStore::new(self.connected.clone(), &self.prefix, owner)
    }

    /// How many pairs saved through this store wait for a replica's acknowledgement (see
    /// [`RedisStore::saves_waiting_for_replica`]).
    pub fn saves_waiting_for_replica(&self) -> usize {
        self.connected.replication.waiting()
    }

    /// The organizations with a pair, found with `SCAN` (a cursor, a page at a time), on every
    /// primary of a cluster.
    async fn scan(&self) -> Result<Vec<String>, StoreError> {
        let mut orgs = Vec::new();
        if self.connected.connection.is_cluster() {
            let primaries = cluster::primaries(&self.connected.connection)
                .await
                .map_err(|e| self.connected.io(&e))?;
            for (host, port) in primaries {
                self.scan_node(Some((&host, port)), &mut orgs).await?;
            }
        } else {
            self.scan_node(None, &mut orgs).await?;
        }
        orgs.sort();
        orgs.dedup(); // SCAN may return a key twice.
        Ok(orgs)
    }

    /// Adds the organizations of one node to `orgs`: the primary at `(host, port)` on a cluster.
    async fn scan_node(
        &self,
        node: Option<(&str, u16)>,
        orgs: &mut Vec<String>,
    ) -> Result<(), StoreError> {
        let pattern = Keys::pairs_pattern(&self.prefix, &self.client_id);
        let mut cursor: u64 = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1_000);
            let answer = match node {
                Some((host, port)) => self.connected.connection.on_node(host, port, scan).await,
                None => {
                    let mut connection = self.connected.connection.clone();
                    scan.query_async(&mut connection).await
                }
            };
            let (next, keys): (u64, Vec<String>) = answer
                .and_then(|answer| Ok(redis::from_redis_value(answer)?))
                .map_err(|e| self.connected.io(&e))?;
            for key in keys {
                if let Some(org) = Keys::org_of_pair(&self.prefix, &self.client_id, &key) {
                    orgs.push(org);
                }
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

impl OrgStore for RedisOrgStore {
    fn org(&self, org_id: &str) -> Arc<dyn TokenStore> {
        Arc::new(self.store_of(org_id))
    }

    fn list(&self) -> StoreFuture<'_, Vec<String>> {
        Box::pin(self.scan())
    }
}
