//! One event of every data type the spec lists parses into its variant; an unknown one is kept.

use cobo_oauth_events::EventData;
use serde_json::{Value, json};

use crate::samples;

#[test]
fn every_data_type_of_the_spec_has_a_variant_and_parses_from_a_sample() {
    let data_types = samples::data_types();
    let known: Vec<&str> = data_types.iter().map(|(tag, _)| tag.as_str()).collect();
    assert_eq!(
        EventData::KNOWN,
        known.as_slice(),
        "the spec's data types changed; run `cargo xtask codegen`"
    );
    // Every value `data_type` may take has a shape (a sample) in the discriminator.
    let listed = samples::schema("WebhookEventDataType")
        .pointer("/properties/data_type/enum")
        .and_then(Value::as_array)
        .unwrap();
    assert!(!listed.is_empty());
    for tag in listed {
        let tag = tag.as_str().unwrap();
        assert!(
            known.contains(&tag),
            "data type {tag} has no schema, so no sample"
        );
    }
    let mut failures = Vec::new();
    for (tag, schema) in &data_types {
        let data = samples::event_data(tag, schema);
        match EventData::from_value(data.clone()) {
            Ok(EventData::Unknown { .. }) => failures.push(format!("{tag}: read as Unknown")),
            Ok(parsed) => {
                assert_eq!(parsed.tag(), tag);
                let back = serde_json::to_value(&parsed).unwrap();
                if back != data {
                    failures.push(format!("{tag}: written back as {back}, not {data}"));
                }
            }
            Err(error) => failures.push(format!("{tag}: {error} ({}) in {data}", error.source)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_unknown_data_type_is_kept_as_received() {
    let data = json!({"data_type": "SomethingNew", "amount": "1.5", "nested": {"a": [1, 2]}});
    match EventData::from_value(data.clone()).unwrap() {
        EventData::Unknown { tag, data: kept } => {
            assert_eq!(tag, "SomethingNew");
            assert_eq!(kept, data);
        }
        other => panic!("read as {}", other.tag()),
    }
    // No data_type at all: unknown too, never an error.
    let data = json!({"amount": "1.5"});
    let parsed = EventData::from_value(data.clone()).unwrap();
    assert!(
        matches!(parsed, EventData::Unknown { ref tag, data: ref kept } if tag.is_empty() && *kept == data)
    );
}
