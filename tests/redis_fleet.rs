//! A fleet sharing one token pair in a real `redis-server`: real OS processes (the
//! `fleet-replica` binary) against the embedded mock Cobo server.
//!
//! - 8 processes × 50 callers on an expired token: exactly one refresh reaches Cobo.
//! - A lease holder killed between sending the refresh and saving: the next replica recovers
//!   with one new grant, never sending the dead refresh token again.
//! - Redis killed and restarted mid-run: callers get a clear error or a valid token, never a
//!   stale or torn one, and no refresh token is ever sent twice.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cobo_oauth::tokens::redis::{EncryptionKey, RedisStore};

use cobo_oauth::tokens::{
    RefreshLease as _, StoreError, StoredToken, TokenManagerBuilder, TokenOwner,
};
use cobo_oauth::tokens::{TokenManager, TokenStore as _};
use cobo_oauth::{CoboClient, Error, ExposeSecret as _};
use cobo_oauth_mock::{Fault, MockConfig, MockServer, RecordedRequest};
use cobo_oauth_tests::{API_SECRET, RedisServer};
use sha2::{Digest as _, Sha256};

const CLIENT_ID: &str = "fleet-app";
const ORG_ID: &str = "fleet-org";

/// Redis, the mock Cobo server, a client for it and the fleet's encryption key.
struct Fleet {
    redis: RedisServer,
    server: Arc<MockServer>,
    client: CoboClient,
    key: EncryptionKey,
}

/// How a replica process runs.
struct Replica {
    callers: usize,
    lease_ttl_ms: u64,
    lease_wait_ms: u64,
    start_at_ms: u64,
}

/// What a replica process printed.
struct Outcome {
    fingerprints: Vec<String>,
    errors: Vec<String>,
    logs: String,
    success: bool,
}

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// What a replica prints for an access token.
fn fingerprint(token: &str) -> String {
    hex::encode(&Sha256::digest(token.as_bytes())[..8])
}

impl Fleet {
    async fn start(config: MockConfig) -> Self {
        let redis = RedisServer::start();
        let server = Arc::new(MockServer::start(config).await.unwrap());
        let client = server.client_builder().build().unwrap();
        Self {
            redis,
            server,
            client,
            key: EncryptionKey::generate(),
        }
    }

    async fn store(&self) -> RedisStore {
        RedisStore::builder(self.redis.url(), CLIENT_ID, ORG_ID)
            .encryption_key(self.key.clone())
            .connect()
            .await
            .unwrap()
    }

    /// An in-process replica: a manager with its own connection to Redis.
    async fn manager(&self, lease_ttl: Duration, lease_wait: Duration) -> TokenManagerBuilder {
        TokenManager::builder(self.client.clone(), CLIENT_ID, ORG_ID)
            .store(Arc::new(self.store().await))
            .lease_ttl(lease_ttl)
            .lease_wait(lease_wait)
    }

    /// Gets a pair from the mock and stores it as version 1, already expired.
    async fn seed_expired(&self) -> StoredToken {
        let token = self.client.get_token(CLIENT_ID, ORG_ID).await.unwrap();
        let stored = StoredToken {
            access_token: token.access_token.unwrap(),
            refresh_token: token.refresh_token.unwrap(),
            expires_at_ms: 0,
            version: 1,
            owner: Some(TokenOwner::new(CLIENT_ID, ORG_ID)),
        };
        self.store().await.save(&stored).await.unwrap();
        stored
    }

