//! Stage 3: the [`Signer`] trait and the values it produces.

use std::fmt;

use super::Digest;

/// Signs CoboAuth digests with an API secret held in this process.
///
/// The crate ships [`Ed25519Signer`](super::Ed25519Signer) (and, with the `secp256k1` feature,
/// `Secp256k1Signer`). `sign` is called once per request attempt with the 32-byte digest, and
/// must not block: a key held by a KMS or an HSM that answers over the network is an
/// [`AsyncSigner`] instead.
pub trait Signer: Send + Sync + fmt::Debug {
    /// The API key sent as `Biz-Api-Key`: the public key, lower-case hex.
    fn api_key(&self) -> &ApiKey;

    /// Signs a digest.
    fn sign(&self, digest: &Digest) -> Result<Signature, SignError>;
}

/// The future an [`AsyncSigner`] returns.
pub type SignFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Signature, SignError>> + Send + 'a>>;

/// Signs CoboAuth digests with a key held elsewhere, awaiting the answer: a KMS or an HSM (AWS
/// KMS and Google Cloud KMS hold secp256k1 keys and sign a given digest, which is what
/// CoboAuth's secp256k1 scheme needs). The request waits for the signature without blocking a
/// runtime thread. Give it to the client with `CoboClientBuilder::async_signer`.
///
/// A signature that takes longer than [`ASYNC_SIGN_TIMEOUT`](super::ASYNC_SIGN_TIMEOUT) fails
/// the attempt. The nonce is taken before the signer is called, so concurrent requests can
/// reach Cobo out of nonce order by up to the signer's latency; each nonce is still unique and
/// close to the clock.
///
/// ```
/// use cobo_oauth::signing::{ApiKey, AsyncSigner, Digest, Ed25519Signer, SignFuture, Signer};
///
/// /// Stands for a KMS client: signs after a network round trip.
/// #[derive(Debug)]
/// struct Kms(Ed25519Signer);
///
/// impl AsyncSigner for Kms {
///     fn api_key(&self) -> &ApiKey {
///         self.0.api_key()
///     }
///     fn sign<'a>(&'a self, digest: &'a Digest) -> SignFuture<'a> {
///         Box::pin(async move {
///             tokio::time::sleep(std::time::Duration::from_millis(5)).await; // the KMS call
///             self.0.sign(digest)
///         })
///     }
/// }
/// ```
pub trait AsyncSigner: Send + Sync + fmt::Debug {
    /// The API key sent as `Biz-Api-Key`: the public key, lower-case hex.
    fn api_key(&self) -> &ApiKey;
    /// Signs a digest.
    fn sign<'a>(&'a self, digest: &'a Digest) -> SignFuture<'a>;
}

/// An API key: the public half of an API secret, lower-case hex. Not a secret.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ApiKey(String);

impl ApiKey {
    /// An API key from public-key bytes.
    pub fn from_public_key(bytes: &[u8]) -> Self {
        Self(hex::encode(bytes))
    }

    /// The lower-case hex string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.0)
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A request signature. Whoever holds it can replay the request until the nonce expires, so it is
/// treated as a secret: `Debug` is redacted and there is no `Display`; [`Self::to_hex`] gives the
/// header value.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature(Vec<u8>);

impl Signature {
    /// Wraps raw signature bytes (ed25519: 64 bytes; secp256k1: DER).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Lower-case hex, the value of `Biz-Api-Signature`.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(<redacted {} bytes>)", self.0.len())
    }
}

/// Why a signer could not sign.
#[derive(Debug, thiserror::Error)]
#[error("signing failed: {message}")]
pub struct SignError {
    message: String,
}

impl SignError {
    /// A signing error with a message, which must not contain secret material.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// Why an API secret could not be read. Never contains the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The secret has the wrong number of hex characters.
    #[error("API secret must be {expected} hex characters, got {actual}")]
    WrongLength {
        /// Characters expected.
        expected: usize,
        /// Characters given.
        actual: usize,
    },
    /// The secret holds a character that is not a hex digit.
    #[error("API secret is not hex: invalid character at position {position}")]
    NotHex {
        /// Zero-based position of the first bad character.
        position: usize,
    },
    /// The bytes are not a valid key for the curve (e.g. zero or above the group order).
    #[error("API secret is not a valid {curve} key")]
    InvalidKey {
        /// The curve.
        curve: &'static str,
    },
    /// A public key (for example a response-verification key) is not valid.
    #[error("public key is not a valid {curve} key: {reason}")]
    InvalidPublicKey {
        /// The curve.
        curve: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Decodes a 32-byte secret from 64 hex characters into a buffer that is zeroized on drop.
pub(crate) fn decode_secret32(secret_hex: &str) -> Result<zeroize::Zeroizing<[u8; 32]>, KeyError> {
    let secret_hex = secret_hex.trim();
    if secret_hex.len() != 64 {
        return Err(KeyError::WrongLength {
            expected: 64,
            actual: secret_hex.chars().count(),
        });
    }
    if let Some(position) = secret_hex.bytes().position(|b| !b.is_ascii_hexdigit()) {
        return Err(KeyError::NotHex { position });
    }
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(secret_hex, bytes.as_mut())
        .map_err(|_| KeyError::NotHex { position: 0 })?;
    Ok(bytes)
}
