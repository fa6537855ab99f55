//! What normalization reports: the rewritten document, every change, every skipped operation,
//! and why a document could not be normalized. A leaf: the rules and the pipeline all use it.

use serde_json::Value;

/// What normalization made of a spec ([`Generated::normalized`](crate::Generated::normalized)).
#[derive(Clone, Debug)]
pub struct Normalized {
    /// The rewritten document.
    pub spec: Value,
    /// Every rewrite made, in order.
    pub changes: Vec<Change>,
    /// Operations removed because no equivalent rewrite exists.
    pub skipped: Vec<Skipped>,
    /// What a rule left as it is although it falls short of the rule's aim, and why (e.g.
    /// enum uses left closed, rule `open-enums`). Not rewrites: the spec there is unchanged.
    pub notes: Vec<Change>,
}

/// One rewrite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// JSON pointer of the rewritten (or added) object, e.g.
    /// `/paths/~1oauth~1token/get/responses`.
    pub pointer: String,
    /// `operationId` of the operation concerned; `None` for a shared component.
    pub operation: Option<String>,
    /// Name of the rule that made it (each rule module's `RULE`).
    pub rule: &'static str,
    /// What was changed and why.
    pub detail: String,
}

/// An operation removed from the output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// `operationId` (or `METHOD path` if it has none).
    pub operation: String,
    /// JSON pointer of the part that could not be rewritten.
    pub pointer: String,
    /// Why no equivalent exists.
    pub reason: String,
}

/// Why a document could not be normalized; always names an operation (or
/// `(document)`) and a JSON pointer.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    /// A local `$ref` does not resolve.
    #[error("operation {operation} at {pointer}: unresolvable $ref {reference}")]
    UnresolvedRef {
        /// Operation id, or `(document)`.
        operation: String,
        /// JSON pointer of the reference.
        pointer: String,
        /// The reference string.
        reference: String,
    },
    /// The input or output is not an OpenAPI 3.0 document openapiv3 accepts.
    #[error("operation {operation} at {pointer}: not a valid OpenAPI 3.0 document: {message}")]
    Invalid {
        /// Operation id, or `(document)`.
        operation: String,
        /// JSON pointer of the offending object.
        pointer: String,
        /// The deserializer's message.
        message: String,
    },
}

/// Label used in errors that concern the document rather than an operation.
pub(crate) const DOCUMENT: &str = "(document)";
