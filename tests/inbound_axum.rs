//! An axum app receives what the mock Cobo sends it: signed events (accepted), tampered ones
//! (401, the handler never runs), duplicates (recognized), and callbacks answered in plain text;
//! the mock records every answer; a retry is signed anew; a body over the limit gets 413, a
//! tampered callback 401, and a signed body that is not an envelope 400 without its values.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::routing::post;
use cobo_oauth::inbound::axum::{VerifiedCallback, VerifiedWebhook};
use cobo_oauth::inbound::{
    CallbackDecision, ClaimRunner, InboundVerifier, MemoryDeduplicator, Outcome,
};
use cobo_oauth::signing::Clock;
use cobo_oauth_mock::{DeliveryKind, DeliveryOutcome, DeliveryPolicy, MockConfig, MockServer};
use cobo_oauth_tests::{Logs, mock_config};

#[derive(Clone)]
struct App {
    verifier: InboundVerifier,
    claims: ClaimRunner,
    handled: Arc<Mutex<Vec<String>>>,
    /// Answer 500 to this many requests first (to see Cobo's retries).
    fail_first: Arc<AtomicUsize>,
    /// The `(Biz-Timestamp, Biz-Resp-Signature)` of every webhook request that verified.
    signed: Arc<Mutex<Vec<(String, String)>>>,
}

/// The body limit of the test app.
const BODY_LIMIT: usize = 64 * 1024;

impl FromRef<App> for InboundVerifier {
    fn from_ref(app: &App) -> Self {
        app.verifier.clone()
    }
}

async fn webhook(
    State(app): State<App>,
    headers: http::HeaderMap,
    VerifiedWebhook(event): VerifiedWebhook,
) -> (http::StatusCode, &'static str) {
    let header = |name: &str| {
        let value = headers.get(name).or(headers.get(name.replace('-', "_")));
        value.unwrap().to_str().unwrap().to_owned()
    };
    app.signed
        .lock()
        .unwrap()
        .push((header("biz-timestamp"), header("biz-resp-signature")));
    if app
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (http::StatusCode::INTERNAL_SERVER_ERROR, "busy");
    }
    let handling = async {
        app.handled.lock().unwrap().push(event.event_id.clone());
        Ok::<_, std::convert::Infallible>(())
    };
    match app.claims.run(&event.event_id, handling).await.unwrap() {
        Outcome::Handled(()) => (http::StatusCode::OK, "handled"),
        Outcome::Duplicate => (http::StatusCode::OK, "seen"),
        Outcome::InProgress => (http::StatusCode::SERVICE_UNAVAILABLE, "in progress"),
    }
}

async fn callback(
    State(app): State<App>,
    VerifiedCallback(message): VerifiedCallback,
) -> CallbackDecision {
    app.handled
        .lock()
        .unwrap()
        .push(message.transaction_id.clone());
    if message.request_id.as_deref() == Some("withdraw-42") {
        CallbackDecision::Deny
    } else {
        CallbackDecision::Approve
    }
}

struct Running {
    mock: MockServer,
    app: App,
    base: String,
}

async fn start() -> Running {
    start_with(mock_config()).await
}

async fn start_with(config: MockConfig) -> Running {
    let mock = MockServer::start(config).await.unwrap();
    let app = App {
        verifier: InboundVerifier::for_env(&mock.env()).unwrap(),
        claims: ClaimRunner::new(Arc::new(MemoryDeduplicator::default())),
        handled: Arc::default(),
        fail_first: Arc::default(),
        signed: Arc::default(),
    };
    let router = Router::new()
        .route("/cobo/webhook", post(webhook))
        .route("/cobo/callback", post(callback))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Running { mock, app, base }
}

fn event(id: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "event_id": id,
        "url": "https://app.example/cobo/webhook",
        "created_timestamp": 1_735_689_600_000_i64,
        "type": "wallets.transaction.succeeded",
        "data": {"data_type": "Transaction", "transaction_id": "t-1", "status": "Completed"},
    }))
    .unwrap()
}

fn quick(policy: DeliveryPolicy) -> DeliveryPolicy {
    DeliveryPolicy {
        retry_delay: Duration::from_millis(1),
        ..policy
    }
}

