//! `OrgTokens` on `RedisOrgStore`, against a real `redis-server`: listing with `SCAN`, and two
//! real processes sharing 100 organizations, each token refreshed once per period in total.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use cobo_oauth::ExposeSecret as _;
use cobo_oauth::signing::{Ed25519Signer, Signer as _};
use cobo_oauth::tokens::orgs::{OrgStore as _, OrgTokens};
use cobo_oauth::tokens::redis::{EncryptionKey, RedisOrgStore};
use cobo_oauth_mock::{MockConfig, MockServer};
use cobo_oauth_tests::{API_SECRET, RedisServer, mock_config, numbered_pair};

const APP: &str = "portal-app";

async fn org_store(redis: &RedisServer, key: &EncryptionKey, app: &str) -> RedisOrgStore {
    RedisOrgStore::builder(redis.url(), app)
        .encryption_key(key.clone())
        .connect_orgs()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_redis_store_lists_its_apps_organizations_with_scan() {
    let redis = RedisServer::start();
    let key = EncryptionKey::generate();
    let store = org_store(&redis, &key, APP).await;
    let other_app = org_store(&redis, &key, "other*app").await;
    // More than one SCAN page, odd ids included.
    let mut expected: Vec<String> = (0..1_200).map(|n| format!("org-{n}")).collect();
    expected.push("org }{ with: odd*chars".to_owned());
    for org_id in &expected {
        store.org(org_id).save(&numbered_pair(1)).await.unwrap();
    }
    for n in 0..5 {
        other_app
            .org(&format!("theirs-{n}"))
            .save(&numbered_pair(1))
            .await
            .unwrap();
    }
    let mut listed = store.list().await.unwrap();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(other_app.list().await.unwrap().len(), 5);
    // Each organization's store reads its own pair back.
    let pair = store.org("org-7").load().await.unwrap().unwrap();
    assert_eq!(pair.refresh_token.expose_secret(), "refresh-token-1");
    assert!(store.org("nobody").load().await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_redis_refresh_each_org_once_per_period() {
    const ORGS: usize = 100;
    const TTL_MS: u64 = 4_000;
    const MARGIN_MS: u64 = 1_000;
    const RUN_MS: u64 = 15_000;
    let redis = RedisServer::start();
    let key = EncryptionKey::generate();
    let server = Arc::new(
        MockServer::start(MockConfig {
            access_token_ttl: Duration::from_millis(TTL_MS),
            ..mock_config()
        })
        .await
        .unwrap(),
    );
    let client = server.client_builder().build().unwrap();
    let store = Arc::new(org_store(&redis, &key, APP).await);
    let installer = OrgTokens::builder(client, APP).store(store.clone()).build();
    for n in 0..ORGS {
        installer
            .on_install(&format!("org-{n:03}"), 1)
            .await
            .unwrap();
    }
    // Each replica signs with a key of its own: nonces are milliseconds, and the mock (stricter
    // than Cobo documents) refuses a nonce a key has already used, which two processes sending
    // in the same millisecond with one key would do.
    let second = Ed25519Signer::generate();
    server.register_api_key(second.api_key().as_str());
    let second_secret = second.secret_hex().as_str().to_owned();
    let spawn = |secret: &str| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_orgs-replica"))
            .env("COBO_BASE_URL", server.base_url())
            .env("COBO_RESPONSE_PUBKEY", server.response_key_hex())
            .env("COBO_API_SECRET", secret)
            .env_remove("COBO_ENV")
            .env("COBO_REDIS_URL", redis.url())
            .env("COBO_TOKEN_ENCRYPTION_KEY", &*key.to_hex())
            .env("ORGS_CLIENT_ID", APP)
            .env("ORGS_MARGIN_MS", MARGIN_MS.to_string())
            .env("ORGS_RUN_MS", RUN_MS.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let replicas = [spawn(API_SECRET), spawn(&second_secret)];
    let mut logs = String::new();
    for replica in replicas {
        let output = tokio::time::timeout(Duration::from_secs(60), replica.wait_with_output())
            .await
            .expect("the replica finished")
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        logs.push_str(&String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "{stdout}\n{logs}");
        let statuses: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("status "))
            .collect();
        assert_eq!(statuses.len(), ORGS, "{stdout}");
    }

    let presentations = server.refresh_token_presentations();
    assert!(
        presentations.values().all(|&count| count == 1),
        "no refresh token presented twice:\n{logs}"
    );
    let grants = server
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    assert_eq!(
        grants, ORGS,
        "the installs only, no recovery grant:\n{logs}"
    );
    // A token is renewed 1 to 1.5 s before it expires, so every 2.5 to 3 s: in 15 s, about
    // five or six refreshes per organization for the whole fleet. Two processes that each
    // refreshed on their own would make about twice as many.
    let mut refreshes_per_org = HashMap::new();
    for n in 0..ORGS {
        let org_id = format!("org-{n:03}");
        let pair = store.org(&org_id).load().await.unwrap().unwrap();
        let refreshes = pair.version - 1;
        assert!(
            (3..=7).contains(&refreshes),
            "{org_id} was refreshed {refreshes} times in {RUN_MS} ms"
        );
        refreshes_per_org.insert(org_id, refreshes);
    }
    let total: u64 = refreshes_per_org.values().sum();
    assert_eq!(
        usize::try_from(total).unwrap(),
        presentations.len(),
        "every refresh was saved"
    );
    eprintln!("{total} refreshes of {ORGS} organizations by two processes in {RUN_MS} ms");
}
