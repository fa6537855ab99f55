//! The client generated from Cobo's whole official spec reads a transaction whose `status` and
//! `type` Cobo has not documented yet: those two keep the values as they came, everything else
//! is typed, and the values serialize back unchanged (normalization rule `open-enums`). And an
//! enum whose values are not identifiers has named variants with the values as their wire form
//! (rule `enum-non-identifier-values`).

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use cobo_oauth::tokens::TokenManager;
use cobo_oauth_mock::{Answer, MockConfig, MockServer};
use cobo_waas2_full::types::{
    PolicyFieldOperator, TransactionInitiatorType, TransactionSource, TransactionSourceType,
    TransactionStatus,
};
use cobo_waas2_full::{Client, OPERATIONS};
use serde_json::json;

#[tokio::test]
async fn a_transaction_with_an_undocumented_status_and_type_parses_the_rest_typed() {
    let (server, cobo) = MockServer::start_with_client(MockConfig::default())
        .await
        .unwrap();
    let transaction = json!({
        "transaction_id": "aff0e1cb-15b2-4e1f-9b9d-a9133715986f",
        "wallet_id": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
        "status": "PendingQuantumCheck",
        "type": "Teleport",
        "initiator_type": "API",
        "source": {"source_type": "Asset", "wallet_id": "f47ac10b-58cc-4372-a567-0e02b2c3d479"},
        "destination": {"destination_type": "Address",
            "account_output": {"address": "19AR6YWEGbSoY8UT9Ksy9WrmrZPD5sL4Ku", "amount": "1.5"}},
        "created_timestamp": 1610445878970_i64,
        "updated_timestamp": 1610445878971_i64
    });
    let mut documented = transaction.clone();
    documented["status"] = json!("Completed");
    let page = json!({"data": [transaction, documented],
        "pagination": {"before": "", "after": "", "total_count": 2}});
    server
        .answer_operation(OPERATIONS, "list_transactions", Answer::ok(page))
        .unwrap();
    let tokens = TokenManager::builder(cobo.clone(), "app", "org").build();
    let cobo = cobo.with_bearer(Arc::new(tokens));
    let api = Client::new_with_client(cobo.env().base_url(), cobo.http(), cobo.hooks());

    let page = cobo.call(api.list_transactions().send()).await.unwrap();
    let read = &page.data[0];
    assert_eq!(read.status.unknown().map(String::as_str), Some("PendingQuantumCheck"));
    let type_ = read.type_.as_ref().unwrap();
    assert_eq!(type_.unknown().map(String::as_str), Some("Teleport"));
    // The rest is typed.
    assert_eq!(read.initiator_type, TransactionInitiatorType::Api);
    assert!(
        matches!(&read.source, TransactionSource::CustodialAssetWalletSource(source)
            if source.source_type == TransactionSourceType::Asset),
        "{:?}",
        read.source
    );
    assert_eq!(read.created_timestamp, 1610445878970);
    // A documented value is known, and both serialize back as they came.
    assert_eq!(page.data[1].status, TransactionStatus::Completed);
    let again = serde_json::to_value(read).unwrap();
    assert_eq!(again["status"], "PendingQuantumCheck");
    assert_eq!(again["type"], "Teleport");
}

#[test]
fn policy_field_operators_have_named_variants_and_keep_their_symbols() {
    let operators = [
        (PolicyFieldOperator::Gt, ">"),
        (PolicyFieldOperator::Ge, ">="),
        (PolicyFieldOperator::Lt, "<"),
        (PolicyFieldOperator::Le, "<="),
        (PolicyFieldOperator::Eq, "="),
    ];
    for (operator, symbol) in operators {
        assert_eq!(serde_json::to_value(operator).unwrap(), json!(symbol));
        assert_eq!(
            serde_json::from_value::<PolicyFieldOperator>(json!(symbol)).unwrap(),
            operator
        );
        assert_eq!(operator.to_string(), symbol);
        assert_eq!(symbol.parse::<PolicyFieldOperator>().unwrap(), operator);
    }
    assert!("Gt".parse::<PolicyFieldOperator>().is_err());
}
