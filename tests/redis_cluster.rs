//! The Redis stores on a real Redis Cluster (3 primaries and 3 replicas on loopback, started
//! per test by `RedisCluster`), with real OS processes (`fleet-replica`, `orgs-replica`) against
//! the embedded mock Cobo server:
//!
//! - 4 processes × 50 callers on an expired token: exactly one refresh reaches Cobo.
//! - 500 organizations spread over every shard: listed (a `SCAN` of every primary), and renewed
//!   once per period by 2 processes.
//! - A primary killed with SIGKILL mid-fleet and its replica promoted: no refresh token is
//!   presented twice, no organization needs a new grant, every stored refresh token is unspent.
//! - A pair saved on a primary whose replica was paused (so it never had it), the primary then
//!   killed and the replica promoted: the pair, kept in memory, is saved on the new primary.
//! - The deduplicator claims an event once on a cluster.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cobo_oauth::ExposeSecret as _;
use cobo_oauth::inbound::{Claim, Deduplicator as _, RedisDeduplicator};
use cobo_oauth::signing::{Ed25519Signer, Signer as _};
use cobo_oauth::tokens::orgs::{OrgStore as _, OrgTokens};
use cobo_oauth::tokens::redis::{EncryptionKey, RedisConnection, RedisOrgStore, RedisStore};
use cobo_oauth::tokens::{StoredToken, TokenOwner, TokenStore as _};
use cobo_oauth_mock::{Fault, MockConfig, MockServer};
use cobo_oauth_tests::{API_SECRET, RedisCluster, count_requests, mock_config, numbered_pair};
use futures::StreamExt as _;

const APP: &str = "cluster-app";

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

async fn org_store(cluster: &RedisCluster, key: &EncryptionKey) -> RedisOrgStore {
    RedisOrgStore::builder(cluster.url(), APP)
        .encryption_key(key.clone())
        .connect_orgs()
        .await
        .unwrap()
}

/// The mock Cobo server (tokens living `ttl`) and a client for it.
async fn mock(ttl: Option<Duration>) -> (Arc<MockServer>, cobo_oauth::CoboClient) {
    let mut config = mock_config();
    if let Some(ttl) = ttl {
        config = MockConfig {
            access_token_ttl: ttl,
            ..config
        };
    }
    let server = Arc::new(MockServer::start(config).await.unwrap());
    let client = server.client_builder().build().unwrap();
    (server, client)
}

