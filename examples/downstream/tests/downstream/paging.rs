//! `list_wallets`, generated in this crate, read across its pages with `CoboClient::items`:
//! the mock pages like Cobo (`limit`, the `after` cursor, an empty cursor on the last page),
//! and checks the signature and Bearer token of every page.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use cobo_downstream_example::{OPERATIONS, client, types};
use cobo_oauth::tokens::TokenManager;
use cobo_oauth::{CoboClient, Error, RetryPolicy};
use cobo_oauth_mock::{Fault, MockConfig, MockServer, RecordedRequest};
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::json;

/// Seven custodial wallets, named `wallet-0` to `wallet-6`.
fn wallets() -> Vec<serde_json::Value> {
    (0..7)
        .map(|n| {
            json!({
                "wallet_id": format!("f47ac10b-58cc-4372-a567-0e02b2c3d47{n}"),
                "wallet_type": "Custodial", "wallet_subtype": "Asset",
                "name": format!("wallet-{n}"), "org_id": "org-1"
            })
        })
        .collect()
}

fn name(wallet: &types::WalletInfo) -> String {
    match wallet {
        types::WalletInfo::CustodialWalletInfo(info) => info.name.clone(),
        other => panic!("not a custodial wallet: {other:?}"),
    }
}

/// The mock paging seven wallets, and a client with a Bearer token from a `TokenManager` and
/// quick retries.
async fn mock_and_client() -> (MockServer, CoboClient) {
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    let retry = RetryPolicy {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        ..RetryPolicy::default()
    };
    let cobo = server.client_builder().retry_policy(retry).build().unwrap();
    server
        .answer_pages(OPERATIONS, "list_wallets", wallets())
        .unwrap();
    let tokens = TokenManager::builder(cobo.clone(), "app", "org-1").build();
    tokens.access_token().await.unwrap();
    (server, cobo.with_bearer(Arc::new(tokens)))
}

/// The `/wallets` requests the mock received, by query.
fn list_requests(server: &MockServer) -> Vec<RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v2/wallets")
        .collect()
}

#[tokio::test]
async fn every_item_of_every_page_in_order_with_the_limit_and_the_cursor() {
    let (server, cobo) = mock_and_client().await;
    let api = client(&cobo);
    let names: Vec<String> = cobo
        .items(api.list_wallets().limit(3))
        .map_ok(|wallet| name(&wallet))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        names,
        (0..7).map(|n| format!("wallet-{n}")).collect::<Vec<_>>()
    );
    let requests = list_requests(&server);
    let queries: Vec<&str> = requests.iter().map(|r| r.query.as_str()).collect();
    assert_eq!(
        queries,
        [
            "limit=3",
            "after=mock-cursor-3&limit=3",
            "after=mock-cursor-6&limit=3"
        ]
    );
    // Each page signed on its own (the mock checked every signature and nonce) with the token.
    for request in &requests {
        assert!(
            request
                .authorization
                .as_deref()
                .is_some_and(|a| a.starts_with("Bearer ")),
            "{request:?}"
        );
    }
    let nonces: std::collections::HashSet<_> = requests.iter().map(|r| r.nonce.clone()).collect();
    assert_eq!(nonces.len(), 3);

    // Pages, a `Vec` each.
    let pages: Vec<usize> = cobo
        .pages(api.list_wallets().limit(3))
        .map_ok(|page| page.len())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages, [3, 3, 1]);
}

#[tokio::test]
async fn a_page_that_fails_once_is_retried_and_the_stream_goes_on() {
    let (server, cobo) = mock_and_client().await;
    let api = client(&cobo);
    let mut wallets = cobo.items(api.list_wallets().limit(3));
    for n in 0..3 {
        assert_eq!(
            name(&wallets.next().await.unwrap().unwrap()),
            format!("wallet-{n}")
        );
    }
    // The second page is not asked for yet: its first attempt gets a 503.
    assert_eq!(list_requests(&server).len(), 1);
    server.inject(
        Fault::Status {
            status: 503,
            body: json!({"error_code": 2000, "error_message": "busy", "error_id": "e"}).to_string(),
            headers: Vec::new(),
        },
        1,
    );
    let rest: Vec<String> = wallets
        .map_ok(|wallet| name(&wallet))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rest, ["wallet-3", "wallet-4", "wallet-5", "wallet-6"]);
    let queries: Vec<String> = list_requests(&server)
        .into_iter()
        .map(|r| r.query)
        .collect();
    assert_eq!(
        queries,
        [
            "limit=3",
            "after=mock-cursor-3&limit=3",
            "after=mock-cursor-3&limit=3",
            "after=mock-cursor-6&limit=3"
        ]
    );
}

