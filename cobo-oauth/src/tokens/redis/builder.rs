//! [`RedisStoreBuilder`]: the URL, credentials, TLS and sealing of a [`RedisStore`], from code or
//! from the environment.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo as _};
use secrecy::{ExposeSecret as _, SecretString};
use zeroize::Zeroizing;

use super::cluster;
use super::connection::RedisConnection;
use super::errors;
use super::orgs::RedisOrgStore;
use super::replication::{DEFAULT_REPLICA_ACK_TIMEOUT, GuardConnector, ReplicaAck, Replication};
use super::sealing::{EncryptionKey, Sealing};
use super::store::{Connected, RedisStore};
use super::tls::TlsOptions;
use crate::tokens::store::{StoreError, TokenOwner};

/// The environment variables [`RedisStoreBuilder::from_env`] reads.
pub mod vars {
    /// The Redis URL, e.g. `redis://:password@redis.internal:6379/0`, with an ACL user
    /// `redis://user:password@…`, or `rediss://…` for TLS; for a Redis Cluster,
    /// `redis+cluster://[user:password@]host:port[,host:port…]` (`rediss+cluster://` for TLS).
    pub const REDIS_URL: &str = "COBO_REDIS_URL";
    /// A PEM file with the CA(s) that signed the Redis server's certificate (`rediss://`), trusted
    /// instead of the system's CA roots.
    pub const CA_FILE: &str = "COBO_REDIS_CA_FILE";
    /// A PEM file with a client certificate (chain) for mutual TLS; needs [`CLIENT_KEY_FILE`].
    pub const CLIENT_CERT_FILE: &str = "COBO_REDIS_CLIENT_CERT_FILE";
    /// A PEM file with the private key of [`CLIENT_CERT_FILE`].
    pub const CLIENT_KEY_FILE: &str = "COBO_REDIS_CLIENT_KEY_FILE";
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
    tls: TlsOptions,
    replica_ack: ReplicaAck,
    replica_ack_timeout: Duration,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("url", &"<redacted>")
            .field("client_id", &self.client_id)
            .field("org_id", &self.org_id)
            .field("prefix", &self.prefix)
            .field("format", &self.sealing.as_ref().map(Sealing::format))
            .field("tls", &self.tls)
            .field("replica_ack", &self.replica_ack)
            .field("replica_ack_timeout", &self.replica_ack_timeout)
            .finish()
    }
}

impl RedisStoreBuilder {
    /// Reads [`vars::REDIS_URL`], and [`vars::ENCRYPTION_KEY`] or [`vars::PLAINTEXT`]; for TLS,
    /// [`vars::CA_FILE`], and [`vars::CLIENT_CERT_FILE`] with [`vars::CLIENT_KEY_FILE`] (the
    /// files are read by [`connect`](Self::connect)).
    pub fn from_env(
        client_id: impl Into<String>,
        org_id: impl Into<String>,
    ) -> Result<Self, StoreError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let url = var(vars::REDIS_URL).ok_or_else(|| StoreError::Config {
            reason: format!("{} is not set", vars::REDIS_URL),
        })?;
        let mut builder = RedisStore::builder(url, client_id, org_id);
        if let Some(key) = var(vars::ENCRYPTION_KEY).map(Zeroizing::new) {
            builder = builder.encryption_key(EncryptionKey::from_hex(&key)?);
        } else if var(vars::PLAINTEXT).as_deref() == Some("1") {
            builder = builder.plaintext();
        }
        if let Some(ca) = var(vars::CA_FILE) {
            builder = builder.tls_ca_file(ca);
        }
        match (var(vars::CLIENT_CERT_FILE), var(vars::CLIENT_KEY_FILE)) {
            (Some(cert), Some(key)) => builder = builder.tls_client_cert_files(cert, key),
            (None, None) => {}
            _ => {
                return Err(StoreError::Config {
                    reason: format!(
                        "set both {} and {}, or neither",
                        vars::CLIENT_CERT_FILE,
                        vars::CLIENT_KEY_FILE
                    ),
                });
            }
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

    /// Whether the writes that guard a refresh (the lease, the send count, the saved pair) wait
    /// for a replica's acknowledgement (default [`ReplicaAck::WhereReplicas`]; see the
    /// [module documentation](super#replication-and-failover)).
    pub fn replica_ack(mut self, replica_ack: ReplicaAck) -> Self {
        self.replica_ack = replica_ack;
        self
    }

    /// How long a guarded write waits for a replica's acknowledgement (`WAIT 1 <timeout>`,
    /// default [`DEFAULT_REPLICA_ACK_TIMEOUT`]).
    pub fn replica_ack_timeout(mut self, timeout: Duration) -> Self {
        self.replica_ack_timeout = timeout;
        self
    }

    /// For a `rediss://` URL: trusts only the CA certificate(s) in `pem` (PEM-encoded) instead of
    /// the system's CA roots, e.g. a private CA that signed the Redis server's certificate.
    pub fn tls_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.trust_pem(pem.into());
        self
    }

