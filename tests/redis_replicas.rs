//! The Redis store on a standalone primary with a replica (real `redis-server`s on loopback):
//! the writes that guard a refresh wait for the replica (`WAIT 1`); a pair the replica did not
//! acknowledge (it is paused with SIGSTOP) is handed out, kept, and saved again once the
//! replica is back; a Redis without replicas never waits.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use cobo_oauth::ExposeSecret as _;
use cobo_oauth::tokens::redis::{EncryptionKey, RedisStore, ReplicaAck};
use cobo_oauth::tokens::{
    Lease, RefreshLease, StoreError, StoreFuture, StoredToken, TokenManager, TokenOwner, TokenStore,
};
use cobo_oauth_mock::MockServer;
use cobo_oauth_tests::{RedisServer, calls, mock_config, numbered_pair, redis_acl};

const CLIENT_ID: &str = "replicated-app";
const ORG_ID: &str = "replicated-org";
// Generous: a loaded machine can hold up a healthy replica's acknowledgement for a while.
const ACK_TIMEOUT: Duration = Duration::from_millis(1_500);

async fn store(redis: &RedisServer, ack: ReplicaAck) -> RedisStore {
    RedisStore::builder(redis.url(), CLIENT_ID, ORG_ID)
        .plaintext()
        .replica_ack(ack)
        .replica_ack_timeout(ACK_TIMEOUT)
        .connect()
        .await
        .unwrap()
}

fn wait_calls(redis: &RedisServer) -> u64 {
    calls(&redis.query(&["INFO", "commandstats"]), "wait")
}

fn lease_key(store: &RedisStore) -> String {
    store.pair_key().replace(":pair", ":lease")
}

/// The (sealed, binary) payload of `store`'s pair on `redis`.
fn payload(redis: &RedisServer, store: &RedisStore) -> Vec<u8> {
    let mut connection = redis::Client::open(redis.url())
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap();
    redis::cmd("HGET")
        .arg(store.pair_key())
        .arg("payload")
        .query(&mut connection)
        .unwrap()
}

/// Waits (at most 10 s) until no saved pair waits for a replica.
async fn until_acknowledged(store: &RedisStore) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while store.saves_waiting_for_replica() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the kept pair was saved again and acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_the_replica_did_not_acknowledge_is_kept_and_saved_again_once_it_is_back() {
    let primary = RedisServer::start();
    let replica = RedisServer::start_replica_of(&primary);
    let store = store(&primary, ReplicaAck::WhereReplicas).await;
    store.save(&numbered_pair(1)).await.unwrap();
    assert_eq!(store.saves_waiting_for_replica(), 0);
    assert!(wait_calls(&primary) >= 1, "the save waited for the replica");
    let lease = store
        .try_acquire(Duration::from_secs(30))
        .await
        .unwrap()
        .expect("the lease");

    replica.pause();
    // Saved on the primary, not acknowledged: still a success (the pair is valid), kept.
    store.save(&numbered_pair(2)).await.unwrap();
    assert_eq!(store.saves_waiting_for_replica(), 1);
    let on_primary = store.load().await.unwrap().unwrap();
    assert_eq!(on_primary.version, 2);
    // The lease is kept while the pair waits, so a failover cannot let another process refresh
    // the previous pair.
    store.release(&lease).await.unwrap();
    assert_eq!(primary.query(&["EXISTS", &lease_key(&store)]), "1");
    // No new lease or send count while the replica acknowledges nothing: no refresh is sent.
    let other = RedisStore::builder(primary.url(), CLIENT_ID, "other-org")
        .plaintext()
        .replica_ack_timeout(ACK_TIMEOUT)
        .connect()
        .await
        .unwrap();
    let refused = other.try_acquire(Duration::from_secs(30)).await;
    assert!(
        matches!(&refused, Err(StoreError::Io { reason, .. }) if reason.contains("no replica acknowledged")),
        "{refused:?}"
    );
    assert_eq!(primary.query(&["EXISTS", &lease_key(&other)]), "0");
    let refused = other.record_refresh(1).await;
    assert!(matches!(refused, Err(StoreError::Io { .. })), "{refused:?}");
    assert_eq!(
        primary.query(&[
            "HGET",
            &other.pair_key().replace(":pair", ":refresh-sends"),
            "1"
        ]),
        "0",
        "the unacknowledged send count was taken back"
    );

    replica.resume();
    until_acknowledged(&store).await;
    assert_eq!(replica.query(&["HGET", store.pair_key(), "version"]), "2");
    assert_eq!(
        primary.query(&["EXISTS", &lease_key(&store)]),
        "0",
        "the lease is given back once the pair is acknowledged"
    );
    // Saving the same pair again (same payload) was allowed; another pair of the same version
    // is still a conflict.
    let mut another = numbered_pair(2);
    another.refresh_token = cobo_oauth::SecretString::from("another refresh token");
    let conflict = store.save(&another).await;
    assert!(
        matches!(conflict, Err(StoreError::Conflict { stored: 2, .. })),
        "{conflict:?}"
    );
}

