//! One replica of a Portal App serving many organizations from one Redis (spawned by
//! tests/org_tokens_redis.rs): runs `OrgTokens`'s background refresher for a while, then prints
//! `status <org_id> <version> <last error>` for each organization of the store. `ORGS_LEASE_TTL_MS`
//! (optional) sets the refresh lease's time to live.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use cobo_oauth::CoboClient;
use cobo_oauth::tokens::orgs::OrgTokens;
use cobo_oauth::tokens::redis::RedisOrgStore;

fn millis(name: &str) -> u64 {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set"))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number"))
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let client_id = std::env::var("ORGS_CLIENT_ID").expect("ORGS_CLIENT_ID");
    let client = CoboClient::from_env().expect("client configuration");
    let store = RedisOrgStore::from_env(&client_id)
        .expect("store configuration")
        .connect_orgs()
        .await
        .expect("Redis");
    let mut builder = OrgTokens::builder(client, client_id)
        .store(Arc::new(store))
        .refresh_margin(Duration::from_millis(millis("ORGS_MARGIN_MS")))
        .max_concurrent_renewals(4);
    // Optional: a short lease, so that a lease left by a failover runs out within a test.
    if std::env::var("ORGS_LEASE_TTL_MS").is_ok() {
        builder = builder.lease_ttl(Duration::from_millis(millis("ORGS_LEASE_TTL_MS")));
    }
    let tokens = builder.build();
    let refresher = tokens.spawn_refresher();
    tokio::time::sleep(Duration::from_millis(millis("ORGS_RUN_MS"))).await;
    // Renewals in flight finish and are saved before the process exits.
    refresher.stop().await;
    for status in tokens.statuses().await.expect("statuses") {
        println!(
            "status {} {} {}",
            status.org_id,
            status.version.unwrap_or(0),
            status.last_error.unwrap_or_default()
        );
    }
}
