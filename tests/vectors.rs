//! Every vector of the official Python SDK, reproduced byte for byte at every stage.

#![allow(clippy::unwrap_used, missing_docs)]

use cobo_oauth::signing::{
    CoboAuth, Digest, Ed25519Signer, NonceSource, Secp256k1Signer, Signer, encode_query,
};
use cobo_oauth::verify::{ResponseVerifier, Verdict, VerifyError};
use cobo_oauth_tests::vectors::{Curve, SignVector};
use cobo_oauth_tests::{CoboDouble, vectors};
use std::sync::Arc;

/// The vector's params as the Python SDK encodes them (`urlencode` of a dict, in order).
fn params(v: &SignVector) -> String {
    encode_query(
        v.params
            .iter()
            .flatten()
            .map(|(k, value)| (k.as_str(), value.as_str())),
    )
}

fn signer_for(v: &SignVector) -> Arc<dyn Signer> {
    match v.curve {
        Curve::Ed25519 => Arc::new(Ed25519Signer::from_hex(&v.private_key_hex).unwrap()),
        Curve::Secp256k1 => Arc::new(Secp256k1Signer::from_hex(&v.private_key_hex).unwrap()),
    }
}

#[test]
fn every_sign_vector_at_every_stage() {
    let cases = vectors().sign_vectors;
    assert_eq!(cases.len(), 15);
    for v in &cases {
        let id = &v.id;
        let signer = signer_for(v);
        assert_eq!(signer.api_key().as_str(), v.public_key_hex, "{id}: API key");
        let auth = CoboAuth::new(signer, Arc::new(NonceSource::default()));
        let body = v.body.as_deref().unwrap_or_default();
        let parts = auth
            .sign_parts(&v.method, &v.path, &v.nonce, &params(v), body.as_bytes())
            .unwrap();
        assert_eq!(
            parts.string_to_sign.to_string(),
            v.str_to_sign,
            "{id}: string to sign"
        );
        assert_eq!(
            hex::encode(parts.string_to_sign.as_bytes()),
            v.str_to_sign_hex,
            "{id}: bytes"
        );
        assert_eq!(parts.digest.to_hex(), v.digest_sha256d_hex, "{id}: digest");
        if let Some(once) = &v.sha256_once_hex {
            use sha2::Digest as _;
            assert_eq!(
                &hex::encode(sha2::Sha256::digest(parts.string_to_sign.as_bytes())),
                once,
                "{id}: sha256"
            );
        }
        assert_eq!(
            parts.signature.to_hex(),
            v.expected_signature(),
            "{id}: signature"
        );
        for (name, value) in v.headers.iter().flatten() {
            let ours = parts.headers.pairs();
            let found = ours
                .iter()
                .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str());
            assert_eq!(found, Some(value.as_str()), "{id}: header {name}");
        }
    }
}

#[test]
fn every_response_verify_vector() {
    for v in vectors().response_verify_vectors {
        let id = &v.id;
        let content = format!("{}|{}", v.body, v.biz_timestamp);
        assert_eq!(content, v.content, "{id}");
        assert_eq!(
            Digest::sha256d(content.as_bytes()).to_hex(),
            v.content_sha256d_hex,
            "{id}"
        );
        let verifier = ResponseVerifier::from_hex(&v.public_key_hex).unwrap();
        let outcome = verifier.verify(
            v.body.as_bytes(),
            &v.biz_timestamp,
            &v.biz_resp_signature,
            200,
        );
        match v.verify_result {
            Some(true) => assert_eq!(outcome, Ok(()), "{id}"),
            Some(false) => assert_eq!(outcome, Err(VerifyError::Invalid { status: 200 }), "{id}"),
            None => assert!(
                matches!(outcome, Err(VerifyError::Malformed { .. })),
                "{id}: {outcome:?}"
            ),
        }
    }
}

