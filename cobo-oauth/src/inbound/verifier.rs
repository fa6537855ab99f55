//! [`InboundVerifier`]: checks the signature of a webhook event or a callback message that Cobo
//! sent to the app, over the raw body bytes, before anything is parsed.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;

use super::context::{ContextError, Endpoints, Subject, SubjectCheck};
use crate::env::Env;
use crate::error::ConfigError;
use crate::metrics::Inbound;
use crate::signing::{Clock, SystemClock};
use crate::verify::{ResponseVerifier, VerifyError};

/// The signature header, in the two spellings Cobo's SDKs and docs use (looked up
/// case-insensitively: `http::HeaderMap` names are lower case).
pub const SIGNATURE_HEADERS: [&str; 2] = ["biz-resp-signature", "biz_resp_signature"];
/// The timestamp header (milliseconds), in both spellings.
pub const TIMESTAMP_HEADERS: [&str; 2] = ["biz-timestamp", "biz_timestamp"];

/// Why a webhook event or callback message was rejected. Answer any of them with 401 (the
/// axum extractor does): Cobo retries (a bounded number of times), and the answer names no
/// value of the request. A signature that holds is not the end of it: see
/// [`InboundVerifier`] on what it does not prove.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InboundError {
    /// `Biz-Resp-Signature` / `BIZ_RESP_SIGNATURE` or `Biz-Timestamp` / `BIZ_TIMESTAMP` is
    /// missing. Behind nginx, the underscore spelling is dropped unless
    /// `underscores_in_headers on;`.
    #[error(
        "the {header} header is missing (Biz-Resp-Signature and Biz-Timestamp, or BIZ_RESP_SIGNATURE and BIZ_TIMESTAMP)"
    )]
    MissingHeader {
        /// The header, in its hyphenated spelling.
        header: &'static str,
    },
    /// The signature is not 64 bytes of hex, or a header is not visible ASCII.
    #[error("the {header} header is malformed: {reason}")]
    Malformed {
        /// The header, in its hyphenated spelling.
        header: &'static str,
        /// What is wrong (never the value itself).
        reason: &'static str,
    },
    /// The timestamp is not a number of milliseconds.
    #[error("the Biz-Timestamp header is not a number of milliseconds")]
    MalformedTimestamp,
    /// The signature does not verify over `RAW_BODY|TIMESTAMP` with Cobo's key: the body or the
    /// timestamp was changed, or another key signed it.
    #[error("the signature does not verify with Cobo's key over the body and the timestamp")]
    BadSignature,
    /// The signature holds but the timestamp is outside the freshness window
    /// ([`InboundVerifier::max_age`]).
    #[error(
        "the request was signed {age_ms} ms away from now, more than the {max_age_ms} ms allowed"
    )]
    Stale {
        /// How far the timestamp is from the verifier's clock, either way.
        age_ms: u64,
        /// The window.
        max_age_ms: u64,
    },
}

/// A body whose signature holds: the raw bytes and the timestamp they were signed with.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedBody<B = bytes::Bytes> {
    body: B,
    timestamp_ms: u64,
}

impl<B: AsRef<[u8]>> VerifiedBody<B> {
    /// The raw body, exactly as received and signed.
    pub fn bytes(&self) -> &[u8] {
        self.body.as_ref()
    }

    /// The body, given back.
    pub fn into_inner(self) -> B {
        self.body
    }

    /// The `Biz-Timestamp` it was signed with, milliseconds since the epoch.
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The body as a [`super::WebhookEvent`].
    pub fn webhook_event(&self) -> Result<super::WebhookEvent, super::EnvelopeError> {
        super::WebhookEvent::from_slice(self.bytes())
    }

    /// The body as a [`super::CallbackMessage`].
    pub fn callback_message(&self) -> Result<super::CallbackMessage, super::EnvelopeError> {
        super::CallbackMessage::from_slice(self.bytes())
    }
}

impl<B: AsRef<[u8]>> fmt::Debug for VerifiedBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedBody")
            .field("len", &self.bytes().len())
            .field("timestamp_ms", &self.timestamp_ms)
            .finish()
    }
}

