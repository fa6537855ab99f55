//! Handling each event once without ever losing one: replicas sharing Redis agree that exactly
//! one of them claims an event (`SET NX PX`), the completed mark expires, and a claim is a
//! lease: a handler that panics, or a process killed mid-handling, leaves the event to the next
//! delivery; a retry while a slow handler runs is answered 503, never 200, and a first handling
//! that fails still gets the event handled once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{FromRef, State};
use axum::routing::post;
use cobo_oauth::inbound::axum::VerifiedWebhook;
use cobo_oauth::inbound::{
    Claim, ClaimRunner, ClaimToken, Deduplicator, InboundVerifier, MemoryDeduplicator, Outcome,
    RedisDeduplicator, RunError,
};
use cobo_oauth_mock::{DeliveryKind, DeliveryOutcome, DeliveryPolicy, MockServer};
use cobo_oauth_tests::{RedisServer, mock_config};
use tokio::sync::Notify;

const LEASE: Duration = Duration::from_secs(60);

async fn replica(redis: &RedisServer, ttl: Duration) -> RedisDeduplicator {
    let client = redis::Client::open(redis.url()).unwrap();
    let connection = client.get_connection_manager().await.unwrap();
    RedisDeduplicator::new(connection, "test:seen:", ttl)
}

fn token(claim: Claim) -> Option<ClaimToken> {
    match claim {
        Claim::Claimed(token) => Some(token),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_many_replicas_receiving_one_event_exactly_one_claims_it() {
    let redis = RedisServer::start();
    let replicas = [
        replica(&redis, Duration::from_secs(60)).await,
        replica(&redis, Duration::from_secs(60)).await,
    ];
    let mut winners = HashMap::new();
    for event in 0..20 {
        let id = format!("event-{event}");
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let dedup = replicas[i % 2].clone();
                let id = id.clone();
                tokio::spawn(async move { dedup.claim(&id, LEASE).await.unwrap() })
            })
            .collect();
        let mut tokens = Vec::new();
        for task in tasks {
            let claim = task.await.unwrap();
            assert_ne!(claim, Claim::Completed, "{id}");
            tokens.extend(token(claim));
        }
        assert_eq!(tokens.len(), 1, "{id}");
        winners.insert(id, tokens.remove(0));
    }
    // Only the holder's token releases a claim (its handling failed): then the next delivery
    // claims it.
    let stranger = token(replicas[0].claim("other", LEASE).await.unwrap()).unwrap();
    replicas[0].release("event-0", &stranger).await.unwrap();
    assert_eq!(
        replicas[1].claim("event-0", LEASE).await.unwrap(),
        Claim::InProgress
    );
    replicas[0]
        .release("event-0", &winners["event-0"])
        .await
        .unwrap();
    let again = token(replicas[1].claim("event-0", LEASE).await.unwrap()).unwrap();
    assert!(
        !replicas[0]
            .renew("event-0", &stranger, LEASE)
            .await
            .unwrap()
    );
    assert!(replicas[0].renew("event-0", &again, LEASE).await.unwrap());
    // Completed: a duplicate for every replica.
    assert!(replicas[1].complete("event-0", &again).await.unwrap());
    assert_eq!(
        replicas[0].claim("event-0", LEASE).await.unwrap(),
        Claim::Completed
    );
}

#[tokio::test]
async fn the_claim_carries_its_lease_and_the_completed_mark_its_time_to_live() {
    let redis = RedisServer::start();
    let dedup = replica(&redis, Duration::from_secs(90)).await;
    let claim = token(dedup.claim("e", Duration::from_secs(20)).await.unwrap()).unwrap();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let pttl: i64 = redis::cmd("PTTL")
        .arg("test:seen:e")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((10_000..=20_000).contains(&pttl), "{pttl}");
    assert!(dedup.complete("e", &claim).await.unwrap());
    let ttl: i64 = redis::cmd("TTL")
        .arg("test:seen:e")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((80..=90).contains(&ttl), "{ttl}");
    // The mark of a version before claims (`SET key 1 NX EX ttl`) reads as completed.
    redis::cmd("SET")
        .arg("test:seen:legacy")
        .arg(1)
        .query_async::<()>(&mut connection)
        .await
        .unwrap();
    assert_eq!(
        dedup.claim("legacy", LEASE).await.unwrap(),
        Claim::Completed
    );
}

