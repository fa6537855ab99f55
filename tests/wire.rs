//! What leaves the client: a server that re-derives the string to sign from the bytes it received
//! accepts every request, and the bytes match the official SDK's.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use cobo_oauth::SecretString;
use cobo_oauth::signing::Clock;
use cobo_oauth_tests::{API_SECRET, CoboDouble, TOKEN_BODY, vectors};
use proptest::prelude::*;

#[derive(Debug)]
struct FixedClock(u64);

impl Clock for FixedClock {
    fn now_millis(&self) -> u64 {
        self.0
    }
}

#[tokio::test]
async fn get_token_matches_the_python_sdk_on_the_wire() {
    let all = vectors();
    let v = &all.pipeline_vectors[0];
    assert_eq!(v.id, "pipeline/oauth_get_token");
    let double = CoboDouble::start().await;
    double.answer("GET", "/oauth/token", 200, TOKEN_BODY).await;
    let client = cobo_oauth::CoboClient::builder()
        .env(cobo_oauth::Env::custom(&double.base_url(), &double.response_key_hex()).unwrap())
        .api_secret(API_SECRET)
        .clock(Arc::new(FixedClock(v.nonce.parse().unwrap())))
        .build()
        .unwrap();
    let token = client
        .get_token(v.input("client_id"), v.input("org_id"))
        .await
        .unwrap();
    assert_eq!(token.expires_in, Some(43199));

    let requests = double.server.received_requests().await.unwrap();
    let request = &requests[0];
    assert_eq!(request.url.path(), v.wire_path);
    // progenitor sends the parameters in its own (sorted) order, which the service accepts as
    // long as the signed string is the query sent; the pairs are the SDK's, byte for byte.
    let mut sent: Vec<&str> = request.url.query().unwrap_or("").split('&').collect();
    let mut python: Vec<&str> = v.wire_query.split('&').collect();
    sent.sort_unstable();
    python.sort_unstable();
    assert_eq!(sent, python);
    for name in ["Biz-Api-Key", "Biz-Api-Nonce"] {
        assert_eq!(
            cobo_oauth_tests::header(request, name).as_deref(),
            Some(v.wire_header(name)),
            "{name}"
        );
    }
    assert_eq!(double.seen()[0].signature_ok, Ok(()));
    assert!(request.body.is_empty());
}

#[tokio::test]
async fn refresh_token_signs_the_json_body_it_sends() {
    let double = CoboDouble::start().await;
    double.answer("POST", "/oauth/token", 200, TOKEN_BODY).await;
    let client = double.client();
    let refresh =
        SecretString::from("rK49jI0zt49gsttzscscik15Asmlpu1TdcxqguJJS8B9f6ilJEC0y3PbVqwsEAw5 é😀");
    client
        .refresh_token("pvSwS8iFrfK0oZrB0ugG54XPDOLEv0Ij", &refresh)
        .await
        .unwrap();
    let seen = double.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].signature_ok, Ok(()));
    let body: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(body["grant_type"], "refresh_token");
    assert_eq!(
        body["refresh_token"],
        "rK49jI0zt49gsttzscscik15Asmlpu1TdcxqguJJS8B9f6ilJEC0y3PbVqwsEAw5 é😀"
    );
    assert_eq!(seen[0].query, "");
}

#[tokio::test]
async fn nonces_strictly_increase_across_concurrent_requests() {
    let double = CoboDouble::start().await;
    double.answer("GET", "/oauth/token", 200, TOKEN_BODY).await;
    let client = cobo_oauth::CoboClient::builder()
        .env(cobo_oauth::Env::custom(&double.base_url(), &double.response_key_hex()).unwrap())
        .api_secret(API_SECRET)
        .clock(Arc::new(FixedClock(1_700_000_000_000)))
        .build()
        .unwrap();
    let calls = (0..20).map(|_| client.get_token("c", "o"));
    for outcome in futures_join_all(calls).await {
        outcome.unwrap();
    }
    let mut nonces: Vec<u64> = double.seen().iter().map(|s| s.nonce).collect();
    nonces.sort_unstable();
    nonces.dedup();
    assert_eq!(nonces.len(), 20);
    assert!(double.seen().iter().all(|s| s.signature_ok.is_ok()));
}

async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(f);
    }
    let mut out = Vec::new();
    for f in set {
        out.push(f.await);
    }
    out
}

fn awkward_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ a-zA-Z0-9*~!'()&=+/%?#._\\-é日本😀\u{0}-\u{1f}]{0,24}")
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// Random query values and JSON bodies: the server, re-deriving the string to sign from what
    /// it received, accepts every request, and reads back the values that were given.
    #[test]
    fn server_accepts_every_random_request(client_id in awkward_text(), org_id in awkward_text(), refresh in awkward_text()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let double = CoboDouble::start().await;
            double.answer("GET", "/oauth/token", 200, TOKEN_BODY).await;
            double.answer("POST", "/oauth/token", 200, TOKEN_BODY).await;
            let client = double.client();
            client.get_token(&client_id, &org_id).await.unwrap();
            client.refresh_token(&client_id, &SecretString::from(refresh.clone())).await.unwrap();
            let seen = double.seen();
            prop_assert_eq!(seen.len(), 2);
            for s in &seen {
                prop_assert!(s.signature_ok.is_ok(), "{:?}", s.signature_ok);
            }
            let mut query: Vec<(String, String)> = url::form_urlencoded::parse(seen[0].query.as_bytes()).into_owned().collect();
            query.sort();
            prop_assert_eq!(query, vec![
                ("client_id".to_owned(), client_id.clone()),
                ("grant_type".to_owned(), "org_implicit".to_owned()),
                ("org_id".to_owned(), org_id.clone()),
            ]);
            // Only the Python SDK's literal set, `+` and escapes reach the wire.
            prop_assert!(seen[0].query.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-~+%&=".contains(&b)));
            let body: serde_json::Value = serde_json::from_slice(&seen[1].body).unwrap();
            prop_assert_eq!(body["refresh_token"].as_str(), Some(refresh.as_str()));
            Ok(())
        })?;
    }
}

/// The response a generated method receives after the executor verified it carries the URL it
/// came from (not a placeholder of the rebuilt response).
#[tokio::test]
async fn a_verified_response_keeps_the_url_it_came_from() {
    let (server, client) =
        cobo_oauth_mock::MockServer::start_with_client(cobo_oauth_mock::MockConfig::default())
            .await
            .unwrap();
    let url = format!(
        "{}/oauth/token?client_id=app&org_id=org&grant_type=org_implicit",
        server.base_url()
    );
    let request = client.http().get(&url).build().unwrap();
    let response = client
        .hooks()
        .exec(
            &client.http(),
            request,
            cobo_oauth::runtime::Operation::unlisted("get_token"),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.url().as_str(), url);
}
