//! The Redis store over TLS (`rediss://`) against a real TLS-only `redis-server`, with
//! certificates made at run time: the round trip with the user's CA, a clear permanent error for
//! an untrusted server certificate, and mutual TLS with and without a client certificate.

#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Stdio;
use std::time::Duration;

use cobo_oauth::tokens::TokenStore as _;
use cobo_oauth::tokens::redis::{EncryptionKey, RedisStore, RedisStoreBuilder};
use cobo_oauth::tokens::{RefreshLease as _, StoreError, StoredToken};
use cobo_oauth::{Error, ExposeSecret as _};
use cobo_oauth_mock::MockServer;
use cobo_oauth_tests::{API_SECRET, ClientCerts, RedisServer, TestPki, redis_acl};

fn pair(version: u64) -> StoredToken {
    cobo_oauth_tests::numbered_pair(version)
}

fn builder(url: String) -> RedisStoreBuilder {
    RedisStore::builder(url, "client", "org").encryption_key(EncryptionKey::generate())
}

/// Saves a pair and reads it back through `store`.
async fn round_trip(store: &RedisStore, version: u64) {
    store.save(&pair(version)).await.unwrap();
    let loaded = store.load().await.unwrap().unwrap();
    assert_eq!(loaded.version, version);
    assert_eq!(
        loaded.refresh_token.expose_secret(),
        format!("refresh-token-{version}")
    );
}

/// Asserts that `error` is a TLS failure that only a person can fix, saying `what`, and that
/// nothing in it shows `secret`.
fn assert_permanent_tls_error(error: StoreError, what: &str, secret: &str) {
    let shown = format!("{error} {error:?}");
    assert!(matches!(error, StoreError::Tls { .. }), "{shown}");
    assert!(shown.contains(what), "{shown}");
    assert!(shown.contains("rediss://127.0.0.1:"), "{shown}");
    assert!(!shown.contains(secret), "{shown}");
    let error = Error::Store(error);
    assert!(error.is_permanent() && !error.is_transient(), "{shown}");
}

#[tokio::test]
async fn saves_and_loads_over_tls_with_the_given_ca() {
    let pki = TestPki::generate("redis");
    let redis = RedisServer::start_tls(&pki, ClientCerts::NotAsked);
    assert!(redis.url().starts_with("rediss://"));
    let key = EncryptionKey::generate();
    let store = RedisStore::builder(redis.url(), "client", "org")
        .encryption_key(key.clone())
        .tls_ca_pem(pki.ca_pem.clone())
        .connect()
        .await
        .unwrap();
    assert!(format!("{store:?}").contains("rediss://127.0.0.1:"));
    round_trip(&store, 1).await;
    let lease = store
        .try_acquire(Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    store.release(&lease).await.unwrap();

    // The CA from a file: another connection sees the same pair.
    let ca_file = redis.dir().join("client-ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    let from_file = RedisStore::builder(redis.url(), "client", "org")
        .encryption_key(key)
        .tls_ca_file(&ca_file)
        .connect()
        .await
        .unwrap();
    assert_eq!(from_file.load().await.unwrap().unwrap().version, 1);

    // The server speaks only TLS: plain redis:// to its port gets nowhere.
    let plain = builder(redis.url().replace("rediss://", "redis://"))
        .timeout(Duration::from_millis(500))
        .connect()
        .await;
    assert!(plain.is_err());
}

#[tokio::test]
async fn an_untrusted_server_certificate_is_a_clear_permanent_error() {
    let pki = TestPki::generate("redis");
    let impostor_ca = TestPki::generate("another").ca_pem;
    let redis = RedisServer::start_tls(&pki, ClientCerts::NotAsked);
    let url = redis
        .url()
        .replace("rediss://", "rediss://default:hunter2@");
    let error = builder(url.clone())
        .tls_ca_pem(impostor_ca)
        .connect()
        .await
        .unwrap_err();
    assert_permanent_tls_error(error, "TLS certificate verification failed", "hunter2");
    // Without a CA the system's roots are trusted, and they did not sign the test CA either.
    let error = builder(url).connect().await.unwrap_err();
    assert_permanent_tls_error(error, "TLS certificate verification failed", "hunter2");
}

#[tokio::test]
async fn mutual_tls_needs_a_client_certificate_signed_by_the_servers_ca() {
    let pki = TestPki::generate("redis");
    let other = TestPki::generate("another");
    let redis = RedisServer::start_tls(&pki, ClientCerts::Required);

    let with_cert = builder(redis.url())
        .tls_ca_pem(pki.ca_pem.clone())
        .tls_client_cert_pem(pki.client_cert_pem.clone(), pki.client_key_pem.clone());
    let shown = format!("{with_cert:?}");
    assert!(
        shown.contains("client_key: Some(\"<redacted>\")"),
        "{shown}"
    );
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    let store = with_cert.connect().await.unwrap();
    round_trip(&store, 1).await;

    let key_body = pki.client_key_pem.lines().nth(1).unwrap().to_owned();
    let without_cert = builder(redis.url())
        .tls_ca_pem(pki.ca_pem.clone())
        .connect()
        .await
        .unwrap_err();
    assert_permanent_tls_error(without_cert, "wants a client certificate", &key_body);

    let foreign_cert = builder(redis.url())
        .tls_ca_pem(pki.ca_pem.clone())
        .tls_client_cert_pem(other.client_cert_pem, other.client_key_pem)
        .connect()
        .await
        .unwrap_err();
    assert_permanent_tls_error(foreign_cert, "wants a client certificate", &key_body);
}

#[tokio::test]
async fn tls_options_need_a_rediss_url_and_valid_pem() {
    let pki = TestPki::generate("redis");
    let error = builder("redis://127.0.0.1:1/0".to_owned())
        .tls_ca_pem(pki.ca_pem.clone())
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Config { .. }), "{error:?}");
    assert!(error.to_string().contains("rediss://"), "{error}");

    let error = builder("rediss://127.0.0.1:1/0".to_owned())
        .tls_ca_pem("not a certificate")
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Config { .. }), "{error:?}");

    let error = builder("rediss://127.0.0.1:1/0".to_owned())
        .tls_ca_file("/nonexistent/ca.pem")
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Config { .. }), "{error:?}");
    assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
}

