//! The embedded mock behaves like Cobo's OAuth endpoints, judged by requests the official Python
//! SDK signed.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use cobo_oauth::signing::Clock;
use cobo_oauth::{CoboClient, Error};
use cobo_oauth_mock::{MockConfig, MockServer};
use cobo_oauth_tests::vectors;
use cobo_oauth_tests::vectors::PipelineVector;

#[derive(Debug)]
struct At(u64);
impl Clock for At {
    fn now_millis(&self) -> u64 {
        self.0
    }
}

fn python_get_token() -> PipelineVector {
    vectors()
        .pipeline_vectors
        .into_iter()
        .find(|v| v.id == "pipeline/oauth_get_token")
        .unwrap()
}

/// Sends the vector's request as the Python SDK sent it, with `target` and `headers` possibly
/// tampered.
async fn replay(
    server: &MockServer,
    target: &str,
    headers: &[(String, String)],
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().get(format!("http://{}{target}", server.addr()));
    for (name, value) in headers {
        if name.starts_with("Biz-") {
            request = request.header(name, value);
        }
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn headers(v: &PipelineVector) -> Vec<(String, String)> {
    v.wire_headers.clone()
}

async fn server_at_vector_time(v: &PipelineVector) -> MockServer {
    let nonce: u64 = v.nonce.parse().unwrap();
    MockServer::start(MockConfig {
        clock: Arc::new(At(nonce + 1_000)),
        ..cobo_oauth_tests::mock_config()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn accepts_the_python_sdk_request_and_rejects_any_tampered_byte() {
    let v = python_get_token();
    let target = v.wire_request_target.as_str();

    let server = server_at_vector_time(&v).await;
    let (status, body) = replay(&server, target, &headers(&v)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].is_string());

    // The same request again: a replayed nonce.
    let (status, body) = replay(&server, target, &headers(&v)).await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (401, Some("nonce already used"))
    );

    // One byte changed in the query, the path, the nonce or the signature.
    let tampered_targets = [
        target.replacen("org_id=e", "org_id=f", 1),
        target.replacen("/v2/", "/v3/", 1),
    ];
    for tampered in &tampered_targets {
        let server = server_at_vector_time(&v).await;
        let (status, body) = replay(&server, tampered, &headers(&v)).await;
        assert_eq!(status, 401, "{tampered}: {body}");
        assert_eq!(body["error"], "unauthorized_client", "{tampered}");
    }
    for (name, change) in [("Biz-Api-Nonce", 0usize), ("Biz-Api-Signature", 5)] {
        let server = server_at_vector_time(&v).await;
        let mut tampered = headers(&v);
        let header = tampered.iter_mut().find(|(n, _)| n == name).unwrap();
        let mut bytes = header.1.clone().into_bytes();
        let at = bytes.len() - 1 - change;
        bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
        header.1 = String::from_utf8(bytes).unwrap();
        let (status, body) = replay(&server, target, &tampered).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert_eq!(
            body["error_description"], "signature verification failed",
            "{name}"
        );
    }
}

#[tokio::test]
async fn rejects_unknown_keys_stale_nonces_and_unsigned_requests() {
    let v = python_get_token();
    let target = v.wire_request_target.as_str();

    let nonce: u64 = v.nonce.parse().unwrap();
    let at_vector_time = |config: MockConfig| MockConfig {
        clock: Arc::new(At(nonce + 1_000)),
        ..config
    };
    // Only the keys it was given; by default none.
    for config in [
        MockConfig::accepting(&"ab".repeat(32)),
        MockConfig::default(),
    ] {
        let server = MockServer::start(at_vector_time(config)).await.unwrap();
        let (status, body) = replay(&server, target, &headers(&v)).await;
        assert_eq!(
            (status, body["error_description"].as_str()),
            (401, Some("unknown API key"))
        );
    }
    let any = MockConfig {
        accept_any_key: true,
        ..MockConfig::default()
    };
    let server = MockServer::start(at_vector_time(any)).await.unwrap();
    let (status, body) = replay(&server, target, &headers(&v)).await;
    assert_eq!(status, 200, "accept_any_key: {body}");

    let later = MockServer::start(MockConfig {
        clock: Arc::new(At(nonce + 301_000)),
        ..cobo_oauth_tests::mock_config()
    })
    .await
    .unwrap();
    let (status, body) = replay(&later, target, &headers(&v)).await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (401, Some("nonce too far from the server's clock"))
    );

    let (status, body) = replay(&later, target, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_request"))
    );
}

#[tokio::test]
async fn refresh_tokens_expire_and_errors_have_cobo_shapes() {
    let server = MockServer::start(MockConfig {
        refresh_token_ttl: Duration::from_millis(300),
        ..cobo_oauth_tests::mock_config()
    })
    .await
    .unwrap();
    let client = CoboClient::builder()
        .env(server.env())
        .api_secret(cobo_oauth_tests::API_SECRET)
        .build()
        .unwrap();
    let token = client.get_token("app", "org").await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let error = client
        .refresh_token("app", token.refresh_token.as_ref().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::OAuth { status: 400, error, .. } if error == "invalid_grant"),
        "{error:?}"
    );

    let error = client
        .get_token_with_grant("app", "org", "client_credentials")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::OAuth { status: 400, error, .. } if error == "invalid_grant"),
        "{error:?}"
    );

    let fresh = client.get_token("app", "org").await.unwrap();
    let error = client
        .refresh_token("another-app", fresh.refresh_token.as_ref().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::OAuth { error, .. } if error == "unauthorized_client"),
        "{error:?}"
    );
}