#[tokio::test]
async fn signed_events_are_accepted_and_duplicates_are_seen() {
    let run = start().await;
    let url = format!("{}/cobo/webhook", run.base);
    let policy = DeliveryPolicy {
        duplicates: 2,
        ..quick(DeliveryPolicy::webhook())
    };
    let delivery = run
        .mock
        .sender()
        .deliver(DeliveryKind::Webhook, &url, &event("e-1"), &policy)
        .await;
    assert_eq!(delivery.outcome, DeliveryOutcome::Accepted);
    let answers: Vec<_> = delivery
        .attempts
        .iter()
        .map(|a| (a.status, a.answer.as_str()))
        .collect();
    assert_eq!(
        answers,
        [
            (Some(200), "handled"),
            (Some(200), "seen"),
            (Some(200), "seen")
        ]
    );
    assert_eq!(*run.app.handled.lock().unwrap(), ["e-1"]);
    // The underscore spelling of Cobo's docs is accepted too.
    let underscore = DeliveryPolicy {
        underscore_headers: true,
        ..quick(DeliveryPolicy::webhook())
    };
    let delivery = run
        .mock
        .sender()
        .deliver(DeliveryKind::Webhook, &url, &event("e-2"), &underscore)
        .await;
    assert_eq!(delivery.attempts[0].answer, "handled");
    assert_eq!(
        run.mock.sender().deliveries().len(),
        2,
        "the mock records both"
    );
}

