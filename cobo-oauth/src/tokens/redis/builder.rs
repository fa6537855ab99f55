//! [`RedisStoreBuilder`]: the URL, credentials, TLS and sealing of a [`RedisStore`], from code or
//! from the environment.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use redis::ConnectionAddr;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret as _, SecretString};
use zeroize::Zeroizing;

use super::errors;
use super::orgs::RedisOrgStore;
use super::sealing::{EncryptionKey, Sealing};
use super::store::{Connected, RedisStore};
use super::tls::{ClientIdentity, Pem, TlsOptions};
use crate::tokens::store::{StoreError, TokenOwner};

/// The environment variables [`RedisStoreBuilder::from_env`] reads.
pub mod vars {
    /// The Redis URL, e.g. `redis://:password@redis.internal:6379/0`, with an ACL user
    /// `redis://user:password@…`, or `rediss://…` for TLS.
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

    /// For a `rediss://` URL: trusts only the CA certificate(s) in `pem` (PEM-encoded) instead of
    /// the system's CA roots, e.g. a private CA that signed the Redis server's certificate.
    pub fn tls_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.ca = Some(Pem::Bytes(Zeroizing::new(pem.into())));
        self
    }

    /// Like [`tls_ca_pem`](Self::tls_ca_pem), with the PEM read from the file at `path` when
    /// connecting.
    pub fn tls_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.ca = Some(Pem::File(path.into()));
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
        self.tls.client = Some(ClientIdentity {
            cert: Pem::Bytes(Zeroizing::new(cert.into())),
            key: Pem::Bytes(Zeroizing::new(key.into())),
        });
        self
    }

    /// Like [`tls_client_cert_pem`](Self::tls_client_cert_pem), with the certificate and the key
    /// read from files when connecting.
    pub fn tls_client_cert_files(
        mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.tls.client = Some(ClientIdentity {
            cert: Pem::File(cert.into()),
            key: Pem::File(key.into()),
        });
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

    /// Connects to Redis: what every store of this connection shares.
    async fn reach(&self) -> Result<Connected, StoreError> {
        let sealing = self.sealing.clone().ok_or_else(|| StoreError::Config {
            reason: "choose .encryption_key(...) or, knowingly, .plaintext() for the Redis store"
                .to_owned(),
        })?;
        let client =
            redis::Client::open(self.url.expose_secret()).map_err(|_| StoreError::Config {
                reason: "the Redis URL is malformed (expected \
                         redis[s]://[[user]:password@]host[:port][/db])"
                    .to_owned(),
            })?;
        let info = client.get_connection_info().clone();
        let password = info
            .redis_settings()
            .password()
            .filter(|p| !p.is_empty())
            .map(SecretString::from);
        let scheme = match info.addr() {
            ConnectionAddr::Tcp(..) => "redis",
            ConnectionAddr::TcpTls { .. } => "rediss",
            _ => "redis+unix",
        };
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
                client
            }
        } else if self.tls.is_set() {
            return Err(StoreError::Config {
                reason: "a TLS CA or client certificate was given for a plain redis:// URL; \
                         use rediss://"
                    .to_owned(),
            });
        } else {
            client
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| {
                errors::store_error(&endpoint, password.as_ref().map(|p| p.expose_secret()), &e)
            })?;
        Ok(Connected {
            connection,
            sealing,
            endpoint,
            password,
        })
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
        }
    }
}
