//! [`JwksCache`]: Cobo's JSON Web Key Set (`<base_url>/oauth/authorize/jwks.json`), fetched
//! once, kept, and fetched again when a token names a key it does not hold (at most once per
//! [`JwksCache::min_refresh_interval`]) or, in the background while its keys keep answering,
//! when it is older than [`JwksCache::max_age`].

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::env::Env;

/// The least time between two fetches caused by unknown `kid`s (a flood of tokens with made-up
/// `kid`s must not become a flood of requests to Cobo).
pub const DEFAULT_JWKS_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// How long a fetched key set is used before it is fetched again (so that a key Cobo withdrew
/// stops being trusted).
pub const DEFAULT_JWKS_MAX_AGE: Duration = Duration::from_secs(3600);
/// The largest JWKS document read.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// The JWKS URL of an environment: `<base_url>/oauth/authorize/jwks.json`.
pub fn jwks_url(env: &Env) -> String {
    format!("{}/oauth/authorize/jwks.json", env.base_url())
}

/// Why the key set could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The request failed, or the answer was not a 200.
    #[error("fetching the JWKS failed: {reason}")]
    Fetch {
        /// What failed.
        reason: String,
    },
    /// The answer is not a JWKS.
    #[error("the JWKS is malformed: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
}

/// One usable key of the set.
#[derive(Clone)]
pub(crate) struct PublishedKey {
    pub key: DecodingKey,
    /// The `alg` the JWKS pins this key to, if it does.
    pub alg: Option<Algorithm>,
}

/// A fetched key set.
#[derive(Clone, Default)]
struct KeySet {
    keys: HashMap<String, PublishedKey>,
    fetched_at: Option<Instant>,
}

/// What the refresh lock guards.
#[derive(Debug, Default)]
struct RefreshState {
    /// When the last fetch caused by an unknown `kid` started (the rate limit of those).
    last_unknown_kid_fetch: Option<Instant>,
    /// When the last fetch failed, and why (the rate limit of a JWKS that is down).
    last_failure: Option<(Instant, JwksError)>,
}

struct Inner {
    url: String,
    /// The client (no redirects, 10 s timeout); the reason when it could not be built, which
    /// every fetch then reports.
    http: Result<reqwest::Client, String>,
    keys: RwLock<Arc<KeySet>>,
    refresh: Arc<tokio::sync::Mutex<RefreshState>>,
    min_refresh_interval: Duration,
    max_age: Duration,
    fetches: AtomicU64,
}

/// Cobo's JWKS, cached. Clones share the cache.
///
/// - One fetch at a time however many callers need one (single-flight): the others wait for it
///   and use its result.
/// - Cancel-safe: the fetch runs in a task of its own, which holds the refresh lock until it
///   ends; a caller dropped while it waits leaves nothing stuck, and the keys it fetched are kept.
/// - A known `kid` never waits: a set older than `max_age` still answers it, and is fetched
///   again in the background (kept, with a `warn`, if that fetch fails; a failed fetch is not
///   retried within `min_refresh_interval`, so an unreachable JWKS is not hammered).
/// - An unknown `kid` causes a fetch at most once per `min_refresh_interval` (counted from the
///   last fetch an unknown `kid` caused, not from the first fetch or a `max_age` one: a key
///   rotated in just after them is found).
#[derive(Clone)]
pub struct JwksCache {
    inner: Arc<Inner>,
}

impl fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksCache")
            .field("url", &crate::env::redact_userinfo(&self.inner.url))
            .field("fetches", &self.fetches())
            .finish()
    }
}

impl JwksCache {
    /// The JWKS of `env` ([`jwks_url`]).
    pub fn for_env(env: &Env) -> Self {
        Self::new(jwks_url(env))
    }

    /// The JWKS at `url`, with the default intervals.
    pub fn new(url: impl Into<String>) -> Self {
        Self::with_intervals(url, DEFAULT_JWKS_MIN_REFRESH_INTERVAL, DEFAULT_JWKS_MAX_AGE)
    }

