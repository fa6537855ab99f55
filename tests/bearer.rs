//! Operations that accept the OAuth2 scheme carry the manager's Org Access Token, still signed;
//! error 1000 renews the token and resends once.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use cobo_oauth::CoboClient;
use cobo_oauth::tokens::TokenManager;
use cobo_oauth_mock::{Fault, MockServer};

fn client(server: &MockServer, oauth2: &[&str]) -> CoboClient {
    server
        .client_builder()
        .oauth2_operations(oauth2.iter().copied())
        .build()
        .unwrap()
}

#[tokio::test]
async fn oauth2_operations_send_the_managers_token_and_renew_it_on_error_1000() {
    let server = MockServer::start(cobo_oauth_tests::mock_config())
        .await
        .unwrap();
    // Pretend get_token is an endpoint that takes an Org Access Token (as GET /wallets does).
    let plain = client(&server, &["get_token"]);
    let manager = TokenManager::builder(plain.clone(), "app", "org").build();
    let api = plain.with_bearer(Arc::new(manager.clone()));

    api.get_token("other", "org").await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "the manager's grant, then the call");
    assert_eq!(
        requests[0].authorization, None,
        "token requests carry no bearer"
    );
    let first = requests[1].authorization.clone().unwrap();
    assert!(first.starts_with("Bearer ") && server.access_token_valid(&first["Bearer ".len()..]));

    let expired =
        r#"{"error_code":1000,"error_message":"access token expired","error_id":"t"}"#.to_owned();
    server.inject(
        Fault::Status {
            status: 500,
            body: expired,
            headers: vec![],
        },
        1,
    );
    api.get_token("other", "org").await.unwrap();
    let requests = server.requests();
    let calls: Vec<_> = requests
        .iter()
        .filter(|r| r.query.contains("client_id=other"))
        .collect();
    assert_eq!(calls.len(), 3, "the rejected call and its one resend");
    assert_eq!(calls[1].authorization.as_deref(), Some(first.as_str()));
    assert_ne!(
        calls[2].authorization.as_deref(),
        Some(first.as_str()),
        "resent with a renewed token"
    );
    assert_eq!(
        requests.iter().filter(|r| r.method == "POST").count(),
        1,
        "renewed by one refresh"
    );
    assert!(calls[2].nonce > calls[1].nonce, "signed again");
}

#[tokio::test]
async fn other_operations_carry_no_bearer() {
    let server = MockServer::start(cobo_oauth_tests::mock_config())
        .await
        .unwrap();
    let plain = client(&server, &[]);
    let manager = TokenManager::builder(plain.clone(), "app", "org").build();
    plain
        .with_bearer(Arc::new(manager))
        .get_token("other", "org")
        .await
        .unwrap();
    assert!(server.requests().iter().all(|r| r.authorization.is_none()));
}
