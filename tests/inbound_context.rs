//! A valid signature proves "signed by Cobo", not "meant for this app": a signed `WebhookEvent`
//! of another endpoint, a signed transaction of a wallet the app does not serve (the shape a
//! callback delivers, which any customer can fetch from the API), and an event about an
//! organization that never installed the app (its endpoint set to the app's URL) are refused
//! with 403 before the handler runs; the app's own are handled.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{FromRef, State};
use axum::routing::post;
use cobo_oauth::inbound::axum::{VerifiedCallback, VerifiedWebhook};
use cobo_oauth::inbound::{
    CallbackDecision, CheckError, CheckFuture, Endpoints, InboundVerifier, Subject, SubjectCheck,
};
use cobo_oauth_mock::{DeliveryKind, DeliveryPolicy, MockServer};
use cobo_oauth_tests::mock_config;

/// The app's public URL of its webhook route (behind a proxy: not the address it listens on).
const ENDPOINT: &str = "https://app.example/cobo/webhook";

/// The organizations that installed the app, and their wallets (a store lookup, async).
struct Installed {
    orgs: HashSet<String>,
    wallets: HashMap<String, String>,
}

impl SubjectCheck for Installed {
    fn serves<'a>(&'a self, subject: &'a Subject) -> CheckFuture<'a> {
        Box::pin(async move {
            if subject.org_id.as_deref() == Some("down") {
                return Err(CheckError {
                    reason: "the store is unreachable".into(),
                });
            }
            let org_known = subject.org_id.iter().all(|org| self.orgs.contains(org));
            let wallets_known = subject.wallet_ids.iter().all(|wallet| {
                self.wallets
                    .get(wallet)
                    .is_some_and(|org| self.orgs.contains(org))
            });
            Ok(!subject.is_empty() && org_known && wallets_known)
        })
    }
}

#[derive(Clone)]
struct App {
    verifier: InboundVerifier,
    handled: Arc<Mutex<Vec<String>>>,
}

impl FromRef<App> for InboundVerifier {
    fn from_ref(app: &App) -> Self {
        app.verifier.clone()
    }
}

async fn webhook(State(app): State<App>, VerifiedWebhook(event): VerifiedWebhook) -> &'static str {
    app.handled.lock().unwrap().push(event.event_id);
    "handled"
}

async fn callback(
    State(app): State<App>,
    VerifiedCallback(message): VerifiedCallback,
) -> CallbackDecision {
    app.handled.lock().unwrap().push(message.transaction_id);
    CallbackDecision::Approve
}

struct Running {
    mock: MockServer,
    app: App,
    base: String,
}

async fn start() -> Running {
    let mock = MockServer::start(mock_config()).await.unwrap();
    let installed = Installed {
        orgs: HashSet::from(["org-installed".to_owned()]),
        wallets: HashMap::from([
            ("wallet-ours".to_owned(), "org-installed".to_owned()),
            ("wallet-elsewhere".to_owned(), "org-stranger".to_owned()),
        ]),
    };
    let verifier = InboundVerifier::for_env(&mock.env())
        .unwrap()
        .endpoints(Endpoints::parse([ENDPOINT]).unwrap())
        .subjects(Arc::new(installed));
    let app = App {
        verifier,
        handled: Arc::default(),
    };
    let router = Router::new()
        .route("/cobo/webhook", post(webhook))
        .route("/cobo/callback", post(callback))
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Running { mock, app, base }
}

impl Running {
    /// Delivers `body` once (no retry); the status and the answer.
    async fn send(&self, kind: DeliveryKind, body: &serde_json::Value) -> (u16, String) {
        let route = match kind {
            DeliveryKind::Webhook => "webhook",
            DeliveryKind::Callback => "callback",
        };
        let policy = DeliveryPolicy {
            max_attempts: 1,
            ..DeliveryPolicy::webhook()
        };
        let body = serde_json::to_vec(body).unwrap();
        let url = format!("{}/cobo/{route}", self.base);
        let delivery = self.mock.sender().deliver(kind, &url, &body, &policy).await;
        let attempt = &delivery.attempts[0];
        (attempt.status.unwrap(), attempt.answer.clone())
    }

