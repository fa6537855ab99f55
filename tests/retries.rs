//! Retries of idempotent requests: signed again each time, with Retry-After honoured.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use cobo_oauth::signing::TokioClock;
use cobo_oauth::{Error, RetryPolicy};
use cobo_oauth_mock::{Fault, MockConfig, MockServer};
use cobo_oauth_tests::{CoboDouble, TOKEN_BODY};

/// A reqwest client with no timers of its own, so that paused tokio time moves only with the
/// client's backoff.
fn timerless_http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_503_then_200_takes_two_attempts_each_signed_afresh() {
    let double = CoboDouble::start().await;
    double
        .answer_times(
            "GET",
            "/oauth/token",
            503,
            r#"{"error_code":2000,"error_message":"busy","error_id":"x"}"#,
            1,
        )
        .await;
    double.answer("GET", "/oauth/token", 200, TOKEN_BODY).await;
    let token = double.client().get_token("app", "org").await.unwrap();
    assert_eq!(token.expires_in, Some(43199));
    let seen = double.seen();
    assert_eq!(seen.len(), 2, "two attempts");
    assert!(seen.iter().all(|s| s.signature_ok.is_ok()), "{seen:?}");
    assert!(
        seen[1].nonce > seen[0].nonce,
        "a fresh, larger nonce: {} then {}",
        seen[0].nonce,
        seen[1].nonce
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_waits_that_long() {
    let clock = Arc::new(TokioClock::new());
    let server = MockServer::start(MockConfig {
        clock: clock.clone(),
        ..cobo_oauth_tests::mock_config()
    })
    .await
    .unwrap();
    server.inject(
        Fault::Status {
            status: 429,
            body: r#"{"error_code":2026,"error_message":"rate limited","error_id":"r"}"#.to_owned(),
            headers: vec![("Retry-After".to_owned(), "2".to_owned())],
        },
        1,
    );
    let client = server
        .client_builder()
        .clock(clock)
        .http_client(timerless_http())
        .build()
        .unwrap();
    client.get_token("app", "org").await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].received_at_ms - requests[0].received_at_ms;
    assert!((2_000..2_100).contains(&waited), "waited {waited} ms");
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_max_attempts_and_surface_the_last_error() {
    let server = MockServer::start(MockConfig {
        clock: Arc::new(TokioClock::new()),
        ..cobo_oauth_tests::mock_config()
    })
    .await
    .unwrap();
    let busy = Fault::Status {
        status: 503,
        body: r#"{"error_code":2000,"error_message":"busy","error_id":"b"}"#.to_owned(),
        headers: vec![],
    };
    server.inject(busy, 10);
    let client = server
        .client_builder()
        .http_client(timerless_http())
        .retry_policy(RetryPolicy {
            max_attempts: 4,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let error = client.get_token("app", "org").await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Api {
                status: 503,
                code: 2000,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn a_post_is_not_resent_after_it_may_have_arrived() {
    let server = MockServer::start(cobo_oauth_tests::mock_config())
        .await
        .unwrap();
    let client = server.client_builder().build().unwrap();
    let token = client.get_token("app", "org").await.unwrap();
    server.inject(Fault::DropConnection, 5);
    let error = client
        .refresh_token("app", token.refresh_token.as_ref().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    let posts = server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1, "the refresh was sent once");
}
