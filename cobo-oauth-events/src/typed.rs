//! [`TypedData`]: the typed data of `cobo-oauth`'s envelopes, beside their raw JSON (which
//! stays: `WebhookEvent::raw`, `WebhookEventData::fields`, `CallbackMessage::raw`).

use cobo_oauth::inbound::{CallbackMessage, WebhookEvent, WebhookEventData};
use serde_json::{Map, Value};

use crate::{DataError, EventData, types};

/// The typed data of an envelope `cobo-oauth` verified and parsed.
///
/// - [`WebhookEvent`] and [`WebhookEventData`]: an [`EventData`], chosen by `data_type`:
///   [`EventData::Unknown`] (with the data as received) for a `data_type` this version does
///   not know, a [`DataError`] for a known one whose data is not its shape.
/// - [`CallbackMessage`]: the transaction waiting for approval, a [`types::Transaction`].
pub trait TypedData {
    /// What the data is read as.
    type Data;

    /// Reads the data as its type.
    fn typed_data(&self) -> Result<Self::Data, DataError>;
}

impl EventData {
    /// Reads the data of an event: an object with its `data_type`. A `data_type` the spec
    /// does not list (or none) gives [`EventData::Unknown`] holding `data` unchanged.
    pub fn from_value(data: Value) -> Result<Self, DataError> {
        let tag = data
            .get("data_type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Self::parse(&tag, data).map_err(|error| DataError::new(tag, error))
    }
}

impl TypedData for WebhookEventData {
    type Data = EventData;

    fn typed_data(&self) -> Result<EventData, DataError> {
        let mut object = Map::with_capacity(self.fields.len() + 1);
        object.insert("data_type".into(), Value::String(self.data_type.clone()));
        object.extend(self.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        EventData::from_value(Value::Object(object))
    }
}

impl TypedData for WebhookEvent {
    type Data = EventData;

    fn typed_data(&self) -> Result<EventData, DataError> {
        self.data.typed_data()
    }
}

impl TypedData for CallbackMessage {
    type Data = types::Transaction;

    /// Reads the body as received ([`CallbackMessage::raw`]); a message made by serde
    /// elsewhere, without its raw text, is read from its fields.
    fn typed_data(&self) -> Result<types::Transaction, DataError> {
        let read = if self.raw().is_empty() {
            serde_path_to_error::deserialize(Value::Object(callback_fields(self)))
        } else {
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(self.raw()))
        };
        read.map_err(|error| DataError::new("Transaction", error))
    }
}

/// A callback message's fields as one JSON object, the typed ones with the rest.
fn callback_fields(message: &CallbackMessage) -> Map<String, Value> {
    let mut object = message.fields.clone();
    let text = |value: &Option<String>| value.clone().map(Value::String);
    let known = [
        (
            "transaction_id",
            Some(Value::String(message.transaction_id.clone())),
        ),
        ("request_id", text(&message.request_id)),
        ("wallet_id", text(&message.wallet_id)),
        ("type", text(&message.transaction_type)),
        ("status", Some(Value::String(message.status.clone()))),
        ("chain_id", text(&message.chain_id)),
        ("token_id", text(&message.token_id)),
        (
            "created_timestamp",
            message.created_timestamp.map(Value::from),
        ),
        (
            "updated_timestamp",
            message.updated_timestamp.map(Value::from),
        ),
    ];
    for (key, value) in known {
        if let Some(value) = value {
            object.insert(key.into(), value);
        }
    }
    object
}
