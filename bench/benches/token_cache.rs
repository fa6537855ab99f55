//! `token_cache`: `access_token()` on a valid cached token under 1,000 concurrent callers.

#![allow(missing_docs, clippy::unwrap_used)]

use cobo_oauth::tokens::TokenManager;
use cobo_oauth_mock::{MockConfig, MockServer};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn token_cache(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_server, tokens) = runtime.block_on(async {
        let (server, client) = MockServer::start_with_client(MockConfig::default())
            .await
            .unwrap();
        let tokens = TokenManager::builder(client, "app", "org").build();
        tokens.access_token().await.unwrap();
        (server, tokens)
    });
    let mut group = c.benchmark_group("token_cache");
    group.bench_function("access_token(): one caller, cached", |b| {
        b.to_async(&runtime)
            .iter(|| async { tokens.access_token().await.unwrap() })
    });
    group.throughput(Throughput::Elements(1000));
    group.bench_function("access_token(): 1,000 concurrent tasks, cached", |b| {
        b.to_async(&runtime).iter(|| async {
            let handles: Vec<_> = (0..1000)
                .map(|_| {
                    let tokens = tokens.clone();
                    tokio::spawn(async move { tokens.access_token().await.unwrap() })
                })
                .collect();
            for handle in handles {
                handle.await.unwrap();
            }
        })
    });
    group.finish();
}

criterion_group!(benches, token_cache);
criterion_main!(benches);
