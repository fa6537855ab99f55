//! The accessor on `cobo-oauth`'s envelopes, beside their raw JSON.

use cobo_oauth::inbound::{CallbackMessage, WebhookEvent};
use cobo_oauth_events::{EventData, TypedData};
use serde_json::json;

use crate::samples;

#[test]
fn a_webhook_event_gives_its_typed_data_and_keeps_its_raw_json() {
    let data = samples::event_data("Transaction", "TransactionWebhookEventData");
    let body = json!({
        "event_id": "e1", "url": "https://app.example/cobo/webhook",
        "created_timestamp": 1701396866000_i64, "type": "wallets.transaction.succeeded",
        "data": data,
    })
    .to_string();
    let event = WebhookEvent::from_slice(body.as_bytes()).unwrap();
    let EventData::Transaction(tx) = event.typed_data().unwrap() else {
        panic!("not a transaction");
    };
    assert_eq!(json!(tx.transaction_id), data["transaction_id"]);
    assert_eq!(json!(tx.status), data["status"]);
    // The raw JSON is still there.
    assert_eq!(event.raw(), body);
    assert_eq!(event.data.data_type, "Transaction");
    assert_eq!(event.data.fields["wallet_id"], data["wallet_id"]);

    let body = br#"{"event_id":"e2","url":"u","created_timestamp":5,"type":"t","data":{"data_type":"Brand-new","x":1}}"#;
    let event = WebhookEvent::from_slice(body).unwrap();
    assert!(matches!(
        event.typed_data().unwrap(),
        EventData::Unknown { ref tag, ref data } if tag == "Brand-new" && data["x"] == 1
    ));
}

#[test]
fn a_webhook_event_with_broken_data_is_a_typed_error() {
    let mut data = samples::event_data("Chains", "ChainsEventData");
    data["chains"] = json!("not a list");
    let body =
        json!({"event_id": "e", "url": "u", "created_timestamp": 5, "type": "t", "data": data});
    let event = WebhookEvent::from_slice(body.to_string().as_bytes()).unwrap();
    let error = event.typed_data().unwrap_err();
    assert_eq!(
        (error.data_type.as_str(), error.path.as_str()),
        ("Chains", "chains")
    );
}

#[test]
fn a_callback_message_is_a_typed_transaction() {
    let body = samples::transaction();
    let message = CallbackMessage::from_slice(body.to_string().as_bytes()).unwrap();
    let tx = message.typed_data().unwrap();
    assert_eq!(json!(tx.transaction_id), body["transaction_id"]);
    assert_eq!(json!(tx.source), body["source"]);
    // A message deserialized elsewhere (no raw text) reads the same from its fields.
    let fields_only: CallbackMessage = serde_json::from_value(body.clone()).unwrap();
    assert!(fields_only.raw().is_empty());
    assert_eq!(
        serde_json::to_value(fields_only.typed_data().unwrap()).unwrap(),
        serde_json::to_value(&tx).unwrap()
    );

    let mut broken = body;
    broken["block_info"] = json!({"block_number": "yesterday"});
    let message = CallbackMessage::from_slice(broken.to_string().as_bytes()).unwrap();
    let error = message.typed_data().unwrap_err();
    assert_eq!(
        (error.data_type.as_str(), error.path.as_str()),
        ("Transaction", "block_info.block_number")
    );
}
