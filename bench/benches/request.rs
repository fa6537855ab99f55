//! `request`: a signed and verified `get_token` against a local server on loopback, next to an
//! unsigned plain reqwest GET of the same URL. Calls in flight at once, next to plain reqwest
//! doing the same signing and verification, are `benches/concurrent.rs`.

#![allow(missing_docs, clippy::unwrap_used)]

use cobo_oauth::CoboClient;
use cobo_oauth_mock::{MockConfig, MockServer};
use criterion::{Criterion, criterion_group, criterion_main};

fn setup(runtime: &tokio::runtime::Runtime) -> (MockServer, CoboClient, reqwest::Client, String) {
    runtime.block_on(async {
        let config = MockConfig { fixed_token: true, record_requests: false, ..MockConfig::default() };
        let server = MockServer::start(config).await.unwrap();
        let client = server.client_builder().build().unwrap();
        let url = format!(
            "{}/oauth/token?client_id=pvSwS8iFrfK0oZrB0ugG54XPDOLEv0Ij&grant_type=org_implicit&org_id=e3986401-4aec-480a-973d-e775a4518413",
            server.base_url()
        );
        (server, client, reqwest::Client::new(), url)
    })
}

fn request(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_server, client, plain, url) = setup(&runtime);
    let mut group = c.benchmark_group("request");
    group.bench_function("cobo_oauth: signed + verified get_token", |b| {
        b.to_async(&runtime).iter(|| async {
            client
                .get_token(
                    "pvSwS8iFrfK0oZrB0ugG54XPDOLEv0Ij",
                    "e3986401-4aec-480a-973d-e775a4518413",
                )
                .await
                .unwrap()
        })
    });
    group.bench_function("reqwest: unsigned GET, body read", |b| {
        b.to_async(&runtime)
            .iter(|| async { plain.get(&url).send().await.unwrap().bytes().await.unwrap() })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = request
}
criterion_main!(benches);
