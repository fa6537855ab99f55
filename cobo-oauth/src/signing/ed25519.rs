//! The default signer: ed25519 API secrets.

use std::fmt;

use ed25519_dalek::{Signer as _, SigningKey};

use super::digest::Digest;
use super::signer::{ApiKey, KeyError, SignError, Signature, Signer, decode_secret32};

/// Signs with an ed25519 API secret (the 32-byte seed, 64 hex characters). The key is zeroized on
/// drop and never printed.
#[derive(Clone)]
pub struct Ed25519Signer {
    key: SigningKey,
    api_key: ApiKey,
}

impl Ed25519Signer {
    /// Reads an API secret: 64 hex characters (surrounding white space is ignored).
    pub fn from_hex(secret_hex: &str) -> Result<Self, KeyError> {
        let seed = decode_secret32(secret_hex)?;
        Ok(Self::from_seed(&seed))
    }

    /// A signer from the 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let key = SigningKey::from_bytes(seed);
        let api_key = ApiKey::from_public_key(key.verifying_key().as_bytes());
        Self { key, api_key }
    }

    /// A new random API secret, from the operating system's generator.
    pub fn generate() -> Self {
        Self::from_seed(&SigningKey::generate(&mut rand::rngs::OsRng).to_bytes())
    }

    /// The secret seed as hex. Only for showing a freshly generated key to its owner.
    pub fn secret_hex(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(hex::encode(self.key.to_bytes()))
    }

    /// Signs a digest; infallible for a local key.
    pub fn sign_digest(&self, digest: &Digest) -> Signature {
        Signature::from_bytes(self.key.sign(digest.as_bytes()).to_bytes().to_vec())
    }
}

impl Signer for Ed25519Signer {
    fn api_key(&self) -> &ApiKey {
        &self.api_key
    }

    fn sign(&self, digest: &Digest) -> Result<Signature, SignError> {
        Ok(self.sign_digest(digest))
    }
}

impl fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519Signer")
            .field("api_key", &self.api_key.as_str())
            .finish_non_exhaustive()
    }
}
