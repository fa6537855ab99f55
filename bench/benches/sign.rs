//! `sign`: string to sign + digest + signature + headers, next to raw ed25519-dalek signing of the
//! same digest (the floor).

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use cobo_oauth::signing::{
    CoboAuth, Digest, Ed25519Signer, NonceSource, StringToSign, encode_query,
};
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::Signer as _;

const SECRET: &str = "a84fa52a55b98b9bcfd79fb55e019b002b4bb23a6654708cfe7dd1d46c55e950";

fn sign(c: &mut Criterion) {
    let auth = CoboAuth::new(
        Arc::new(Ed25519Signer::from_hex(SECRET).unwrap()),
        Arc::new(NonceSource::default()),
    );
    let params = encode_query([
        ("client_id", "pvSwS8iFrfK0oZrB0ugG54XPDOLEv0Ij"),
        ("org_id", "e3986401-4aec-480a-973d-e775a4518413"),
        ("grant_type", "org_implicit"),
    ]);
    let mut seed = [0u8; 32];
    hex::decode_to_slice(SECRET, &mut seed).unwrap();
    let raw = ed25519_dalek::SigningKey::from_bytes(&seed);
    let digest = Digest::sha256d(
        StringToSign::new("GET", "/v2/oauth/token", "1718587017026", &params, b"").as_bytes(),
    );

    let mut group = c.benchmark_group("sign");
    group.bench_function(
        "cobo_oauth: string to sign + digest + signature + headers",
        |b| {
            b.iter(|| {
                let parts = auth
                    .sign_parts(
                        black_box("GET"),
                        "/v2/oauth/token",
                        black_box("1718587017026"),
                        &params,
                        b"",
                    )
                    .unwrap();
                black_box(parts.headers.pairs())
            })
        },
    );
    group.bench_function("ed25519-dalek: raw signature of the digest (floor)", |b| {
        b.iter(|| black_box(raw.sign(black_box(digest.as_bytes()))))
    });
    group.finish();
}

criterion_group!(benches, sign);
criterion_main!(benches);
