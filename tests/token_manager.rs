//! The token manager: never an expired token, never a lost refresh token. Runs on paused tokio
//! time against the embedded mock.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cobo_oauth::signing::{Clock as _, TokioClock};
use cobo_oauth::tokens::{MemoryStore, TokenManager, TokenStore};
use cobo_oauth::tokens::{StoreError, StoreFuture, StoredToken};
use cobo_oauth::{CoboClient, Error, ExposeSecret as _};
use cobo_oauth_mock::{Fault, MockConfig, MockServer};

const TTL: Duration = Duration::from_secs(3_600);
const MARGIN: Duration = Duration::from_secs(300);

struct Setup {
    server: MockServer,
    client: CoboClient,
    clock: Arc<TokioClock>,
}

async fn setup() -> Setup {
    setup_with_ttl(TTL).await
}

/// [`setup`] with access tokens that live `ttl`.
async fn setup_with_ttl(ttl: Duration) -> Setup {
    let clock = Arc::new(TokioClock::new());
    let server = MockServer::start(MockConfig {
        access_token_ttl: ttl,
        clock: clock.clone(),
        ..cobo_oauth_tests::mock_config()
    })
    .await
    .unwrap();
    let client = server
        .client_builder()
        .clock(clock.clone())
        // No timers of its own: paused time then moves only when the test advances it.
        .http_client(
            reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    Setup {
        server,
        client,
        clock,
    }
}

fn manager(setup: &Setup, store: Arc<dyn TokenStore>) -> TokenManager {
    TokenManager::builder(setup.client.clone(), "app", "org")
        .store(store)
        .refresh_margin(MARGIN)
        .clock(setup.clock.clone())
        .build()
}

async fn stored_refresh_token(store: &dyn TokenStore) -> String {
    store
        .load()
        .await
        .unwrap()
        .unwrap()
        .refresh_token
        .expose_secret()
        .to_owned()
}

fn count(server: &MockServer, method: &str) -> usize {
    cobo_oauth_tests::count_requests(server, method)
}

#[tokio::test(start_paused = true)]
async fn a_thousand_callers_on_an_expired_token_cause_exactly_one_refresh() {
    let setup = setup().await;
    let tokens = manager(&setup, Arc::new(MemoryStore::default()));
    let first = tokens.access_token().await.unwrap();
    assert_eq!(
        (count(&setup.server, "GET"), count(&setup.server, "POST")),
        (1, 0)
    );

    tokio::time::advance(TTL).await;
    let handles: Vec<_> = (0..1000)
        .map(|_| {
            let tokens = tokens.clone();
            tokio::spawn(async move {
                tokens
                    .access_token()
                    .await
                    .unwrap()
                    .expose_secret()
                    .to_owned()
            })
        })
        .collect();
    let mut all = Vec::new();
    for handle in handles {
        all.push(handle.await.unwrap());
    }
    assert_eq!(
        count(&setup.server, "POST"),
        1,
        "exactly one refresh reached the server"
    );
    assert!(
        all.iter().all(|t| t == &all[0]),
        "everyone got the same token"
    );
    assert_ne!(all[0], first.expose_secret());
    assert!(setup.server.access_token_valid(&all[0]));
}

#[tokio::test(start_paused = true)]
async fn refreshes_at_expiry_minus_margin_and_never_hands_out_the_old_token_again() {
    let setup = setup().await;
    let tokens = manager(&setup, Arc::new(MemoryStore::default()));
    let first = tokens
        .access_token()
        .await
        .unwrap()
        .expose_secret()
        .to_owned();

    tokio::time::advance(TTL - MARGIN - Duration::from_secs(1)).await;
    assert_eq!(tokens.access_token().await.unwrap().expose_secret(), first);
    assert_eq!(
        count(&setup.server, "POST"),
        0,
        "no refresh before expiry minus margin"
    );

    tokio::time::advance(Duration::from_secs(2)).await;
    let second = tokens
        .access_token()
        .await
        .unwrap()
        .expose_secret()
        .to_owned();
    assert_ne!(second, first);
    assert_eq!(count(&setup.server, "POST"), 1, "one refresh right after");
    for _ in 0..10 {
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(tokens.access_token().await.unwrap().expose_secret(), second);
    }
    assert_eq!(count(&setup.server, "POST"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_refresh_is_never_resent_the_next_call_asks_for_a_new_grant() {
    let setup = setup().await;
    let store = Arc::new(MemoryStore::default());
    let tokens = manager(&setup, store.clone());
    tokens.access_token().await.unwrap();
    let before = stored_refresh_token(store.as_ref()).await;

    tokio::time::advance(TTL).await;
    setup.server.inject(Fault::DropConnection, 1);
    let error = tokens.access_token().await.unwrap_err();
    assert!(
        matches!(error, Error::RefreshOutcomeUnknown(_)),
        "{error:?}"
    );
    assert!(error.to_string().contains("outcome unknown"), "{error}");
    assert_eq!(count(&setup.server, "POST"), 1, "no second refresh");
    assert_eq!(
        store
            .load()
            .await
            .unwrap()
            .unwrap()
            .refresh_token
            .expose_secret(),
        before,
        "stored refresh token unchanged"
    );

    // The next call does not present that refresh token again: it asks for a new grant.
    let token = tokens.access_token().await.unwrap();
    assert!(setup.server.access_token_valid(token.expose_secret()));
    assert_eq!(
        count(&setup.server, "POST"),
        1,
        "the refresh token was sent once"
    );
    assert_eq!(
        count(&setup.server, "GET"),
        2,
        "the first grant and one new grant"
    );
    assert_eq!(setup.server.max_refresh_token_presentations(), 1);
}

/// A store whose saves fail while `failures` is above zero.
#[derive(Debug, Default)]
struct Flaky {
    inner: MemoryStore,
    failures: AtomicUsize,
    saves: AtomicUsize,
}

impl TokenStore for Flaky {
    fn load(&self) -> StoreFuture<'_, Option<StoredToken>> {
        self.inner.load()
    }

    fn save<'a>(&'a self, token: &'a StoredToken) -> StoreFuture<'a, ()> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        if self.failures.load(Ordering::SeqCst) > 0 {
            self.failures.fetch_sub(1, Ordering::SeqCst);
            return Box::pin(async {
                Err(StoreError::Io {
                    path: "flaky".to_owned(),
                    reason: "disk full".to_owned(),
                })
            });
        }
        self.inner.save(token)
    }
}

#[tokio::test(start_paused = true)]
async fn a_store_failure_during_rotation_keeps_the_new_refresh_token() {
    let setup = setup().await;
    let store = Arc::new(Flaky::default());
    let tokens = manager(&setup, store.clone());
    tokens.access_token().await.unwrap();
    let old_refresh = stored_refresh_token(store.as_ref()).await;

    tokio::time::advance(TTL).await;
    store.failures.store(3, Ordering::SeqCst); // every attempt of this refresh fails
    let error = tokens.access_token().await.unwrap_err();
    assert!(matches!(error, Error::Store(_)), "{error:?}");
    assert_eq!(count(&setup.server, "POST"), 1);

    // Next call: saves the kept pair, sends nothing, hands out the new token.
    let token = tokens.access_token().await.unwrap();
    assert_eq!(
        count(&setup.server, "POST"),
        1,
        "no refresh with the old token"
    );
    let saved = store.load().await.unwrap().unwrap();
    assert_ne!(saved.refresh_token.expose_secret(), old_refresh);
    assert_eq!(saved.access_token.expose_secret(), token.expose_secret());

    tokio::time::advance(TTL).await;
    tokens.access_token().await.unwrap();
    let bodies: Vec<String> = setup
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        bodies.iter().filter(|b| b.contains(&old_refresh)).count(),
        1,
        "the old refresh token was sent once only"
    );
}

#[tokio::test(start_paused = true)]
async fn a_rejected_refresh_token_falls_back_once_to_a_new_grant() {
    let setup = setup().await;
    let store = Arc::new(MemoryStore::default());
    let tokens = manager(&setup, store.clone());
    tokens.access_token().await.unwrap();
    // Someone else rotates the refresh token: the stored one is now dead.
    let stored = store.load().await.unwrap().unwrap();
    setup
        .client
        .refresh_token("app", &stored.refresh_token)
        .await
        .unwrap();

    tokio::time::advance(TTL).await;
    let token = tokens.access_token().await.unwrap();
    assert!(setup.server.access_token_valid(token.expose_secret()));
    assert_eq!(count(&setup.server, "GET"), 2, "one fallback grant");

    // Refused again: permanent, and nothing loops.
    tokio::time::advance(TTL).await;
    let refused = r#"{"error":"invalid_grant","error_description":"app uninstalled"}"#.to_owned();
    setup.server.inject(
        Fault::Status {
            status: 400,
            body: refused,
            headers: vec![],
        },
        2,
    );
    let requests_before = setup.server.requests().len();
    let error = tokens.access_token().await.unwrap_err();
    assert!(
        matches!(&error, Error::ReauthorizationRequired { error, .. } if error == "invalid_grant"),
        "{error:?}"
    );
    assert!(error.is_permanent());
    assert_eq!(
        setup.server.requests().len() - requests_before,
        2,
        "one refresh, one grant, no loop"
    );
}

/// Lets the runtime run until `done` holds, a millisecond of paused time at a time.
async fn wait_until(done: impl Fn() -> bool) {
    for _ in 0..10_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("timed out waiting");
}

#[tokio::test(start_paused = true)]
async fn the_refresher_renews_ahead_of_expiry_so_callers_never_wait_and_stops_when_dropped() {
    let setup = setup().await;
    let tokens = manager(&setup, Arc::new(MemoryStore::default()));
    let started = setup.clock.now_millis();
    let refresher = tokens.spawn_refresher();
    wait_until(|| count(&setup.server, "GET") == 1).await;
    let first = tokens.access_token().await.unwrap();
    assert_eq!(
        count(&setup.server, "GET"),
        1,
        "the refresher got the first token"
    );

    tokio::time::advance(TTL - MARGIN).await;
    wait_until(|| count(&setup.server, "POST") == 1).await;
    let refreshed_at = setup.server.requests().last().unwrap().received_at_ms;
    assert!(
        refreshed_at >= started + u64::try_from((TTL - MARGIN - MARGIN / 2).as_millis()).unwrap(),
        "not earlier than the margin plus its largest jitter"
    );
    let second = tokens.access_token().await.unwrap();
    assert_ne!(second.expose_secret(), first.expose_secret());
    assert_eq!(
        count(&setup.server, "POST"),
        1,
        "the caller did not wait on Cobo"
    );
    assert!(!refresher.is_finished());

    drop(refresher);
    tokio::time::advance(TTL).await;
    let asked_at = setup.clock.now_millis();
    tokens.access_token().await.unwrap();
    let posts: Vec<u64> = setup
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.received_at_ms)
        .collect();
    assert_eq!(posts.len(), 2);
    assert!(
        posts[1] >= asked_at,
        "the dropped refresher refreshed nothing"
    );
    assert_eq!(setup.server.max_refresh_token_presentations(), 1);
}