#[tokio::test]
async fn a_page_that_fails_for_good_ends_the_stream_with_the_typed_error() {
    let (server, cobo) = mock_and_client().await;
    let api = client(&cobo);
    let mut wallets = cobo.items(api.list_wallets().limit(5));
    for _ in 0..5 {
        wallets.next().await.unwrap().unwrap();
    }
    // Every attempt at the second page (the policy's three) fails: the retries give up.
    server.inject(
        Fault::Status {
            status: 503,
            body: json!({"error_code": 2000, "error_message": "busy", "error_id": "e"}).to_string(),
            headers: Vec::new(),
        },
        3,
    );
    let error = wallets.next().await.unwrap().unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Api {
                status: 503,
                code: 2000,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        wallets.next().await.is_none(),
        "the stream ends after the error"
    );
    let second_page = list_requests(&server)
        .into_iter()
        .filter(|r| r.query.contains("after=mock-cursor-5"))
        .count();
    assert_eq!(second_page, 3, "three attempts at the second page");

    // A tampered page is the signature error, never data.
    let mut wallets = cobo.items(api.list_wallets().limit(5));
    server.inject(Fault::TamperBody, 1);
    let error = wallets.next().await.unwrap().unwrap_err();
    assert!(matches!(error, Error::ResponseSignature(_)), "{error:?}");
    assert!(wallets.next().await.is_none());
}

#[tokio::test]
async fn a_server_that_names_the_same_cursor_again_is_an_error_not_a_loop() {
    let (server, cobo) = mock_and_client().await;
    let stuck =
        json!({"data": [], "pagination": {"before": "", "after": "again", "total_count": 9}});
    server
        .answer_operation(
            OPERATIONS,
            "list_wallets",
            cobo_oauth_mock::Answer::ok(stuck),
        )
        .unwrap();
    let api = client(&cobo);
    let outcome: Result<Vec<_>, Error> = cobo.items(api.list_wallets()).try_collect().await;
    assert!(
        matches!(&outcome, Err(Error::InvalidBody { reason, .. }) if reason.contains("again")),
        "{outcome:?}"
    );
    assert_eq!(list_requests(&server).len(), 2);
}

#[tokio::test]
async fn a_server_whose_cursors_go_round_in_a_cycle_is_an_error_not_a_loop() {
    let (server, cobo) = mock_and_client().await;
    // A page naming `next` as the next page's cursor (the mock answers it to any cursor).
    let page_naming = |next: &str| {
        let page = json!({
            "data": [wallets()[0].clone()],
            "pagination": {"before": "", "after": next, "total_count": 9}
        });
        server
            .answer_operation(
                OPERATIONS,
                "list_wallets",
                cobo_oauth_mock::Answer::ok(page),
            )
            .unwrap();
    };
    let api = client(&cobo);
    let mut pages = cobo.pages(api.list_wallets());
    // The first page names A, the page after A names B, the page after B names A again.
    page_naming("cursor-a");
    assert_eq!(pages.next().await.unwrap().unwrap().len(), 1);
    page_naming("cursor-b");
    assert_eq!(pages.next().await.unwrap().unwrap().len(), 1);
    page_naming("cursor-a");
    let error = pages.next().await.unwrap().unwrap_err();
    assert!(
        matches!(&error, Error::InvalidBody { reason, .. }
            if reason.contains("cursor-b") && reason.contains("cursor-a") && reason.contains("cycle")),
        "{error:?}"
    );
    assert!(
        pages.next().await.is_none(),
        "the stream ends after the error"
    );
    let queries: Vec<String> = list_requests(&server)
        .into_iter()
        .map(|r| r.query)
        .collect();
    assert_eq!(queries, ["", "after=cursor-a", "after=cursor-b"]);
}
