//! How a pair is written into Redis: sealed with the user's key (XChaCha20-Poly1305), or, when
//! the user opts in, as plaintext JSON.

use std::fmt;

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use zeroize::Zeroizing;

use crate::tokens::store::{StoreError, StoredToken};

/// The `format` field of a sealed pair.
const SEALED: &str = "xchacha20poly1305-v1";
/// The `format` field of a plaintext pair.
const PLAINTEXT: &str = "plaintext-json";

/// Bytes of an XChaCha20-Poly1305 nonce.
const NONCE_LEN: usize = 24;

/// A 256-bit key that encrypts token pairs at rest. Zeroized on drop; `Debug` shows nothing.
#[derive(Clone)]
pub struct EncryptionKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey(<redacted>)")
    }
}

impl EncryptionKey {
    /// A key from 64 hex characters (the message of a malformed key never contains it).
    pub fn from_hex(hex_key: &str) -> Result<Self, StoreError> {
        let mut bytes = Zeroizing::new([0_u8; 32]);
        hex::decode_to_slice(hex_key.trim(), bytes.as_mut_slice()).map_err(|_| {
            StoreError::Config {
                reason: format!(
                    "the encryption key must be 64 hex characters (got {} characters, or a non-hex one)",
                    hex_key.trim().len()
                ),
            }
        })?;
        Ok(Self(bytes))
    }

    /// A key from 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A new random key, from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0_u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut_slice());
        Self(bytes)
    }

    /// The key as 64 hex characters, to keep in a secret manager.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_slice()))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_slice().into())
    }
}

/// Seals or opens pairs for one Redis key.
#[derive(Debug, Clone)]
pub(super) enum Sealing {
    /// Encrypted with this key.
    Encrypted(EncryptionKey),
    /// Stored as plaintext JSON (the user opted in).
    Plaintext,
}

/// What is bound to a sealed pair besides its bytes: where it lives and its version, so a
/// sealed value cannot be moved to another `(client_id, org_id)` or replayed as a newer version.
fn associated_data(location: &str, version: u64) -> Vec<u8> {
    format!("cobo-oauth|{location}|{version}").into_bytes()
}

impl Sealing {
    /// The `format` field this sealing writes.
    pub fn format(&self) -> &'static str {
        match self {
            Self::Encrypted(_) => SEALED,
            Self::Plaintext => PLAINTEXT,
        }
    }

    /// The payload for `token`, stored at `location`.
    pub fn seal(&self, token: &StoredToken, location: &str) -> Result<Vec<u8>, StoreError> {
        let json = token.to_json();
        let Self::Encrypted(key) = self else {
            return Ok(json.as_bytes().to_vec());
        };
        let mut nonce = [0_u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = associated_data(location, token.version);
        let ciphertext = key
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: json.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Config {
                reason: "encrypting the token pair failed".to_owned(),
            })?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// The pair in `payload`, written with `format` at `location` as `version`.
    pub fn open(
        &self,
        format: &str,
        payload: &[u8],
        location: &str,
        version: u64,
    ) -> Result<StoredToken, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            path: location.to_owned(),
            reason,
        };
        if format != self.format() {
            return Err(corrupt(format!(
                "the pair is stored as {format:?} but this store is configured for {:?}",
                self.format()
            )));
        }
        let json = match self {
            Self::Plaintext => Zeroizing::new(payload.to_vec()),
            Self::Encrypted(key) => {
                if payload.len() < NONCE_LEN {
                    return Err(corrupt("the sealed pair is truncated".to_owned()));
                }
                let (nonce, ciphertext) = payload.split_at(NONCE_LEN);
                let nonce: [u8; NONCE_LEN] = nonce.try_into().unwrap_or([0; NONCE_LEN]);
                let aad = associated_data(location, version);
                Zeroizing::new(
                    key.cipher()
                        .decrypt(
                            &XNonce::from(nonce),
                            Payload {
                                msg: ciphertext,
                                aad: &aad,
                            },
                        )
                        .map_err(|_| {
                            corrupt(
                                "cannot decrypt the pair: wrong encryption key, or the value was altered"
                                    .to_owned(),
                            )
                        })?,
                )
            }
        };
        let token = StoredToken::from_json(&json).map_err(|e| corrupt(e.to_string()))?;
        if token.version != version {
            return Err(corrupt(format!(
                "the pair says version {} but is stored as version {version}",
                token.version
            )));
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use secrecy::{ExposeSecret as _, SecretString};

    use super::*;

    fn pair(version: u64) -> StoredToken {
        StoredToken {
            access_token: SecretString::from("access-secret"),
            refresh_token: SecretString::from("refresh-secret"),
            expires_at_ms: 42,
            version,
            owner: Some(crate::tokens::TokenOwner::new("app", "org")),
        }
    }

    #[test]
    fn sealed_pairs_hold_no_plaintext_and_open_only_where_sealed() {
        let sealing = Sealing::Encrypted(EncryptionKey::generate());
        let sealed = sealing.seal(&pair(3), "a").unwrap();
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains("access-secret") && !text.contains("refresh-secret"));
        let opened = sealing.open(SEALED, &sealed, "a", 3).unwrap();
        assert_eq!(opened.refresh_token.expose_secret(), "refresh-secret");
        assert_eq!(opened.expires_at_ms, 42);
        assert_eq!(opened.owner, pair(3).owner);
        assert!(sealing.open(SEALED, &sealed, "b", 3).is_err(), "moved");
        assert!(sealing.open(SEALED, &sealed, "a", 4).is_err(), "replayed");
        let other = Sealing::Encrypted(EncryptionKey::generate());
        assert!(other.open(SEALED, &sealed, "a", 3).is_err(), "wrong key");
        assert!(Sealing::Plaintext.open(SEALED, &sealed, "a", 3).is_err());
    }

    #[test]
    fn plaintext_is_json_and_checks_the_version() {
        let sealed = Sealing::Plaintext.seal(&pair(2), "a").unwrap();
        assert!(String::from_utf8_lossy(&sealed).contains("refresh-secret"));
        assert!(Sealing::Plaintext.open(PLAINTEXT, &sealed, "a", 2).is_ok());
        assert!(Sealing::Plaintext.open(PLAINTEXT, &sealed, "a", 5).is_err());
    }

    #[test]
    fn keys_parse_from_hex_and_never_show() {
        let key = EncryptionKey::generate();
        let again = EncryptionKey::from_hex(&key.to_hex()).unwrap();
        assert_eq!(again.0.as_slice(), key.0.as_slice());
        assert_eq!(format!("{key:?}"), "EncryptionKey(<redacted>)");
        let error = EncryptionKey::from_hex("zz").unwrap_err().to_string();
        assert!(error.contains("64 hex characters"), "{error}");
    }
}
