//! [`TokenStore`]: where the newest token pair lives.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::token::Token;
pub use crate::error::StoreError;
pub use crate::owner::TokenOwner;
use serde::{Deserialize, Serialize};

/// A token pair as stored: both tokens, when the access token expires, a version, and whose
/// pair it is.
///
/// The version grows by one with every new pair: stores refuse to replace a pair with one whose
/// version is not higher ([`StoreError::Conflict`]), so a slow writer can never put an older
/// refresh token back. A [`TokenManager`](super::TokenManager) refuses a pair whose owner is not
/// its own ([`StoreError::WrongOwner`]); a pair written before owners were recorded (`owner`
/// `None`) is taken as its own and written with the owner at its next save.
#[derive(Clone)]
pub struct StoredToken {
    /// The Org Access Token. Empty (with `expires_at_ms` 0) when Cobo sent a refresh token
    /// without a usable access token: the next call refreshes with the refresh token.
    pub access_token: SecretString,
    /// The newest Refresh Token.
    pub refresh_token: SecretString,
    /// When the access token expires, Unix milliseconds.
    pub expires_at_ms: u64,
    /// 1 for the first pair, one more for each pair after it (0: written without a version).
    pub version: u64,
    /// Whose pair it is (`None`: written before owners were recorded).
    pub owner: Option<TokenOwner>,
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("expires_at_ms", &self.expires_at_ms)
            .field("version", &self.version)
            .field("owner", &self.owner)
            .finish()
    }
}

/// The JSON form of a [`StoredToken`], as written: borrowed, so no unzeroized copy is made.
#[derive(Serialize)]
struct Written<'a> {
    access_token: &'a str,
    refresh_token: &'a str,
    expires_at_ms: u64,
    version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    org_id: Option<&'a str>,
}

/// The JSON form of a [`StoredToken`], as read: the tokens go straight into secrets. Pairs
/// written by earlier versions lack `version`, `client_id` and `org_id`.
#[derive(Deserialize)]
struct Read {
    access_token: SecretString,
    refresh_token: SecretString,
    expires_at_ms: u64,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    org_id: Option<String>,
}

impl StoredToken {
    /// The JSON a store writes (it contains both tokens, so it is zeroized when dropped).
    pub fn to_json(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(
            serde_json::to_string(&Written {
                access_token: self.access_token.expose_secret(),
                refresh_token: self.refresh_token.expose_secret(),
                expires_at_ms: self.expires_at_ms,
                version: self.version,
                client_id: self.owner.as_ref().map(|o| o.client_id.as_str()),
                org_id: self.owner.as_ref().map(|o| o.org_id.as_str()),
            })
            .unwrap_or_default(),
        )
    }

    /// Reads the JSON a store wrote.
    pub fn from_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        let read: Read = serde_json::from_slice(json)?;
        let owner = match (read.client_id, read.org_id) {
            (Some(client_id), Some(org_id)) => Some(TokenOwner { client_id, org_id }),
            (None, None) => None,
            _ => {
                return Err(serde::de::Error::custom(
                    "the pair has only one of client_id and org_id",
                ));
            }
        };
        Ok(Self {
            access_token: read.access_token,
            refresh_token: read.refresh_token,
            expires_at_ms: read.expires_at_ms,
            version: read.version,
            owner,
        })
    }

    /// The pair to keep from a token answer received at `now_ms` (Unix milliseconds), or `None`
    /// when it carries no refresh token. An answer without an access token or without
    /// `expires_in` still gives a pair, already expired (`expires_at_ms` 0; an empty access
    /// token when it has none): its refresh token is kept, and the next use refreshes with it.
    pub fn from_answer(
        token: Token,
        version: u64,
        owner: Option<TokenOwner>,
        now_ms: u64,
    ) -> Option<Self> {
        let refresh_token = token.refresh_token?;
        let expires_at_ms = match (&token.access_token, token.expires_in) {
            (Some(_), Some(expires_in)) => {
                let expires_in = u64::try_from(expires_in).unwrap_or(0);
                now_ms.saturating_add(expires_in.saturating_mul(1000))
            }
            _ => 0,
        };
        Some(Self {
            access_token: token
                .access_token
                .unwrap_or_else(|| SecretString::from(String::new())),
            refresh_token,
            expires_at_ms,
            version,
            owner,
        })
    }

    /// Whether this pair may be used by `owner`: it is `owner`'s, or it predates owners.
    pub fn belongs_to(&self, owner: &TokenOwner) -> bool {
        self.owner.as_ref().is_none_or(|mine| mine == owner)
    }
}

/// The future a [`TokenStore`] returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Keeps the newest token pair. `save` must be durable when it returns `Ok`: the refresh token
/// it holds is the only one that works.
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The stored pair, if any.
    fn load(&self) -> StoreFuture<'_, Option<StoredToken>>;
    /// Replaces the stored pair, unless the stored one has the same or a higher version
    /// ([`StoreError::Conflict`]).
    fn save<'a>(&'a self, token: &'a StoredToken) -> StoreFuture<'a, ()>;
    /// The refresh lease of a store shared by several processes, if it has one. With a lease,
    /// only its holder refreshes; everyone else waits for the new pair to appear in the store.
    fn lease(&self) -> Option<&dyn RefreshLease> {
        None
    }
    /// The `(client_id, org_id)` this store was built for, if it is bound to one (such as
    /// `RedisStore`, whose keys name them); a manager for another owner refuses it.
    fn bound_to(&self) -> Option<&TokenOwner> {
        None
    }
    /// Where the pair lives, for error messages (a path, a key; never a secret).
    fn location(&self) -> String {
        String::new()
    }
}

/// A held refresh lease: who holds it (a random id). It ends when released or when its time to
/// live runs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The holder's random id.
    pub holder: String,
}

/// A lease that lets one process of a fleet refresh a shared token pair.
pub trait RefreshLease: Send + Sync {
    /// Takes the lease for `ttl`, unless someone else holds it (`Ok(None)`).
    fn try_acquire(&self, ttl: Duration) -> StoreFuture<'_, Option<Lease>>;
    /// Keeps the lease for another `ttl` from now, if `lease` still holds it; `Ok(false)` if it
    /// was lost (it ran out and someone else may have taken it).
    fn extend<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> StoreFuture<'a, bool>;
    /// Gives the lease back, if `lease` still holds it.
    fn release<'a>(&'a self, lease: &'a Lease) -> StoreFuture<'a, ()>;
    /// Records that the refresh token of the pair with `version` is about to be sent, and returns
    /// how many sends were recorded before this one. Recorded sends are forgotten when a newer
    /// pair is saved, so a count above zero means an earlier holder sent it and never saved.
    fn record_refresh(&self, version: u64) -> StoreFuture<'_, u64>;
    /// Takes back one send recorded for `version` by [`Self::record_refresh`]: the refresh
    /// failed before anything left the process (signing failed, no connection was made), so
    /// the refresh token was not spent. The default forgets nothing (the next holder then asks
    /// for a new grant instead of refreshing, which is safe).
    fn forget_refresh(&self, version: u64) -> StoreFuture<'_, ()> {
        let _ = version;
        Box::pin(async { Ok(()) })
    }
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
        let mut stored = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let outcome = StoreError::check_newer(stored.as_ref().map(|t| t.version), token.version);
        if outcome.is_ok() {
            *stored = Some(token.clone());
        }
        Box::pin(async move { outcome })
    }
}
