//! The embedded mock behaves like Cobo's OAuth endpoints, judged by requests the official Python
//! SDK signed.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use cobo_oauth::mock::{MockConfig, MockServer};
use cobo_oauth::signing::Clock;
use cobo_oauth::{CoboClient, Error};
use cobo_oauth_tests::vectors;

#[derive(Debug)]
struct At(u64);
impl Clock for At {
    fn now_millis(&self) -> u64 {
        self.0
    }
}

fn python_get_token() -> serde_json::Value {
    vectors()["pipeline_vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "pipeline/oauth_get_token")
        .unwrap()
        .clone()
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

fn headers(v: &serde_json::Value) -> Vec<(String, String)> {
    v["wire_headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_owned(),
                h[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn server_at_vector_time(v: &serde_json::Value) -> MockServer {
    let nonce: u64 = v["nonce"].as_str().unwrap().parse().unwrap();
    MockServer::start(MockConfig {
        clock: Arc::new(At(nonce + 1_000)),
        ..MockConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn accepts_the_python_sdk_request_and_rejects_any_tampered_byte() {
    let v = python_get_token();
    let target = v["wire_request_target"].as_str().unwrap();

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
    let target = v["wire_request_target"].as_str().unwrap();

    let server = server_at_vector_time(&v).await;
    server.register_api_key(&"ab".repeat(32));
    let (status, body) = replay(&server, target, &headers(&v)).await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (401, Some("unknown API key"))
    );

    let nonce: u64 = v["nonce"].as_str().unwrap().parse().unwrap();
    let later = MockServer::start(MockConfig {
        clock: Arc::new(At(nonce + 301_000)),
        ..MockConfig::default()
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
        ..MockConfig::default()
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