/// Verifies what Cobo sends the app (webhook events, callback messages): `Biz-Resp-Signature`
/// is ed25519 over `SHA-256(SHA-256(RAW_BODY|Biz-Timestamp))` with the environment's response
/// key, the same scheme as Cobo's responses.
///
/// Both header spellings are read (`Biz-Resp-Signature` / `Biz-Timestamp` and
/// `BIZ_RESP_SIGNATURE` / `BIZ_TIMESTAMP`), case-insensitively. The signature is checked over
/// the body bytes as received; nothing is parsed before it holds.
///
/// **What a valid signature proves: that Cobo produced the body. Not that it was meant for this
/// app.** Cobo signs its API responses with the same key and the same `body|timestamp` scheme,
/// so any Cobo customer can fetch a signed `WebhookEvent` (`get_webhook_event_by_id`) or a
/// signed transaction (`get_transaction_by_id`, the shape a callback delivers) and post it to
/// this app; and any organization can register this app's URL as its own webhook endpoint, so
/// Cobo itself sends validly signed events about organizations that never installed the app.
/// Bind what you accept to this app:
/// - [`Self::endpoints`]: a [`super::WebhookEvent`] whose `url` is not one of the app's
///   endpoints is refused ([`ContextError::WrongEndpoint`]).
/// - [`Self::subjects`]: the app's check of the organization or wallet a message is about
///   ([`super::Subject`]); one it does not serve is refused ([`ContextError::UnknownSubject`]).
///
/// The axum extractors apply both before the handler runs; elsewhere call
/// [`Self::admit_webhook`] / [`Self::admit_callback`] after parsing.
///
/// **Freshness** is off by default: Cobo documents no replay window and no official SDK checks
/// the timestamp, and Cobo's retries (up to 10 for events, 30 for callbacks, over hours) are
/// signed anew or not, which is not documented either. Turn it on with [`Self::max_age`] when a
/// captured request replayed later must be refused, and always when the app acts on callbacks:
/// a replayed callback (or a fetched transaction of a wallet you serve) could answer a new
/// approval question with an old body. A replayed webhook event is handled once if you
/// deduplicate by `event_id`, but its content may be days old. Pick a window much longer than
/// your clock skew (minutes), and watch for [`InboundError::Stale`] in your logs after enabling
/// it.
#[derive(Clone)]
pub struct InboundVerifier {
    verifier: ResponseVerifier,
    max_age: Option<Duration>,
    clock: Arc<dyn Clock>,
    endpoints: Endpoints,
    subjects: Option<Arc<dyn SubjectCheck>>,
}

impl InboundVerifier {
    /// A verifier with Cobo's key of `env` (dev, sandbox, prod, or a custom environment's
    /// response key, such as the mock server's). An environment with verification turned off is
    /// [`ConfigError::MissingResponseKey`]: an app must never accept unsigned events.
    pub fn for_env(env: &Env) -> Result<Self, ConfigError> {
        match env.response_verifier()? {
            Some(verifier) => Ok(Self::new(verifier)),
            None => Err(ConfigError::MissingResponseKey),
        }
    }

    /// A verifier with a response key.
    pub fn new(verifier: ResponseVerifier) -> Self {
        Self {
            verifier,
            max_age: None,
            clock: Arc::new(SystemClock),
            endpoints: Endpoints::default(),
            subjects: None,
        }
    }

    /// The app's public webhook endpoint URL(s): a webhook event whose `url` names none of them
    /// is refused ([`ContextError::WrongEndpoint`]). None by default (no `url` is checked).
    pub fn endpoints(mut self, endpoints: Endpoints) -> Self {
        self.endpoints = endpoints;
        self
    }

    /// The app's check of whom a message is about: a webhook event or a callback whose
    /// [`super::Subject`] it does not serve is refused ([`ContextError::UnknownSubject`]). None by
    /// default (any organization's message is accepted).
    pub fn subjects(mut self, check: Arc<dyn SubjectCheck>) -> Self {
        self.subjects = Some(check);
        self
    }

