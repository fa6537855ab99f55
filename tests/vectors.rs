//! Every vector of the official Python SDK, reproduced byte for byte at every stage.

#![allow(clippy::unwrap_used, missing_docs)]

use cobo_oauth::signing::{
    CoboAuth, Digest, Ed25519Signer, NonceSource, Secp256k1Signer, Signer, encode_query,
};
use cobo_oauth::verify::{ResponseVerifier, Verdict, VerifyError};
use cobo_oauth_tests::{CoboDouble, vectors};
use std::sync::Arc;

fn text(v: &serde_json::Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

/// The vector's params as the Python SDK encodes them (`urlencode` of a dict, in order).
fn params(v: &serde_json::Value) -> String {
    let pairs = v["params"].as_array().cloned().unwrap_or_default();
    encode_query(pairs.iter().map(|p| {
        (
            p[0].as_str().unwrap().to_owned(),
            p[1].as_str().unwrap().to_owned(),
        )
    }))
}

fn signer_for(v: &serde_json::Value) -> Arc<dyn Signer> {
    let secret = text(v, "private_key_hex");
    match v["curve"].as_str() {
        Some("ed25519") => Arc::new(Ed25519Signer::from_hex(&secret).unwrap()),
        Some("secp256k1") => Arc::new(Secp256k1Signer::from_hex(&secret).unwrap()),
        other => panic!("unknown curve {other:?}"),
    }
}

#[test]
fn every_sign_vector_at_every_stage() {
    let all = vectors();
    let cases = all["sign_vectors"].as_array().unwrap();
    assert_eq!(cases.len(), 15);
    for v in cases {
        let id = text(v, "id");
        let signer = signer_for(v);
        assert_eq!(
            signer.api_key().as_str(),
            text(v, "public_key_hex"),
            "{id}: API key"
        );
        let auth = CoboAuth::new(signer, Arc::new(NonceSource::default()));
        let body = text(v, "body");
        let parts = auth
            .sign_parts(
                &text(v, "method"),
                &text(v, "path"),
                &text(v, "nonce"),
                &params(v),
                body.as_bytes(),
            )
            .unwrap();
        assert_eq!(
            parts.string_to_sign.to_string(),
            text(v, "str_to_sign"),
            "{id}: string to sign"
        );
        assert_eq!(
            hex::encode(parts.string_to_sign.as_bytes()),
            text(v, "str_to_sign_hex"),
            "{id}: bytes"
        );
        assert_eq!(
            parts.digest.to_hex(),
            text(v, "digest_sha256d_hex"),
            "{id}: digest"
        );
        if let Some(once) = v["sha256_once_hex"].as_str() {
            use sha2::Digest as _;
            assert_eq!(
                hex::encode(sha2::Sha256::digest(parts.string_to_sign.as_bytes())),
                once,
                "{id}: sha256"
            );
        }
        let expected_signature = match v["curve"].as_str() {
            Some("ed25519") => text(v, "signature_hex"),
            _ => text(v, "rfc6979_low_s_reference_der_hex"),
        };
        assert_eq!(
            parts.signature.to_hex(),
            expected_signature,
            "{id}: signature"
        );
        if let Some(headers) = v["headers"].as_object() {
            let ours: Vec<(String, String)> = parts
                .headers
                .pairs()
                .iter()
                .map(|(n, value)| (n.as_str().to_owned(), value.clone()))
                .collect();
            for (name, value) in headers {
                let found = ours
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str());
                assert_eq!(found, value.as_str(), "{id}: header {name}");
            }
        }
    }
}

#[test]
fn every_response_verify_vector() {
    let all = vectors();
    for v in all["response_verify_vectors"].as_array().unwrap() {
        let id = text(v, "id");
        let body = text(v, "body");
        let content = format!("{body}|{}", text(v, "biz_timestamp"));
        assert_eq!(content, text(v, "content"), "{id}");
        assert_eq!(
            Digest::sha256d(content.as_bytes()).to_hex(),
            text(v, "content_sha256d_hex"),
            "{id}"
        );
        let verifier = ResponseVerifier::from_hex(&text(v, "public_key_hex")).unwrap();
        let outcome = verifier.verify(
            body.as_bytes(),
            &text(v, "biz_timestamp"),
            &text(v, "biz_resp_signature"),
            200,
        );
        match v["SignHelper_verify_result"].as_bool() {
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
    let all = vectors();
    for v in all["response_handling_vectors"].as_array().unwrap() {
        let id = text(v, "id");
        let double = CoboDouble::start().await;
        let mut template =
            wiremock::ResponseTemplate::new(v["http_status"].as_u64().unwrap() as u16)
                .set_body_string(text(v, "body"));
        for (name, value) in v["response_headers"].as_object().unwrap() {
            template = template.insert_header(name.as_str(), value.as_str().unwrap());
        }
        double.answer_raw("GET", "/oauth/token", template).await;
        let client = cobo_oauth::CoboClient::builder()
            .env(cobo_oauth::Env::custom(&double.base_url(), &text(v, "resp_pubkey_used")).unwrap())
            .api_secret(cobo_oauth_tests::API_SECRET)
            .build()
            .unwrap();
        let outcome = client.get_token("client", "org").await;
        let expected = &v["outcome"];
        match (expected["result"].as_str(), &outcome) {
            (Some("ok"), Ok(token)) => {
                assert_eq!(token.to_json_exposing_secrets(), expected["data"], "{id}");
            }
            (Some("exception"), Err(error)) => {
                let reason = expected["reason"].as_str().unwrap_or_default();
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
                        let status = expected["status"].as_u64().unwrap() as u16;
                        assert_eq!(error.status(), Some(status), "{id}: {error:?}");
                        if v["response_headers"].as_object().unwrap().is_empty() {
                            // Unsigned non-2xx: the HTTP error it is, with its body.
                            assert!(
                                matches!(error, cobo_oauth::Error::Http { body, .. } if *body == text(v, "body")),
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
            (_, outcome) => panic!("{id}: expected {expected}, got {outcome:?}"),
        }
    }
}

#[test]
fn verifier_rules_without_http() {
    let all = vectors();
    let v = &all["response_handling_vectors"][0];
    let verifier = ResponseVerifier::from_hex(&text(v, "resp_pubkey_used")).unwrap();
    let body = text(v, "body");
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
        v["response_headers"]["Biz-Timestamp"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    );
    headers.insert(
        "biz_resp_signature",
        v["response_headers"]["Biz-Resp-Signature"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
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
    let all = vectors();
    let cases = all["pipeline_vectors"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for v in cases {
        let id = text(v, "id");
        let auth = CoboAuth::new(
            Arc::new(Ed25519Signer::from_hex(&text(v, "private_key_hex")).unwrap()),
            Arc::new(NonceSource::default()),
        );
        let parts = auth
            .sign_parts(
                &text(v, "wire_method"),
                &text(v, "wire_path"),
                &text(v, "nonce"),
                &text(v, "wire_query"),
                &hex::decode(text(v, "wire_body_hex")).unwrap(),
            )
            .unwrap();
        assert_eq!(
            parts.string_to_sign.to_string(),
            text(v, "str_to_sign"),
            "{id}"
        );
        assert_eq!(parts.signature.to_hex(), text(v, "signature_hex"), "{id}");
        assert_eq!(
            parts.headers.api_key.as_str(),
            text(v, "public_key_hex"),
            "{id}"
        );
    }
}