/// The refresh lease kept for a pair waiting for a replica outlasts its own time to live: it is
/// extended while the pair is saved again, and given back once a replica acknowledges it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_kept_for_a_waiting_pair_lasts_while_the_pair_is_saved_again() {
    let primary = RedisServer::start();
    let replica = RedisServer::start_replica_of(&primary);
    let store = store(&primary, ReplicaAck::WhereReplicas).await;
    store.save(&numbered_pair(1)).await.unwrap();
    let lease = store
        .try_acquire(Duration::from_secs(4))
        .await
        .unwrap()
        .expect("the lease");
    replica.pause();
    // The save waits (1.5 s) for the paused replica, then the lease is kept for it.
    store.save(&numbered_pair(2)).await.unwrap();
    store.release(&lease).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(store.saves_waiting_for_replica(), 1);
    assert_eq!(
        primary.query(&["EXISTS", &lease_key(&store)]),
        "1",
        "the lease is kept past its 4 s time to live"
    );
    replica.resume();
    until_acknowledged(&store).await;
    assert_eq!(primary.query(&["EXISTS", &lease_key(&store)]), "0");
}

/// With encryption on, each seal takes a random nonce: a save retried after an error (say the
/// guard connection timed out while the `WAIT` waited) must still send the same bytes, or the
/// script refuses it as another pair of the same version and the renewal adopts a stored pair
/// that no replica acknowledged and nothing keeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_save_of_an_encrypted_pair_sends_the_same_bytes_and_is_kept() {
    let primary = RedisServer::start();
    let replica = RedisServer::start_replica_of(&primary);
    let store = RedisStore::builder(primary.url(), CLIENT_ID, ORG_ID)
        .encryption_key(EncryptionKey::generate())
        .replica_ack_timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    store.save(&numbered_pair(1)).await.unwrap();
    replica.pause();
    store.save(&numbered_pair(2)).await.unwrap();
    assert_eq!(store.saves_waiting_for_replica(), 1);
    let first = payload(&primary, &store);
    // The same pair saved again (a retry, or the manager's background save): no conflict, the
    // same bytes, still kept until a replica acknowledges it.
    store.save(&numbered_pair(2)).await.unwrap();
    assert_eq!(payload(&primary, &store), first);
    assert_eq!(store.saves_waiting_for_replica(), 1);
    // Another pair of the same version is still refused.
    let mut another = numbered_pair(2);
    another.refresh_token = cobo_oauth::SecretString::from("another refresh token");
    let conflict = store.save(&another).await;
    assert!(
        matches!(conflict, Err(StoreError::Conflict { stored: 2, .. })),
        "{conflict:?}"
    );
    replica.resume();
    until_acknowledged(&store).await;
    assert_eq!(payload(&replica, &store), first);
}

/// A store that pauses the replica just before the new pair is saved: the lease and the send
/// count were acknowledged, the save is not.
#[derive(Debug)]
struct PausingBeforeSave {
    inner: RedisStore,
    replica: Arc<RedisServer>,
}

impl TokenStore for PausingBeforeSave {
    fn load(&self) -> StoreFuture<'_, Option<StoredToken>> {
        self.inner.load()
    }

    fn save<'a>(&'a self, token: &'a StoredToken) -> StoreFuture<'a, ()> {
        if token.version == 2 {
            self.replica.pause();
        }
        self.inner.save(token)
    }

    fn lease(&self) -> Option<&dyn RefreshLease> {
        Some(self)
    }

    fn bound_to(&self) -> Option<&TokenOwner> {
        self.inner.bound_to()
    }

    fn location(&self) -> String {
        self.inner.location()
    }
}

