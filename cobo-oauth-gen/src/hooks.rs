//! The hand-written part of the generated client: every request it builds is handed to an
//! [`Executor`], which signs it, sends it and checks the response.
//!
//! progenitor calls [`ClientHooks::exec`] for every operation, including operations added to the
//! spec later, and the generator runs in `HooksMode::Expected`, so the client does not compile
//! without this implementation. The executors themselves (CoboAuth signing, response
//! verification) live in the `cobo-oauth` crate; the orphan rule is why this glue lives here.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use progenitor_client::{ClientHooks, ClientInfo, Error, OperationInfo};

use crate::Client;

/// The future an [`Executor`] returns.
pub type ExecFuture<'a> =
    Pin<Box<dyn Future<Output = Result<reqwest::Response, ExecError>> + Send + 'a>>;

/// Runs every request of the generated client.
pub trait Executor: Send + Sync + fmt::Debug {
    /// Sends `request` with `client` and returns the response, or why there is none.
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        info: &'a OperationInfo,
    ) -> ExecFuture<'a>;
}

/// Why an [`Executor`] returned no response.
#[derive(Debug)]
pub enum ExecError {
    /// reqwest failed: connection, timeout, body.
    Transport(reqwest::Error),
    /// The executor refused the request or the response, e.g. it could not sign the request or
    /// the response signature is invalid. The generated method returns
    /// `progenitor_client::Error::Custom` with this error's message.
    Rejected(Arc<dyn StdError + Send + Sync>),
}

/// The `inner` value of the generated [`Client`]: the executor its requests go through.
#[derive(Clone, Debug)]
pub struct Hooks {
    executor: Arc<dyn Executor>,
}

impl Hooks {
    /// Requests go through `executor`.
    pub fn new(executor: Arc<dyn Executor>) -> Self {
        Self { executor }
    }

    /// Requests are sent as they are: unsigned and unchecked. For tests of the generated code
    /// only; Cobo rejects unsigned requests.
    pub fn unsigned() -> Self {
        Self::new(Arc::new(Unsigned))
    }
}

/// Sends requests unchanged.
#[derive(Debug)]
struct Unsigned;

impl Executor for Unsigned {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        _info: &'a OperationInfo,
    ) -> ExecFuture<'a> {
        Box::pin(async move { client.execute(request).await.map_err(ExecError::Transport) })
    }
}

/// Carried by the placeholder response that stands for a rejected exchange, so that `post` can
/// turn it into an error before any code reads it as data.
///
/// Why a placeholder: progenitor's `exec` hook must return `reqwest::Result<Response>`, and a
/// `reqwest::Error` cannot be made outside reqwest, so a refusal of ours (a bad signature, a
/// signing failure) can only travel as a response that `post` recognizes. It lives here alone;
/// the typed error itself reaches `CoboClient::call` through the call's own record.
#[derive(Clone)]
struct Rejection(Arc<dyn StdError + Send + Sync>);

impl ClientHooks<Hooks> for Client {
    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        match self
            .inner()
            .executor
            .execute(self.client(), request, info)
            .await
        {
            Ok(response) => Ok(response),
            Err(ExecError::Transport(error)) => Err(error),
            Err(ExecError::Rejected(error)) => {
                let mut placeholder =
                    reqwest::Response::from(http::Response::new(Vec::<u8>::new()));
                placeholder.extensions_mut().insert(Rejection(error));
                Ok(placeholder)
            }
        }
    }

    async fn post<E>(
        &self,
        result: &reqwest::Result<reqwest::Response>,
        _info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        match result
            .as_ref()
            .ok()
            .and_then(|r| r.extensions().get::<Rejection>())
        {
            Some(Rejection(error)) => Err(Error::Custom(error.to_string())),
            None => Ok(()),
        }
    }
}
