//! The enums of the event data are the spec's enums, open: a value the spec lists reads as its
//! variant, one it does not list is kept as it came (and written back unchanged).

use cobo_oauth_events::{EventData, OpenEnum, types};
use serde_json::json;

use crate::samples;

fn transaction(status: &str) -> Box<types::TransactionWebhookEventData> {
    let mut data = samples::event_data("Transaction", "TransactionWebhookEventData");
    data["status"] = json!(status);
    match EventData::from_value(data).unwrap() {
        EventData::Transaction(tx) => tx,
        other => panic!("read as {}", other.tag()),
    }
}

#[test]
fn a_transaction_events_status_is_an_open_enum_of_the_spec_statuses() {
    let tx = transaction("Completed");
    let status: &OpenEnum<types::TransactionStatus> = &tx.status;
    assert_eq!(*status, types::TransactionStatus::Completed);
    // Displayed as on the wire, without JSON quotes (as the README prints it).
    assert_eq!(tx.status.to_string(), "Completed");

    let tx = transaction("QuantumPending");
    assert_eq!(tx.status, OpenEnum::Unknown("QuantumPending".to_owned()));
    assert_eq!(tx.status.to_string(), "QuantumPending");
    assert_eq!(
        serde_json::to_value(&tx).unwrap()["status"],
        "QuantumPending"
    );
}

#[test]
fn a_callbacks_transaction_has_open_enums_too() {
    let mut body = samples::transaction();
    body["status"] = json!("Failed");
    let tx: types::Transaction = serde_json::from_value(body).unwrap();
    let status: &OpenEnum<types::TransactionStatus> = &tx.status;
    assert_eq!(*status, types::TransactionStatus::Failed);
}