    fn spawn(&self, replica: &Replica) -> tokio::process::Child {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_fleet-replica"))
            .env("COBO_BASE_URL", self.server.base_url())
            .env("COBO_RESPONSE_PUBKEY", self.server.response_key_hex())
            .env("COBO_API_SECRET", API_SECRET)
            .env_remove("COBO_ENV")
            .env("COBO_REDIS_URL", self.redis.url())
            .env("COBO_TOKEN_ENCRYPTION_KEY", &*self.key.to_hex())
            .env("FLEET_CLIENT_ID", CLIENT_ID)
            .env("FLEET_ORG_ID", ORG_ID)
            .env("FLEET_CALLERS", replica.callers.to_string())
            .env("FLEET_LEASE_TTL_MS", replica.lease_ttl_ms.to_string())
            .env("FLEET_LEASE_WAIT_MS", replica.lease_wait_ms.to_string())
            .env("FLEET_START_AT_MS", replica.start_at_ms.to_string())
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }

    /// Token requests the mock received: `(method, grant body or query)`.
    fn token_requests(&self) -> Vec<RecordedRequest> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/oauth/token"))
            .collect()
    }
}

/// Waits for a replica (at most a minute: a replica that loops fails the test).
async fn finish(child: tokio::process::Child) -> Outcome {
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the replica finished within a minute")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut outcome = Outcome {
        fingerprints: Vec::new(),
        errors: Vec::new(),
        logs: String::from_utf8_lossy(&output.stderr).into_owned(),
        success: output.status.success(),
    };
    for line in stdout.lines() {
        match line.split_once(' ') {
            Some(("ok", fingerprint)) => outcome.fingerprints.push(fingerprint.to_owned()),
            _ => outcome.errors.push(line.to_owned()),
        }
    }
    outcome
}

/// Waits for every replica; each must succeed with no caller error. Returns the fingerprints of
/// the tokens its callers got and the replicas' logs.
async fn finish_all(
    children: impl IntoIterator<Item = tokio::process::Child>,
) -> (Vec<String>, String) {
    let mut fingerprints = Vec::new();
    let mut logs = String::new();
    for child in children {
        let outcome = finish(child).await;
        assert!(
            outcome.success && outcome.errors.is_empty(),
            "{:?}\n{}",
            outcome.errors,
            outcome.logs
        );
        fingerprints.extend(outcome.fingerprints);
        logs.push_str(&outcome.logs);
    }
    (fingerprints, logs)
}

