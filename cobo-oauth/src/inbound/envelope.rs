//! The typed envelopes of what Cobo sends: [`WebhookEvent`] and [`CallbackMessage`], parsed only
//! from a body whose signature holds ([`super::VerifiedBody`]).
//!
//! Written by hand, mirroring the official spec (`openapi/cobo-waas2-openapi.yaml`). Why not
//! generated: the spec's `WebhookEvent` carries `data` as `WebhookEventData`, a `oneOf` of 25
//! shapes that reaches about 185 schemas; generating them into `cobo-oauth-gen` would make
//! every build of the client compile them (and this crate needs only the envelope: `data` is
//! kept as JSON with its `data_type`). The typed `data` is the opt-in crate `cobo-oauth-events`
//! (`event.typed_data()`: an enum by `data_type`, generated from the same spec; this crate does
//! not depend on it). The schemas mirrored here:
//! - [`WebhookEvent`]: `#/components/schemas/WebhookEvent`; its `data` is
//!   `#/components/schemas/WebhookEventData` (a `oneOf` of 25 shapes, discriminated by
//!   `data_type`: `#/components/schemas/WebhookEventDataType`), its `type` is
//!   `#/components/schemas/WebhookEventType` (an enum Cobo extends, kept as text here) and its
//!   `status` `#/components/schemas/WebhookEventStatus`.
//!   The spec's `required` lists `id` while the property is `event_id` (the payloads and the
//!   official SDKs' models use `event_id`): `event_id` is read, and `id` only when there is no
//!   `event_id` (a body with both is read, its `id` ignored: refusing it with 400 would make
//!   Cobo drop the event after its retries). (Normalization removes `id` from `required` and
//!   reports it.)
//! - [`CallbackMessage`]: the body of a transaction-approval callback is a
//!   `#/components/schemas/Transaction` (the official Python demo parses it with
//!   `Transaction.from_dict`). The spec's `#/components/schemas/CallbackMessage` is something
//!   else: the record the callback-message list operations answer (`id`, `status`, `result`,
//!   with the transaction in `data`). `Transaction`'s `required` lists `transaction_type` while
//!   the property is `type`: only `transaction_id` and `status` are required here.
//!
//! Every envelope keeps the raw JSON text it came from ([`WebhookEvent::raw`]), so fields this
//! version does not model are never lost.

use serde::Deserialize;
use serde_json::{Map, Value};

/// Why a verified body is not the envelope it should be.
///
/// Its message names the envelope and where serde stopped (the kind of error, line and
/// column), never serde's own text, which can quote values of the body; that text is in
/// [`Self::source`], for a caller that chooses to show it. `Debug` shows the same as the
/// message, so `{:?}` in a log quotes nothing from the body either.
#[derive(thiserror::Error)]
#[error("the body is not a valid {envelope} ({})", Where(.source))]
pub struct EnvelopeError {
    /// Which envelope.
    pub envelope: &'static str,
    /// What serde found (its message can quote values of the body).
    #[source]
    pub source: serde_json::Error,
}

impl std::fmt::Debug for EnvelopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeError")
            .field("envelope", &self.envelope)
            .field("at", &Where(&self.source).to_string())
            .finish()
    }
}

/// A serde error's kind and position, without its message.
struct Where<'a>(&'a serde_json::Error);

impl std::fmt::Display for Where<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use serde_json::error::Category;
        let kind = match self.0.classify() {
            Category::Io => "read error",
            Category::Syntax => "not JSON",
            Category::Data => "JSON of another shape",
            Category::Eof => "JSON cut short",
        };
        match (self.0.line(), self.0.column()) {
            (0, _) => f.write_str(kind),
            (line, column) => write!(f, "{kind} at line {line}, column {column}"),
        }
    }
}

/// A webhook event (`#/components/schemas/WebhookEvent`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "WebhookEventWire")]
#[non_exhaustive]
pub struct WebhookEvent {
    /// The event ID: the key to deduplicate by (Cobo delivers an event more than once). Read
    /// from `event_id`, or from the spec's `id` when there is no `event_id`.
    pub event_id: String,
    /// The webhook endpoint URL the event was sent to.
    pub url: String,
    /// When the event was triggered (ms); the same across retries.
    pub created_timestamp: i64,
    /// The event type, e.g. `wallets.transaction.succeeded` (`WebhookEventType`).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The event data.
    pub data: WebhookEventData,
    /// The delivery status (`WebhookEventStatus`), when sent.
    #[serde(default)]
    pub status: Option<String>,
    /// When the next retry is scheduled (ms), when the status is `Retrying`.
    #[serde(default)]
    pub next_retry_timestamp: Option<i64>,
    /// How many retries are left, when the status is `Retrying`.
    #[serde(default)]
    pub retries_left: Option<i64>,
    /// The body, exactly as received.
    #[serde(skip)]
    raw: String,
}

