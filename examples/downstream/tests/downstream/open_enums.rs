//! A value this crate's spec does not list yet (Cobo added it after the client was generated)
//! does not fail the answer it comes in: the field keeps it as it came and the rest is typed
//! (normalization rule `open-enums`, so every client generated with `cobo-oauth-codegen`).

use std::sync::Arc;

use cobo_downstream_example::{OPERATIONS, client, types};
use cobo_oauth::runtime::OpenEnum;
use cobo_oauth::tokens::TokenManager;
use cobo_oauth_mock::{Answer, MockConfig, MockServer};
use serde_json::json;

#[tokio::test]
async fn an_undocumented_transaction_status_and_wallet_subtype_parse_the_rest_typed() {
    let (server, cobo) = MockServer::start_with_client(MockConfig::default())
        .await
        .unwrap();
    let wallet = json!({
        "wallet_id": "f47ac10b-58cc-4372-a567-0e02b2c3d479", "wallet_type": "Custodial",
        "wallet_subtype": "QuantumVault", "name": "Treasury", "org_id": "org-1"
    });
    for (id, status, body) in [
        ("get_wallet_by_id", 200, wallet),
        (
            "create_transfer_transaction",
            201,
            json!({"request_id": "r-1", "transaction_id": "t-1", "status": "PendingQuantumCheck"}),
        ),
    ] {
        let answer = Answer {
            status,
            ..Answer::ok(body)
        };
        server.answer_operation(OPERATIONS, id, answer).unwrap();
    }
    let tokens = TokenManager::builder(cobo.clone(), "app", "org-1").build();
    let cobo = cobo.with_bearer(Arc::new(tokens));
    let api = client(&cobo);

    let wallet = cobo
        .call(
            api.get_wallet_by_id()
                .wallet_id("f47ac10b-58cc-4372-a567-0e02b2c3d479")
                .send(),
        )
        .await
        .unwrap();
    let types::WalletInfo::CustodialWalletInfo(info) = &wallet else {
        panic!("{wallet:?}");
    };
    assert_eq!(info.wallet_type, types::WalletType::Custodial);
    assert_eq!(
        info.wallet_subtype,
        OpenEnum::Unknown("QuantumVault".to_owned())
    );
    assert_eq!(info.name, "Treasury");

    let transfer: types::TransferParams = serde_json::from_value(json!({
        "request_id": "r-1",
        "source": {"source_type": "Asset", "wallet_id": "f47ac10b-58cc-4372-a567-0e02b2c3d479"},
        "token_id": "ETH",
        "destination": {"destination_type": "Address",
            "account_output": {"address": "0x0000000000000000000000000000000000000001", "amount": "1.5"}}
    }))
    .unwrap();
    let created = cobo
        .call(api.create_transfer_transaction().body(transfer).send())
        .await
        .unwrap();
    assert_eq!(created.transaction_id, "t-1");
    assert_eq!(
        created.status.unknown().map(String::as_str),
        Some("PendingQuantumCheck")
    );
    // Sent back as it came.
    assert_eq!(
        serde_json::to_value(&created).unwrap()["status"],
        "PendingQuantumCheck"
    );
}