fn refresh_token_sent(request: &cobo_oauth_mock::RecordedRequest) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(&request.body).ok()?;
    body["refresh_token"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_on_a_cluster_refresh_an_expired_token_exactly_once() {
    const ORG: &str = "fleet-org";
    let cluster = RedisCluster::start();
    let (server, client) = mock(None).await;
    let key = EncryptionKey::generate();
    let store = RedisStore::builder(cluster.url(), APP, ORG)
        .encryption_key(key.clone())
        .connect()
        .await
        .unwrap();
    let token = client.get_token(APP, ORG).await.unwrap();
    let seeded = StoredToken {
        access_token: token.access_token.unwrap(),
        refresh_token: token.refresh_token.unwrap(),
        expires_at_ms: 0,
        version: 1,
        owner: Some(TokenOwner::new(APP, ORG)),
    };
    store.save(&seeded).await.unwrap();
    // The refresh takes a while, so the other processes really wait for it.
    server.inject(Fault::Delay(Duration::from_millis(500)), 1);
    let start_at = now_ms() + 2_000;
    let children: Vec<_> = (0..4)
        .map(|_| {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_fleet-replica"))
                .env("COBO_BASE_URL", server.base_url())
                .env("COBO_RESPONSE_PUBKEY", server.response_key_hex())
                .env("COBO_API_SECRET", API_SECRET)
                .env_remove("COBO_ENV")
                .env("COBO_REDIS_URL", cluster.url())
                .env("COBO_TOKEN_ENCRYPTION_KEY", &*key.to_hex())
                .env("FLEET_CLIENT_ID", APP)
                .env("FLEET_ORG_ID", ORG)
                .env("FLEET_CALLERS", "50")
                .env("FLEET_LEASE_TTL_MS", "10000")
                .env("FLEET_LEASE_WAIT_MS", "30000")
                .env("FLEET_START_AT_MS", start_at.to_string())
                .env("RUST_LOG", "warn")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap()
        })
        .collect();
    let mut fingerprints = Vec::new();
    for child in children {
        let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("the replica finished within a minute")
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        fingerprints.extend(
            stdout
                .lines()
                .filter_map(|l| l.strip_prefix("ok "))
                .map(str::to_owned),
        );
    }
    assert_eq!(fingerprints.len(), 4 * 50);
    let requests: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/oauth/token"))
        .collect();
    let refreshes: Vec<_> = requests.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(refreshes.len(), 1, "exactly one refresh reached Cobo");
    assert_eq!(requests.iter().filter(|r| r.method == "GET").count(), 1);
    assert_eq!(
        refresh_token_sent(refreshes[0]).as_deref(),
        Some(seeded.refresh_token.expose_secret())
    );
    let stored = store.load().await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert!(server.access_token_valid(stored.access_token.expose_secret()));
    let distinct: HashSet<_> = fingerprints.iter().collect();
    assert_eq!(distinct.len(), 1, "every caller got the refreshed token");
    assert_eq!(store.saves_waiting_for_replica(), 0);
}

/// Installs `orgs` organizations (a grant each), 16 at a time.
async fn install(tokens: &OrgTokens, orgs: &[String]) {
    futures::stream::iter(orgs)
        .for_each_concurrent(16, |org_id| async move {
            tokens.on_install(org_id, 1).await.unwrap();
        })
        .await;
}

/// Runs `orgs-replica` processes (each signing with a key of its own: the mock refuses a nonce
/// a key has already used) and returns their logs; each must succeed and report `orgs`
/// organizations.
struct OrgsRun<'a> {
    server: &'a MockServer,
    cluster_url: String,
    key: &'a EncryptionKey,
    margin_ms: u64,
    run_ms: u64,
    lease_ttl_ms: u64,
}

impl OrgsRun<'_> {
    fn spawn(&self) -> tokio::process::Child {
        let signer = Ed25519Signer::generate();
        self.server.register_api_key(signer.api_key().as_str());
        tokio::process::Command::new(env!("CARGO_BIN_EXE_orgs-replica"))
            .env("COBO_BASE_URL", self.server.base_url())
            .env("COBO_RESPONSE_PUBKEY", self.server.response_key_hex())
            .env("COBO_API_SECRET", signer.secret_hex().as_str())
            .env_remove("COBO_ENV")
            .env("COBO_REDIS_URL", &self.cluster_url)
            .env("COBO_TOKEN_ENCRYPTION_KEY", &*self.key.to_hex())
            .env("ORGS_CLIENT_ID", APP)
            .env("ORGS_MARGIN_MS", self.margin_ms.to_string())
            .env("ORGS_RUN_MS", self.run_ms.to_string())
            .env("ORGS_LEASE_TTL_MS", self.lease_ttl_ms.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }
}