fn refresh_token_sent(request: &RecordedRequest) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(&request.body).ok()?;
    body["refresh_token"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_on_an_expired_token_refresh_exactly_once() {
    let fleet = Fleet::start(cobo_oauth_tests::mock_config()).await;
    let seeded = fleet.seed_expired().await;
    // The refresh takes a while, so the other replicas really wait for it.
    fleet
        .server
        .inject(Fault::Delay(Duration::from_millis(500)), 1);
    let replica = Replica {
        callers: 50,
        lease_ttl_ms: 10_000,
        lease_wait_ms: 30_000,
        start_at_ms: now_ms() + 2_000,
    };
    let children: Vec<_> = (0..8).map(|_| fleet.spawn(&replica)).collect();
    let (fingerprints, _) = finish_all(children).await;
    assert_eq!(fingerprints.len(), 8 * 50);

    let requests = fleet.token_requests();
    let refreshes: Vec<_> = requests.iter().filter(|r| r.method == "POST").collect();
    let grants = requests.iter().filter(|r| r.method == "GET").count();
    assert_eq!(refreshes.len(), 1, "exactly one refresh reached Cobo");
    assert_eq!(grants, 1, "only the seeding grant");
    assert_eq!(
        refresh_token_sent(refreshes[0]).as_deref(),
        Some(seeded.refresh_token.expose_secret())
    );
    let stored = fleet.store().await.load().await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    let newest = fingerprint(stored.access_token.expose_secret());
    assert!(
        fingerprints.iter().all(|f| *f == newest),
        "every caller got the refreshed token"
    );
    assert!(
        fleet
            .server
            .access_token_valid(stored.access_token.expose_secret())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_holder_killed_mid_refresh_costs_one_new_grant() {
    let fleet = Fleet::start(cobo_oauth_tests::mock_config()).await;
    let seeded = fleet.seed_expired().await;
    let replica = |callers| Replica {
        callers,
        lease_ttl_ms: 1_500,
        lease_wait_ms: 20_000,
        start_at_ms: now_ms(),
    };
    // The holder's refresh is handled by Cobo (the refresh token is used up), but the answer
    // never reaches it: it is killed first.
    fleet
        .server
        .inject(Fault::DelayAnswer(Duration::from_secs(60)), 1);
    let mut holder = fleet.spawn(&replica(5));
    tokio::time::timeout(Duration::from_secs(30), async {
        while !fleet.token_requests().iter().any(|r| r.method == "POST") {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the holder sent its refresh");
    holder.kill().await.unwrap(); // SIGKILL: it never saves.

    let others = [fleet.spawn(&replica(20)), fleet.spawn(&replica(20))];
    let (fingerprints, logs) = finish_all(others).await;

    let requests = fleet.token_requests();
    let dead = seeded.refresh_token.expose_secret();
    let dead_sends = requests
        .iter()
        .filter(|r| r.method == "POST" && refresh_token_sent(r).as_deref() == Some(dead))
        .count();
    let refreshes = requests.iter().filter(|r| r.method == "POST").count();
    let grants = requests.iter().filter(|r| r.method == "GET").count();
    assert_eq!(dead_sends, 1, "the dead refresh token was never sent again");
    assert_eq!(refreshes, 1, "no other refresh");
    assert_eq!(grants, 2, "the seeding grant and one recovery grant");
    let stored = fleet.store().await.load().await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    let newest = fingerprint(stored.access_token.expose_secret());
    assert_eq!(fingerprints.len(), 40);
    assert!(fingerprints.iter().all(|f| *f == newest));
    assert!(
        logs.contains("never saved the result"),
        "the takeover is logged:\n{logs}"
    );
    assert!(
        logs.contains("not sending this refresh token again"),
        "the new grant is explained:\n{logs}"
    );
    assert_eq!(fleet.server.max_refresh_token_presentations(), 1);
    assert!(!logs.contains(dead), "the refresh token is never logged");
}

/// What one call returned, judged when it returned.
enum Seen {
    /// A token that the mock held valid at that moment.
    Valid,
    /// A token the mock did not accept: stale.
    Stale,
    /// A clear, expected error: Redis unavailable, or the refresh still running elsewhere.
    Unavailable,
    /// Anything else.
    Unexpected(String),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_mid_run_gives_errors_or_valid_tokens_never_stale_ones() {
    // Tokens live 3 s and are renewed 2 s early: a refresh about every second.
    let mut fleet = Fleet::start(MockConfig {
        access_token_ttl: Duration::from_secs(3),
        ..cobo_oauth_tests::mock_config()
    })
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = Vec::new();
    for _replica in 0..3 {
        let manager = fleet
            .manager(Duration::from_secs(2), Duration::from_secs(3))
            .await
            .refresh_margin(Duration::from_secs(2))
            .build();
        for _caller in 0..4 {
            let (manager, server, stop) = (
                manager.clone(),
                Arc::clone(&fleet.server),
                Arc::clone(&stop),
            );
            callers.push(tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let outcome = manager.access_token().await;
                    seen.push((
                        now_ms(),
                        match outcome {
                            Ok(token) if server.access_token_valid(token.expose_secret()) => {
                                Seen::Valid
                            }
                            Ok(_) => Seen::Stale,
                            Err(
                                Error::Store(StoreError::Io { .. }) | Error::RefreshBusy { .. },
                            ) => Seen::Unavailable,
                            Err(error) => Seen::Unexpected(format!("{error:?}")),
                        },
                    ));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                seen
            }));
        }
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    fleet.redis.kill();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    fleet.redis.restart();
    let restarted_at = now_ms();
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    stop.store(true, Ordering::Relaxed);

    let (mut valid, mut unavailable, mut valid_after_restart) = (0, 0, 0);
    for caller in callers {
        for (at, seen) in caller.await.unwrap() {
            match seen {
                Seen::Valid => {
                    valid += 1;
                    if at > restarted_at + 1_000 {
                        valid_after_restart += 1;
                    }
                }
                Seen::Unavailable => unavailable += 1,
                Seen::Stale => panic!("a caller got a token Cobo no longer accepts"),
                Seen::Unexpected(error) => panic!("a caller got {error}"),
            }
        }
    }
    assert!(
        valid > 0 && valid_after_restart > 0,
        "{valid} {valid_after_restart}"
    );
    eprintln!("{valid} valid tokens, {unavailable} clear errors while Redis was down");

    let requests = fleet.token_requests();
    let grants = requests.iter().filter(|r| r.method == "GET").count();
    let sent: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| refresh_token_sent(r).unwrap())
        .collect();
    let mut distinct = sent.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(grants, 1, "one first grant, no recovery grant");
    assert_eq!(
        distinct.len(),
        sent.len(),
        "no refresh token was sent twice"
    );
    assert!(
        sent.len() >= 3,
        "refreshes happened before and after the restart"
    );
    let stored = fleet.store().await.load().await.unwrap().unwrap();
    assert_eq!(
        usize::try_from(stored.version).unwrap(),
        sent.len() + 1,
        "every refresh was saved, none lost in the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_slower_than_its_lease_keeps_it_and_nobody_resends() {
    let fleet = Fleet::start(cobo_oauth_tests::mock_config()).await;
    let seeded = fleet.seed_expired().await;
    // The refresh takes four times the lease's time to live.
    fleet.server.inject(Fault::Delay(Duration::from_secs(2)), 1);
    let (ttl, wait) = (Duration::from_millis(500), Duration::from_secs(10));
    let slow = fleet.manager(ttl, wait).await.build();
    let other = fleet.manager(ttl, wait).await.build();
    let holder = tokio::spawn(async move { slow.access_token().await });
    tokio::time::timeout(Duration::from_secs(10), async {
        while !fleet.token_requests().iter().any(|r| r.method == "POST") {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the holder sent its refresh");
    tokio::time::sleep(ttl * 2).await; // Past the lease's first time to live.
    let waiter = other.access_token().await.unwrap();
    let held = holder.await.unwrap().unwrap();

    assert_eq!(waiter.expose_secret(), held.expose_secret());
    let requests = fleet.token_requests();
    let refreshes: Vec<_> = requests.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(
        refreshes.len(),
        1,
        "the waiter did not send the refresh token again"
    );
    assert_eq!(
        refresh_token_sent(refreshes[0]).as_deref(),
        Some(seeded.refresh_token.expose_secret())
    );
    assert_eq!(requests.iter().filter(|r| r.method == "GET").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wait_for_another_holder_is_bounded_per_call() {
    let fleet = Fleet::start(cobo_oauth_tests::mock_config()).await;
    fleet.seed_expired().await;
    // Another process holds the lease and never finishes.
    let _held = fleet
        .store()
        .await
        .try_acquire(Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let lease_wait = Duration::from_secs(1);
    let manager = fleet
        .manager(Duration::from_secs(60), lease_wait)
        .await
        .build();
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let manager = manager.clone();
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                (manager.access_token().await, started.elapsed())
            })
        })
        .collect();
    for call in calls {
        // Five callers queue for one refresh: each gives up after about lease_wait, not the
        // last after five times it.
        let (outcome, took) = call.await.unwrap();
        assert!(took < lease_wait * 2, "a call took {took:?}");
        match outcome {
            Err(Error::RefreshBusy { waited }) => assert!(
                waited >= lease_wait && waited <= took,
                "the error says how long the call waited: {waited:?} of {took:?}"
            ),
            other => panic!("expected RefreshBusy, got {other:?}"),
        }
    }
    let requests = fleet.token_requests();
    assert!(
        requests.iter().all(|r| r.method == "GET") && requests.len() == 1,
        "nobody but the holder may renew"
    );
}
