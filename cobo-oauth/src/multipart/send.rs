//! Sending a [`Form`] to an operation of a generated client, through its hooks.

use progenitor_client::ClientInfo;
use serde::de::DeserializeOwned;

use super::form::{FilePart, Form};
use crate::any_request::exchange;
use crate::client::{CoboClient, typed_call};
use crate::error::Error;
use crate::executor::CallOptions;
use crate::runtime::{Hooks, Operation};

/// The `operationId` of Cobo's multipart operation (`POST /payments/files`).
pub const UPLOAD_PAYMENT_FILE: &str = "upload_payment_file";

impl CoboClient {
    /// Uploads `file` with `upload_payment_file` (`POST /payments/files`, the form field
    /// `file`) of the generated client `api`, whose `operations` table (its `OPERATIONS`)
    /// lists it; `T` is the answer's type (the client's `types::PaymentUploadedFile`). Signed
    /// as Cobo's Python SDK signs a multipart request (an empty BODY), verified, with the
    /// Bearer token; errors typed like [`Self::call`]'s. See [`crate::multipart`].
    pub async fn upload_payment_file<C, T>(
        &self,
        api: &C,
        operations: &'static [Operation],
        file: FilePart,
    ) -> Result<T, Error>
    where
        C: ClientInfo<Hooks> + Sync,
        T: DeserializeOwned,
    {
        let form = Form::new().file("file", file);
        self.send_multipart(api, operations, UPLOAD_PAYMENT_FILE, &form)
            .await
    }

    /// Sends `form` as the `multipart/form-data` body of the operation `id` of the generated
    /// client `api` (listed in its `operations` table; its path takes no parameters), through
    /// `api`'s hooks: signed with an empty BODY as the Python SDK signs a multipart request,
    /// verified, with the Bearer token when the operation takes one. `T` is the success
    /// answer's type; an error answer is typed like [`Self::call`]'s.
    pub async fn send_multipart<C, T>(
        &self,
        api: &C,
        operations: &'static [Operation],
        id: &str,
        form: &Form,
    ) -> Result<T, Error>
    where
        C: ClientInfo<Hooks> + Sync,
        T: DeserializeOwned,
    {
        let operation = Operation::find(operations, id).copied().ok_or_else(|| {
            Error::InvalidRequest(format!("the client's OPERATIONS table has no {id:?}"))
        })?;
        let request = multipart_request::<C>(api, &operation, form)?;
        typed_call(
            exchange::<T>(api.inner(), api.client(), request, operation),
            CallOptions::default(),
        )
        .await
    }
}

/// The request of `operation` with `form` as its body.
fn multipart_request<C: ClientInfo<Hooks>>(
    api: &C,
    operation: &Operation,
    form: &Form,
) -> Result<reqwest::Request, Error> {
    if operation.path.contains('{') {
        return Err(Error::InvalidRequest(format!(
            "{} takes path parameters, which a multipart request does not fill in",
            operation.id
        )));
    }
    let url = reqwest::Url::parse(&format!("{}{}", api.baseurl(), operation.path))
        .map_err(|e| Error::InvalidRequest(format!("the operation's URL: {e}")))?;
    let method = reqwest::Method::from_bytes(operation.method.as_bytes())
        .map_err(|e| Error::InvalidRequest(format!("the operation's method: {e}")))?;
    let header = |value: &str| {
        http::HeaderValue::from_str(value)
            .map_err(|e| Error::InvalidRequest(format!("a header of the request: {e}")))
    };
    let mut request = reqwest::Request::new(method, url);
    let headers = request.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, header(&form.content_type())?);
    headers.insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert("api-version", header(C::api_version())?);
    *request.body_mut() = Some(form.encode()?.into());
    Ok(request)
}
