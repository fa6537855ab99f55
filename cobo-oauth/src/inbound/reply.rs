//! What the app answers Cobo, as plain `http` responses for any framework.

use http::{Response, StatusCode, header};

use super::{ContextError, InboundError};

/// The answer to a transaction-approval callback. Cobo reads the plain-text body of a 200:
/// `ok` approves, `deny` denies; a JSON body or another status counts as a failure, and Cobo
/// retries (up to 30 times).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackDecision {
    /// `ok`: approve the transaction.
    Approve,
    /// `deny`: deny it.
    Deny,
}

impl CallbackDecision {
    /// The body Cobo expects: `ok` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "ok",
            Self::Deny => "deny",
        }
    }

    /// Reads an answer body as Cobo does (exactly `ok` or `deny`; anything else is `None`).
    pub fn from_body(body: &[u8]) -> Option<Self> {
        match body {
            b"ok" => Some(Self::Approve),
            b"deny" => Some(Self::Deny),
            _ => None,
        }
    }

    /// `200 OK`, `content-type: text/plain`, body `ok` or `deny`.
    pub fn to_response(self) -> Response<String> {
        plain(StatusCode::OK, self.as_str())
    }
}

/// The answer to a webhook event that was handled (or recognized as a duplicate): `200 OK`
/// with an empty body. Answer within 2 s; do slow work after answering.
pub fn webhook_accepted() -> Response<String> {
    plain(StatusCode::OK, "")
}

/// The answer to a request that failed verification: `401 Unauthorized` with the reason (which
/// names headers, never their values).
pub fn rejected(error: &InboundError) -> Response<String> {
    plain(StatusCode::UNAUTHORIZED, &error.to_string())
}

/// The answer to a correctly signed message that is not meant for this app
/// ([`ContextError`]): `403 Forbidden`, or `503 Service Unavailable` when the app's check could
/// not tell (Cobo retries later). Cobo retries any answer but 200/201 a bounded number of times
/// (10 for events, 30 for callbacks) and then gives up, so a 403 costs those retries and leaves
/// the refusal in the sending organization's delivery log, where its operator sees it.
pub fn not_for_this_app(error: &ContextError) -> Response<String> {
    let status = match error {
        ContextError::CheckFailed { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::FORBIDDEN,
    };
    plain(status, &error.to_string())
}

fn plain(status: StatusCode, body: &str) -> Response<String> {
    let mut response = Response::new(body.to_owned());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_answers_are_plain_text() {
        let deny = CallbackDecision::Deny.to_response();
        assert_eq!(deny.status(), 200);
        assert_eq!(deny.body(), "deny");
        assert!(
            deny.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        assert_eq!(CallbackDecision::Approve.to_response().body(), "ok");
        assert_eq!(
            CallbackDecision::from_body(b"deny"),
            Some(CallbackDecision::Deny)
        );
        assert_eq!(CallbackDecision::from_body(b"\"ok\""), None);
        assert_eq!(rejected(&InboundError::BadSignature).status(), 401);
    }
}
