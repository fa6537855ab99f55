//! [`CoboClient::send_request`]: a request built by hand, sent like a generated operation.

use progenitor_client::ResponseValue;
use serde::de::DeserializeOwned;

use crate::client::{CoboClient, typed_call};
use crate::error::Error;
use crate::executor::CallOptions;
use crate::runtime::{Hooks, Operation};

/// progenitor's error of an exchange whose error body is read as JSON.
type GenError = progenitor_client::Error<serde_json::Value>;

impl CoboClient {
    /// Sends `request`, built by hand (its method, a URL below this client's base URL, its
    /// headers and body bytes), as the operation `operation` of a spec: signed, verified and
    /// retried like a generated operation, with the Bearer token when `operation` takes one
    /// (and this client has a source, [`Self::with_bearer`]). `T` is the success answer's
    /// type (`serde_json::Value` for any); an error answer is typed like [`Self::call`]'s.
    /// For an operation no generated client holds (the CLI's `api` command).
    pub async fn send_request<T: DeserializeOwned>(
        &self,
        request: reqwest::Request,
        operation: Operation,
    ) -> Result<T, Error> {
        let hooks = self.hooks();
        let http = self.http();
        typed_call(
            exchange::<T>(&hooks, &http, request, operation),
            CallOptions::default(),
        )
        .await
    }
}

/// Sends `request` through `hooks` and reads the answer as the generated methods do: a 2XX
/// as `T`, a 4XX or 5XX as an error body.
pub(crate) async fn exchange<T: DeserializeOwned>(
    hooks: &Hooks,
    http: &reqwest::Client,
    request: reqwest::Request,
    operation: Operation,
) -> Result<ResponseValue<T>, GenError> {
    let result = hooks.exec(http, request, operation).await;
    Hooks::post::<serde_json::Value>(&result)?;
    let response = result.map_err(GenError::CommunicationError)?;
    match response.status().as_u16() {
        200..=299 => ResponseValue::from_response(response).await,
        400..=599 => Err(GenError::ErrorResponse(
            ResponseValue::from_response(response).await?,
        )),
        _ => Err(GenError::UnexpectedResponse(response)),
    }
}
