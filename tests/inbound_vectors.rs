//! Every webhook/callback vector of the official Python SDK (`tests/vectors/
//! cobo-python-sdk-inbound-vectors.json`, made by `tests/vectors/make_inbound_vectors.py`) is
//! reproduced: what the SDK's `SignHelper.verify` accepts, the verifier accepts; what it refuses
//! or fails on, the verifier refuses with the error the vector names.

#![allow(clippy::unwrap_used, missing_docs)]

use cobo_oauth::inbound::{InboundError, InboundVerifier};
use cobo_oauth::verify::ResponseVerifier;
use cobo_oauth_tests::vectors::{InboundVector, load_inbound};

fn headers(v: &InboundVector) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for (name, value) in &v.headers {
        headers.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    headers
}

fn verify(v: &InboundVector) -> Result<u64, InboundError> {
    let verifier =
        InboundVerifier::new(ResponseVerifier::from_hex(&v.receiver_public_key_hex).unwrap());
    verifier.check(&headers(v), v.body.as_bytes())
}

#[test]
fn every_inbound_vector_of_the_python_sdk() {
    let file = load_inbound();
    assert!(file.libs["cobo-waas2"].starts_with("1."), "{:?}", file.libs);
    assert_eq!(file.vectors.len(), 21);
    for v in &file.vectors {
        let id = &v.id;
        let ours = verify(v);
        match v.expected.as_str() {
            "valid" => assert!(ours.is_ok(), "{id}: {ours:?}"),
            "bad_signature" => assert_eq!(ours, Err(InboundError::BadSignature), "{id}"),
            "malformed_signature" => assert!(
                matches!(
                    ours,
                    Err(InboundError::Malformed {
                        header: "Biz-Resp-Signature",
                        ..
                    })
                ),
                "{id}: {ours:?}"
            ),
            "missing_header" => assert!(
                matches!(ours, Err(InboundError::MissingHeader { .. })),
                "{id}: {ours:?}"
            ),
            other => panic!("{id}: unknown expectation {other}"),
        }
        // The SDK's verify function and the demo's agree with us: accepted exactly when it
        // returned True; where it raised (bad hex, no signature), we refuse with a typed error.
        for sdk in [&v.sdk_verify, &v.demo_verify_signature] {
            assert_eq!(ours.is_ok(), sdk.result == Some(true), "{id}: {sdk:?}");
            if sdk.error.is_some() {
                assert!(
                    matches!(
                        ours,
                        Err(InboundError::Malformed { .. } | InboundError::MissingHeader { .. })
                    ),
                    "{id}: the SDK raised {sdk:?}, we said {ours:?}"
                );
            }
        }
    }
}

#[test]
fn the_vectors_cover_both_spellings_tampering_wrong_keys_and_bad_hex() {
    let file = load_inbound();
    let ids: Vec<&str> = file.vectors.iter().map(|v| v.id.as_str()).collect();
    for needed in [
        "webhook/valid/hyphen",
        "webhook/valid/underscore",
        "webhook/tampered_body",
        "webhook/tampered_timestamp",
        "webhook/wrong_key",
        "webhook/bad_hex/non_hex",
        "callback/valid/underscore",
        "callback/tampered_body",
    ] {
        assert!(ids.contains(&needed), "{needed}");
    }
    // The underscore spelling really is the only one sent in its vector.
    let underscore = file
        .vectors
        .iter()
        .find(|v| v.id == "webhook/valid/underscore")
        .unwrap();
    assert!(
        underscore
            .headers
            .iter()
            .all(|(name, _)| name.contains('_'))
    );
    // The official FastAPI demo cannot read it (it answers 500); we can.
    assert_eq!(underscore.demo_status, 500);
    assert!(verify(underscore).is_ok());
}

#[test]
fn verified_bodies_parse_into_their_envelopes() {
    let file = load_inbound();
    for v in file.vectors.iter().filter(|v| v.expected == "valid") {
        let verifier =
            InboundVerifier::new(ResponseVerifier::from_hex(&v.receiver_public_key_hex).unwrap());
        let body = verifier.verify(&headers(v), v.body.as_bytes()).unwrap();
        if v.kind == "webhook" {
            let event = body.webhook_event().unwrap();
            assert_eq!(event.raw(), v.body, "{}", v.id);
            assert!(!event.event_id.is_empty());
        } else {
            let message = body.callback_message().unwrap();
            assert_eq!(
                message.transaction_id,
                "aff0e1cb-15b2-4e1f-9b9d-a9133715986f"
            );
        }
    }
}