#[tokio::test(start_paused = true)]
async fn error_1000_refreshes_and_retries_once() {
    let setup = setup().await;
    let tokens = manager(&setup, Arc::new(MemoryStore::default()));
    let calls = AtomicUsize::new(0);
    let seen = std::sync::Mutex::new(Vec::new());
    let outcome = tokens
        .with_token(|token| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            seen.lock().unwrap().push(token.expose_secret().to_owned());
            async move {
                if n == 0 {
                    Err(Error::Api {
                        status: 500,
                        code: 1000,
                        message: "token expired".into(),
                        error_id: "e".into(),
                        retry_after: None,
                    })
                } else {
                    Ok("done")
                }
            }
        })
        .await
        .unwrap();
    assert_eq!(outcome, "done");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let seen = seen.lock().unwrap();
    assert_ne!(seen[0], seen[1], "the retry used a refreshed token");
    assert_eq!(count(&setup.server, "POST"), 1);
}

/// Tokens that live 3 s under a 5 s margin: the refresher renews them half-way through their
/// life (not in a loop, and not so late that they expire), and callers get them from cache.
#[tokio::test(start_paused = true)]
async fn tokens_that_live_less_than_the_margin_are_renewed_half_way_through_their_life() {
    let setup = setup_with_ttl(Duration::from_secs(3)).await;
    let store = Arc::new(MemoryStore::default());
    let tokens = TokenManager::builder(setup.client.clone(), "app", "org")
        .store(store.clone())
        .refresh_margin(Duration::from_secs(5))
        .clock(setup.clock.clone())
        .build();
    let refresher = tokens.spawn_refresher();
    wait_until(|| count(&setup.server, "GET") == 1).await;
    let started = tokio::time::Instant::now();
    let mut ticks = 0_u32;
    while started.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        ticks += 1;
        // The refresher alone keeps the stored token valid.
        let stored = store.load().await.unwrap().unwrap();
        assert!(
            setup
                .server
                .access_token_valid(stored.access_token.expose_secret()),
            "the stored token expired after {:?}",
            started.elapsed()
        );
        // A caller every 4 s (more often, callers' own renewals would hide the refresher's).
        if ticks.is_multiple_of(16) {
            let token = tokens.access_token().await.unwrap();
            assert!(
                setup.server.access_token_valid(token.expose_secret()),
                "a caller got an expired token after {:?}",
                started.elapsed()
            );
        }
    }
    drop(refresher);
    let renewals = count(&setup.server, "GET") + count(&setup.server, "POST");
    // Renewed every 1.5 s: about ten in 15 s, plus the first grant.
    assert!(renewals <= 12, "{renewals} renewals in 15 s");
    assert_eq!(setup.server.max_refresh_token_presentations(), 1);
}