/// Sends a `GET /v2/oauth/token` signed with the vectors' key and `nonce`, and `body`.
async fn signed_request(server: &MockServer, nonce: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let query = "client_id=app&grant_type=org_implicit&org_id=org";
    send_signed(server, reqwest::Method::GET, query, nonce, None, body, body).await
}

/// Sends `method /v2/oauth/token?query` with `body` (and `content_type`, if any), signed with
/// the vectors' key and `nonce` over `signed_body`; the status and answer.
async fn send_signed(
    server: &MockServer,
    method: reqwest::Method,
    query: &str,
    nonce: &str,
    content_type: Option<&str>,
    body: &[u8],
    signed_body: &[u8],
) -> (u16, serde_json::Value) {
    let auth = cobo_oauth::signing::CoboAuth::new(
        Arc::new(
            cobo_oauth::signing::Ed25519Signer::from_hex(cobo_oauth_tests::API_SECRET).unwrap(),
        ),
        Arc::new(cobo_oauth::signing::NonceSource::default()),
    );
    let parts = auth
        .sign_parts(
            method.as_str(),
            "/v2/oauth/token",
            nonce,
            query,
            signed_body,
        )
        .unwrap();
    let url = match query {
        "" => format!("http://{}/v2/oauth/token", server.addr()),
        _ => format!("http://{}/v2/oauth/token?{query}", server.addr()),
    };
    let mut request = reqwest::Client::new()
        .request(method, url)
        .body(body.to_vec());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    for (name, value) in parts.headers.pairs() {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn nonces_are_strings_and_only_numeric_ones_are_held_to_the_clock() {
    let server = MockServer::start(cobo_oauth_tests::mock_config())
        .await
        .unwrap();
    let (status, body) = signed_request(&server, "3f9c0a7e-nonce", b"").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = signed_request(&server, "3f9c0a7e-nonce", b"").await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (401, Some("nonce already used"))
    );
    let (status, body) = signed_request(&server, "1000", b"").await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (401, Some("nonce too far from the server's clock"))
    );
}

