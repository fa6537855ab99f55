//! secp256k1 API secrets (cargo feature `secp256k1`).

use std::fmt;

use k256::ecdsa::{Signature as EcdsaSignature, SigningKey, signature::hazmat::PrehashSigner};

use super::digest::Digest;
use super::signer::{ApiKey, KeyError, SignError, Signature, Signer, decode_secret32};

/// Signs with a secp256k1 API secret (a 32-byte scalar, 64 hex characters): ECDSA with an RFC 6979
/// deterministic nonce, low S, DER-encoded. The API key is the 33-byte compressed public key. The
/// key is zeroized on drop and never printed.
#[derive(Clone)]
pub struct Secp256k1Signer {
    key: SigningKey,
    api_key: ApiKey,
}

impl Secp256k1Signer {
    /// Reads an API secret: 64 hex characters.
    pub fn from_hex(secret_hex: &str) -> Result<Self, KeyError> {
        let scalar = decode_secret32(secret_hex)?;
        let key = SigningKey::from_bytes(scalar.as_ref().into())
            .map_err(|_| KeyError::InvalidKey { curve: "secp256k1" })?;
        let api_key =
            ApiKey::from_public_key(key.verifying_key().to_encoded_point(true).as_bytes());
        Ok(Self { key, api_key })
    }
}

impl Signer for Secp256k1Signer {
    fn api_key(&self) -> &ApiKey {
        &self.api_key
    }

    fn sign(&self, digest: &Digest) -> Result<Signature, SignError> {
        let signature: EcdsaSignature = self
            .key
            .sign_prehash(digest.as_bytes())
            .map_err(|_| SignError::new("secp256k1 signing failed"))?;
        let signature = signature.normalize_s().unwrap_or(signature);
        Ok(Signature::from_bytes(
            signature.to_der().as_bytes().to_vec(),
        ))
    }
}

impl fmt::Debug for Secp256k1Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secp256k1Signer")
            .field("api_key", &self.api_key.as_str())
            .finish_non_exhaustive()
    }
}
