//! CoboAuth checks on the server side: signature from the bytes received, known key, fresh and
//! unused nonce.

use std::collections::{HashSet, VecDeque};

use ed25519_dalek::{Signature, VerifyingKey};

use super::reply::Reply;
use cobo_oauth::signing::{Digest, StringToSign};

/// The parts of a received request that are signed.
#[derive(Debug)]
pub(crate) struct Received<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    /// The body the signature covers: the body received, or none for a multipart form.
    pub body: &'a [u8],
    pub api_key: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Nonces seen within the window, per API key.
#[derive(Debug, Default)]
pub(crate) struct SeenNonces {
    seen: HashSet<(String, String)>,
    order: VecDeque<(u64, String, String)>,
}

impl SeenNonces {
    /// Records a nonce; false when it was already used. Forgets nonces recorded before `oldest`.
    fn record(&mut self, api_key: &str, nonce: &str, now: u64, oldest: u64) -> bool {
        while self.order.front().is_some_and(|(at, ..)| *at < oldest) {
            if let Some((_, key, old)) = self.order.pop_front() {
                self.seen.remove(&(key, old));
            }
        }
        let fresh = self.seen.insert((api_key.to_owned(), nonce.to_owned()));
        if fresh {
            self.order
                .push_back((now, api_key.to_owned(), nonce.to_owned()));
        }
        fresh
    }
}

/// The API keys a server accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KnownKeys<'a> {
    /// Only these (lower-case hex).
    Only(&'a [String]),
    /// Any key whose signature verifies.
    Any,
}

/// Checks who signed a request: its CoboAuth headers are present, its API key is known and its
/// signature verifies over the bytes received. `Ok` is the key (lower-case hex); `Err` is the 401
/// to send. The nonce is not looked at ([`check_nonce`] does, once the request is routed).
pub(crate) fn authenticate(request: &Received<'_>, known: KnownKeys<'_>) -> Result<String, Reply> {
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
    if let KnownKeys::Only(keys) = known
        && !keys.contains(&api_key)
    {
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
    Ok(api_key)
}

/// Checks the nonce of a request [`authenticate`] accepted for `api_key`; `Err` is the 401 to
/// send. A nonce is a string, as Cobo allows; a numeric one must also be within the window of
/// the server's clock; none may be used twice within the window.
pub(crate) fn check_nonce(
    api_key: &str,
    request: &Received<'_>,
    nonces: &mut SeenNonces,
    now: u64,
    window_ms: u64,
) -> Result<(), Reply> {
    let nonce = request.nonce.unwrap_or("");
    if nonce.is_empty() {
        return Err(Reply::oauth(401, "invalid_request", "the nonce is empty"));
    }
    if let Ok(timestamp) = nonce.parse::<u64>()
        && timestamp.abs_diff(now) > window_ms
    {
        return Err(Reply::oauth(
            401,
            "invalid_request",
            "nonce too far from the server's clock",
        ));
    }
    if !nonces.record(
        api_key,
        nonce,
        now,
        now.saturating_sub(window_ms.saturating_mul(2)),
    ) {
        return Err(Reply::oauth(401, "invalid_request", "nonce already used"));
    }
    Ok(())
}