#[tokio::test]
async fn request_bodies_are_capped_and_the_request_log_is_bounded() {
    let server = MockServer::start(MockConfig {
        max_request_bytes: 1_024,
        max_recorded_requests: 3,
        ..cobo_oauth_tests::mock_config()
    })
    .await
    .unwrap();
    let (status, body) = signed_request(&server, "big-body", &[b'x'; 2_048]).await;
    assert_eq!(
        (status, body["error_code"].as_i64()),
        (413, Some(2006)),
        "{body}"
    );
    for n in 0..5 {
        let (status, _) = signed_request(&server, &format!("nonce-{n}"), b"").await;
        assert_eq!(status, 200);
    }
    let nonces: Vec<_> = server
        .requests()
        .into_iter()
        .map(|r| r.nonce.unwrap())
        .collect();
    assert_eq!(
        nonces,
        ["nonce-2", "nonce-3", "nonce-4"],
        "the newest three"
    );
}

/// Sends a signed `method` request to the API `path` of `server`, with `bearer` if given; the
/// status, the JSON body, and whether the answer's signature verifies with the server's key.
async fn call_added_operation(
    server: &MockServer,
    method: &str,
    path: &str,
    bearer: Option<&str>,
) -> (u16, serde_json::Value, bool) {
    let client = cobo_oauth::CoboClient::builder()
        .env(server.env())
        .api_secret(cobo_oauth_tests::API_SECRET)
        .build()
        .unwrap();
    let mut request = reqwest::Request::new(
        method.parse().unwrap(),
        format!("{}{path}", server.base_url()).parse().unwrap(),
    );
    if let Some(token) = bearer {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    client.auth().sign_request(&mut request).await.unwrap();
    let response = reqwest::Client::new().execute(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    let verifier =
        cobo_oauth::verify::ResponseVerifier::from_hex(&server.response_key_hex()).unwrap();
    let signed =
        verifier.check(status, &headers, &body) == Ok(cobo_oauth::verify::Verdict::Verified);
    (status, serde_json::from_slice(&body).unwrap(), signed)
}

#[tokio::test]
async fn added_operations_answer_what_is_registered_signed_and_check_the_bearer_token() {
    use cobo_oauth::ExposeSecret as _;
    use cobo_oauth_mock::{Answer, Bearer};
    let server = MockServer::start(cobo_oauth_tests::mock_config())
        .await
        .unwrap();
    let wallets = serde_json::json!({"data": [{"wallet_id": "w1"}], "pagination": {}});
    server.answer("GET", "/wallets", Answer::ok(wallets.clone()));
    server.answer(
        "GET",
        "/wallets/{wallet_id}",
        Answer {
            status: 200,
            body: serde_json::json!({"wallet_id": "w1"}),
            bearer: Bearer::NotRequired,
        },
    );
    let client = cobo_oauth::CoboClient::builder()
        .env(server.env())
        .api_secret(cobo_oauth_tests::API_SECRET)
        .build()
        .unwrap();
    let token = client.get_token("app", "org").await.unwrap();
    let access = token.access_token.unwrap().expose_secret().to_owned();

    let (status, body, signed) =
        call_added_operation(&server, "GET", "/wallets", Some(&access)).await;
    assert_eq!((status, &body, signed), (200, &wallets, true));
    let (status, body, signed) = call_added_operation(&server, "GET", "/wallets/w9", None).await;
    assert_eq!(
        (status, body["wallet_id"].as_str(), signed),
        (200, Some("w1"), true)
    );

    let (status, body, _) = call_added_operation(&server, "GET", "/wallets", None).await;
    assert_eq!(
        (status, body["error_code"].as_i64()),
        (401, Some(2024)),
        "no Bearer token"
    );
    server.expire_access_tokens();
    let (status, body, signed) =
        call_added_operation(&server, "GET", "/wallets", Some(&access)).await;
    assert_eq!(
        (status, body["error_code"].as_i64(), signed),
        (500, Some(1000), true),
        "expired"
    );

    let (status, body, signed) = call_added_operation(&server, "GET", "/transactions", None).await;
    assert_eq!(
        (status, body["error_code"].as_i64(), signed),
        (404, Some(2021), true)
    );
    assert!(body["error_id"].is_string(), "Cobo's ErrorResponse: {body}");
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.path == "/v2/transactions"),
        "an unregistered path shows up in the log"
    );
}

