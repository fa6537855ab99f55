//! The token lifecycle under real async code: a caller dropped mid-refresh loses nothing, one
//! rejected token causes one refresh, a store never hands out another organization's pair, a
//! refresh token Cobo issued is never thrown away, and nonces follow a clock that steps back.
//! Every test also checks, through the mock, that no refresh token was presented twice.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use cobo_oauth::tokens::redis::{EncryptionKey, RedisStore};

use cobo_oauth::tokens::{FileStore, MemoryStore, TokenManager, TokenStore};
use cobo_oauth::tokens::{StoreError, StoredToken};
use cobo_oauth::{CoboClient, Error, ExposeSecret as _};
use cobo_oauth_mock::{Fault, MockServer};
use cobo_oauth_tests::{API_SECRET, RedisServer, ShiftedClock};

/// The mock's access token lifetime (Cobo's).
const TTL_MS: i64 = 43_199_000;

/// A mock server and a client of it, both on the real clock.
async fn mock() -> (MockServer, CoboClient) {
    let server = MockServer::start(cobo_oauth_tests::mock_config())
        .await
        .unwrap();
    let client = server.client_builder().build().unwrap();
    (server, client)
}

/// A manager for `org` whose own clock the test can jump.
fn manager(
    client: &CoboClient,
    org: &str,
    store: Arc<dyn TokenStore>,
    clock: &Arc<ShiftedClock>,
) -> TokenManager {
    TokenManager::builder(client.clone(), "app", org)
        .store(store)
        .clock(clock.clone())
        .build()
}

/// An encrypted Redis store of the pair of `app` and `org` on `redis`.
async fn redis_store(redis: &RedisServer) -> RedisStore {
    RedisStore::builder(redis.url(), "app", "org")
        .encryption_key(EncryptionKey::generate())
        .connect()
        .await
        .unwrap()
}

/// Exactly one refresh reached the mock (`why` says what that proves), and no refresh token
/// was presented twice.
fn assert_one_refresh(server: &MockServer, why: &str) {
    assert_eq!(count(server, "POST"), 1, "{why}");
    assert_eq!(server.max_refresh_token_presentations(), 1);
}

fn count(server: &MockServer, method: &str) -> usize {
    cobo_oauth_tests::count_requests(server, method)
}

async fn stored(store: &dyn TokenStore) -> StoredToken {
    store.load().await.unwrap().unwrap()
}

/// A caller gives up 100 ms into a refresh whose answer takes 2 s; 3 s later the rotated pair is
/// in `store` and handed out, after exactly one refresh and no new grant.
async fn a_caller_that_gives_up_loses_nothing(store: Arc<dyn TokenStore>) -> MockServer {
    let (server, client) = mock().await;
    let clock = Arc::new(ShiftedClock::default());
    let tokens = manager(&client, "org", store.clone(), &clock);
    let first = tokens.access_token().await.unwrap();
    let old_refresh = stored(store.as_ref())
        .await
        .refresh_token
        .expose_secret()
        .to_owned();

    clock.set_offset_ms(TTL_MS); // the token is stale for the manager
    server.inject(Fault::DelayAnswer(Duration::from_secs(2)), 1);
    let gave_up = tokio::time::timeout(Duration::from_millis(100), tokens.access_token()).await;
    assert!(gave_up.is_err(), "the caller timed out");
    tokio::time::sleep(Duration::from_secs(3)).await;

    let second = tokens.access_token().await.unwrap();
    assert_ne!(second.expose_secret(), first.expose_secret());
    assert!(server.access_token_valid(second.expose_secret()));
    assert_eq!(count(&server, "POST"), 1, "exactly one refresh");
    assert_eq!(count(&server, "GET"), 1, "no new grant");
    let saved = stored(store.as_ref()).await;
    assert_eq!(saved.access_token.expose_secret(), second.expose_secret());
    assert_ne!(saved.refresh_token.expose_secret(), old_refresh);
    assert_eq!(server.max_refresh_token_presentations(), 1);
    server
}

