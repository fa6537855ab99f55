//! This crate's own operations, called through the embedded mock Cobo server with a
//! `TokenManager`'s Bearer token: signed (the mock checks every signature), verified (a tampered
//! answer is the typed error), and typed.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use cobo_downstream_example::{Client, OPERATIONS, client, types};
use cobo_oauth::tokens::TokenManager;
use cobo_oauth::{CoboClient, Error, ExposeSecret as _};
use cobo_oauth_mock::{Answer, Fault, MockConfig, MockServer};
use serde_json::json;

const WALLET_ID: &str = "f47ac10b-58cc-4372-a567-0e02b2c3d479";

/// The mock, answering the three operations by `operationId`, and a client whose key it knows.
async fn mock_and_client() -> (MockServer, CoboClient) {
    let (server, cobo) = MockServer::start_with_client(MockConfig::default())
        .await
        .unwrap();
    let wallet = json!({
        "wallet_id": WALLET_ID, "wallet_type": "Custodial", "wallet_subtype": "Asset",
        "name": "Treasury", "org_id": "org-1"
    });
    let answers = [
        (
            "list_wallets",
            200,
            json!({"data": [wallet], "pagination": {"before": "", "after": "", "total_count": 1}}),
        ),
        ("get_wallet_by_id", 200, wallet.clone()),
        (
            "create_transfer_transaction",
            201,
            json!({"request_id": "r-1", "transaction_id": "t-1", "status": "Submitted"}),
        ),
    ];
    for (id, status, body) in answers {
        let answer = Answer {
            status,
            ..Answer::ok(body)
        };
        server.answer_operation(OPERATIONS, id, answer).unwrap();
    }
    (server, cobo)
}

fn transfer() -> types::TransferParams {
    serde_json::from_value(json!({
        "request_id": "r-1",
        "source": {"source_type": "Asset", "wallet_id": WALLET_ID},
        "token_id": "ETH",
        "destination": {"destination_type": "Address",
            "account_output": {"address": "0x0000000000000000000000000000000000000001", "amount": "1.5"}}
    }))
    .unwrap()
}

#[tokio::test]
async fn the_three_operations_are_signed_carry_the_bearer_token_and_come_back_typed() {
    let (server, cobo) = mock_and_client().await;
    let tokens = TokenManager::builder(cobo.clone(), "app", "org-1").build();
    let authed = cobo.with_bearer(Arc::new(tokens.clone()));
    let api = client(&authed);

    let page = authed
        .call(api.list_wallets().limit(10).send())
        .await
        .unwrap();
    assert_eq!(page.data.len(), 1);
    assert_eq!(page.pagination.map(|p| p.total_count), Some(1));

    let wallet = authed
        .call(api.get_wallet_by_id().wallet_id(WALLET_ID).send())
        .await
        .unwrap();
    assert!(
        matches!(&wallet, types::WalletInfo::CustodialWalletInfo(info) if info.name == "Treasury"),
        "{wallet:?}"
    );

    let created = authed
        .call(api.create_transfer_transaction().body(transfer()).send())
        .await
        .unwrap();
    assert_eq!(created.transaction_id, "t-1");

    // What the mock received: the token grant, then the three calls, each with the app's key
    // (the mock checked every signature) and the manager's access token.
    let access_token = tokens.access_token().await.unwrap();
    let bearer = format!("Bearer {}", access_token.expose_secret());
    let calls: Vec<(String, String)> = server
        .requests()
        .into_iter()
        .filter(|r| !r.path.ends_with("/oauth/token"))
        .map(|r| {
            assert_eq!(r.authorization.as_deref(), Some(bearer.as_str()));
            assert_eq!(r.api_key.as_deref(), Some(cobo.api_key().as_str()));
            (r.method, r.path)
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("GET".to_owned(), "/v2/wallets".to_owned()),
            ("GET".to_owned(), format!("/v2/wallets/{WALLET_ID}")),
            ("POST".to_owned(), "/v2/transactions/transfer".to_owned()),
        ]
    );
    let sent_body = server.requests().last().map(|r| r.body.clone()).unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&sent_body).unwrap();
    assert_eq!(sent["destination"]["account_output"]["amount"], "1.5");
}

#[tokio::test]
async fn a_tampered_answer_is_the_typed_signature_error() {
    let (server, cobo) = mock_and_client().await;
    let tokens = TokenManager::builder(cobo.clone(), "app", "org-1").build();
    tokens.access_token().await.unwrap();
    let authed = cobo.with_bearer(Arc::new(tokens));
    let api = client(&authed);

    server.inject(Fault::TamperBody, 1);
    let error = authed
        .call(api.get_wallet_by_id().wallet_id(WALLET_ID).send())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::ResponseSignature(_)), "{error:?}");
}

#[tokio::test]
async fn the_mock_refuses_what_cobo_would_refuse() {
    let (server, cobo) = mock_and_client().await;
    // No Bearer token: Cobo's 401 with error 2024, typed.
    let error = cobo
        .call(client(&cobo).list_wallets().send())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Api {
                status: 401,
                code: 2024,
                ..
            }
        ),
        "{error:?}"
    );
    // Not signed: the mock checks signatures, so the success above proves they held.
    let unsigned = Client::new_with_client(
        &server.base_url(),
        reqwest::Client::new(),
        cobo_oauth::runtime::Hooks::unsigned(),
    );
    let refused = unsigned.list_wallets().send().await.unwrap_err();
    assert!(
        matches!(&refused, progenitor_client::Error::InvalidResponsePayload(body, _)
            if String::from_utf8_lossy(body).contains("missing Biz-Api-Key")),
        "{refused:?}"
    );
}
