//! A known data type whose data is not its shape: a typed error naming the type and the path.

use cobo_oauth_events::EventData;
use serde_json::json;

use crate::samples;

fn transaction_event() -> serde_json::Value {
    samples::event_data("Transaction", "TransactionWebhookEventData")
}

#[test]
fn broken_data_of_a_known_type_names_the_type_and_where_reading_stopped() {
    let mut data = transaction_event();
    data["block_info"] = json!({"block_hash": "h", "block_number": "secret-value-123"});
    let error = EventData::from_value(data).unwrap_err();
    assert_eq!(error.data_type, "Transaction");
    assert_eq!(error.path, "block_info.block_number");
    let shown = error.to_string();
    assert!(
        shown.contains("Transaction") && shown.contains("block_info.block_number"),
        "{shown}"
    );
    // serde's own text (kept in `source`) quotes the value; the message and Debug never do.
    assert!(error.source.to_string().contains("secret-value-123"));
    assert!(!shown.contains("secret-value-123"), "{shown}");
    let debug = format!("{error:?}");
    assert!(
        !debug.contains("secret-value-123") && debug.contains("block_info"),
        "{debug}"
    );
}

#[test]
fn the_path_names_array_indexes_and_missing_fields() {
    let mut data = transaction_event();
    data["category"] = json!(["fine", 5]);
    assert_eq!(EventData::from_value(data).unwrap_err().path, "category[1]");

    let mut data = transaction_event();
    data.as_object_mut().unwrap().remove("status");
    let error = EventData::from_value(data).unwrap_err();
    assert_eq!(
        (error.data_type.as_str(), error.path.as_str()),
        ("Transaction", ".")
    );
    assert!(
        error.source.to_string().contains("status"),
        "{}",
        error.source
    );
}