/// The response-handling vectors, through the real client against a server sending exactly the
/// vector's status, headers and body.
#[tokio::test]
async fn every_response_handling_vector_through_the_client() {
    for v in vectors().response_handling_vectors {
        let id = &v.id;
        let double = CoboDouble::start().await;
        let mut template =
            wiremock::ResponseTemplate::new(v.http_status).set_body_string(v.body.as_str());
        for (name, value) in &v.response_headers {
            template = template.insert_header(name.as_str(), value.as_str());
        }
        double.answer_raw("GET", "/oauth/token", template).await;
        let client = cobo_oauth::CoboClient::builder()
            .env(cobo_oauth::Env::custom(&double.base_url(), &v.resp_pubkey_used).unwrap())
            .api_secret(cobo_oauth_tests::API_SECRET)
            .build()
            .unwrap();
        let outcome = client.get_token("client", "org").await;
        let expected = &v.outcome;
        match (expected.result.as_str(), &outcome) {
            ("ok", Ok(token)) => {
                assert_eq!(token.to_json_exposing_secrets(), expected.data, "{id}");
            }
            ("exception", Err(error)) => {
                let reason = expected.reason.as_deref().unwrap_or_default();
                match reason {
                    "Missing resp signature or timestamp" => {
                        assert!(
                            matches!(
                                error,
                                cobo_oauth::Error::ResponseSignature(VerifyError::Missing { .. })
                            ),
                            "{id}: {error:?}"
                        )
                    }
                    "Invalid resp signature" => {
                        assert!(
                            matches!(
                                error,
                                cobo_oauth::Error::ResponseSignature(VerifyError::Invalid { .. })
                            ),
                            "{id}: {error:?}"
                        )
                    }
                    _ => {
                        assert_eq!(error.status(), expected.status, "{id}: {error:?}");
                        if v.response_headers.is_empty() {
                            // Unsigned non-2xx: the HTTP error it is, with its body.
                            assert!(
                                matches!(error, cobo_oauth::Error::Http { body, .. } if *body == v.body),
                                "{id}: {error:?}"
                            );
                        } else {
                            assert!(
                                matches!(error, cobo_oauth::Error::OAuth { error, .. } if error == "invalid_grant"),
                                "{id}: {error:?}"
                            );
                        }
                    }
                }
            }
            (_, outcome) => panic!("{id}: expected {expected:?}, got {outcome:?}"),
        }
    }
}

#[test]
fn verifier_rules_without_http() {
    let all = vectors();
    let v = &all.response_handling_vectors[0];
    let verifier = ResponseVerifier::from_hex(&v.resp_pubkey_used).unwrap();
    let body = &v.body;
    let mut headers = http::HeaderMap::new();
    assert_eq!(
        verifier.check(200, &headers, body.as_bytes()),
        Err(VerifyError::Missing { status: 200 })
    );
    assert_eq!(
        verifier.check(502, &headers, b"<html>"),
        Ok(Verdict::UnsignedError)
    );
    // The underscore spelling of the Java SDK and the webhook docs.
    headers.insert(
        "biz_timestamp",
        v.response_headers["Biz-Timestamp"].parse().unwrap(),
    );
    headers.insert(
        "biz_resp_signature",
        v.response_headers["Biz-Resp-Signature"].parse().unwrap(),
    );
    assert_eq!(
        verifier.check(200, &headers, body.as_bytes()),
        Ok(Verdict::Verified)
    );
    assert_eq!(
        verifier.check(200, &headers, b"{}"),
        Err(VerifyError::Invalid { status: 200 })
    );
    // A signed error must be valid too.
    assert_eq!(
        verifier.check(500, &headers, b"{}"),
        Err(VerifyError::Invalid { status: 500 })
    );
    headers.remove("biz_timestamp");
    assert!(matches!(
        verifier.check(200, &headers, body.as_bytes()),
        Err(VerifyError::Malformed { .. })
    ));
}

/// What the Python SDK's generated client put on the wire (paths with escapes, nested JSON bodies,
/// DELETE, parameter order): signing those exact bytes gives the SDK's signature.
#[test]
fn every_pipeline_vector_signs_its_wire_bytes_identically() {
    let cases = vectors().pipeline_vectors;
    assert_eq!(cases.len(), 6);
    for v in &cases {
        let id = &v.id;
        let auth = CoboAuth::new(
            Arc::new(Ed25519Signer::from_hex(&v.private_key_hex).unwrap()),
            Arc::new(NonceSource::default()),
        );
        let parts = auth
            .sign_parts(
                &v.wire_method,
                &v.wire_path,
                &v.nonce,
                &v.wire_query,
                &hex::decode(&v.wire_body_hex).unwrap(),
            )
            .unwrap();
        assert_eq!(parts.string_to_sign.to_string(), v.str_to_sign, "{id}");
        assert_eq!(parts.signature.to_hex(), v.signature_hex, "{id}");
        assert_eq!(parts.headers.api_key.as_str(), v.public_key_hex, "{id}");
    }
}