impl RefreshLease for PausingBeforeSave {
    fn try_acquire(&self, ttl: Duration) -> StoreFuture<'_, Option<Lease>> {
        self.inner.try_acquire(ttl)
    }

    fn extend<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> StoreFuture<'a, bool> {
        self.inner.extend(lease, ttl)
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> StoreFuture<'a, ()> {
        self.inner.release(lease)
    }

    fn record_refresh(&self, version: u64) -> StoreFuture<'_, u64> {
        self.inner.record_refresh(version)
    }

    fn forget_refresh(&self, version: u64) -> StoreFuture<'_, ()> {
        self.inner.forget_refresh(version)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refreshed_pair_is_handed_out_while_the_replica_is_away() {
    let primary = RedisServer::start();
    let replica = Arc::new(RedisServer::start_replica_of(&primary));
    let (server, client) = MockServer::start_with_client(mock_config()).await.unwrap();
    let token = client.get_token(CLIENT_ID, ORG_ID).await.unwrap();
    let seeded = StoredToken {
        access_token: token.access_token.unwrap(),
        refresh_token: token.refresh_token.unwrap(),
        expires_at_ms: 0,
        version: 1,
        owner: Some(TokenOwner::new(CLIENT_ID, ORG_ID)),
    };
    let inner = store(&primary, ReplicaAck::WhereReplicas).await;
    inner.save(&seeded).await.unwrap();
    let pausing = Arc::new(PausingBeforeSave {
        inner: store(&primary, ReplicaAck::WhereReplicas).await,
        replica: Arc::clone(&replica),
    });
    let manager = TokenManager::builder(client, CLIENT_ID, ORG_ID)
        .store(pausing.clone())
        .build();
    let access = manager.access_token().await.unwrap();
    assert!(
        server.access_token_valid(access.expose_secret()),
        "handed out"
    );
    assert_eq!(pausing.inner.saves_waiting_for_replica(), 1, "kept");
    assert_eq!(server.max_refresh_token_presentations(), 1);
    replica.resume();
    until_acknowledged(&pausing.inner).await;
    assert_eq!(replica.query(&["HGET", inner.pair_key(), "version"]), "2");
    assert_eq!(primary.query(&["EXISTS", &lease_key(&inner)]), "0");
    // The next call is served from memory, no second refresh.
    let again = manager.access_token().await.unwrap();
    assert_eq!(again.expose_secret(), access.expose_secret());
    assert_eq!(server.max_refresh_token_presentations(), 1);
}

#[tokio::test]
async fn a_redis_without_replicas_never_waits_unless_a_replica_is_required() {
    let redis = RedisServer::start();
    let store = store(&redis, ReplicaAck::WhereReplicas).await;
    store.save(&numbered_pair(1)).await.unwrap();
    let lease = store
        .try_acquire(Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.record_refresh(1).await.unwrap(), 0);
    store.release(&lease).await.unwrap();
    assert_eq!(store.saves_waiting_for_replica(), 0);
    assert_eq!(wait_calls(&redis), 0, "no WAIT without replicas");

    // Required: nothing can acknowledge, so no lease (no refresh), and a save is kept.
    let required = RedisStore::builder(redis.url(), CLIENT_ID, "other-org")
        .plaintext()
        .replica_ack(ReplicaAck::Required)
        .replica_ack_timeout(ACK_TIMEOUT)
        .connect()
        .await
        .unwrap();
    assert!(matches!(
        required.try_acquire(Duration::from_secs(30)).await,
        Err(StoreError::Io { .. })
    ));
    assert_eq!(redis.query(&["EXISTS", &lease_key(&required)]), "0");
    required.save(&numbered_pair(1)).await.unwrap();
    assert_eq!(required.saves_waiting_for_replica(), 1);
    assert!(wait_calls(&redis) > 0);

    // Off: never waits, even with a replica.
    let replica = RedisServer::start_replica_of(&redis);
    let before = wait_calls(&redis);
    let off = RedisStore::builder(redis.url(), CLIENT_ID, "third-org")
        .plaintext()
        .replica_ack(ReplicaAck::Off)
        .connect()
        .await
        .unwrap();
    replica.pause();
    off.save(&numbered_pair(1)).await.unwrap();
    assert_eq!(off.saves_waiting_for_replica(), 0);
    replica.resume();
    // Required keeps saving until the replica acknowledges: a Redis with one now.
    until_acknowledged(&required).await;
    assert!(wait_calls(&redis) > before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_user_with_the_documented_commands_waits_for_the_replica() {
    let primary = RedisServer::start();
    let _replica = RedisServer::start_replica_of(&primary);
    let commands: Vec<&str> = redis_acl::STORE_COMMANDS
        .iter()
        .chain(redis_acl::REPLICA_COMMANDS)
        .copied()
        .collect();
    let client = redis::Client::open(primary.url()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis_acl::set_user("cobo", "pw", &commands)
        .query_async(&mut admin)
        .await
        .unwrap();
    let url = primary.url().replace("redis://", "redis://cobo:pw@");
    let store = RedisStore::builder(url, CLIENT_ID, ORG_ID)
        .plaintext()
        .connect()
        .await
        .unwrap();
    store.save(&numbered_pair(1)).await.unwrap();
    let lease = store
        .try_acquire(Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.record_refresh(1).await.unwrap(), 0);
    store.release(&lease).await.unwrap();
    assert_eq!(store.saves_waiting_for_replica(), 0);
    assert_eq!(
        wait_calls(&primary),
        3,
        "the save, the lease and the send count"
    );
}