/// [`WebhookEvent`] as sent: `event_id` and `id` both optional, so that a body with both is
/// not a "duplicate field" (as `#[serde(alias)]` would make it).
#[derive(Deserialize)]
struct WebhookEventWire {
    #[serde(default)]
    event_id: Option<String>,
    /// Read only when `event_id` is missing (so any value is accepted here).
    #[serde(default)]
    id: Option<Value>,
    url: String,
    created_timestamp: i64,
    #[serde(rename = "type")]
    event_type: String,
    data: WebhookEventData,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    next_retry_timestamp: Option<i64>,
    #[serde(default)]
    retries_left: Option<i64>,
}

impl TryFrom<WebhookEventWire> for WebhookEvent {
    type Error = &'static str;

    fn try_from(wire: WebhookEventWire) -> Result<Self, Self::Error> {
        let event_id = match (wire.event_id, wire.id) {
            (Some(event_id), _) => event_id,
            (None, Some(Value::String(id))) => id,
            (None, Some(_)) => return Err("`id` is not a string (and there is no `event_id`)"),
            (None, None) => return Err("missing field `event_id`"),
        };
        Ok(Self {
            event_id,
            url: wire.url,
            created_timestamp: wire.created_timestamp,
            event_type: wire.event_type,
            data: wire.data,
            status: wire.status,
            next_retry_timestamp: wire.next_retry_timestamp,
            retries_left: wire.retries_left,
            raw: String::new(),
        })
    }
}

/// The data of a webhook event (`#/components/schemas/WebhookEventData`): its `data_type` and
/// the other fields of the shape it names.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct WebhookEventData {
    /// Which shape: `Transaction`, `TSSRequest`, `Addresses`, `WalletInfo`, ...
    pub data_type: String,
    /// Every other field.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl WebhookEventData {
    /// What the data is about: its organization and wallets, where it names them (the
    /// `Transaction`, `Addresses`, `WalletInfo`, `Organization`, ... shapes).
    pub fn subject(&self) -> super::Subject {
        super::Subject::from_fields(&self.fields)
    }

    /// The data as `T` (your type, or a generated model of the shape `data_type` names).
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, EnvelopeError> {
        let mut object = self.fields.clone();
        object.insert("data_type".into(), Value::String(self.data_type.clone()));
        serde_json::from_value(Value::Object(object)).map_err(|source| EnvelopeError {
            envelope: "webhook event data",
            source,
        })
    }
}

impl WebhookEvent {
    /// Parses a body. Call it on a verified body only ([`super::VerifiedBody::webhook_event`]).
    pub fn from_slice(body: &[u8]) -> Result<Self, EnvelopeError> {
        let error = |source| EnvelopeError {
            envelope: "webhook event",
            source,
        };
        let mut event: Self = serde_json::from_slice(body).map_err(error)?;
        event.raw = std::str::from_utf8(body)
            .map_err(|_| error(serde::de::Error::custom("the body is not UTF-8")))?
            .to_owned();
        Ok(event)
    }

    /// The JSON text of the event, exactly as received and signed.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// What the event is about ([`WebhookEventData::subject`]).
    pub fn subject(&self) -> super::Subject {
        self.data.subject()
    }
}

/// A transaction-approval callback: the body is the transaction waiting for approval
/// (`#/components/schemas/Transaction`). Answer it with
/// [`CallbackDecision`](super::CallbackDecision).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct CallbackMessage {
    /// The transaction ID.
    pub transaction_id: String,
    /// The request ID you gave when creating the transaction.
    #[serde(default)]
    pub request_id: Option<String>,
    /// The wallet ID.
    #[serde(default)]
    pub wallet_id: Option<String>,
    /// The transaction type (`TransactionType`: `Deposit`, `Withdrawal`, ...).
    #[serde(default, rename = "type")]
    pub transaction_type: Option<String>,
    /// The transaction status (`TransactionStatus`).
    pub status: String,
    /// The chain ID.
    #[serde(default)]
    pub chain_id: Option<String>,
    /// The token ID.
    #[serde(default)]
    pub token_id: Option<String>,
    /// When the transaction was created (ms).
    #[serde(default)]
    pub created_timestamp: Option<i64>,
    /// When it was last updated (ms).
    #[serde(default)]
    pub updated_timestamp: Option<i64>,
    /// Every other field (`source`, `destination`, `fee`, ...).
    #[serde(flatten)]
    pub fields: Map<String, Value>,
    /// The body, exactly as received.
    #[serde(skip)]
    raw: String,
}