    /// Like [`tls_ca_pem`](Self::tls_ca_pem), with the PEM read from the file at `path` when
    /// connecting.
    pub fn tls_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.trust_file(path.into());
        self
    }

    /// For a `rediss://` URL whose server asks for a client certificate (mutual TLS): the
    /// certificate (chain, leaf first) and its private key, both PEM-encoded. The key is
    /// zeroized when the builder is dropped and never shown.
    pub fn tls_client_cert_pem(
        mut self,
        cert: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.identify_pem(cert.into(), key.into());
        self
    }

    /// Like [`tls_client_cert_pem`](Self::tls_client_cert_pem), with the certificate and the key
    /// read from files when connecting.
    pub fn tls_client_cert_files(
        mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.tls.identify_files(cert.into(), key.into());
        self
    }

    /// Connects. Fails if no encryption key was given and plaintext was not chosen, if the URL
    /// is malformed, if TLS options come with a plain `redis://` URL, or if Redis cannot be
    /// reached ([`StoreError::Io`]), refuses the credentials ([`StoreError::Refused`]) or the
    /// TLS handshake fails ([`StoreError::Tls`]).
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        let connected = self.reach().await?;
        Ok(RedisStore::new(
            connected,
            &self.prefix,
            TokenOwner::new(self.client_id, self.org_id),
        ))
    }

    /// Connects, for every organization of the builder's `client_id` (its `org_id` is
    /// ignored): see [`RedisOrgStore`].
    pub async fn connect_orgs(self) -> Result<RedisOrgStore, StoreError> {
        let connected = self.reach().await?;
        Ok(RedisOrgStore::new(connected, self.client_id, self.prefix))
    }

    /// Connects to the URL's Redis (or Redis Cluster), with the builder's timeout and TLS
    /// options, for a [`RedisConnection`]: what every store of this connection shares, less
    /// the sealing.
    pub(super) async fn reach_connection(&self) -> Result<RedisConnection, StoreError> {
        let (connection, _, _, _) = match cluster::seed_nodes(self.url.expose_secret()) {
            Some(nodes) => self.reach_cluster(&nodes).await?,
            None => self.reach_single().await?,
        };
        Ok(connection)
    }

    /// Connects to Redis: what every store of this connection shares.
    async fn reach(&self) -> Result<Connected, StoreError> {
        let sealing = self.sealing.clone().ok_or_else(|| StoreError::Config {
            reason: "choose .encryption_key(...) or, knowingly, .plaintext() for the Redis store"
                .to_owned(),
        })?;
        let (connection, connector, endpoint, password) =
            match cluster::seed_nodes(self.url.expose_secret()) {
                Some(nodes) => self.reach_cluster(&nodes).await?,
                None => self.reach_single().await?,
            };
        let cluster = connection.is_cluster();
        Ok(Connected {
            connection,
            replication: Arc::new(Replication::new(
                self.replica_ack,
                self.replica_ack_timeout,
                self.guard_timeout(),
                cluster,
                connector,
            )),
            sealing,
            last_sealed: Arc::default(),
            endpoint,
            password,
        })
    }

    /// The response timeout of the connections of guarded writes: a command, then a `WAIT`.
    fn guard_timeout(&self) -> Duration {
        self.timeout.saturating_add(self.replica_ack_timeout)
    }

    /// One Redis server (or a primary).
    async fn reach_single(&self) -> Result<Reached, StoreError> {
        let info = parse(self.url.expose_secret())?;
        let password = password_of(&info);
        let scheme = scheme_of(&info);
        let endpoint = format!("{scheme}://{}/{}", info.addr(), info.redis_settings().db());
        let client = if scheme == "rediss" {
            super::tls::ensure_crypto_provider();
            if self.tls.is_set() {
                let certificates = self.tls.certificates()?;
                redis::Client::build_with_tls(info, certificates).map_err(|e| {
                    StoreError::Config {
                        reason: format!("the Redis TLS certificates or key: {e}"),
                    }
                })?
            } else {
                redis::Client::open(info).map_err(|_| malformed())?
            }
        } else {
            self.refuse_tls_options()?;
            redis::Client::open(info).map_err(|_| malformed())?
        };
        let config = |response: Duration| {
            ConnectionManagerConfig::new()
                .set_connection_timeout(Some(self.timeout))
                .set_response_timeout(Some(response))
                .set_max_delay(Duration::from_millis(500))
        };
        let connection = ConnectionManager::new_with_config(client.clone(), config(self.timeout))
            .await
            .map_err(|e| {
                errors::store_error(&endpoint, password.as_ref().map(|p| p.expose_secret()), &e)
            })?;
        let guard_config = config(self.guard_timeout());
        let connector: GuardConnector = Box::new(move || {
            let (client, config) = (client.clone(), guard_config.clone());
            Box::pin(async move {
                ConnectionManager::new_with_config(client, config)
                    .await
                    .map(RedisConnection::from)
            })
        });
        Ok((connection.into(), connector, endpoint, password))
    }

    /// A Redis Cluster, through its seed nodes (`redis+cluster://…`).
    async fn reach_cluster(&self, nodes: &[String]) -> Result<Reached, StoreError> {
        let infos = nodes
            .iter()
            .map(|node| parse(node))
            .collect::<Result<Vec<_>, _>>()?;
        let Some(first) = infos.first() else {
            return Err(malformed());
        };
        let password = password_of(first);
        let scheme = scheme_of(first);
        let addresses: Vec<String> = infos.iter().map(|info| info.addr().to_string()).collect();
        let endpoint = format!("{scheme}+cluster://{}", addresses.join(","));
        let certificates = if scheme == "rediss" {
            super::tls::ensure_crypto_provider();
            self.tls
                .is_set()
                .then(|| self.tls.certificates())
                .transpose()?
        } else {
            self.refuse_tls_options()?;
            None
        };
        let client = |response: Duration| {
            let mut builder = ClusterClientBuilder::new(infos.clone())
                .connection_timeout(self.timeout)
                .response_timeout(response)
                .overall_response_timeout(Some(response.saturating_mul(3)))
                .retries(CLUSTER_RETRIES)
                .min_retry_wait(50)
                .max_retry_wait(500);
            if let Some(certificates) = &certificates {
                builder = builder.certs(certificates.clone());
            }
            builder.build().map_err(|e| StoreError::Config {
                reason: format!("the Redis Cluster configuration: {e}"),
            })
        };
        let main = client(self.timeout)?;
        let guards = client(self.guard_timeout())?;
        let connection = main.get_async_connection().await.map_err(|e| {
            errors::store_error(&endpoint, password.as_ref().map(|p| p.expose_secret()), &e)
        })?;
        let connector: GuardConnector = Box::new(move || {
            let guards = guards.clone();
            Box::pin(async move {
                guards
                    .get_async_connection()
                    .await
                    .map(RedisConnection::from)
            })
        });
        Ok((connection.into(), connector, endpoint, password))
    }

    /// Refuses TLS options given for a plain `redis://` URL.
    fn refuse_tls_options(&self) -> Result<(), StoreError> {
        if self.tls.is_set() {
            return Err(StoreError::Config {
                reason: "a TLS CA or client certificate was given for a plain redis:// URL; \
                         use rediss://"
                    .to_owned(),
            });
        }
        Ok(())
    }
}