    /// Whether the event's `url` is one of [`Self::endpoints`] (always, when none is set).
    pub fn check_endpoint(&self, event: &super::WebhookEvent) -> Result<(), ContextError> {
        if self.endpoints.is_empty() || self.endpoints.contains(&event.url) {
            Ok(())
        } else {
            Err(ContextError::WrongEndpoint)
        }
    }

    /// Whether a verified webhook event is meant for this app: its `url` ([`Self::endpoints`]),
    /// then its subject ([`Self::subjects`]).
    pub async fn admit_webhook(&self, event: &super::WebhookEvent) -> Result<(), ContextError> {
        let outcome = match self.check_endpoint(event) {
            Ok(()) => self.check_subject(&event.subject()).await,
            Err(error) => Err(error),
        };
        crate::metrics::admission_checked(Inbound::Webhook, &outcome);
        outcome
    }

    /// Whether a verified callback is meant for this app: its wallet ([`Self::subjects`]).
    pub async fn admit_callback(
        &self,
        message: &super::CallbackMessage,
    ) -> Result<(), ContextError> {
        let outcome = self.check_subject(&message.subject()).await;
        crate::metrics::admission_checked(Inbound::Callback, &outcome);
        outcome
    }

    /// Asks [`Self::subjects`] about `subject` (yes, when none is set).
    pub async fn check_subject(&self, subject: &Subject) -> Result<(), ContextError> {
        let Some(check) = &self.subjects else {
            return Ok(());
        };
        match check.serves(subject).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ContextError::UnknownSubject),
            Err(error) => Err(ContextError::CheckFailed {
                reason: error.reason,
            }),
        }
    }

    /// Refuses a request whose `Biz-Timestamp` is further than `max_age` from now, either way
    /// ([`InboundError::Stale`]). Off by default; see the type's documentation for why.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// The clock of the freshness window (tests).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The key it verifies with, hex.
    pub fn public_key_hex(&self) -> String {
        self.verifier.public_key_hex()
    }

    /// Verifies `body` with the signature headers in `headers`, and hands the body back.
    pub fn verify<B: AsRef<[u8]>>(
        &self,
        headers: &HeaderMap,
        body: B,
    ) -> Result<VerifiedBody<B>, InboundError> {
        let timestamp_ms = self.check(headers, body.as_ref())?;
        Ok(VerifiedBody { body, timestamp_ms })
    }

    /// Verifies `body` with the signature headers in `headers`; the signed timestamp (ms).
    pub fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<u64, InboundError> {
        let outcome = self.check_signed(headers, body);
        crate::metrics::signature_checked(&outcome);
        outcome
    }

    /// [`Self::check`], unrecorded.
    fn check_signed(&self, headers: &HeaderMap, body: &[u8]) -> Result<u64, InboundError> {
        let signature = header(headers, &SIGNATURE_HEADERS, "Biz-Resp-Signature")?;
        let timestamp = header(headers, &TIMESTAMP_HEADERS, "Biz-Timestamp")?;
        let timestamp_ms = parse_timestamp(timestamp)?;
        self.check_parts(body, timestamp, signature)?;
        if let Some(max_age) = self.max_age {
            let age_ms = self.clock.now_millis().abs_diff(timestamp_ms);
            let max_age_ms = crate::millis::millis(max_age);
            if age_ms > max_age_ms {
                return Err(InboundError::Stale { age_ms, max_age_ms });
            }
        }
        Ok(timestamp_ms)
    }

    /// Verifies `signature_hex` over `body|timestamp` (no header lookup, no freshness).
    pub fn check_parts(
        &self,
        body: &[u8],
        timestamp: &str,
        signature_hex: &str,
    ) -> Result<(), InboundError> {
        self.verifier
            .verify(body, timestamp, signature_hex, 0)
            .map_err(|error| match error {
                VerifyError::Invalid { .. } => InboundError::BadSignature,
                _ => InboundError::Malformed {
                    header: "Biz-Resp-Signature",
                    reason: "expected 64 bytes of hex",
                },
            })
    }
}

impl fmt::Debug for InboundVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundVerifier")
            .field("key", &self.verifier.public_key_hex())
            .field("max_age", &self.max_age)
            .field("endpoints", &self.endpoints)
            .field("subjects", &self.subjects.is_some())
            .finish()
    }
}