async fn finish(replicas: Vec<tokio::process::Child>, orgs: usize) -> String {
    let mut logs = String::new();
    for replica in replicas {
        let output = tokio::time::timeout(Duration::from_secs(90), replica.wait_with_output())
            .await
            .expect("the replica finished")
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        logs.push_str(&String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "{stdout}\n{logs}");
        let statuses = stdout.lines().filter(|l| l.starts_with("status ")).count();
        assert_eq!(statuses, orgs, "{stdout}");
    }
    logs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_organizations_over_every_shard_are_listed_and_renewed_once_per_period() {
    const ORGS: usize = 500;
    const TTL_MS: u64 = 8_000;
    const MARGIN_MS: u64 = 3_000;
    const RUN_MS: u64 = 14_000;
    let cluster = RedisCluster::start();
    let key = EncryptionKey::generate();
    let (server, client) = mock(Some(Duration::from_millis(TTL_MS))).await;
    let store = Arc::new(org_store(&cluster, &key).await);
    let installer = OrgTokens::builder(client, APP).store(store.clone()).build();
    let mut expected: Vec<String> = (0..ORGS).map(|n| format!("org-{n:03}")).collect();
    install(&installer, &expected).await;
    // Listed from every primary: each shard holds some of them.
    let mut listed = store.list().await.unwrap();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
    let primaries = cluster.primaries();
    assert_eq!(primaries.len(), 3);
    for port in &primaries {
        assert!(
            cluster.dbsize(*port) > 0,
            "the primary on {port} holds pairs"
        );
    }

    let run = OrgsRun {
        server: &server,
        cluster_url: cluster.url(),
        key: &key,
        margin_ms: MARGIN_MS,
        run_ms: RUN_MS,
        lease_ttl_ms: 10_000,
    };
    let logs = finish(vec![run.spawn(), run.spawn()], ORGS).await;

    let presentations = server.refresh_token_presentations();
    assert!(
        presentations.values().all(|&count| count == 1),
        "no refresh token presented twice:\n{logs}"
    );
    let grants = count_requests(&server, "GET");
    assert_eq!(
        grants, ORGS,
        "the installs only, no recovery grant:\n{logs}"
    );
    // Renewed 3 to 4.5 s before it expires, so every 3.5 to 5 s: in 14 s, two to four
    // refreshes per organization for the whole fleet (two processes that each refreshed on
    // their own would make twice as many).
    let (mut total, mut fewest, mut most) = (0, u64::MAX, 0);
    for org_id in &expected {
        let pair = store.org(org_id).load().await.unwrap().unwrap();
        let refreshes = pair.version - 1;
        assert!(
            (2..=4).contains(&refreshes),
            "{org_id} was refreshed {refreshes} times in {RUN_MS} ms"
        );
        total += refreshes;
        fewest = fewest.min(refreshes);
        most = most.max(refreshes);
    }
    assert_eq!(
        usize::try_from(total).unwrap(),
        presentations.len(),
        "every refresh was saved"
    );
    assert_eq!(store.saves_waiting_for_replica(), 0);
    // The guarded writes waited for the replicas, on every shard.
    for port in &primaries {
        assert!(
            cluster.calls(*port, "wait") > 0,
            "WAIT on the primary on {port}"
        );
    }
    eprintln!(
        "{total} refreshes of {ORGS} organizations on a cluster by two processes ({fewest} to {most} each)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_killed_mid_fleet_fails_over_with_no_refresh_token_sent_twice_or_pair_lost() {
    const ORGS: usize = 60;
    const TTL_MS: u64 = 3_000;
    const MARGIN_MS: u64 = 1_000;
    const RUN_MS: u64 = 14_000;
    let mut cluster = RedisCluster::start();
    let key = EncryptionKey::generate();
    let (server, client) = mock(Some(Duration::from_millis(TTL_MS))).await;
    let store = Arc::new(org_store(&cluster, &key).await);
    let installer = OrgTokens::builder(client, APP).store(store.clone()).build();
    let orgs: Vec<String> = (0..ORGS).map(|n| format!("org-{n:03}")).collect();
    install(&installer, &orgs).await;
    let victim = cluster.primary_of(store.org(&orgs[0]).location().as_str());
    let on_victim: Vec<&String> = orgs
        .iter()
        .filter(|org| cluster.primary_of(&store.org(org).location()) == victim)
        .collect();
    assert!(!on_victim.is_empty());

    let run = OrgsRun {
        server: &server,
        cluster_url: cluster.url(),
        key: &key,
        margin_ms: MARGIN_MS,
        run_ms: RUN_MS,
        lease_ttl_ms: 3_000,
    };
    let replicas = vec![run.spawn(), run.spawn()];
    // Mid-run, while the fleet renews: SIGKILL the primary, promote its replica.
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    let before = server.refresh_token_presentations().len();
    let mut versions_before = Vec::new();
    for org_id in &on_victim {
        versions_before.push(store.org(org_id).load().await.unwrap().unwrap().version);
    }
    let promoted = tokio::task::spawn_blocking(move || {
        let promoted = cluster.fail_over(victim);
        (cluster, promoted)
    })
    .await
    .unwrap();
    let (cluster, promoted) = promoted;
    assert_ne!(promoted, victim);
    let logs = finish(replicas, ORGS).await;

    let presentations = server.refresh_token_presentations();
    assert!(
        presentations.len() > before,
        "the fleet went on renewing after the failover"
    );
    let reused: Vec<_> = presentations.values().filter(|&&count| count > 1).collect();
    assert!(
        reused.is_empty(),
        "no refresh token presented twice ({} were):\n{logs}",
        reused.len()
    );
    let grants = count_requests(&server, "GET");
    assert_eq!(grants, ORGS, "the installs only, no new grant:\n{logs}");
    // Every organization's stored pair is its newest: its refresh token was never spent (a lost
    // pair would leave a spent one behind, and the organization would need a new grant).
    let after = org_store(&cluster, &key).await;
    for org_id in &orgs {
        let pair = after.org(org_id).load().await.unwrap().unwrap();
        assert!(
            !presentations.contains_key(pair.refresh_token.expose_secret()),
            "{org_id}'s stored refresh token is unspent"
        );
    }
    // The organizations on the killed primary were renewed on its promoted replica.
    for (org_id, before) in on_victim.iter().zip(versions_before) {
        let now = after.org(org_id).load().await.unwrap().unwrap().version;
        assert!(
            now > before,
            "{org_id} was renewed after the failover (version {before}, then {now}):\n{logs}"
        );
    }
    eprintln!(
        "{} refreshes, {} of them before the failover; {} organizations on the killed primary",
        presentations.len(),
        before,
        on_victim.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_only_the_killed_primary_had_is_saved_again_on_its_promoted_replica() {
    let mut cluster = RedisCluster::start();
    let store = RedisStore::builder(cluster.url(), APP, "failover-org")
        .plaintext()
        .replica_ack_timeout(Duration::from_millis(1_500))
        .connect()
        .await
        .unwrap();
    store.save(&numbered_pair(1)).await.unwrap();
    let primary = cluster.primary_of(store.pair_key());
    let replica = cluster.replica_of(primary);
    // The replica acknowledges nothing: the new pair is only on the primary, handed out, kept.
    cluster.pause(replica);
    store.save(&numbered_pair(2)).await.unwrap();
    assert_eq!(store.saves_waiting_for_replica(), 1);
    // The primary dies before replicating it; its replica (which has version 1) takes over.
    cluster.kill(primary);
    cluster.resume(replica);
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.promote(replica);
        cluster
    })
    .await
    .unwrap();
    tokio::time::timeout(Duration::from_secs(30), async {
        while store.saves_waiting_for_replica() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the kept pair was saved on the new primary");
    assert_eq!(
        cluster
            .hget(replica, store.pair_key(), "version")
            .as_deref(),
        Some("2"),
        "the rotated pair survived the failover"
    );
    assert_eq!(store.load().await.unwrap().unwrap().version, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deduplicator_claims_an_event_once_on_a_cluster() {
    let cluster = RedisCluster::start();
    let url = cluster.url();
    let replica = || async {
        let connection = RedisConnection::connect(url.clone()).await.unwrap();
        assert!(connection.is_cluster());
        RedisDeduplicator::new(connection, "test:seen:", Duration::from_secs(60))
    };
    let (first, second) = (replica().await, replica().await);
    let mut claimed = 0;
    for n in 0..50 {
        let event = format!("event-{n}");
        let (a, b) = tokio::join!(
            first.claim(&event, Duration::from_secs(30)),
            second.claim(&event, Duration::from_secs(30))
        );
        let claims = [a.unwrap(), b.unwrap()];
        let winners: Vec<_> = claims
            .iter()
            .filter_map(|claim| match claim {
                Claim::Claimed(token) => Some(token),
                _ => None,
            })
            .collect();
        assert_eq!(winners.len(), 1, "{event}: exactly one replica claims it");
        assert!(first.complete(&event, winners[0]).await.unwrap());
        assert!(matches!(
            second.claim(&event, Duration::from_secs(30)).await.unwrap(),
            Claim::Completed
        ));
        claimed += 1;
    }
    assert_eq!(claimed, 50);
    // The events' keys live on every shard.
    for port in cluster.primaries() {
        assert!(
            cluster.dbsize(port) > 0,
            "the primary on {port} holds claims"
        );
    }
}
