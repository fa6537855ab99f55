//! Stage 2: the digest, `SHA-256(SHA-256(bytes))`.

use std::fmt;

use sha2::{Digest as _, Sha256};

/// The 32-byte double SHA-256 that CoboAuth signs (and that Cobo's response signatures cover).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Digest([u8; 32]);

impl Digest {
    /// `SHA-256(SHA-256(bytes))`.
    pub fn sha256d(bytes: &[u8]) -> Self {
        Self(Sha256::digest(Sha256::digest(bytes)).into())
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
