//! The mock's User Info Tokens: a JWKS at `/v2/oauth/authorize/jwks.json` and tokens signed with
//! its keys (EdDSA over Ed25519), as Cobo Portal hands them to an app's page.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;
use sha2::Digest as _;

use super::reply::Reply;

/// The path of the JWKS.
pub(crate) const JWKS_PATH: &str = "/v2/oauth/authorize/jwks.json";

/// The PKCS#8 v1 prefix of an Ed25519 private key (RFC 8410); the 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Why the mock could not issue a token.
#[derive(Debug, thiserror::Error)]
#[error("the mock could not issue a User Info Token: {0}")]
pub struct IssueError(String);

struct SigningJwk {
    kid: String,
    key: EncodingKey,
    jwk: Jwk,
}

/// The keys (the newest signs) and how often the JWKS was fetched.
pub(crate) struct MockJwks {
    keys: Mutex<Vec<SigningJwk>>,
    requests: AtomicUsize,
    /// Seeds of later keys derive from this one, so a fixed response seed gives fixed keys.
    seed: [u8; 32],
}

impl std::fmt::Debug for MockJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockJwks")
            .field("requests", &self.requests.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl MockJwks {
    /// One key, derived from `seed`.
    pub fn new(seed: [u8; 32]) -> Self {
        // `Jwk::from_encoding_key` needs a crypto provider (see `inbound::jwt`).
        cobo_oauth::inbound::ensure_crypto_provider();
        let jwks = Self {
            keys: Mutex::new(Vec::new()),
            requests: AtomicUsize::new(0),
            seed,
        };
        jwks.rotate();
        jwks
    }

    fn keys(&self) -> std::sync::MutexGuard<'_, Vec<SigningJwk>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a key, which signs from now on (the old ones stay published); its `kid`.
    pub fn rotate(&self) -> String {
        let mut keys = self.keys();
        let n = keys.len();
        let seed: [u8; 32] = sha2::Sha256::new()
            .chain_update(b"cobo-oauth mock user info key")
            .chain_update(self.seed)
            .chain_update(n.to_be_bytes())
            .finalize()
            .into();
        let mut der = ED25519_PKCS8_PREFIX.to_vec();
        der.extend_from_slice(&seed);
        let key = EncodingKey::from_ed_der(&der);
        let kid = format!("mock-{}", hex::encode(&seed[..6]));
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::EdDSA)
            .unwrap_or_else(|_| unreachable!("a 48-byte Ed25519 PKCS#8 key has a JWK"));
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        keys.push(SigningJwk {
            kid: kid.clone(),
            key,
            jwk,
        });
        kid
    }

    /// The JWKS document (and a count of the request).
    pub fn answer(&self) -> Reply {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let set = JwkSet {
            keys: self.keys().iter().map(|k| k.jwk.clone()).collect(),
        };
        Reply {
            status: 200,
            body: serde_json::to_string(&set).unwrap_or_default(),
        }
    }

    /// How often the JWKS was fetched.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// `claims` signed with the newest key.
    pub fn sign(&self, claims: &Value) -> Result<String, IssueError> {
        let keys = self.keys();
        let newest = keys.last().ok_or_else(|| IssueError("no key".to_owned()))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(newest.kid.clone());
        jsonwebtoken::encode(&header, claims, &newest.key).map_err(|e| IssueError(e.to_string()))
    }
}