/// How many times the cluster client tries a command again (after a `MOVED`, `ASK`,
/// `TRYAGAIN`, `CLUSTERDOWN` or a lost node), pausing 50 to 500 ms between tries.
const CLUSTER_RETRIES: u32 = 6;

/// The connection, the connector of the guard connections, the endpoint without credentials,
/// and the URL's password.
type Reached = (
    RedisConnection,
    GuardConnector,
    String,
    Option<SecretString>,
);

/// A server's URL, parsed.
fn parse(url: &str) -> Result<ConnectionInfo, StoreError> {
    url.into_connection_info().map_err(|_| malformed())
}

/// The error of a URL redis-rs cannot read.
fn malformed() -> StoreError {
    StoreError::Config {
        reason:
            "the Redis URL is malformed (expected redis[s]://[[user]:password@]host[:port][/db] \
                 or redis[s]+cluster://[[user]:password@]host:port[,host:port...])"
                .to_owned(),
    }
}

/// The URL's password, if any.
fn password_of(info: &ConnectionInfo) -> Option<SecretString> {
    info.redis_settings()
        .password()
        .filter(|p| !p.is_empty())
        .map(SecretString::from)
}

/// `redis`, `rediss` (TLS) or `redis+unix`.
fn scheme_of(info: &ConnectionInfo) -> &'static str {
    match info.addr() {
        ConnectionAddr::Tcp(..) => "redis",
        ConnectionAddr::TcpTls { .. } => "rediss",
        _ => "redis+unix",
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
            tls: TlsOptions::default(),
            replica_ack: ReplicaAck::default(),
            replica_ack_timeout: DEFAULT_REPLICA_ACK_TIMEOUT,
        }
    }
}
