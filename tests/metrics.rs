//! Feature `metrics`: what a scripted scenario records, name by name and label by label, and
//! `OrgTokens::health` from the refresher's own state.
//!
//! The recorder is `metrics-util`'s `DebuggingRecorder`, installed for this test's thread only
//! (`set_default_local_recorder`) on a current-thread runtime, so every task the scenario spawns
//! records into it and no other test of the binary does.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cobo_oauth::inbound::{
    ClaimRunner, InboundError, InboundVerifier, JwksCache, MemoryDeduplicator, Outcome,
    UserInfoVerifier,
};
use cobo_oauth::metrics as names;
use cobo_oauth::signing::Clock as _;
use cobo_oauth::tokens::TokenStore as _;
use cobo_oauth::tokens::orgs::OrgTokens;
use cobo_oauth::tokens::redis::RedisStore;
use cobo_oauth::{Error, ExposeSecret as _};
use cobo_oauth_mock::{Fault, MockServer};
use cobo_oauth_tests::{RedisServer, mock_config, numbered_pair};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

const APP: &str = "metrics-app";
const KEPT: &str = "org-kept";
const GONE: &str = "org-gone";

/// One series: its name and its labels, sorted.
type Series = (String, Vec<(String, String)>);

/// Every series recorded, by name and labels.
fn snapshot(recorder: &DebuggingRecorder) -> BTreeMap<Series, DebugValue> {
    recorder
        .snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<(String, String)> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            ((key.name().to_owned(), labels), value)
        })
        .collect()
}

/// The series of `name`: labels (sorted, as `k=v` joined by `,`) to value.
fn series<'a>(
    all: &'a BTreeMap<Series, DebugValue>,
    name: &str,
) -> BTreeMap<String, &'a DebugValue> {
    all.iter()
        .filter(|((n, _), _)| n == name)
        .map(|((_, labels), value)| {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            (labels.join(","), value)
        })
        .collect()
}

/// The counters of `name`, by labels.
fn counters(all: &BTreeMap<Series, DebugValue>, name: &str) -> BTreeMap<String, u64> {
    series(all, name)
        .into_iter()
        .map(|(labels, value)| match value {
            DebugValue::Counter(n) => (labels, *n),
            other => panic!("{name}{{{labels}}} is not a counter: {other:?}"),
        })
        .collect()
}

/// How many samples each series of the histogram `name` holds, by labels.
fn samples(all: &BTreeMap<Series, DebugValue>, name: &str) -> BTreeMap<String, usize> {
    series(all, name)
        .into_iter()
        .map(|(labels, value)| match value {
            DebugValue::Histogram(values) => (labels, values.len()),
            other => panic!("{name}{{{labels}}} is not a histogram: {other:?}"),
        })
        .collect()
}

fn gauge(all: &BTreeMap<Series, DebugValue>, name: &str) -> f64 {
    match series(all, name).get(&format!("client_id={APP}")) {
        Some(DebugValue::Gauge(value)) => value.into_inner(),
        other => panic!("{name}: {other:?}"),
    }
}

fn expected<const N: usize, T: Copy>(entries: [(&str, T); N]) -> BTreeMap<String, T> {
    entries
        .into_iter()
        .map(|(labels, value)| (labels.to_owned(), value))
        .collect()
}

/// A signed webhook event as Cobo sends it: its headers.
fn signed(server: &MockServer, body: &[u8]) -> http::HeaderMap {
    let now = cobo_oauth::signing::SystemClock.now_millis();
    let (timestamp, signature) = server.sender().sign(body, now);
    let mut headers = http::HeaderMap::new();
    headers.insert("biz-timestamp", timestamp.parse().unwrap());
    headers.insert("biz-resp-signature", signature.parse().unwrap());
    headers
}

/// The token requests the mock received.
fn token_requests(server: &MockServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/oauth/token"))
        .count()
}

/// Renews `org_id`'s token now: Cobo said it expired (error 1000).
async fn renew(tokens: &OrgTokens, org_id: &str) -> Result<(), Error> {
    let token = tokens.access_token(org_id).await?;
    assert!(tokens.invalidate(org_id, &token));
    tokens.access_token(org_id).await.map(|_| ())
}

