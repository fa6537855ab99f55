//! One operation of each of three tags of the client generated from Cobo's whole official spec
//! (`cargo xtask codegen --out`), made by a `CoboClient` against the embedded mock: the mock
//! checks each request's CoboAuth signature and Bearer token, the client verifies each answer's
//! signature, and a tampered answer is refused.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use cobo_oauth::Error;
use cobo_oauth::tokens::TokenManager;
use cobo_oauth_mock::{Answer, Fault, MockConfig, MockServer};
use cobo_waas2_full::{Client, OPERATIONS};
use serde_json::json;

#[tokio::test]
async fn one_operation_of_each_of_three_tags_is_signed_and_verified() {
    let (server, cobo) = MockServer::start_with_client(MockConfig::default())
        .await
        .unwrap();
    let empty_page =
        json!({"data": [], "pagination": {"before": "", "after": "", "total_count": 0}});
    // Wallets, Transactions, Developers - Webhooks.
    for (id, body) in [
        ("list_supported_chains", empty_page.clone()),
        ("list_transactions", empty_page.clone()),
        ("list_webhook_event_definitions", json!([])),
    ] {
        server
            .answer_operation(OPERATIONS, id, Answer::ok(body))
            .unwrap();
    }
    let tokens = TokenManager::builder(cobo.clone(), "app", "org").build();
    let cobo = cobo.with_bearer(Arc::new(tokens));
    let api = Client::new_with_client(cobo.env().base_url(), cobo.http(), cobo.hooks());

    let chains = cobo.call(api.list_supported_chains().send()).await.unwrap();
    assert_eq!(chains.data.len(), 0);
    let transactions = cobo.call(api.list_transactions().send()).await.unwrap();
    assert_eq!(transactions.pagination.map(|p| p.total_count), Some(0));
    let definitions = cobo
        .call(api.list_webhook_event_definitions().send())
        .await
        .unwrap();
    assert!(definitions.is_empty());

    // Every call carried the app's key (the mock checked its signature); the Bearer token went
    // exactly with the operations whose spec accepts the OAuth2 scheme.
    let calls: Vec<(String, bool)> = server
        .requests()
        .into_iter()
        .filter(|r| !r.path.ends_with("/oauth/token"))
        .map(|r| {
            assert_eq!(r.api_key.as_deref(), Some(cobo.api_key().as_str()));
            (
                r.path,
                r.authorization.is_some_and(|a| a.starts_with("Bearer ")),
            )
        })
        .collect();
    let expected: Vec<(String, bool)> = [
        "list_supported_chains",
        "list_transactions",
        "list_webhook_event_definitions",
    ]
    .iter()
    .map(|id| cobo_oauth::runtime::Operation::find(OPERATIONS, id).unwrap())
    .map(|op| (format!("/v2{}", op.path), op.accepts_oauth2))
    .collect();
    assert_eq!(calls, expected);
    assert!(expected.iter().any(|(_, bearer)| *bearer));

    server.inject(Fault::TamperBody, 1);
    let tampered = cobo.call(api.list_transactions().send()).await.unwrap_err();
    assert!(
        matches!(tampered, Error::ResponseSignature(_)),
        "{tampered:?}"
    );
}