#[tokio::test]
async fn a_caller_that_gives_up_mid_refresh_loses_nothing_memory_store() {
    a_caller_that_gives_up_loses_nothing(Arc::new(MemoryStore::default())).await;
}

#[tokio::test]
async fn a_caller_that_gives_up_mid_refresh_loses_nothing_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("tokens.json"));
    a_caller_that_gives_up_loses_nothing(Arc::new(store)).await;
}

#[tokio::test]
async fn a_caller_that_gives_up_mid_refresh_loses_nothing_redis_store_and_frees_the_lease() {
    let redis = RedisServer::start();
    let store = redis_store(&redis).await;
    a_caller_that_gives_up_loses_nothing(Arc::new(store)).await;
    let mut raw = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let lease: bool = redis::cmd("EXISTS")
        .arg("cobo-oauth:{app:org}:lease")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(!lease, "the lease was given back when the refresh ended");
}

/// A manager, and a client sharing its nonces that sends the manager's Bearer token with
/// `get_token` (standing in for an operation that accepts OAuth2, as `list_wallets` does).
fn bearer_client(server: &MockServer) -> (TokenManager, CoboClient) {
    let plain = server
        .client_builder()
        .oauth2_operations(["get_token"])
        .build()
        .unwrap();
    let tokens = TokenManager::builder(plain.clone(), "app", "org").build();
    let api = plain.with_bearer(Arc::new(tokens.clone()));
    (tokens, api)
}

/// Sends 50 bearer requests at once; their outcomes.
async fn fifty_at_once(api: &CoboClient) -> Vec<Result<cobo_oauth::tokens::Token, Error>> {
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let api = api.clone();
            tokio::spawn(async move { api.get_token("other-app", "org").await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(call.await.unwrap());
    }
    outcomes
}

#[tokio::test]
async fn fifty_requests_refused_with_a_signed_error_1000_cause_one_refresh_and_unsigned_none() {
    let (server, _) = mock().await;
    let (_tokens, api) = bearer_client(&server);
    api.get_token("other-app", "org").await.unwrap();
    assert_eq!(count(&server, "POST"), 0);

    server.expire_access_tokens();
    // Half of the refusals arrive after the new token is out, as they do under load.
    server.inject(Fault::DelayAnswer(Duration::from_secs(1)), 25);
    let outcomes = fifty_at_once(&api).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(
        count(&server, "POST"),
        1,
        "one refresh for one rejected token"
    );

    // The same body, unsigned (a gateway's): no token decision is made on it.
    server.expire_access_tokens();
    server.inject(Fault::Unsigned, 50);
    let outcomes = fifty_at_once(&api).await;
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Err(Error::Http { status: 500, .. }))),
        "{outcomes:?}"
    );
    assert_one_refresh(&server, "no refresh on an unsigned answer");
}

#[tokio::test]
async fn a_file_holding_another_organizations_pair_is_refused() {
    let (server, client) = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let clock = Arc::new(ShiftedClock::default());
    let org_a = manager(&client, "org-a", Arc::new(FileStore::new(&path)), &clock);
    let token_a = org_a.access_token().await.unwrap();

    let org_b = manager(&client, "org-b", Arc::new(FileStore::new(&path)), &clock);
    let error = org_b.access_token().await.unwrap_err();
    assert!(
        matches!(&error, Error::Store(StoreError::WrongOwner { expected, found, .. })
            if expected.org_id == "org-b" && found.org_id == "org-a"),
        "{error:?}"
    );
    assert!(error.is_permanent() && !error.is_transient());
    let message = error.to_string();
    assert!(
        message.contains("org-a") && message.contains("org-b"),
        "{message}"
    );
    assert!(!message.contains(token_a.expose_secret()));
    assert_eq!(count(&server, "GET"), 1, "organization B sent nothing");
    assert_eq!(
        org_a.access_token().await.unwrap().expose_secret(),
        token_a.expose_secret()
    );
}

