//! CoboAuth checks on the server side: signature from the bytes received, known key, fresh and
//! unused nonce.

use std::collections::{HashSet, VecDeque};

use ed25519_dalek::{Signature, VerifyingKey};

use super::reply::Reply;
use crate::signing::{Digest, StringToSign};

/// The parts of a received request that are signed.
#[derive(Debug)]
pub(crate) struct Received<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub body: &'a [u8],
    pub api_key: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Nonces seen within the window, per API key.
#[derive(Debug, Default)]
pub(crate) struct SeenNonces {
    seen: HashSet<(String, u64)>,
    order: VecDeque<(u64, String, u64)>,
}

impl SeenNonces {
    /// Records a nonce; false when it was already used. Forgets nonces older than `oldest`.
    fn record(&mut self, api_key: &str, nonce: u64, now: u64, oldest: u64) -> bool {
        while let Some((at, key, old)) = self.order.front() {
            if *at >= oldest {
                break;
            }
            self.seen.remove(&(key.clone(), *old));
            self.order.pop_front();
        }
        let fresh = self.seen.insert((api_key.to_owned(), nonce));
        if fresh {
            self.order.push_back((now, api_key.to_owned(), nonce));
        }
        fresh
    }
}

/// Checks a request; `Err` is the 401 to send.
pub(crate) fn check(
    request: &Received<'_>,
    allowed_keys: Option<&[String]>,
    nonces: &mut SeenNonces,
    now: u64,
    window_ms: u64,
) -> Result<(), Reply> {
    let refuse = |description: &str| Reply::oauth(401, "unauthorized_client", description);
    let (Some(api_key), Some(nonce), Some(signature)) =
        (request.api_key, request.nonce, request.signature)
    else {
        return Err(Reply::oauth(
            401,
            "invalid_request",
            "missing Biz-Api-Key, Biz-Api-Nonce or Biz-Api-Signature",
        ));
    };
    let api_key = api_key.to_ascii_lowercase();
    if allowed_keys.is_some_and(|keys| !keys.contains(&api_key)) {
        return Err(refuse("unknown API key"));
    }
    let mut key = [0u8; 32];
    hex::decode_to_slice(&api_key, &mut key)
        .map_err(|_| refuse("API key is not a 32-byte ed25519 key"))?;
    let key =
        VerifyingKey::from_bytes(&key).map_err(|_| refuse("API key is not a valid ed25519 key"))?;
    let mut signature_bytes = [0u8; 64];
    hex::decode_to_slice(signature, &mut signature_bytes)
        .map_err(|_| refuse("signature is not 64 bytes of hex"))?;
    let string_to_sign = StringToSign::new(
        request.method,
        request.path,
        nonce,
        request.query,
        request.body,
    );
    let digest = Digest::sha256d(string_to_sign.as_bytes());
    key.verify_strict(digest.as_bytes(), &Signature::from_bytes(&signature_bytes))
        .map_err(|_| refuse("signature verification failed"))?;
    let nonce: u64 = nonce
        .parse()
        .map_err(|_| Reply::oauth(401, "invalid_request", "nonce is not a timestamp"))?;
    if nonce.abs_diff(now) > window_ms {
        return Err(Reply::oauth(
            401,
            "invalid_request",
            "nonce too far from the server's clock",
        ));
    }
    if !nonces.record(
        &api_key,
        nonce,
        now,
        now.saturating_sub(window_ms.saturating_mul(2)),
    ) {
        return Err(Reply::oauth(401, "invalid_request", "nonce already used"));
    }
    Ok(())
}
