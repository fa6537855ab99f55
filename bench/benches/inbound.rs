//! `inbound`: verifying a 2 KiB webhook body, beside the response verifier on the same body and
//! key (the webhook verifier adds the lookup of two header spellings and the timestamp check).

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use cobo_oauth::inbound::InboundVerifier;
use cobo_oauth::signing::Digest;
use cobo_oauth::verify::ResponseVerifier;
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::Signer as _;

/// A webhook event of exactly 2,048 bytes.
fn body_2k() -> Vec<u8> {
    let head = r#"{"event_id":"8f2e919a-6a7b-4a9b-8c1a-4c0b3f5b8b1f","url":"https://app.example/cobo/webhook","created_timestamp":1735689600000,"type":"wallets.transaction.succeeded","data":{"data_type":"Transaction","transaction_id":"aff0e1cb-15b2-4e1f-9b9d-a9133715986f","description":""#;
    let tail = r#""}}"#;
    let mut body = head.as_bytes().to_vec();
    body.resize(2048 - tail.len(), b'x');
    body.extend_from_slice(tail.as_bytes());
    assert_eq!(body.len(), 2048);
    body
}

fn inbound(c: &mut Criterion) {
    let cobo = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let body = body_2k();
    let timestamp = "1735689600123";
    let mut content = body.clone();
    content.extend_from_slice(format!("|{timestamp}").as_bytes());
    let signature = hex::encode(cobo.sign(Digest::sha256d(&content).as_bytes()).to_bytes());
    let mut headers = http::HeaderMap::new();
    headers.insert("biz-timestamp", timestamp.parse().unwrap());
    headers.insert("biz-resp-signature", signature.parse().unwrap());
    let mut underscore = http::HeaderMap::new();
    underscore.insert("biz_timestamp", timestamp.parse().unwrap());
    underscore.insert("biz_resp_signature", signature.parse().unwrap());

    let response = ResponseVerifier::new(cobo.verifying_key());
    let webhook = InboundVerifier::new(response.clone());
    let mut group = c.benchmark_group("verify 2 KiB");
    group.bench_function("response verifier", |b| {
        b.iter(|| {
            response
                .check(black_box(200), black_box(&headers), black_box(&body))
                .unwrap()
        })
    });
    group.bench_function("webhook verifier", |b| {
        b.iter(|| {
            webhook
                .check(black_box(&headers), black_box(&body))
                .unwrap()
        })
    });
    group.bench_function("webhook verifier, underscore headers", |b| {
        b.iter(|| {
            webhook
                .check(black_box(&underscore), black_box(&body))
                .unwrap()
        })
    });
    group.bench_function("webhook verifier + WebhookEvent", |b| {
        b.iter(|| {
            webhook
                .verify(black_box(&headers), black_box(body.as_slice()))
                .unwrap()
                .webhook_event()
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, inbound);
criterion_main!(benches);