#[tokio::test]
async fn a_redis_store_built_for_another_organization_is_refused() {
    let (server, client) = mock().await;
    let redis = RedisServer::start();
    let key = EncryptionKey::generate();
    let store_a = RedisStore::builder(redis.url(), "app", "org-a")
        .encryption_key(key.clone())
        .connect()
        .await
        .unwrap();
    let clock = Arc::new(ShiftedClock::default());
    let org_b = manager(&client, "org-b", Arc::new(store_a), &clock);
    let error = org_b.access_token().await.unwrap_err();
    assert!(
        matches!(&error, Error::Store(StoreError::WrongOwner { found, .. }) if found.org_id == "org-a"),
        "{error:?}"
    );
    assert!(error.is_permanent());
    assert!(server.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_token_file_without_owner_is_used_and_gets_its_owner_at_the_next_save() {
    let (server, client) = mock().await;
    let issued = client.get_token("app", "org").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let legacy = serde_json::json!({
        "access_token": issued.access_token.as_ref().unwrap().expose_secret(),
        "refresh_token": issued.refresh_token.as_ref().unwrap().expose_secret(),
        "expires_at_ms": cobo_oauth::signing::Clock::now_millis(&cobo_oauth::signing::SystemClock) + 3_600_000,
        "version": 4,
    });
    std::fs::write(&path, legacy.to_string()).unwrap();

    let clock = Arc::new(ShiftedClock::default());
    let tokens = manager(&client, "org", Arc::new(FileStore::new(&path)), &clock);
    let token = tokens.access_token().await.unwrap();
    assert_eq!(
        token.expose_secret(),
        issued.access_token.unwrap().expose_secret()
    );
    assert_eq!(count(&server, "POST"), 0);

    clock.set_offset_ms(3_600_000);
    tokens.access_token().await.unwrap();
    let upgraded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(upgraded["client_id"], "app");
    assert_eq!(upgraded["org_id"], "org");
    assert_eq!(upgraded["version"], 5);
    assert_one_refresh(&server, "refreshed with the legacy refresh token");
}

#[tokio::test]
async fn a_signed_answer_without_expires_in_keeps_its_refresh_token() {
    let (server, client) = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(dir.path().join("tokens.json")));
    let clock = Arc::new(ShiftedClock::default());
    let tokens = manager(&client, "org", store.clone(), &clock);
    tokens.access_token().await.unwrap();
    let old_refresh = stored(store.as_ref())
        .await
        .refresh_token
        .expose_secret()
        .to_owned();

    clock.set_offset_ms(TTL_MS);
    server.inject(Fault::OmitFields(vec!["expires_in".to_owned()]), 1);
    let error = tokens.access_token().await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidBody { reason, .. } if reason.contains("expires_in")),
        "{error:?}"
    );
    let kept = stored(store.as_ref()).await;
    let kept_refresh = kept.refresh_token.expose_secret().to_owned();
    assert_ne!(
        kept_refresh, old_refresh,
        "the new refresh token is in the store"
    );

    let token = tokens.access_token().await.unwrap();
    assert!(server.access_token_valid(token.expose_secret()));
    let posts: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(posts.len(), 2);
    assert!(
        posts[1].contains(&kept_refresh),
        "refreshed with the kept token"
    );
    assert_eq!(count(&server, "GET"), 1, "no new grant");
    assert_eq!(server.max_refresh_token_presentations(), 1);
}