/// A replica process configured only by the environment (`COBO_REDIS_URL` with an ACL user,
/// `COBO_REDIS_CA_FILE`, `COBO_REDIS_CLIENT_CERT_FILE`, `COBO_REDIS_CLIENT_KEY_FILE`) gets a
/// token through mutual TLS and stores the pair where the admin can see it.
#[tokio::test]
async fn a_replica_configured_by_the_environment_uses_mutual_tls_and_an_acl_user() {
    let pki = TestPki::generate("redis");
    let redis = RedisServer::start_tls(&pki, ClientCerts::Required);
    let dir = redis.dir();
    for (name, pem) in [
        ("client-ca.pem", &pki.ca_pem),
        ("client.crt", &pki.client_cert_pem),
        ("client.key", &pki.client_key_pem),
    ] {
        std::fs::write(dir.join(name), pem).unwrap();
    }
    let admin = redis::Client::build_with_tls(
        redis.url(),
        redis::TlsCertificates {
            client_tls: Some(redis::ClientTlsConfig {
                client_cert: pki.client_cert_pem.clone().into_bytes(),
                client_key: pki.client_key_pem.clone().into_bytes(),
            }),
            root_cert: Some(pki.ca_pem.clone().into_bytes()),
        },
    )
    .unwrap();
    let mut admin = admin.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis_acl::set_user("replica", "replica-password", redis_acl::STORE_COMMANDS)
        .query_async(&mut admin)
        .await
        .unwrap();

    let server = MockServer::start(cobo_oauth_tests::mock_config())
        .await
        .unwrap();
    let key = EncryptionKey::generate();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_fleet-replica"))
        .env("COBO_BASE_URL", server.base_url())
        .env("COBO_RESPONSE_PUBKEY", server.response_key_hex())
        .env("COBO_API_SECRET", API_SECRET)
        .env_remove("COBO_ENV")
        .env(
            "COBO_REDIS_URL",
            redis
                .url()
                .replace("rediss://", "rediss://replica:replica-password@"),
        )
        .env("COBO_REDIS_CA_FILE", dir.join("client-ca.pem"))
        .env("COBO_REDIS_CLIENT_CERT_FILE", dir.join("client.crt"))
        .env("COBO_REDIS_CLIENT_KEY_FILE", dir.join("client.key"))
        .env("COBO_TOKEN_ENCRYPTION_KEY", &*key.to_hex())
        .env("FLEET_CLIENT_ID", "app")
        .env("FLEET_ORG_ID", "org")
        .env("FLEET_CALLERS", "3")
        .env("FLEET_LEASE_TTL_MS", "5000")
        .env("FLEET_LEASE_WAIT_MS", "5000")
        .env("FLEET_START_AT_MS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 3);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert!(
        keys.contains(&"cobo-oauth:{app:org}:pair".to_owned()),
        "{keys:?}"
    );
}