impl CallbackMessage {
    /// Parses a body. Call it on a verified body only ([`super::VerifiedBody::callback_message`]).
    pub fn from_slice(body: &[u8]) -> Result<Self, EnvelopeError> {
        let error = |source| EnvelopeError {
            envelope: "callback message",
            source,
        };
        let mut message: Self = serde_json::from_slice(body).map_err(error)?;
        message.raw = std::str::from_utf8(body)
            .map_err(|_| error(serde::de::Error::custom("the body is not UTF-8")))?
            .to_owned();
        Ok(message)
    }

    /// The JSON text of the message, exactly as received and signed.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// What the transaction is about: its wallet (and an `org_id`, should the body carry one).
    pub fn subject(&self) -> super::Subject {
        let mut subject = super::Subject::from_fields(&self.fields);
        if let Some(wallet_id) = &self.wallet_id {
            subject.wallet_ids.retain(|id| id != wallet_id);
            subject.wallet_ids.insert(0, wallet_id.clone());
        }
        subject
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_event_keeps_its_raw_text_and_its_data() {
        let body = br#"{"event_id":"e1","url":"https://a/b","created_timestamp":5,"type":"wallets.updated","data":{"data_type":"WalletInfo","name":"x"},"extra":1}"#;
        let event = WebhookEvent::from_slice(body).unwrap();
        assert_eq!(event.event_id, "e1");
        assert_eq!(event.event_type, "wallets.updated");
        assert_eq!(event.data.data_type, "WalletInfo");
        assert_eq!(event.data.fields["name"], "x");
        assert_eq!(event.raw().as_bytes(), body);
        #[derive(Deserialize)]
        struct Wallet {
            data_type: String,
            name: String,
        }
        let wallet: Wallet = event.data.parse().unwrap();
        assert_eq!(
            (wallet.data_type.as_str(), wallet.name.as_str()),
            ("WalletInfo", "x")
        );
    }

    #[test]
    fn the_spec_spelling_id_is_accepted_and_a_missing_event_id_is_an_error() {
        let body = br#"{"id":"e2","url":"u","created_timestamp":5,"type":"t","data":{"data_type":"Chains"}}"#;
        assert_eq!(WebhookEvent::from_slice(body).unwrap().event_id, "e2");
        let body = br#"{"url":"u","created_timestamp":5,"type":"t","data":{"data_type":"Chains"}}"#;
        let error = WebhookEvent::from_slice(body).unwrap_err();
        assert!(error.source.to_string().contains("event_id"), "{error}");
        assert!(WebhookEvent::from_slice(b"not json").is_err());
    }

    #[test]
    fn a_body_with_both_event_id_and_id_is_read_by_its_event_id() {
        let body = br#"{"id":"spec-id","event_id":"e3","url":"u","created_timestamp":5,"type":"t","data":{"data_type":"Chains"}}"#;
        assert_eq!(WebhookEvent::from_slice(body).unwrap().event_id, "e3");
        // The other order, and an `id` of another type, alongside `event_id`.
        let body = br#"{"event_id":"e4","id":7,"url":"u","created_timestamp":5,"type":"t","data":{"data_type":"Chains"}}"#;
        assert_eq!(WebhookEvent::from_slice(body).unwrap().event_id, "e4");
        // `id` alone must be text.
        let body =
            br#"{"id":7,"url":"u","created_timestamp":5,"type":"t","data":{"data_type":"Chains"}}"#;
        assert!(WebhookEvent::from_slice(body).is_err());
    }

    #[test]
    fn an_envelope_error_never_quotes_the_body() {
        let body = br#"{"event_id":"e","url":"u","created_timestamp":"secret-value-123","type":"t","data":{"data_type":"Chains"}}"#;
        let error = WebhookEvent::from_slice(body).unwrap_err();
        assert!(error.source.to_string().contains("secret-value-123"));
        let shown = error.to_string();
        assert!(!shown.contains("secret-value-123"), "{shown}");
        let debug = format!("{error:?}");
        assert!(!debug.contains("secret-value-123"), "{debug}");
        assert!(debug.contains("line 1"), "{debug}");
        assert!(
            shown.contains("webhook event") && shown.contains("line 1"),
            "{shown}"
        );
        let error = CallbackMessage::from_slice(br#"{"transaction_id":["secret-value-123"]"#);
        assert!(!error.unwrap_err().to_string().contains("secret-value-123"));
    }

    #[test]
    fn a_callback_message_is_a_transaction() {
        let body = br#"{"transaction_id":"t1","request_id":"r","type":"Withdrawal","status":"PendingApproval","source":{"source_type":"Org-Controlled"}}"#;
        let message = CallbackMessage::from_slice(body).unwrap();
        assert_eq!(message.transaction_id, "t1");
        assert_eq!(message.transaction_type.as_deref(), Some("Withdrawal"));
        assert_eq!(message.fields["source"]["source_type"], "Org-Controlled");
        assert_eq!(message.raw().as_bytes(), body);
        assert!(CallbackMessage::from_slice(br#"{"status":"x"}"#).is_err());
    }
}
