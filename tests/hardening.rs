//! The transport refuses what Cobo never sends: redirects (nothing reaches the target), bodies
//! above the size limit (by `Content-Length` and while reading), and says so when a client is
//! built with unsafe settings.

#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Write as _;
use std::sync::Arc;

use cobo_oauth::signing::{CoboAuth, Ed25519Signer, NonceSource};
use cobo_oauth::{CoboClient, Env, Error, SecretString};
use cobo_oauth_tests::{API_SECRET, CoboDouble, TOKEN_BODY};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A server that records every request and answers 200: where a redirect points.
async fn target() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string(TOKEN_BODY))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn redirects_are_refused_and_nothing_reaches_their_target() {
    let target = target().await;
    for status in [301, 302, 307, 308] {
        let cobo = CoboDouble::start().await;
        let location = format!("{}/steal?refresh_token=RT-secret", target.uri());
        cobo.answer_raw(
            "POST",
            "/oauth/token",
            ResponseTemplate::new(status).insert_header("location", location.as_str()),
        )
        .await;
        let error = cobo
            .client()
            .refresh_token("app", &SecretString::from("RT-1"))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::Redirect { status: s, target_host: Some(host) }
                if *s == status && host == "127.0.0.1"),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            !message.contains("steal") && !message.contains("RT-secret"),
            "{message}"
        );
    }
    assert!(
        target.received_requests().await.unwrap().is_empty(),
        "nothing was sent to the redirect's target"
    );
}

#[tokio::test]
async fn a_content_length_above_the_limit_is_refused_before_reading() {
    let cobo = CoboDouble::start().await;
    cobo.answer("GET", "/oauth/token", 200, &"x".repeat(2_000))
        .await;
    let client = CoboClient::builder()
        .env(Env::custom(&cobo.base_url(), &cobo.response_key_hex()).unwrap())
        .api_secret(API_SECRET)
        .max_response_bytes(1_000)
        .build()
        .unwrap();
    let error = client.get_token("app", "org").await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::ResponseTooLarge {
                status: 200,
                limit: 1_000
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        cobo_oauth::DEFAULT_MAX_RESPONSE_BYTES,
        4 * 1024 * 1024,
        "the documented default"
    );
}

/// A one-connection HTTP server that answers with a chunked body of `size` bytes and no
/// `Content-Length`; how many body bytes it managed to write.
async fn chunked_server(size: usize) -> (String, tokio::task::JoinHandle<usize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}/v2", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = [0_u8; 4096];
        let _ = stream.read(&mut request).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return 0;
        }
        let chunk = vec![b'x'; 64 * 1024];
        let mut written = 0;
        while written < size {
            let mut frame = Vec::new();
            write!(frame, "{:x}\r\n", chunk.len()).unwrap();
            frame.extend_from_slice(&chunk);
            frame.extend_from_slice(b"\r\n");
            if stream.write_all(&frame).await.is_err() {
                break;
            }
            written += chunk.len();
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
        written
    });
    (base_url, task)
}

#[tokio::test]
async fn a_body_without_content_length_is_cut_off_at_the_limit() {
    let (base_url, server) = chunked_server(64 * 1024 * 1024).await;
    let client = CoboClient::builder()
        .env(Env::custom_unverified(&base_url).unwrap())
        .api_secret(API_SECRET)
        .max_response_bytes(256 * 1024)
        .retry_policy(cobo_oauth::RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        })
        .build()
        .unwrap();
    let error = client.get_token("app", "org").await.unwrap_err();
    assert!(
        matches!(error, Error::ResponseTooLarge { limit: 262_144, .. }),
        "{error:?}"
    );
    drop(client);
    let written = server.await.unwrap();
    assert!(
        written < 64 * 1024 * 1024,
        "the client stopped reading: the server wrote {written} bytes"
    );
}

/// Collects what `tracing` logs (warnings and above) while `build` runs.
fn logs_of(build: impl FnOnce()) -> String {
    let (logs, guard) = cobo_oauth_tests::Logs::capture(tracing::Level::WARN);
    build();
    drop(guard);
    logs.text()
}

fn build(env: Env) {
    CoboClient::builder()
        .env(env)
        .api_secret(API_SECRET)
        .build()
        .unwrap();
}

#[test]
fn unsafe_settings_log_one_warning_each_when_the_client_is_built() {
    let key = cobo_oauth::DEV_RESPONSE_KEY;
    let remote_http = logs_of(|| build(Env::custom("http://cobo.internal/v2", key).unwrap()));
    assert_eq!(remote_http.matches("WARN").count(), 1, "{remote_http}");
    assert!(remote_http.contains("plain http://"), "{remote_http}");

    let unverified = logs_of(|| build(Env::custom_unverified("https://cobo.internal/v2").unwrap()));
    assert_eq!(unverified.matches("WARN").count(), 1, "{unverified}");
    assert!(unverified.contains("verification is off"), "{unverified}");

    let safe = logs_of(|| {
        build(Env::Dev);
        build(Env::custom("http://127.0.0.1:8080/v2", key).unwrap());
        build(Env::custom("http://localhost:8080/v2", key).unwrap());
    });
    assert!(safe.is_empty(), "{safe}");
}

#[test]
fn response_pubkey_off_means_the_same_with_a_base_url_or_a_named_environment() {
    let vars = |base_url: Option<&'static str>| {
        move |name: &str| match name {
            "COBO_ENV" => Some("dev".to_owned()),
            "COBO_BASE_URL" => base_url.map(str::to_owned),
            "COBO_RESPONSE_PUBKEY" => Some("off".to_owned()),
            _ => None,
        }
    };
    for base_url in [None, Some("https://proxy.example/v2")] {
        let client = cobo_oauth::CoboClientBuilder::from_vars(vars(base_url))
            .unwrap()
            .api_secret(API_SECRET)
            .build()
            .unwrap();
        assert_eq!(
            client.env().response_verifier().unwrap(),
            None,
            "{base_url:?}"
        );
    }
}

#[tokio::test]
async fn the_signature_header_is_marked_sensitive() {
    let auth = CoboAuth::new(
        Arc::new(Ed25519Signer::from_hex(API_SECRET).unwrap()),
        Arc::new(NonceSource::default()),
    );
    let mut request = reqwest::Request::new(
        reqwest::Method::GET,
        "https://api.dev.cobo.com/v2/oauth/token".parse().unwrap(),
    );
    auth.sign_request(&mut request).await.unwrap();
    let headers = request.headers();
    assert!(headers["biz-api-signature"].is_sensitive());
    assert!(!headers["biz-api-nonce"].is_sensitive());
    let signature = headers["biz-api-signature"].to_str().unwrap().to_owned();
    assert!(!format!("{headers:?}").contains(&signature));
}

#[test]
fn a_client_with_credentials_in_its_base_url_never_shows_them() {
    let client = CoboClient::builder()
        .env(Env::custom_unverified("https://user:s3cret@proxy.example/v2").unwrap())
        .api_secret(API_SECRET)
        .build()
        .unwrap();
    let shown = format!("{client:?} {}", client.env());
    assert!(!shown.contains("s3cret"), "{shown}");
}
