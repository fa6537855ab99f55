//! [`TokenStore`]: where the newest token pair lives.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// A token pair as stored: both tokens and when the access token expires.
#[derive(Clone)]
pub struct StoredToken {
    /// The Org Access Token.
    pub access_token: SecretString,
    /// The newest Refresh Token.
    pub refresh_token: SecretString,
    /// When the access token expires, Unix milliseconds.
    pub expires_at_ms: u64,
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

/// The JSON form of a [`StoredToken`].
#[derive(Serialize, Deserialize)]
struct Persisted {
    access_token: String,
    refresh_token: String,
    expires_at_ms: u64,
}

impl StoredToken {
    /// The JSON a store writes (it contains both tokens).
    pub fn to_json(&self) -> String {
        serde_json::to_string(&Persisted {
            access_token: self.access_token.expose_secret().to_owned(),
            refresh_token: self.refresh_token.expose_secret().to_owned(),
            expires_at_ms: self.expires_at_ms,
        })
        .unwrap_or_default()
    }

    /// Reads the JSON a store wrote.
    pub fn from_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        let persisted: Persisted = serde_json::from_slice(json)?;
        Ok(Self {
            access_token: SecretString::from(persisted.access_token),
            refresh_token: SecretString::from(persisted.refresh_token),
            expires_at_ms: persisted.expires_at_ms,
        })
    }
}

/// Why a store failed. Never contains a token.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("token store I/O error on {path}: {reason}")]
    Io {
        /// The file or resource.
        path: String,
        /// What failed.
        reason: String,
    },
    /// The stored data is not a token pair. It is not treated as empty: fix or remove it.
    #[error("token store {path} is corrupt: {reason}")]
    Corrupt {
        /// The file or resource.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// The future a [`TokenStore`] returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Keeps the newest token pair. `save` must be durable when it returns `Ok`: the refresh token
/// it holds is the only one that works.
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The stored pair, if any.
    fn load(&self) -> StoreFuture<'_, Option<StoredToken>>;
    /// Replaces the stored pair.
    fn save<'a>(&'a self, token: &'a StoredToken) -> StoreFuture<'a, ()>;
}

/// Keeps the pair in memory (the default): it is lost when the process ends.
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<Option<StoredToken>>);

impl TokenStore for MemoryStore {
    fn load(&self) -> StoreFuture<'_, Option<StoredToken>> {
        let token = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        Box::pin(async move { Ok(token) })
    }

    fn save<'a>(&'a self, token: &'a StoredToken) -> StoreFuture<'a, ()> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(token.clone());
        Box::pin(async { Ok(()) })
    }
}
