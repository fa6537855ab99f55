//! Turns progenitor's `Error<E>` into this crate's [`Error`].

use progenitor_client::Error as GenError;
use serde::Serialize;

use crate::error::Error;
use crate::executor::CallRecord;

/// Maps the outcome of one generated call, with what its executor recorded.
pub(crate) fn map_error<E: Serialize>(error: GenError<E>, mut record: CallRecord) -> Error {
    if let Some(rejection) = record.rejection.take() {
        return rejection;
    }
    if !record.sent
        && matches!(
            error,
            GenError::Custom(_)
                | GenError::ErrorResponse(_)
                | GenError::UnexpectedResponse(_)
                | GenError::InvalidResponsePayload(..)
        )
    {
        // The answer came through an executor that is not this crate's (a client built with
        // other hooks): its signature verdict and typed rejection are unknown here.
        return Error::InvalidRequest(
            "the operation was not sent by a CoboClient's executor, so its outcome cannot be typed: build the generated client with CoboClient::hooks()".to_owned(),
        );
    }
    let status = record.status.unwrap_or_default();
    let retry_after = record.retry_after;
    if record.unsigned_error {
        // Not signed by Cobo: the HTTP error it is, whatever its body claims.
        return Error::Http {
            status,
            body: record.body_start,
            retry_after: record.retry_after,
        };
    }
    match error {
        GenError::ErrorResponse(response) => {
            let status = response.status().as_u16();
            match serde_json::to_value(response.into_inner()) {
                Ok(body) => from_error_body(status, &body, retry_after).unwrap_or_else(|| {
                    Error::InvalidBody {
                        status,
                        reason: "the error body has neither Cobo's nor OAuth's shape".to_owned(),
                    }
                }),
                Err(e) => Error::InvalidBody {
                    status,
                    reason: e.to_string(),
                },
            }
        }
        GenError::CommunicationError(e)
        | GenError::ResponseBodyError(e)
        | GenError::InvalidUpgrade(e) => Error::from_reqwest(e),
        GenError::InvalidResponsePayload(_, e) => Error::InvalidBody {
            status,
            reason: e.to_string(),
        },
        GenError::UnexpectedResponse(response) => {
            let status = response.status().as_u16();
            let parsed = serde_json::from_str::<serde_json::Value>(&record.body_start).ok();
            match parsed
                .as_ref()
                .and_then(|body| from_error_body(status, body, retry_after))
            {
                Some(error) => error,
                _ if (200..300).contains(&status) => Error::InvalidBody {
                    status,
                    reason: "a success status the spec does not list".to_owned(),
                },
                _ => Error::Http {
                    status,
                    body: record.body_start,
                    retry_after,
                },
            }
        }
        GenError::InvalidRequest(message) | GenError::Custom(message) => {
            Error::InvalidRequest(message)
        }
    }
}

/// Reads Cobo's `ErrorResponse` or the OAuth `{error, error_description}` from a JSON body
/// (`retry_after`: the answer's `Retry-After`).
fn from_error_body(
    status: u16,
    body: &serde_json::Value,
    retry_after: Option<std::time::Duration>,
) -> Option<Error> {
    let text = |key: &str| body.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    if let Some(code) = body.get("error_code").and_then(serde_json::Value::as_i64) {
        return Some(Error::Api {
            status,
            code,
            message: text("error_message").unwrap_or_default(),
            error_id: text("error_id").unwrap_or_default(),
            retry_after,
        });
    }
    text("error").map(|error| Error::OAuth {
        status,
        error,
        description: text("error_description").unwrap_or_default(),
        retry_after,
    })
}