    fn handled(&self) -> Vec<String> {
        self.app.handled.lock().unwrap().clone()
    }
}

fn event(id: &str, url: &str, data: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "event_id": id,
        "url": url,
        "created_timestamp": 1_735_689_600_000_i64,
        "type": "wallets.transaction.succeeded",
        "data": data,
    })
}

fn transaction(id: &str, wallet_id: &str) -> serde_json::Value {
    serde_json::json!({
        "data_type": "Transaction",
        "transaction_id": id,
        "wallet_id": wallet_id,
        "type": "Withdrawal",
        "status": "PendingApproval",
    })
}

#[tokio::test]
async fn an_event_of_another_endpoint_is_refused_before_the_handler() {
    let run = start().await;
    let data = transaction("t-1", "wallet-ours");
    // The same signed event as Cobo's API answers it for another customer's endpoint.
    let (status, answer) = run
        .send(
            DeliveryKind::Webhook,
            &event("e-1", "https://attacker.example/hook", data.clone()),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("endpoint"), "{answer}");
    // The path is compared exactly.
    let (status, _) = run
        .send(
            DeliveryKind::Webhook,
            &event(
                "e-2",
                "https://app.example/cobo/webhook/other",
                data.clone(),
            ),
        )
        .await;
    assert_eq!(status, 403);
    assert!(run.handled().is_empty());
    // The app's own endpoint, spelled with another case and the default port, is accepted.
    let (status, answer) = run
        .send(
            DeliveryKind::Webhook,
            &event("e-3", "HTTPS://App.Example:443/cobo/webhook", data),
        )
        .await;
    assert_eq!((status, answer.as_str()), (200, "handled"));
    assert_eq!(run.handled(), ["e-3"]);
}

#[tokio::test]
async fn a_signed_transaction_of_a_wallet_the_app_does_not_serve_is_refused() {
    let run = start().await;
    // What `get_transaction_by_id` answers another customer, posted to the callback route.
    for wallet in ["wallet-unknown", "wallet-elsewhere"] {
        let (status, answer) = run
            .send(DeliveryKind::Callback, &transaction("t-9", wallet))
            .await;
        assert_eq!(status, 403, "{wallet}: {answer}");
        assert!(CallbackDecision::from_body(answer.as_bytes()).is_none());
    }
    assert!(run.handled().is_empty());
    let (status, answer) = run
        .send(DeliveryKind::Callback, &transaction("t-10", "wallet-ours"))
        .await;
    assert_eq!((status, answer.as_str()), (200, "ok"));
    assert_eq!(run.handled(), ["t-10"]);
}

#[tokio::test]
async fn an_event_about_an_organization_that_did_not_install_the_app_is_refused() {
    let run = start().await;
    // The stranger registered the app's URL as its own endpoint: Cobo signs, the url matches.
    let organization = |org_id: &str| serde_json::json!({"data_type": "Organization", "org_id": org_id, "name": "x"});
    let (status, answer) = run
        .send(
            DeliveryKind::Webhook,
            &event("e-10", ENDPOINT, organization("org-stranger")),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    let (status, _) = run
        .send(
            DeliveryKind::Webhook,
            &event("e-11", ENDPOINT, transaction("t-11", "wallet-elsewhere")),
        )
        .await;
    assert_eq!(status, 403);
    assert!(run.handled().is_empty());
    // A check that cannot tell is 503: Cobo retries later.
    let (status, answer) = run
        .send(
            DeliveryKind::Webhook,
            &event("e-12", ENDPOINT, organization("down")),
        )
        .await;
    assert_eq!(status, 503, "{answer}");
    assert!(run.handled().is_empty());
    let (status, _) = run
        .send(
            DeliveryKind::Webhook,
            &event("e-13", ENDPOINT, organization("org-installed")),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(run.handled(), ["e-13"]);
}