#[tokio::test]
async fn nonces_follow_the_clock_back_after_it_jumped_ahead() {
    let server = MockServer::start(cobo_oauth_tests::mock_config())
        .await
        .unwrap();
    let clock = Arc::new(ShiftedClock::default());
    let client = server
        .client_builder()
        .clock(clock.clone())
        .build()
        .unwrap();
    client.get_token("app", "org").await.unwrap();

    clock.set_offset_ms(3_600_000);
    let ahead = client.get_token("app", "org").await.unwrap_err();
    assert!(
        matches!(ahead, Error::OAuth { status: 401, .. }),
        "{ahead:?}"
    );

    clock.set_offset_ms(0);
    client.get_token("app", "org").await.unwrap();
    let last = server.requests().pop().unwrap();
    let nonce: u64 = last.nonce.unwrap().parse().unwrap();
    assert!(
        nonce.abs_diff(last.received_at_ms) < 1_000,
        "nonce {nonce} is within 1 s of the clock ({})",
        last.received_at_ms
    );
}

#[tokio::test]
async fn an_unsigned_answer_to_a_refresh_cobo_handled_never_leads_to_a_second_presentation() {
    let (server, client) = mock().await;
    let clock = Arc::new(ShiftedClock::default());
    let tokens = manager(&client, "org", Arc::new(MemoryStore::default()), &clock);
    tokens.access_token().await.unwrap();

    // Cobo rotates the refresh token, but the answer arrives without its signature (a proxy
    // that strips headers, or not Cobo at all): it cannot be used, and Cobo may have rotated.
    clock.set_offset_ms(TTL_MS);
    server.inject(Fault::Unsigned, 1);
    let error = tokens.access_token().await;
    assert!(
        matches!(&error, Err(Error::RefreshOutcomeUnknown(_))),
        "{error:?}"
    );
    let token = tokens.access_token().await.unwrap();
    assert!(server.access_token_valid(token.expose_secret()));
    assert_eq!(
        count(&server, "POST"),
        1,
        "the refresh token was presented once"
    );
    assert_eq!(count(&server, "GET"), 2, "one new grant instead");
    assert_eq!(server.max_refresh_token_presentations(), 1);
}

/// A store whose first `failures` saves fail, delegating everything else (the lease included).
#[derive(Debug)]
struct FailingSaves<S> {
    inner: S,
    failures: std::sync::atomic::AtomicUsize,
}

impl<S: TokenStore> TokenStore for FailingSaves<S> {
    fn load(&self) -> cobo_oauth::tokens::StoreFuture<'_, Option<StoredToken>> {
        self.inner.load()
    }

    fn save<'a>(&'a self, token: &'a StoredToken) -> cobo_oauth::tokens::StoreFuture<'a, ()> {
        use std::sync::atomic::Ordering;
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Box::pin(async {
                Err(StoreError::Io {
                    path: "test".to_owned(),
                    reason: "disk full".to_owned(),
                })
            });
        }
        self.inner.save(token)
    }

    fn lease(&self) -> Option<&dyn cobo_oauth::tokens::RefreshLease> {
        self.inner.lease()
    }

    fn bound_to(&self) -> Option<&cobo_oauth::tokens::TokenOwner> {
        self.inner.bound_to()
    }
}

#[tokio::test]
async fn a_kept_lease_is_given_back_by_the_next_renewal_that_saves_the_pair() {
    let (server, client) = mock().await;
    let redis = RedisServer::start();
    let store = redis_store(&redis).await;
    let store = Arc::new(FailingSaves {
        inner: store,
        failures: std::sync::atomic::AtomicUsize::new(0),
    });
    let clock = Arc::new(ShiftedClock::default());
    let tokens = TokenManager::builder(client, "app", "org")
        .store(store.clone())
        .clock(clock.clone())
        .lease_ttl(Duration::from_secs(30))
        .lease_wait(Duration::from_secs(3))
        .build();
    tokens.access_token().await.unwrap();

    // A partial answer whose save fails: the pair is kept unsaved, and so is the lease.
    clock.set_offset_ms(TTL_MS);
    server.inject(Fault::OmitFields(vec!["expires_in".to_owned()]), 1);
    store.failures.store(3, std::sync::atomic::Ordering::SeqCst);
    let error = tokens.access_token().await.unwrap_err();
    assert!(matches!(error, Error::Store(_)), "{error:?}");

    // The next call saves the kept pair, gives the lease back and refreshes with its token,
    // instead of waiting on this process's own lease.
    let token = tokens.access_token().await.unwrap();
    assert!(server.access_token_valid(token.expose_secret()));
    assert_eq!(count(&server, "POST"), 2);
    assert_eq!(server.max_refresh_token_presentations(), 1);
}

