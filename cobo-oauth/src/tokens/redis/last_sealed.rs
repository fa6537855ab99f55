//! The payload last sealed for each pair, so that saving the same pair again sends the same
//! bytes.
//!
//! A sealed payload takes a random nonce, and the save script takes a pair of the stored version
//! with another payload for another pair (a conflict: the renewal then adopts the stored one). A
//! save retried after an error (the guard connection timed out while its `WAIT` waited, say),
//! whose first attempt did write, would then be refused, and the stored pair adopted: a pair no
//! replica acknowledged that nothing keeps saving, lost on a failover. Sealing the same pair
//! with the same nonce again makes the retry a rewrite, waited for and kept like any save.
//! (Keeping the failed save's payload in the re-save loop instead would not do: the retry,
//! sealed anew, is still refused, and the loop cannot tell two payloads of one version apart.)

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use zeroize::Zeroizing;

use super::sealing::Sealing;
use crate::tokens::store::{StoreError, StoredToken};

/// Per pair key, the pair last sealed there (as its JSON) and its payload. Zeroized on drop.
#[derive(Default)]
pub(super) struct LastSealed {
    by_key: Mutex<HashMap<String, Sealed>>,
}

/// One pair's JSON and the payload it was sealed into.
struct Sealed {
    json: Zeroizing<String>,
    payload: Zeroizing<Vec<u8>>,
}

impl LastSealed {
    /// The payload of `token` at `location`: the one sealed last time if that was the very same
    /// pair (version and tokens alike), else a new one, remembered.
    pub fn payload(
        &self,
        sealing: &Sealing,
        token: &StoredToken,
        location: &str,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        if matches!(sealing, Sealing::Plaintext) {
            // Plaintext JSON: the same pair gives the same bytes anyway.
            return sealing.seal(token, location).map(Zeroizing::new);
        }
        let json = token.to_json();
        let mut by_key = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sealed) = by_key.get(location)
            && *sealed.json == *json
        {
            return Ok(sealed.payload.clone());
        }
        let payload = Zeroizing::new(sealing.seal(token, location)?);
        by_key.insert(
            location.to_owned(),
            Sealed {
                json,
                payload: payload.clone(),
            },
        );
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::redis::EncryptionKey;
    use secrecy::SecretString;

    fn pair(version: u64, refresh: &str) -> StoredToken {
        StoredToken {
            access_token: SecretString::from("access"),
            refresh_token: SecretString::from(refresh.to_owned()),
            expires_at_ms: 1_000,
            version,
            owner: None,
        }
    }

    #[test]
    fn the_same_pair_is_sealed_into_the_same_bytes_and_another_one_anew() {
        let sealing = Sealing::Encrypted(EncryptionKey::generate());
        let last = LastSealed::default();
        let first = last.payload(&sealing, &pair(2, "r2"), "k").unwrap();
        assert_eq!(last.payload(&sealing, &pair(2, "r2"), "k").unwrap(), first);
        assert_ne!(
            last.payload(&sealing, &pair(2, "other"), "k").unwrap(),
            first
        );
        assert_ne!(
            last.payload(&sealing, &pair(2, "r2"), "other-key").unwrap(),
            first
        );
        // Sealed at random again: only a repeat of the last pair is remembered.
        assert_ne!(last.payload(&sealing, &pair(2, "r2"), "k").unwrap(), first);
    }
}