#[tokio::test]
async fn a_tampered_event_is_refused_with_401_every_time_and_never_handled() {
    let run = start().await;
    let url = format!("{}/cobo/webhook", run.base);
    let policy = DeliveryPolicy {
        tamper: true,
        max_attempts: 3,
        ..quick(DeliveryPolicy::webhook())
    };
    let delivery = run
        .mock
        .sender()
        .deliver(DeliveryKind::Webhook, &url, &event("e-3"), &policy)
        .await;
    assert_eq!(delivery.outcome, DeliveryOutcome::Failed);
    assert_eq!(delivery.attempts.len(), 3, "Cobo retries a refused event");
    for attempt in &delivery.attempts {
        assert_eq!(attempt.status, Some(401));
        assert!(attempt.answer.contains("signature"), "{}", attempt.answer);
    }
    assert!(run.app.handled.lock().unwrap().is_empty());
    // An unsigned request is refused too, naming the missing header.
    let response = reqwest::Client::new()
        .post(&url)
        .body(event("e-4"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Biz-Resp-Signature")
    );
}

/// A clock that moves one second on at every reading.
#[derive(Debug)]
struct Stepping(AtomicU64);

impl Clock for Stepping {
    fn now_millis(&self) -> u64 {
        self.0.fetch_add(1000, Ordering::SeqCst)
    }
}

#[tokio::test]
async fn a_failing_app_gets_the_event_again_until_it_accepts() {
    let clock = Stepping(AtomicU64::new(1_735_689_600_000));
    let run = start_with(MockConfig {
        clock: Arc::new(clock),
        ..mock_config()
    })
    .await;
    run.app.fail_first.store(2, Ordering::SeqCst);
    let url = format!("{}/cobo/webhook", run.base);
    let delivery = run
        .mock
        .sender()
        .deliver(
            DeliveryKind::Webhook,
            &url,
            &event("e-5"),
            &quick(DeliveryPolicy::webhook()),
        )
        .await;
    let statuses: Vec<_> = delivery.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
    assert_eq!(delivery.outcome, DeliveryOutcome::Accepted);
    // Each attempt is signed anew: at its own time (the mock's clock moved on between them),
    // with a signature over that time, which the app verified, and which differs from the
    // others. A retry that re-sent the first attempt's headers would fail every check.
    let signed = run.app.signed.lock().unwrap().clone();
    assert_eq!(signed.len(), 3);
    let body = event("e-5");
    for (attempt, (timestamp, signature)) in delivery.attempts.iter().zip(&signed) {
        assert_eq!(timestamp, &attempt.timestamp_ms.to_string());
        let expected = run.mock.sender().sign(&body, attempt.timestamp_ms);
        assert_eq!((timestamp, signature), (&expected.0, &expected.1));
    }
    assert!(
        delivery
            .attempts
            .windows(2)
            .all(|w| w[0].timestamp_ms < w[1].timestamp_ms)
    );
    assert!(signed[0].1 != signed[1].1 && signed[1].1 != signed[2].1 && signed[0].1 != signed[2].1);
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_and_is_never_handled() {
    let run = start().await;
    let url = format!("{}/cobo/webhook", run.base);
    let mut big = serde_json::from_slice::<serde_json::Value>(&event("e-big")).unwrap();
    big["data"]["padding"] = "x".repeat(BODY_LIMIT).into();
    let big = serde_json::to_vec(&big).unwrap();
    let (timestamp, signature) = run.mock.sender().sign(&big, 1);
    let response = reqwest::Client::new()
        .post(&url)
        .header("biz-timestamp", timestamp)
        .header("biz-resp-signature", signature)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(run.app.handled.lock().unwrap().is_empty());
    assert!(run.app.signed.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_tampered_callback_is_refused_with_401_and_never_answered() {
    let run = start().await;
    let url = format!("{}/cobo/callback", run.base);
    let body = br#"{"transaction_id":"t-9","request_id":"other","status":"PendingApproval"}"#;
    let policy = DeliveryPolicy {
        tamper: true,
        max_attempts: 2,
        ..quick(DeliveryPolicy::callback())
    };
    let delivery = run
        .mock
        .sender()
        .deliver(DeliveryKind::Callback, &url, body, &policy)
        .await;
    assert_eq!(delivery.outcome, DeliveryOutcome::Failed);
    for attempt in &delivery.attempts {
        assert_eq!(attempt.status, Some(401));
        assert!(attempt.answer.contains("signature"), "{}", attempt.answer);
    }
    assert!(run.app.handled.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_signed_body_that_is_not_an_event_gets_400_without_its_values() {
    // The test runtime has one thread: the server's tasks log into this subscriber.
    let (logs, _subscriber) = Logs::capture(tracing::Level::INFO);
    let run = start().await;
    let url = format!("{}/cobo/webhook", run.base);
    let body = br#"{"event_id":"e-6","url":"u","created_timestamp":"secret-value-123","type":"t","data":{"data_type":"Chains"}}"#;
    let policy = DeliveryPolicy {
        max_attempts: 1,
        ..quick(DeliveryPolicy::webhook())
    };
    let delivery = run
        .mock
        .sender()
        .deliver(DeliveryKind::Webhook, &url, body, &policy)
        .await;
    let attempt = &delivery.attempts[0];
    assert_eq!(attempt.status, Some(400));
    assert!(
        attempt.answer.contains("not a valid webhook event"),
        "{}",
        attempt.answer
    );
    assert!(
        !attempt.answer.contains("secret-value-123"),
        "{}",
        attempt.answer
    );
    let logs = logs.text();
    assert!(logs.contains("could not be parsed"), "{logs}");
    assert!(!logs.contains("secret-value-123"), "{logs}");
    assert!(run.app.handled.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_callback_is_answered_deny_in_plain_text_and_the_mock_records_it() {
    let run = start().await;
    let url = format!("{}/cobo/callback", run.base);
    let body = br#"{"transaction_id":"aff0e1cb","request_id":"withdraw-42","type":"Withdrawal","status":"PendingApproval"}"#;
    let delivery = run
        .mock
        .sender()
        .deliver(
            DeliveryKind::Callback,
            &url,
            body,
            &quick(DeliveryPolicy::callback()),
        )
        .await;
    assert_eq!(
        delivery.outcome,
        DeliveryOutcome::Answered(CallbackDecision::Deny)
    );
    assert_eq!(delivery.attempts.len(), 1);
    assert_eq!(delivery.attempts[0].answer, "deny");
    let recorded = run.mock.sender().deliveries();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0].outcome,
        DeliveryOutcome::Answered(CallbackDecision::Deny)
    );
    assert_eq!(recorded[0].body.as_bytes(), body);
    // The answer is text/plain, as Cobo requires (a JSON body counts as a failure).
    let (timestamp, signature) = run.mock.sender().sign(body, 1);
    let response = reqwest::Client::new()
        .post(&url)
        .header("biz-timestamp", timestamp)
        .header("biz-resp-signature", signature)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(response.text().await.unwrap(), "deny");
    let approve = br#"{"transaction_id":"b","request_id":"other","status":"PendingApproval"}"#;
    let delivery = run
        .mock
        .sender()
        .deliver(
            DeliveryKind::Callback,
            &url,
            approve,
            &quick(DeliveryPolicy::callback()),
        )
        .await;
    assert_eq!(
        delivery.outcome,
        DeliveryOutcome::Answered(CallbackDecision::Approve)
    );
}

#[tokio::test]
async fn a_callback_answered_in_json_counts_as_a_failure_and_is_retried() {
    let mock = MockServer::start(mock_config()).await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let router = Router::new().route(
        "/cb",
        post(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { axum::Json(serde_json::json!({"result": "ok"})) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cb", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let policy = DeliveryPolicy {
        max_attempts: 4,
        ..quick(DeliveryPolicy::callback())
    };
    let delivery = mock
        .sender()
        .deliver(DeliveryKind::Callback, &url, b"{}", &policy)
        .await;
    assert_eq!(delivery.outcome, DeliveryOutcome::Failed);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn the_mock_keeps_at_most_1_kib_of_an_answer() {
    let mock = MockServer::start(mock_config()).await.unwrap();
    let router = Router::new().route("/big", post(|| async { "y".repeat(4 * 1024 * 1024) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/big", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let delivery = mock
        .sender()
        .deliver(
            DeliveryKind::Webhook,
            &url,
            b"{}",
            &quick(DeliveryPolicy::webhook()),
        )
        .await;
    assert_eq!(delivery.outcome, DeliveryOutcome::Accepted);
    assert_eq!(delivery.attempts[0].answer, "y".repeat(1024));
}
