//! Secrets (the API secret, tokens, request signatures) never appear in `Debug`, `Display` or
//! logs. Its own test binary: tracing caches callsite interest process-wide, so a test that
//! installs a subscriber must not share the process with tests that log without one.

#![allow(clippy::unwrap_used, missing_docs)]

use cobo_oauth::{CoboClient, Env};
use cobo_oauth_tests::{API_SECRET, CoboDouble, TOKEN_BODY};

#[tokio::test]
async fn secrets_never_show_in_debug_display_or_logs() {
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Sink {
        type Writer = Sink;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    let sink = Sink::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(sink.clone())
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let double = CoboDouble::start().await;
    double.answer("GET", "/oauth/token", 200, TOKEN_BODY).await;
    double.answer("POST", "/oauth/token", 200, TOKEN_BODY).await;
    let builder = CoboClient::builder()
        .env(Env::custom(&double.base_url(), &double.response_key_hex()).unwrap())
        .api_secret(API_SECRET);
    let builder_debug = format!("{builder:?}");
    let client = builder.build().unwrap();
    let token = client.get_token("client", "org").await.unwrap();
    let refreshed = client
        .refresh_token("client", token.refresh_token.as_ref().unwrap())
        .await
        .unwrap();
    let signatures: Vec<String> = double
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter_map(|r| cobo_oauth_tests::header(r, "biz-api-signature"))
        .collect();
    assert_eq!(signatures.len(), 2);

    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("cobo.request"),
        "the request span is logged: {logs}"
    );
    assert!(
        logs.contains("operation=\"get_token\"") || logs.contains("operation=get_token"),
        "{logs}"
    );
    let shown = format!(
        "{builder_debug} {client:?} {token:?} {refreshed:?} {:?} {logs}",
        client.auth()
    );
    for secret in [API_SECRET, "AT-1", "RT-1"]
        .iter()
        .map(|s| s.to_string())
        .chain(signatures)
    {
        assert!(!shown.contains(&secret), "{secret} leaked in: {shown}");
    }
}

#[test]
fn the_generated_token_types_hold_tokens_as_zeroizing_redacted_secrets() {
    use cobo_oauth_gen::types::{RefreshTokenBody, RefreshTokenResponse};
    let body = RefreshTokenBody {
        client_id: Some("app".to_owned()),
        grant_type: Some("refresh_token".to_owned()),
        refresh_token: Some("RT-very-secret".into()),
    };
    assert!(!format!("{body:?}").contains("RT-very-secret"));
    assert!(
        serde_json::to_string(&body)
            .unwrap()
            .contains(r#""refresh_token":"RT-very-secret""#),
        "sent as a plain JSON string"
    );
    let response: RefreshTokenResponse =
        serde_json::from_str(r#"{"access_token":"AT-very-secret","refresh_token":"RT-2"}"#)
            .unwrap();
    let shown = format!("{response:?}");
    assert!(
        !shown.contains("AT-very-secret") && !shown.contains("RT-2"),
        "{shown}"
    );
}