/// Sends an unsigned `POST /v2/oauth/token` with `body`; the status.
async fn unsigned_post(server: &MockServer, body: Vec<u8>) -> u16 {
    reqwest::Client::new()
        .post(format!("http://{}/v2/oauth/token", server.addr()))
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// What the recorded requests hold at least: their bodies and text fields.
fn recorded_bytes(server: &MockServer) -> usize {
    server
        .requests()
        .iter()
        .map(|r| r.body.len() + r.method.len() + r.path.len() + r.query.len())
        .sum()
}

#[tokio::test]
async fn unauthenticated_bodies_are_never_kept_and_the_request_log_is_bounded_by_bytes() {
    const MIB: usize = 1024 * 1024;
    let cap = 3 * MIB;
    let server = MockServer::start(MockConfig {
        max_recorded_bytes: cap as u64,
        ..cobo_oauth_tests::mock_config()
    })
    .await
    .unwrap();
    for _ in 0..200 {
        assert_eq!(unsigned_post(&server, vec![b'x'; MIB]).await, 401);
    }
    let kept = recorded_bytes(&server);
    assert!(kept <= cap, "200 MiB posted, {kept} bytes kept");
    let requests = server.requests();
    assert_eq!(requests.len(), 200, "each request is still recorded");
    assert!(requests.iter().all(|r| !r.body_kept && r.body.is_empty()));

    // Authenticated requests keep their bodies, the oldest dropped to stay under the cap.
    for n in 0..4 {
        let (status, body) = signed_request(&server, &format!("big-{n}"), &vec![b'y'; MIB]).await;
        assert_eq!(status, 200, "{body}");
    }
    let kept = recorded_bytes(&server);
    assert!(kept <= cap, "{kept} bytes kept");
    let requests = server.requests();
    let with_bodies: Vec<_> = requests
        .iter()
        .filter(|r| r.body_kept && r.body == vec![b'y'; MIB])
        .map(|r| r.nonce.as_deref().unwrap())
        .collect();
    assert_eq!(with_bodies, ["big-2", "big-3"], "the newest that fit");
}

/// Sends a `POST /v2/oauth/token` with `content_type` and `body`, signed with the vectors' key
/// over `signed_body`; the status and answer.
async fn token_post(
    server: &MockServer,
    content_type: &str,
    body: &[u8],
    signed_body: &[u8],
) -> (u16, serde_json::Value) {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let method = reqwest::Method::POST;
    send_signed(
        server,
        method,
        "",
        &nonce,
        Some(content_type),
        body,
        signed_body,
    )
    .await
}

#[tokio::test]
async fn a_refresh_labelled_multipart_is_refused_and_its_body_never_kept() {
    let server = MockServer::start(cobo_oauth_tests::mock_config())
        .await
        .unwrap();
    let client = CoboClient::builder()
        .env(server.env())
        .api_secret(cobo_oauth_tests::API_SECRET)
        .build()
        .unwrap();
    let token = client.get_token("app", "org").await.unwrap();
    let refresh = serde_json::json!({
        "client_id": "app",
        "grant_type": "refresh_token",
        "refresh_token": cobo_oauth::ExposeSecret::expose_secret(token.refresh_token.as_ref().unwrap()),
    })
    .to_string();
    let form = "multipart/form-data; boundary=abc";
    // A JSON body labelled a form, its signature over an empty body (as a form's is): the label
    // alone made it authenticated, rotated the pair and kept its body.
    let (status, answer) = token_post(&server, form, refresh.as_bytes(), b"").await;
    assert_eq!(status, 401, "{answer}");
    // Signed over the bytes sent: authenticated, but the token endpoint takes JSON only.
    let (status, answer) = token_post(&server, form, refresh.as_bytes(), refresh.as_bytes()).await;
    assert_eq!(status, 415, "{answer}");
    assert_eq!(answer["error"], "invalid_request");
    let posts: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 2);
    assert!(!posts[0].body_kept && posts[0].body.is_empty(), "{posts:?}");
    // The refresh token was not used: it still refreshes once, as JSON.
    let (status, answer) = token_post(
        &server,
        "application/json",
        refresh.as_bytes(),
        refresh.as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
}
