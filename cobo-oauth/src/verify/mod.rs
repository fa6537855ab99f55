//! Verification of Cobo's response signatures.
//!
//! Cobo signs `RAW_BODY|TIMESTAMP` (double SHA-256, ed25519) and sends the signature and the
//! timestamp as `Biz-Resp-Signature` / `Biz-Timestamp` (the Java SDK and the webhook docs spell
//! them `BIZ_RESP_SIGNATURE` / `BIZ_TIMESTAMP`; both are accepted).
//!
//! The rules ([`ResponseVerifier::check`]):
//! - a 2xx response must be signed, and the signature must be valid;
//! - any signed response must be valid;
//! - an unsigned non-2xx response comes from a gateway, CDN or load balancer: it is passed on as
//!   the HTTP error it is ([`Verdict::UnsignedError`]).

mod verifier;

pub use verifier::{ResponseVerifier, Verdict, VerifyError};
