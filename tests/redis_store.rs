//! The Redis store against a real `redis-server`: compare-and-set saves, the lease, keys per
//! `(client_id, org_id)`, encryption at rest, ACL users, and clear errors for bad configuration,
//! refused credentials or permissions (permanent) and a dead server (transient).

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use cobo_oauth::tokens::TokenStore as _;
use cobo_oauth::tokens::redis::{EncryptionKey, RedisStore, RedisStoreBuilder};
use cobo_oauth::tokens::{RefreshLease as _, StoreError, StoredToken};
use cobo_oauth::{Error, ExposeSecret as _};
use cobo_oauth_tests::{RedisServer, redis_acl};

fn pair(version: u64) -> StoredToken {
    cobo_oauth_tests::numbered_pair(version)
}

fn builder(redis: &RedisServer, org: &str) -> RedisStoreBuilder {
    RedisStore::builder(redis.url(), "client", org)
}

async fn sealed(redis: &RedisServer, key: &EncryptionKey, org: &str) -> RedisStore {
    builder(redis, org)
        .encryption_key(key.clone())
        .connect()
        .await
        .unwrap()
}

async fn raw(redis: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Whether `store` can take a 30 s lease now (it then holds it).
async fn takes_lease(store: &RedisStore) -> bool {
    store
        .try_acquire(Duration::from_secs(30))
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn saves_are_compare_and_set_on_the_version() {
    let redis = RedisServer::start();
    let store = sealed(&redis, &EncryptionKey::generate(), "org").await;
    assert!(store.load().await.unwrap().is_none());
    store.save(&pair(1)).await.unwrap();
    store.save(&pair(3)).await.unwrap();
    // Another pair of the stored version, or an older one, is refused. (The very same pair again,
    // a retried save, is sealed into the same bytes and rewritten: see redis_replicas.)
    let mut another = pair(3);
    another.refresh_token = cobo_oauth::SecretString::from("another refresh token");
    for (older, attempt) in [(3, another), (2, pair(2))] {
        let error = store.save(&attempt).await.unwrap_err();
        assert!(
            matches!(error, StoreError::Conflict { stored: 3, attempted } if attempted == older),
            "{error:?}"
        );
    }
    let loaded = store.load().await.unwrap().unwrap();
    assert_eq!(loaded.version, 3);
    assert_eq!(loaded.refresh_token.expose_secret(), "refresh-token-3");
    assert_eq!(loaded.expires_at_ms, 1_003);
}

#[tokio::test]
async fn one_holder_at_a_time_and_the_lease_expires() {
    let redis = RedisServer::start();
    let key = EncryptionKey::generate();
    let (one, two) = (
        sealed(&redis, &key, "org").await,
        sealed(&redis, &key, "org").await,
    );
    let held = one
        .try_acquire(Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert!(!takes_lease(&two).await);
    let other_org = sealed(&redis, &key, "other-org").await;
    assert!(
        takes_lease(&other_org).await,
        "leases are per (client_id, org_id)"
    );
    // Only the holder can release.
    let impostor = cobo_oauth::tokens::Lease {
        holder: "not-the-holder".to_owned(),
    };
    two.release(&impostor).await.unwrap();
    assert!(!takes_lease(&two).await);
    one.release(&held).await.unwrap();
    let next = two
        .try_acquire(Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(next, held, "every holder has its own id");
    // Only the holder can extend; the extension outlasts the first time to live.
    assert!(
        !one.extend(&impostor, Duration::from_secs(30))
            .await
            .unwrap()
    );
    assert!(
        two.extend(&next, Duration::from_millis(2_500))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert!(
        !takes_lease(&one).await,
        "an extended lease is still held after its first time to live"
    );
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    assert!(
        !two.extend(&next, Duration::from_secs(30)).await.unwrap(),
        "a lease that ran out cannot be extended"
    );
    assert!(takes_lease(&one).await, "an expired lease can be taken");
}

#[tokio::test]
async fn refresh_sends_are_counted_until_a_newer_pair_is_saved() {
    let redis = RedisServer::start();
    let store = sealed(&redis, &EncryptionKey::generate(), "org").await;
    store.save(&pair(1)).await.unwrap();
    assert_eq!(store.record_refresh(1).await.unwrap(), 0);
    assert_eq!(
        store.record_refresh(1).await.unwrap(),
        1,
        "one unsaved send before"
    );
    store.save(&pair(2)).await.unwrap();
    assert_eq!(store.record_refresh(2).await.unwrap(), 0);
}

/// Saving the same pair again (a pair waiting for a replica is saved again every 200 ms) must not
/// forget a send of its refresh token that another process recorded meanwhile, or the next
/// lease holder would present that refresh token again.
#[tokio::test]
async fn saving_the_same_pair_again_keeps_its_send_count() {
    let redis = RedisServer::start();
    let store = builder(&redis, "org").plaintext().connect().await.unwrap();
    let sends = store.pair_key().replace(":pair", ":refresh-sends");
    store.save(&pair(1)).await.unwrap();
    assert_eq!(store.record_refresh(1).await.unwrap(), 0);
    store.save(&pair(1)).await.unwrap();
    assert_eq!(
        redis.query(&["HGET", &sends, "1"]),
        "1",
        "the send is still counted"
    );
    assert_eq!(store.record_refresh(1).await.unwrap(), 1);
    // A newer pair still starts with no sends.
    store.save(&pair(2)).await.unwrap();
    assert_eq!(redis.query(&["EXISTS", &sends]), "0");
}

#[tokio::test]
async fn values_hold_no_plaintext_secret_and_are_bound_to_their_key() {
    let redis = RedisServer::start();
    let key = EncryptionKey::generate();
    let store = sealed(&redis, &key, "org").await;
    store.save(&pair(7)).await.unwrap();
    let mut connection = raw(&redis).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(keys, vec![store.pair_key().to_owned()]);
    assert_eq!(store.pair_key(), "cobo-oauth:{client:org}:pair");
    let fields: Vec<(String, Vec<u8>)> = redis::cmd("HGETALL")
        .arg(store.pair_key())
        .query_async(&mut connection)
        .await
        .unwrap();
    for (field, value) in &fields {
        let text = String::from_utf8_lossy(value);
        assert!(
            !text.contains("access-token") && !text.contains("refresh-token"),
            "{field} holds a plaintext token"
        );
    }
    // Another org's store sees nothing; another key cannot open it.
    assert!(
        sealed(&redis, &key, "org-2")
            .await
            .load()
            .await
            .unwrap()
            .is_none()
    );
    let wrong = sealed(&redis, &EncryptionKey::generate(), "org").await;
    let error = wrong.load().await.unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    assert!(
        error.to_string().contains("wrong encryption key"),
        "{error}"
    );
    // A value moved to another (client_id, org_id) does not open there.
    let _: () = redis::cmd("COPY")
        .arg(store.pair_key())
        .arg("cobo-oauth:{client:org-3}:pair")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(sealed(&redis, &key, "org-3").await.load().await.is_err());
    // A store configured for plaintext refuses the sealed value rather than misreading it.
    let plain = builder(&redis, "org").plaintext().connect().await.unwrap();
    assert!(matches!(
        plain.load().await.unwrap_err(),
        StoreError::Corrupt { .. }
    ));
}

#[tokio::test]
async fn plaintext_is_an_explicit_choice() {
    let redis = RedisServer::start();
    let error = builder(&redis, "org").connect().await.unwrap_err();
    assert!(matches!(error, StoreError::Config { .. }), "{error:?}");
    assert!(error.to_string().contains(".plaintext()"), "{error}");
    let plain = builder(&redis, "org").plaintext().connect().await.unwrap();
    plain.save(&pair(1)).await.unwrap();
    let payload: Vec<u8> = redis::cmd("HGET")
        .arg(plain.pair_key())
        .arg("payload")
        .query_async(&mut raw(&redis).await)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&payload).contains("refresh-token-1"));
    assert_eq!(
        plain
            .load()
            .await
            .unwrap()
            .unwrap()
            .access_token
            .expose_secret(),
        "access-token-1"
    );
}

#[tokio::test]
async fn bad_urls_and_dead_servers_are_clear_errors_without_credentials() {
    let key = EncryptionKey::generate();
    let error = RedisStore::builder("http://user:hunter2@x", "c", "o")
        .encryption_key(key.clone())
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Config { .. }), "{error:?}");
    assert!(!format!("{error} {error:?}").contains("hunter2"), "{error}");

    let mut redis = RedisServer::start();
    let url = redis.url().replace("redis://", "redis://default:hunter2@");
    redis.kill();
    let error = RedisStore::builder(url, "c", "o")
        .encryption_key(key)
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Io { .. }), "{error:?}");
    let shown = format!("{error} {error:?}");
    assert!(shown.contains("127.0.0.1"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(Error::Store(error).is_transient());

    // A server that dies after the connection was made: transient too.
    redis.restart();
    let store = sealed(&redis, &EncryptionKey::generate(), "o").await;
    redis.kill();
    let error = store.load().await.unwrap_err();
    assert!(matches!(error, StoreError::Io { .. }), "{error:?}");
    assert!(Error::Store(error).is_transient());
    let malformed = EncryptionKey::from_hex("00ff").unwrap_err();
    assert!(malformed.to_string().contains("64 hex characters"));
}

/// `redis://<user>:<password>@127.0.0.1:<port>/0`.
fn url_as(redis: &RedisServer, user: &str, password: &str) -> String {
    redis
        .url()
        .replace("redis://", &format!("redis://{user}:{password}@"))
}

/// Asserts that `error` is a refusal only a person can fix, saying `what`, without `secret`.
fn assert_refused(error: StoreError, what: &str, secret: &str) {
    let shown = format!("{error} {error:?}");
    assert!(matches!(error, StoreError::Refused { .. }), "{shown}");
    assert!(shown.contains(what), "{shown}");
    assert!(!shown.contains(secret), "{shown}");
    let error = Error::Store(error);
    assert!(error.is_permanent() && !error.is_transient(), "{shown}");
}

#[tokio::test]
async fn an_acl_user_limited_to_the_prefix_and_the_stores_commands_can_use_the_store() {
    let redis = RedisServer::start();
    let _: () = redis_acl::set_user("cobo", "s3cret-pw", redis_acl::STORE_COMMANDS)
        .query_async(&mut raw(&redis).await)
        .await
        .unwrap();
    let key = EncryptionKey::generate();
    let store = RedisStore::builder(url_as(&redis, "cobo", "s3cret-pw"), "client", "org")
        .encryption_key(key.clone())
        .connect()
        .await
        .unwrap();
    store.save(&pair(1)).await.unwrap();
    assert_eq!(store.load().await.unwrap().unwrap().version, 1);
    assert_eq!(store.record_refresh(1).await.unwrap(), 0);
    let lease = store
        .try_acquire(Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert!(store.extend(&lease, Duration::from_secs(30)).await.unwrap());
    store.release(&lease).await.unwrap();
    store.save(&pair(2)).await.unwrap();
    let mut another = pair(2);
    another.refresh_token = cobo_oauth::SecretString::from("another refresh token");
    assert!(matches!(
        store.save(&another).await.unwrap_err(),
        StoreError::Conflict { .. }
    ));

    // Keys outside the user's prefix are refused, permanently.
    let elsewhere = RedisStore::builder(url_as(&redis, "cobo", "s3cret-pw"), "client", "org")
        .encryption_key(key)
        .key_prefix("other-app")
        .connect()
        .await
        .unwrap();
    assert_refused(elsewhere.load().await.unwrap_err(), "ACL", "s3cret-pw");
}

#[tokio::test]
async fn wrong_or_missing_passwords_are_permanent_errors_that_hide_the_password() {
    let redis = RedisServer::start();
    let mut admin = raw(&redis).await;
    let _: () = redis_acl::set_user("cobo", "right-password", redis_acl::STORE_COMMANDS)
        .query_async(&mut admin)
        .await
        .unwrap();
    for (user, password) in [("cobo", "hunter2-wrong"), ("nobody", "hunter2-wrong")] {
        let error = builder_at(url_as(&redis, user, password))
            .connect()
            .await
            .unwrap_err();
        assert_refused(error, "authentication failed", password);
    }
    // The default user needs a password now; a client without one is refused at its first
    // command (NOAUTH).
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("admin-password")
        .query_async(&mut admin)
        .await
        .unwrap();
    let error = match builder_at(redis.url()).connect().await {
        Ok(store) => store.load().await.unwrap_err(),
        Err(error) => error,
    };
    assert_refused(error, "authentication", "admin-password");
}

#[tokio::test]
async fn commands_or_script_calls_the_user_may_not_run_are_permanent_errors() {
    let redis = RedisServer::start();
    let mut admin = raw(&redis).await;
    // No EVALSHA or EVAL: saving is refused.
    let no_scripts: Vec<&str> = redis_acl::STORE_COMMANDS
        .iter()
        .copied()
        .filter(|c| !c.starts_with("eval"))
        .collect();
    let _: () = redis_acl::set_user("no-scripts", "pw-1", &no_scripts)
        .query_async(&mut admin)
        .await
        .unwrap();
    // Scripts, but not HSET, which the save script calls: refused inside the script.
    let no_hset: Vec<&str> = redis_acl::STORE_COMMANDS
        .iter()
        .copied()
        .filter(|c| *c != "hset")
        .collect();
    let _: () = redis_acl::set_user("no-hset", "pw-2", &no_hset)
        .query_async(&mut admin)
        .await
        .unwrap();
    for (user, password, what) in [
        ("no-scripts", "pw-1", "ACL permission"),
        ("no-hset", "pw-2", "can't run this command"),
    ] {
        let store = builder_at(url_as(&redis, user, password))
            .connect()
            .await
            .unwrap();
        assert!(store.load().await.unwrap().is_none(), "{user} may read");
        let error = store.save(&pair(1)).await.unwrap_err();
        assert_refused(error, what, password);
    }

    // A script error (the pair key holds a string, so the save script's HGET fails): refused.
    let _: () = redis::cmd("SET")
        .arg("cobo-oauth:{client:org}:pair")
        .arg("not a hash")
        .query_async(&mut admin)
        .await
        .unwrap();
    let store = builder_at(url_as(&redis, "no-hset", "pw-2"))
        .connect()
        .await
        .unwrap();
    assert_refused(store.save(&pair(1)).await.unwrap_err(), "WRONGTYPE", "pw-2");
}

fn builder_at(url: String) -> RedisStoreBuilder {
    RedisStore::builder(url, "client", "org").encryption_key(EncryptionKey::generate())
}

#[tokio::test]
async fn debug_output_shows_no_secret() {
    let redis = RedisServer::start();
    let key = EncryptionKey::generate();
    let builder = RedisStore::builder(redis.url(), "client", "org").encryption_key(key.clone());
    let shown = format!("{builder:?}");
    assert!(!shown.contains(&*key.to_hex()), "{shown}");
    assert!(
        !shown.contains("127.0.0.1"),
        "the URL may hold a password: {shown}"
    );
    let store = builder.connect().await.unwrap();
    let shown = format!("{store:?} {key:?}");
    assert!(!shown.contains(&*key.to_hex()), "{shown}");
    assert!(shown.contains("xchacha20poly1305"), "{shown}");
}