#[tokio::test]
async fn a_refresh_answer_without_a_refresh_token_never_leads_to_a_second_presentation() {
    let (server, client) = mock().await;
    let clock = Arc::new(ShiftedClock::default());
    let tokens = manager(&client, "org", Arc::new(MemoryStore::default()), &clock);
    tokens.access_token().await.unwrap();
    clock.set_offset_ms(TTL_MS);
    server.inject(Fault::OmitFields(vec!["refresh_token".to_owned()]), 1);
    let error = tokens.access_token().await.unwrap_err();
    assert!(
        matches!(error, Error::RefreshOutcomeUnknown(_)),
        "{error:?}"
    );
    let token = tokens.access_token().await.unwrap();
    assert!(server.access_token_valid(token.expose_secret()));
    assert_eq!(count(&server, "POST"), 1);
    assert_eq!(
        count(&server, "GET"),
        2,
        "a new grant, not the dead refresh token"
    );
    assert_eq!(server.max_refresh_token_presentations(), 1);
}

#[tokio::test]
async fn a_server_error_on_the_grant_after_an_unknown_outcome_is_not_permanent() {
    let (server, client) = mock().await;
    let clock = Arc::new(ShiftedClock::default());
    let tokens = manager(&client, "org", Arc::new(MemoryStore::default()), &clock);
    tokens.access_token().await.unwrap();
    clock.set_offset_ms(TTL_MS);
    server.inject(Fault::Unsigned, 1);
    assert!(matches!(
        tokens.access_token().await,
        Err(Error::RefreshOutcomeUnknown(_))
    ));
    let busy = r#"{"error":"server_error","error_description":"try later"}"#.to_owned();
    server.inject(
        Fault::Status {
            status: 503,
            body: busy,
            headers: vec![],
        },
        3,
    );
    let error = tokens.access_token().await.unwrap_err();
    assert!(!error.is_permanent(), "a 5XX passes: {error:?}");
    let token = tokens.access_token().await.unwrap();
    assert!(server.access_token_valid(token.expose_secret()));
    assert_eq!(server.max_refresh_token_presentations(), 1);
}

/// Signs with the vectors' key, except that its second signature fails (a KMS hiccup).
#[derive(Debug)]
struct SecondSignatureFails {
    key: cobo_oauth::signing::Ed25519Signer,
    calls: std::sync::atomic::AtomicUsize,
}

impl cobo_oauth::signing::AsyncSigner for SecondSignatureFails {
    fn api_key(&self) -> &cobo_oauth::signing::ApiKey {
        cobo_oauth::signing::Signer::api_key(&self.key)
    }

    fn sign<'a>(
        &'a self,
        digest: &'a cobo_oauth::signing::Digest,
    ) -> cobo_oauth::signing::SignFuture<'a> {
        let call = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async move {
            if call == 1 {
                return Err(cobo_oauth::signing::SignError::new(
                    "the KMS is unavailable",
                ));
            }
            cobo_oauth::signing::Signer::sign(&self.key, digest)
        })
    }
}

