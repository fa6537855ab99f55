//! The official Python SDK's multipart requests (`upload_payment_file`), reproduced byte for
//! byte: the form body, its content type, the string to sign (an empty BODY) and the signature.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use cobo_oauth::multipart::{FilePart, Form};
use cobo_oauth::signing::{Clock, CoboAuth, Ed25519Signer, NonceSource, Signer as _};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    multipart_vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    id: String,
    private_key_hex: String,
    public_key_hex: String,
    nonce: String,
    boundary: String,
    field: String,
    file_name: String,
    file_bytes_hex: String,
    part_content_type: String,
    wire_method: String,
    wire_request_target: String,
    wire_content_type: String,
    wire_body_hex: String,
    str_to_sign: String,
    signature_hex: String,
}

fn vectors() -> Vec<Vector> {
    let text = include_str!("vectors/cobo-python-sdk-multipart-vectors.json");
    serde_json::from_str::<Vectors>(text)
        .unwrap()
        .multipart_vectors
}

/// A clock stopped at the vector's nonce.
#[derive(Debug)]
struct Stopped(u64);

impl Clock for Stopped {
    fn now_millis(&self) -> u64 {
        self.0
    }
}

fn form(v: &Vector) -> Form {
    let part = FilePart::new(
        hex::decode(&v.file_bytes_hex).unwrap(),
        v.file_name.clone(),
        v.part_content_type.clone(),
    );
    Form::with_boundary(&v.boundary)
        .unwrap()
        .file(v.field.clone(), part)
}

#[test]
fn the_form_is_the_sdks_byte_for_byte() {
    let cases = vectors();
    assert_eq!(cases.len(), 4);
    for v in &cases {
        let form = form(v);
        assert_eq!(
            hex::encode(form.encode().unwrap()),
            v.wire_body_hex,
            "{}",
            v.id
        );
        assert_eq!(form.content_type(), v.wire_content_type, "{}", v.id);
    }
}

#[tokio::test]
async fn a_multipart_request_is_signed_as_the_sdk_signs_it() {
    for v in &vectors() {
        let signer = Ed25519Signer::from_hex(&v.private_key_hex).unwrap();
        assert_eq!(signer.api_key().as_str(), v.public_key_hex);
        let nonce: u64 = v.nonce.parse().unwrap();
        let auth = CoboAuth::new(
            Arc::new(signer),
            Arc::new(NonceSource::new(Arc::new(Stopped(nonce)))),
        );
        let form = form(v);
        let url = format!("http://127.0.0.1:9{}", v.wire_request_target);
        let mut request =
            reqwest::Request::new(v.wire_method.parse().unwrap(), url.parse().unwrap());
        request.headers_mut().insert(
            http::header::CONTENT_TYPE,
            form.content_type().parse().unwrap(),
        );
        *request.body_mut() = Some(form.encode().unwrap().into());
        let parts = auth.sign_request(&mut request).await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(parts.string_to_sign.as_bytes()),
            v.str_to_sign,
            "{}",
            v.id
        );
        assert_eq!(parts.signature.to_hex(), v.signature_hex, "{}", v.id);
        assert_eq!(
            request.headers()["biz-api-signature"].to_str().unwrap(),
            v.signature_hex
        );
        // The body sent is still the form.
        assert_eq!(
            hex::encode(request.body().and_then(|b| b.as_bytes()).unwrap()),
            v.wire_body_hex
        );
    }
}