#[tokio::test]
async fn a_scripted_scenario_is_counted_by_outcome_and_health_reads_the_refresher() {
    let recorder = DebuggingRecorder::new();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (server, client) = MockServer::start_with_client(mock_config()).await.unwrap();
    let tokens = OrgTokens::builder(client, APP).build();

    // Two installs (a grant each), then two refreshes of one organization.
    tokens.on_install(KEPT, 1).await.unwrap();
    tokens.on_install(GONE, 1).await.unwrap();
    renew(&tokens, KEPT).await.unwrap();
    renew(&tokens, KEPT).await.unwrap();

    // Cobo rate-limits the app: every renewal pauses (1 s, no Retry-After), then they resume.
    server.inject(
        Fault::Status {
            status: 429,
            body: r#"{"error_code":2026,"error_message":"too many requests","error_id":"e"}"#
                .to_owned(),
            headers: Vec::new(),
        },
        1,
    );
    let refused = renew(&tokens, KEPT).await.unwrap_err();
    assert_eq!(refused.status(), Some(429), "{refused:?}");
    assert!(tokens.health().rate_limited_until_ms.is_some());
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    tokens.access_token(KEPT).await.unwrap();

    // An organization uninstalls the app: its refresh token is refused, then its new grant.
    server.uninstall(APP, GONE);
    let gone = renew(&tokens, GONE).await.unwrap_err();
    assert!(
        matches!(gone, Error::ReauthorizationRequired { .. }),
        "{gone:?}"
    );
    // Its calls now fail at once, without a request nor another mark.
    assert!(tokens.access_token(GONE).await.is_err());

    // Two webhook deliveries: one whose body was changed after signing, and Cobo's own.
    let verifier = InboundVerifier::for_env(&server.env()).unwrap();
    let body = serde_json::to_vec(&serde_json::json!({
        "event_id": "event-1",
        "url": "https://app.example/cobo/webhook",
        "created_timestamp": 1_735_689_600_000_i64,
        "type": "wallets.transaction.succeeded",
        "data": {"data_type": "Transaction", "transaction_id": "t-1", "status": "Completed"},
    }))
    .unwrap();
    let headers = signed(&server, &body);
    let mut tampered = body.clone();
    tampered[12] ^= 1;
    assert_eq!(
        verifier.verify(&headers, tampered).unwrap_err(),
        InboundError::BadSignature
    );
    let event = verifier
        .verify(&headers, body)
        .unwrap()
        .webhook_event()
        .unwrap();
    verifier.admit_webhook(&event).await.unwrap();

    // Handled once, then delivered again: a duplicate.
    let runner = ClaimRunner::new(Arc::new(MemoryDeduplicator::default()));
    let handled = runner
        .run(&event.event_id, async { Ok::<_, std::io::Error>(()) })
        .await
        .unwrap();
    assert_eq!(handled, Outcome::Handled(()));
    let again = runner
        .run(&event.event_id, async { Ok::<_, std::io::Error>(()) })
        .await
        .unwrap();
    assert_eq!(again, Outcome::Duplicate);

    // A User Info Token of the app's page, and one issued for another app.
    let users = UserInfoVerifier::new(
        JwksCache::new(server.jwks_url()),
        server.user_info_issuer(),
        APP,
    );
    let claims = serde_json::json!({ "sub": "user-1" });
    let own = server
        .issue_user_info_token(APP, Duration::from_secs(300), claims.clone())
        .unwrap();
    users.verify(&own).await.unwrap();
    let other = server
        .issue_user_info_token("another-app", Duration::from_secs(300), claims)
        .unwrap();
    users.verify(&other).await.unwrap_err();

    let all = snapshot(&recorder);
    assert_eq!(
        counters(&all, names::RENEWALS),
        expected([
            ("kind=grant,outcome=ok", 2),
            ("kind=grant,outcome=refused", 1),
            ("kind=refresh,outcome=ok", 3),
            ("kind=refresh,outcome=rate_limited", 1),
            ("kind=refresh,outcome=refused", 1),
        ])
    );
    match series(&all, names::RATE_LIMIT_PAUSES).get("") {
        Some(DebugValue::Histogram(pauses)) => {
            let pauses: Vec<f64> = pauses.iter().map(|p| p.into_inner()).collect();
            assert_eq!(pauses, [1.0], "one pause of 1 s");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(counters(&all, names::UNINSTALL_MARKS), expected([("", 1)]));
    assert_eq!(
        counters(&all, names::INBOUND_SIGNATURES),
        expected([
            ("outcome=accepted,reason=none", 1),
            ("outcome=refused,reason=bad_signature", 1),
        ])
    );
    assert_eq!(
        counters(&all, names::INBOUND_ADMISSIONS),
        expected([("kind=webhook,outcome=accepted,reason=none", 1)])
    );
    assert_eq!(
        counters(&all, names::DEDUP),
        expected([
            ("outcome=claimed", 1),
            ("outcome=completed", 1),
            ("outcome=duplicate", 1),
        ])
    );
    assert_eq!(
        counters(&all, names::USER_INFO_TOKENS),
        expected([
            ("outcome=accepted,reason=none", 1),
            ("outcome=refused,reason=wrong_audience", 1),
        ])
    );
    // Every request the executor sent, by operation and the status Cobo answered.
    assert_eq!(
        samples(&all, names::REQUEST_DURATION),
        expected([
            ("operation=get_token,status=200", 2),
            ("operation=get_token,status=400", 1),
            ("operation=refresh_token,status=200", 3),
            ("operation=refresh_token,status=400", 1),
            ("operation=refresh_token,status=429", 1),
        ])
    );
    assert_eq!(token_requests(&server), 8, "one sample per request sent");

    // Health, from memory: one organization tracked with a valid token, one uninstalled, no
    // refresher yet (so not healthy); the gauges say the same.
    let health = tokens.health();
    assert_eq!(
        (
            health.orgs_tracked,
            health.tokens_valid,
            health.tokens_expired,
            health.orgs_failing,
            health.orgs_uninstalled,
        ),
        (1, 1, 0, 0, 1),
        "{health:?}"
    );
    assert_eq!(health.rate_limited_until_ms, None);
    assert_eq!(health.refresher_last_run_ms, None);
    assert!(!health.is_healthy());
    let all = snapshot(&recorder);
    assert_eq!(gauge(&all, names::ORGS_TRACKED), 1.0);
    assert_eq!(gauge(&all, names::TOKENS_EXPIRED), 0.0);
    assert_eq!(gauge(&all, names::TOKENS_EXPIRING), 0.0);

    let refresher = tokens.spawn_refresher();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let health = tokens.health();
    assert!(health.is_healthy(), "{health:?}");
    let json = serde_json::to_value(&health).unwrap();
    assert_eq!(json["orgs_tracked"], 1);
    assert!(json["refresher_last_run_ms"].is_u64(), "{json}");
    let last_run_s = json["refresher_last_run_ms"].as_u64().unwrap() as f64 / 1_000.0;
    assert_eq!(
        gauge(&snapshot(&recorder), names::REFRESHER_LAST_RUN),
        last_run_s
    );
    // The token of the organization kept stays valid, and nothing more was sent.
    let token = tokens.access_token(KEPT).await.unwrap();
    assert!(server.access_token_valid(token.expose_secret()));
    refresher.stop().await;
    assert_eq!(token_requests(&server), 8);
}

#[tokio::test]
async fn a_save_no_replica_acknowledged_is_counted_until_it_is_saved_again() {
    let recorder = DebuggingRecorder::new();
    let _local = metrics::set_default_local_recorder(&recorder);
    // A snapshot hands over what changed since the last one (it resets what it reads).
    let mut level = 0.0;
    let mut awaiting = || {
        level += match series(&snapshot(&recorder), names::SAVES_AWAITING_REPLICA).get("") {
            Some(DebugValue::Gauge(change)) => change.into_inner(),
            Some(other) => panic!("{other:?}"),
            None => 0.0,
        };
        level
    };
    let primary = RedisServer::start();
    let replica = RedisServer::start_replica_of(&primary);
    let store = RedisStore::builder(primary.url(), APP, KEPT)
        .plaintext()
        .replica_ack_timeout(Duration::from_millis(1_500))
        .connect()
        .await
        .unwrap();
    store.save(&numbered_pair(1)).await.unwrap();
    assert_eq!(awaiting(), 0.0, "acknowledged");

    replica.pause();
    store.save(&numbered_pair(2)).await.unwrap();
    assert_eq!(awaiting(), 1.0);
    replica.resume();
    tokio::time::timeout(Duration::from_secs(10), async {
        while store.saves_waiting_for_replica() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("saved again and acknowledged");
    assert_eq!(awaiting(), 0.0);
}
