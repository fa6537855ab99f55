//! `verify`: response-signature verification of a token response.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use cobo_oauth::signing::Digest;
use cobo_oauth::verify::ResponseVerifier;
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::Signer as _;

fn verify(c: &mut Criterion) {
    let server = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let verifier = ResponseVerifier::new(server.verifying_key());
    let body = br#"{"access_token":"AnCE","token_type":"Bearer","scope":"","expires_in":43199,"refresh_token":"rK49"}"#;
    let timestamp = "1718587017123";
    let mut content = body.to_vec();
    content.extend_from_slice(format!("|{timestamp}").as_bytes());
    let signature = hex::encode(server.sign(Digest::sha256d(&content).as_bytes()).to_bytes());
    let mut headers = http::HeaderMap::new();
    headers.insert("biz-timestamp", timestamp.parse().unwrap());
    headers.insert("biz-resp-signature", signature.parse().unwrap());
    c.bench_function("verify: token response", |b| {
        b.iter(|| {
            verifier
                .check(black_box(200), black_box(&headers), black_box(body))
                .unwrap()
        })
    });
}

criterion_group!(benches, verify);
criterion_main!(benches);