/// The first spelling of `names` present, as text; errors name it `canonical`.
fn header<'a>(
    headers: &'a HeaderMap,
    names: &[&str; 2],
    canonical: &'static str,
) -> Result<&'a str, InboundError> {
    let value = names
        .iter()
        .find_map(|name| headers.get(*name))
        .ok_or(InboundError::MissingHeader { header: canonical })?;
    value
        .to_str()
        .map(str::trim)
        .map_err(|_| InboundError::Malformed {
            header: canonical,
            reason: "not visible ASCII",
        })
}

/// A timestamp of milliseconds: digits only (what Cobo sends), at most 19 of them.
fn parse_timestamp(timestamp: &str) -> Result<u64, InboundError> {
    if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InboundError::MalformedTimestamp);
    }
    timestamp
        .parse()
        .map_err(|_| InboundError::MalformedTimestamp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::Digest;
    use ed25519_dalek::{Signer as _, SigningKey};

    #[derive(Debug)]
    struct FixedClock(u64);
    impl Clock for FixedClock {
        fn now_millis(&self) -> u64 {
            self.0
        }
    }

    fn signed(key: &SigningKey, body: &str, ts: &str, names: [&'static str; 2]) -> HeaderMap {
        let content = format!("{body}|{ts}");
        let signature = key.sign(Digest::sha256d(content.as_bytes()).as_bytes());
        let mut headers = HeaderMap::new();
        headers.insert(names[0], ts.parse().unwrap());
        headers.insert(names[1], hex::encode(signature.to_bytes()).parse().unwrap());
        headers
    }

    #[test]
    fn freshness_is_off_by_default_and_symmetric_when_on() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let verifier = InboundVerifier::new(ResponseVerifier::new(key.verifying_key()));
        let old = signed(&key, "{}", "1000", ["biz-timestamp", "biz-resp-signature"]);
        assert_eq!(verifier.check(&old, b"{}"), Ok(1000));
        let windowed = verifier
            .max_age(Duration::from_secs(60))
            .clock(Arc::new(FixedClock(1_000_000)));
        assert_eq!(
            windowed.check(&old, b"{}"),
            Err(InboundError::Stale {
                age_ms: 999_000,
                max_age_ms: 60_000
            })
        );
        let future = signed(
            &key,
            "{}",
            "1070000",
            ["BIZ_TIMESTAMP", "BIZ_RESP_SIGNATURE"],
        );
        assert!(matches!(
            windowed.check(&future, b"{}"),
            Err(InboundError::Stale { age_ms: 70_000, .. })
        ));
        let fresh = signed(
            &key,
            "{}",
            "990000",
            ["biz-timestamp", "biz-resp-signature"],
        );
        assert_eq!(windowed.check(&fresh, b"{}"), Ok(990_000));
        // A stale request with a bad signature is a bad signature: the signature comes first.
        assert_eq!(
            windowed.check(&old, b"{ }"),
            Err(InboundError::BadSignature)
        );
    }

    #[test]
    fn a_timestamp_that_is_not_digits_is_malformed() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let verifier = InboundVerifier::new(ResponseVerifier::new(key.verifying_key()));
        for ts in ["", "-1", "1e3", "12 34", "99999999999999999999999"] {
            let mut headers = signed(&key, "{}", "1", ["biz-timestamp", "biz-resp-signature"]);
            headers.insert("biz-timestamp", ts.parse().unwrap());
            assert_eq!(
                verifier.check(&headers, b"{}"),
                Err(InboundError::MalformedTimestamp),
                "{ts:?}"
            );
        }
    }

    #[test]
    fn debug_shows_the_public_key_only() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let verifier = InboundVerifier::new(ResponseVerifier::new(key.verifying_key()));
        let shown = format!("{verifier:?}");
        assert!(shown.contains(&hex::encode(key.verifying_key().as_bytes())));
        let body = verifier
            .verify(
                &signed(&key, "secret", "5", ["biz-timestamp", "biz-resp-signature"]),
                bytes::Bytes::from_static(b"secret"),
            )
            .unwrap();
        assert!(!format!("{body:?}").contains("secret"));
    }
}
