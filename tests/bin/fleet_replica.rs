//! One replica of a fleet that shares a token pair in Redis, for `tests/redis_fleet.rs`.
//!
//! Configured by the environment: the client by `COBO_BASE_URL`, `COBO_RESPONSE_PUBKEY` and
//! `COBO_API_SECRET`; the store by `COBO_REDIS_URL` and `COBO_TOKEN_ENCRYPTION_KEY`; and
//! `FLEET_CLIENT_ID`, `FLEET_ORG_ID`, `FLEET_CALLERS`, `FLEET_LEASE_TTL_MS`,
//! `FLEET_LEASE_WAIT_MS`, `FLEET_START_AT_MS` (Unix ms at which every caller asks at once).
//!
//! Prints one line per caller: `ok <fingerprint of the access token>` or `error <message>`.
//! Logs go to stderr. Exits 0 when every caller got a token.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cobo_oauth::tokens::TokenManager;
use cobo_oauth::tokens::redis::RedisStoreBuilder;
use cobo_oauth::{CoboClient, ExposeSecret as _};
use sha2::{Digest as _, Sha256};

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

fn millis(name: &str) -> u64 {
    var(name)
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number"))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let (client_id, org_id) = (var("FLEET_CLIENT_ID"), var("FLEET_ORG_ID"));
    let client = CoboClient::from_env().expect("client configuration");
    let store = RedisStoreBuilder::from_env(&client_id, &org_id)
        .expect("store configuration")
        .connect()
        .await
        .expect("Redis");
    let manager = TokenManager::builder(client, client_id, org_id)
        .store(Arc::new(store))
        .lease_ttl(Duration::from_millis(millis("FLEET_LEASE_TTL_MS")))
        .lease_wait(Duration::from_millis(millis("FLEET_LEASE_WAIT_MS")))
        .build();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    tokio::time::sleep(Duration::from_millis(
        millis("FLEET_START_AT_MS").saturating_sub(now),
    ))
    .await;
    let callers: Vec<_> = (0..millis("FLEET_CALLERS"))
        .map(|_| {
            let manager = manager.clone();
            tokio::spawn(async move { manager.access_token().await })
        })
        .collect();
    let mut all_ok = true;
    for caller in callers {
        match caller.await.expect("caller task") {
            Ok(token) => {
                let digest = Sha256::digest(token.expose_secret().as_bytes());
                println!("ok {}", hex::encode(&digest[..8]));
            }
            Err(error) => {
                all_ok = false;
                println!("error {error}");
            }
        }
    }
    if all_ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