    /// The JWKS at `url`: fetched again for an unknown `kid` at most once per
    /// `min_refresh_interval`, and when older than `max_age`.
    pub fn with_intervals(
        url: impl Into<String>,
        min_refresh_interval: Duration,
        max_age: Duration,
    ) -> Self {
        super::jwt::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("the HTTP client could not be built: {e}"));
        Self {
            inner: Arc::new(Inner {
                url: url.into(),
                http,
                keys: RwLock::new(Arc::new(KeySet::default())),
                refresh: Arc::new(tokio::sync::Mutex::new(RefreshState::default())),
                min_refresh_interval,
                max_age,
                fetches: AtomicU64::new(0),
            }),
        }
    }

    /// The least time between two fetches caused by unknown `kid`s.
    pub fn min_refresh_interval(&self) -> Duration {
        self.inner.min_refresh_interval
    }

    /// How long a fetched set is used.
    pub fn max_age(&self) -> Duration {
        self.inner.max_age
    }

    /// How many fetches were started.
    pub fn fetches(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    fn snapshot(&self) -> Arc<KeySet> {
        Arc::clone(&self.inner.keys.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn fresh(&self, set: &KeySet) -> bool {
        set.fetched_at
            .is_some_and(|at| at.elapsed() < self.inner.max_age)
    }

    /// The key of `kid`. `Ok(None)`: the set (as fetched now, or recently) has no such key.
    ///
    /// - A known `kid` is answered at once, even from a set older than `max_age`: that set is
    ///   then fetched again in the background (one fetch at a time; after a failed fetch, not
    ///   again within `min_refresh_interval`), so a slow or unreachable JWKS never delays a
    ///   token whose key is known.
    /// - An unknown `kid` waits for a fetch: the first fetch (cold start), a fetch of a set
    ///   older than `max_age`, or one fetch caused by an unknown `kid` per
    ///   `min_refresh_interval` (counted apart from the other fetches, so a key rotated in
    ///   just after any other fetch is still found). Within the interval, and within the
    ///   interval after a failed fetch, it is answered from the set held.
    pub(crate) async fn key(&self, kid: &str) -> Result<Option<PublishedKey>, JwksError> {
        let set = self.snapshot();
        if let Some(key) = set.keys.get(kid) {
            if !self.fresh(&set) {
                self.refresh_in_background();
            }
            return Ok(Some(key.clone()));
        }
        let guard = Arc::clone(&self.inner.refresh).lock_owned().await;
        // Whoever held the lock may have fetched what we need.
        let set = self.snapshot();
        if let Some(key) = set.keys.get(kid) {
            return Ok(Some(key.clone()));
        }
        let recent = |at: Instant| at.elapsed() < self.inner.min_refresh_interval;
        let fresh = self.fresh(&set);
        if let Some((at, error)) = &guard.last_failure
            && recent(*at)
        {
            // The JWKS failed a moment ago: not again yet. A recent set's answer stands.
            return if fresh { Ok(None) } else { Err(error.clone()) };
        }
        if fresh && guard.last_unknown_kid_fetch.is_some_and(recent) {
            // Rate-limited: a flood of made-up kids is not a flood of fetches.
            return Ok(None);
        }
        let mut guard = guard;
        if set.fetched_at.is_some() {
            // Not the first fetch: this one is caused by the unknown kid.
            guard.last_unknown_kid_fetch = Some(Instant::now());
        }
        let fetch = tokio::spawn(self.clone().fetch_holding(guard));
        let fetched = fetch.await.map_err(|e| JwksError::Fetch {
            reason: format!("the fetch task failed: {e}"),
        })?;
        fetched.map(|set| set.keys.get(kid).cloned())
    }

    /// Fetches the set again in a task of its own, unless a fetch is running, the set was
    /// fetched meanwhile, or the last fetch failed within `min_refresh_interval`.
    fn refresh_in_background(&self) {
        let Ok(guard) = Arc::clone(&self.inner.refresh).try_lock_owned() else {
            return; // a fetch is running
        };
        if self.fresh(&self.snapshot()) {
            return;
        }
        if guard
            .last_failure
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < self.inner.min_refresh_interval)
        {
            return;
        }
        let cache = self.clone();
        tokio::spawn(async move {
            if let Err(error) = cache.fetch_holding(guard).await {
                tracing::warn!(%error, "refreshing Cobo's JWKS failed; using the keys fetched before");
            }
        });
    }

    /// One fetch, holding the refresh lock until it ends (run in a task of its own: a caller
    /// that stops waiting cancels nothing); a fetched set replaces the held one.
    async fn fetch_holding(
        self,
        mut guard: tokio::sync::OwnedMutexGuard<RefreshState>,
    ) -> Result<Arc<KeySet>, JwksError> {
        self.inner.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched = self.fetch().await;
        match &fetched {
            Ok(set) => {
                *self.inner.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::clone(set);
                guard.last_failure = None;
            }
            Err(error) => guard.last_failure = Some((Instant::now(), error.clone())),
        }
        drop(guard);
        fetched
    }

    async fn fetch(&self) -> Result<Arc<KeySet>, JwksError> {
        let fetch_error = |reason: String| JwksError::Fetch { reason };
        let http = self
            .inner
            .http
            .as_ref()
            .map_err(|e| fetch_error(e.clone()))?;
        let mut response = http
            .get(&self.inner.url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| fetch_error(e.without_url().to_string()))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(fetch_error(format!("HTTP {}", response.status().as_u16())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| fetch_error(e.without_url().to_string()))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(JwksError::Malformed {
                    reason: format!("larger than {MAX_JWKS_BYTES} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        parse(&body).map(Arc::new)
    }
}

/// The usable keys of a JWKS document: those with a `kid`, for signatures, that
/// `jsonwebtoken` can use (others are skipped with a `debug`).
fn parse(body: &[u8]) -> Result<KeySet, JwksError> {
    let set: JwkSet = serde_json::from_slice(body).map_err(|e| JwksError::Malformed {
        reason: e.to_string(),
    })?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            tracing::debug!("a JWK without kid is skipped");
            continue;
        };
        match usable(jwk) {
            Ok(key) => {
                keys.insert(kid, key);
            }
            Err(reason) => tracing::debug!(kid, reason, "a JWK is skipped"),
        }
    }
    Ok(KeySet {
        keys,
        fetched_at: Some(Instant::now()),
    })
}

fn usable(jwk: &Jwk) -> Result<PublishedKey, &'static str> {
    use jsonwebtoken::jwk::{AlgorithmParameters, PublicKeyUse};
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return Err("a symmetric key is never trusted");
    }
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return Err("not a signature key");
    }
    let alg = match jwk.common.key_algorithm {
        Some(alg) => Some(Algorithm::try_from(alg).map_err(|_| "unsupported alg")?),
        None => None,
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "not a usable key")?;
    Ok(PublishedKey { key, alg })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_keys_keys_without_kid_and_encryption_keys_are_never_used() {
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        let jwks = serde_json::json!({"keys": [
            {"kty": "oct", "kid": "hmac", "k": x},
            {"kty": "OKP", "crv": "Ed25519", "x": x},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "enc", "use": "enc"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "sig", "use": "sig", "alg": "EdDSA"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "any"},
        ]});
        let set = parse(jwks.to_string().as_bytes()).unwrap();
        let mut kids: Vec<_> = set.keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["any", "sig"]);
        assert_eq!(set.keys["sig"].alg, Some(Algorithm::EdDSA));
        assert_eq!(set.keys["any"].alg, None);
        assert!(matches!(parse(b"[]"), Err(JwksError::Malformed { .. })));
    }
}
