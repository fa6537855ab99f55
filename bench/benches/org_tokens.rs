//! `org_tokens`: `OrgTokens::access_token(org_id)` for a cached organization among 10,000.

#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;

use cobo_oauth::SecretString;
use cobo_oauth::tokens::orgs::{MemoryOrgStore, OrgStore as _, OrgTokens};
use cobo_oauth::tokens::{StoredToken, TokenOwner};
use cobo_oauth_mock::{MockConfig, MockServer};
use criterion::{Criterion, criterion_group, criterion_main};

const ORGS: usize = 10_000;
const APP: &str = "app";

fn org(n: usize) -> String {
    // Organization ids are UUIDs: 36 characters.
    format!("00000000-0000-4000-8000-{n:012}")
}

fn org_tokens(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_server, tokens) = runtime.block_on(async {
        let (server, client) = MockServer::start_with_client(MockConfig::default())
            .await
            .unwrap();
        // 10,000 stored pairs valid for a day; each is read into memory once.
        let store = Arc::new(MemoryOrgStore::default());
        let expires_at_ms =
            cobo_oauth::signing::Clock::now_millis(&cobo_oauth::signing::SystemClock) + 86_400_000;
        for n in 0..ORGS {
            let pair = StoredToken {
                access_token: SecretString::from(format!("access-{n}")),
                refresh_token: SecretString::from(format!("refresh-{n}")),
                expires_at_ms,
                version: 1,
                owner: Some(TokenOwner::new(APP, org(n))),
            };
            store.org(&org(n)).save(&pair).await.unwrap();
        }
        let tokens = OrgTokens::builder(client, APP).store(store).build();
        for n in 0..ORGS {
            tokens.access_token(&org(n)).await.unwrap();
        }
        assert_eq!(tokens.cached_orgs(), ORGS);
        (server, tokens)
    });
    let mut group = c.benchmark_group("org_tokens");
    let wanted = org(5_000);
    group.bench_function("access_token(org_id): cached, among 10,000", |b| {
        b.to_async(&runtime)
            .iter(|| async { tokens.access_token(&wanted).await.unwrap() })
    });
    group.finish();
}

criterion_group!(benches, org_tokens);
criterion_main!(benches);