#[tokio::test]
async fn redis_down_is_an_error_not_a_guess() {
    let mut redis = RedisServer::start();
    let dedup = replica(&redis, Duration::from_secs(60)).await;
    redis.kill();
    let error = tokio::time::timeout(Duration::from_secs(10), dedup.claim("e", LEASE))
        .await
        .unwrap()
        .unwrap_err();
    assert!(error.to_string().contains("Redis"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_one_of_many_concurrent_deliveries_claims_it() {
    let dedup = Arc::new(MemoryDeduplicator::default());
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let dedup = dedup.clone();
            tokio::spawn(async move { dedup.claim("same", LEASE).await.unwrap() })
        })
        .collect();
    let mut claimed = 0;
    for task in tasks {
        claimed += usize::from(token(task.await.unwrap()).is_some());
    }
    assert_eq!(claimed, 1);
}

/// Delivers `event_id` again and again (as Cobo's retries would) until a delivery handles it;
/// the outcomes before that. Panics after 30 s.
async fn deliver_until_handled(runner: &ClaimRunner, event_id: &str, handled: &AtomicUsize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let handling = async {
            handled.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>(())
        };
        match runner.run(event_id, handling).await.unwrap() {
            Outcome::Handled(()) => return,
            Outcome::InProgress => {}
            Outcome::Duplicate => panic!("{event_id} was never handled, yet is a duplicate"),
        }
        assert!(Instant::now() < deadline, "{event_id} was never handled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn both_deduplicators(redis: &RedisServer) -> [Arc<dyn Deduplicator>; 2] {
    [
        Arc::new(MemoryDeduplicator::default()),
        Arc::new(replica(redis, Duration::from_secs(60)).await),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_panics_leaves_the_event_to_the_next_delivery() {
    let redis = RedisServer::start();
    for dedup in both_deduplicators(&redis).await {
        let runner = ClaimRunner::new(dedup).lease(Duration::from_millis(600));
        let panicking = runner.clone();
        let first = tokio::spawn(async move {
            let handling = async { panic!("the handler failed hard") };
            let _: Result<Outcome<()>, RunError<std::io::Error>> =
                panicking.run("e-panic", handling).await;
        });
        assert!(first.await.unwrap_err().is_panic());
        let handled = AtomicUsize::new(0);
        deliver_until_handled(&runner, "e-panic", &handled).await;
        assert_eq!(handled.load(Ordering::SeqCst), 1);
        // Completed: the next delivery is a duplicate.
        let again = runner.run("e-panic", async { Ok::<_, std::io::Error>(()) });
        assert_eq!(again.await.unwrap(), Outcome::Duplicate);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_handling_leaves_a_claim_that_lapses_and_the_event_is_handled() {
    let redis = RedisServer::start();
    for dedup in both_deduplicators(&redis).await {
        let runner = ClaimRunner::new(dedup).lease(Duration::from_secs(3));
        // A handler that never ends, killed with its process: the future is forgotten (never
        // dropped), so nothing releases or renews its claim.
        let started = Arc::new(AtomicBool::new(false));
        let flag = started.clone();
        let mut killed = Box::pin(runner.run("e-killed", async move {
            flag.store(true, Ordering::SeqCst);
            std::future::pending::<Result<(), std::io::Error>>().await
        }));
        while !started.load(Ordering::SeqCst) {
            let _ = tokio::time::timeout(Duration::from_millis(10), &mut killed).await;
        }
        std::mem::forget(killed);
        // Held: the next delivery is answered "in progress", not 200.
        let retry = runner.run("e-killed", async { Ok::<_, std::io::Error>(()) });
        assert_eq!(retry.await.unwrap(), Outcome::InProgress);
        // Once the lease lapses, a delivery handles it.
        let handled = AtomicUsize::new(0);
        deliver_until_handled(&runner, "e-killed", &handled).await;
        assert_eq!(handled.load(Ordering::SeqCst), 1);
    }
}

/// An app whose handler takes 3 s the first time it sees an event (longer than Cobo's 2 s
/// timeout and than its claim's lease), then waits until a retry of that event has been
/// answered, and then fails (events named `fail-*`) or succeeds.
#[derive(Clone)]
struct SlowApp {
    verifier: InboundVerifier,
    claims: ClaimRunner,
    /// How many times the handler started, per event.
    started: Arc<Mutex<HashMap<String, usize>>>,
    /// How many times it succeeded, per event.
    succeeded: Arc<Mutex<HashMap<String, usize>>>,
    /// Rung when a delivery is answered "in progress".
    retried: Arc<Notify>,
    /// Every answer, in order, with the number of successes of its event when it was given.
    answers: Arc<Mutex<Vec<(String, u16, usize)>>>,
}

impl FromRef<SlowApp> for InboundVerifier {
    fn from_ref(app: &SlowApp) -> Self {
        app.verifier.clone()
    }
}

impl SlowApp {
    async fn handle(self, event_id: String) -> Result<(), std::io::Error> {
        let first = {
            let mut started = self.started.lock().unwrap();
            let count = started.entry(event_id.clone()).or_default();
            *count += 1;
            *count == 1
        };
        if first {
            let retried = self.retried.notified();
            tokio::time::sleep(Duration::from_secs(3)).await;
            retried.await;
            if event_id.starts_with("fail") {
                return Err(std::io::Error::other("the first handling failed"));
            }
        }
        *self.succeeded.lock().unwrap().entry(event_id).or_default() += 1;
        Ok(())
    }

    fn successes(&self, event_id: &str) -> usize {
        self.succeeded
            .lock()
            .unwrap()
            .get(event_id)
            .copied()
            .unwrap_or(0)
    }
}

/// The handling runs in a task of its own: Cobo's timeout closes the connection, which makes
/// axum drop the request's future, and the handling must not stop halfway.
async fn slow_webhook(
    State(app): State<SlowApp>,
    VerifiedWebhook(event): VerifiedWebhook,
) -> http::StatusCode {
    let event_id = event.event_id.clone();
    let task_app = app.clone();
    let outcome = tokio::spawn(async move {
        let handling = task_app.clone().handle(event.event_id.clone());
        task_app.claims.run(&event.event_id, handling).await
    })
    .await
    .unwrap();
    let status = match &outcome {
        Ok(outcome) => outcome.status(),
        Err(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
    };
    if matches!(outcome, Ok(Outcome::InProgress)) {
        app.retried.notify_waiters();
    }
    let successes = app.successes(&event_id);
    app.answers
        .lock()
        .unwrap()
        .push((event_id, status.as_u16(), successes));
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_while_a_slow_handler_runs_is_not_answered_200_and_a_failed_first_is_handled_once()
{
    let redis = RedisServer::start();
    for dedup in both_deduplicators(&redis).await {
        slow_handler_with_retries(dedup).await;
    }
}

async fn slow_handler_with_retries(dedup: Arc<dyn Deduplicator>) {
    let mock = MockServer::start(mock_config()).await.unwrap();
    let app = SlowApp {
        verifier: InboundVerifier::for_env(&mock.env()).unwrap(),
        claims: ClaimRunner::new(dedup).lease(Duration::from_millis(2400)),
        started: Arc::default(),
        succeeded: Arc::default(),
        retried: Arc::default(),
        answers: Arc::default(),
    };
    let router = Router::new()
        .route("/cobo/webhook", post(slow_webhook))
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cobo/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    // Cobo's policy: 2 s per attempt, retries (here 200 ms apart).
    let policy = DeliveryPolicy {
        retry_delay: Duration::from_millis(200),
        max_attempts: 40,
        ..DeliveryPolicy::webhook()
    };
    for event_id in ["fail-first", "succeed-first"] {
        let body = serde_json::to_vec(&serde_json::json!({
            "event_id": event_id,
            "url": "https://app.example/cobo/webhook",
            "created_timestamp": 1_735_689_600_000_i64,
            "type": "wallets.transaction.succeeded",
            "data": {"data_type": "Transaction", "transaction_id": "t-1", "status": "Completed"},
        }))
        .unwrap();
        let delivery = mock
            .sender()
            .deliver(DeliveryKind::Webhook, &url, &body, &policy)
            .await;
        assert_eq!(delivery.outcome, DeliveryOutcome::Accepted, "{event_id}");
        let statuses: Vec<_> = delivery.attempts.iter().map(|a| a.status).collect();
        assert_eq!(statuses[0], None, "{event_id}: the first attempt timed out");
        assert!(statuses.contains(&Some(503)), "{event_id}: {statuses:?}");
        // Every 200 the app gave came after the event was handled.
        let answers = app.answers.lock().unwrap().clone();
        for (id, status, successes) in answers.iter().filter(|(id, ..)| id == event_id) {
            assert!(status != &200 || *successes == 1, "{id}: {answers:?}");
        }
        assert_eq!(app.successes(event_id), 1, "{event_id} handled once");
    }
    // The failed first handling was retried; the successful one was not.
    let started = app.started.lock().unwrap().clone();
    assert_eq!(started["fail-first"], 2);
    assert_eq!(started["succeed-first"], 1);
}