#[tokio::test]
async fn a_refresh_that_failed_before_leaving_costs_the_fleet_no_grant() {
    let server = MockServer::start(cobo_oauth_tests::mock_config())
        .await
        .unwrap();
    let client = CoboClient::builder()
        .env(server.env())
        .async_signer(Arc::new(SecondSignatureFails {
            key: cobo_oauth::signing::Ed25519Signer::from_hex(API_SECRET).unwrap(),
            calls: std::sync::atomic::AtomicUsize::new(0),
        }))
        .build()
        .unwrap();
    let redis = RedisServer::start();
    let store = redis_store(&redis).await;
    let clock = Arc::new(ShiftedClock::default());
    let tokens = manager(&client, "org", Arc::new(store), &clock);
    tokens.access_token().await.unwrap(); // signature 1: the grant

    clock.set_offset_ms(TTL_MS);
    let error = tokens.access_token().await.unwrap_err(); // signature 2 fails
    assert!(matches!(error, Error::Signing(_)), "{error:?}");
    let token = tokens.access_token().await.unwrap(); // signature 3: the refresh
    assert!(server.access_token_valid(token.expose_secret()));
    assert_eq!(
        count(&server, "POST"),
        1,
        "refreshed with the unspent token"
    );
    assert_eq!(count(&server, "GET"), 1, "no grant was needed");
    assert_eq!(server.max_refresh_token_presentations(), 1);
}

/// A signed OAuth-style refusal with `status`, as Cobo answers the token endpoints' 4XX.
fn refusal(status: u16, error: &str) -> Fault {
    Fault::Status {
        status,
        body: format!(r#"{{"error":"{error}","error_description":"refused"}}"#),
        headers: vec![],
    }
}

#[tokio::test]
async fn a_refresh_refused_with_401_spent_nothing_and_the_fleet_refreshes_with_it_next() {
    let (server, client) = mock().await;
    let redis = RedisServer::start();
    let store = redis_store(&redis).await;
    let clock = Arc::new(ShiftedClock::default());
    let tokens = manager(&client, "org", Arc::new(store), &clock);
    tokens.access_token().await.unwrap();

    clock.set_offset_ms(TTL_MS);
    // Cobo refused the key, the signature or the nonce: the request was never processed.
    server.inject(refusal(401, "invalid_client"), 1);
    let error = tokens.access_token().await.unwrap_err();
    assert!(
        matches!(error, Error::OAuth { status: 401, .. }),
        "{error:?}"
    );
    assert!(!error.is_permanent(), "{error:?}");
    let token = tokens.access_token().await.unwrap();
    assert!(server.access_token_valid(token.expose_secret()));
    assert_eq!(
        count(&server, "GET"),
        1,
        "no new grant: the refresh token was unspent"
    );
    assert_eq!(count(&server, "POST"), 2);
    assert_eq!(server.max_refresh_token_presentations(), 1);
}

#[tokio::test]
async fn a_grant_refused_for_authentication_or_load_is_not_an_uninstall() {
    let (server, _) = mock().await;
    // One attempt per call: the refusals below are what the manager sees.
    let client = server
        .client_builder()
        .retry_policy(cobo_oauth::RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        })
        .build()
        .unwrap();
    let clock = Arc::new(ShiftedClock::default());
    for (org, status, error) in [
        ("org-401", 401, "invalid_client"),
        ("org-429", 429, "slow_down"),
        ("org-408", 408, "timeout"),
        ("org-400", 400, "unauthorized_client"),
    ] {
        let tokens = manager(&client, org, Arc::new(MemoryStore::default()), &clock);
        server.inject(refusal(status, error), 1);
        let refused = tokens.access_token().await.unwrap_err();
        if status == 400 {
            // A refusal of the grant itself: the organization must authorize the app again.
            assert!(
                matches!(refused, Error::ReauthorizationRequired { status: 400, .. }),
                "{refused:?}"
            );
        } else {
            assert!(
                matches!(&refused, Error::OAuth { status: s, .. } if *s == status)
                    && !refused.is_permanent(),
                "{status}: {refused:?}"
            );
            tokens.access_token().await.unwrap();
        }
    }
}
