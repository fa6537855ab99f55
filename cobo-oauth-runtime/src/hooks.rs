//! [`Hooks`]: the value every generated client carries, and through which its generated glue
//! sends every request.
//!
//! progenitor calls the `ClientHooks::exec` hook of a generated client for every operation, and
//! the generator runs in `HooksMode::Expected`, so a client does not compile without it. The
//! generator writes that implementation into each generated client (the orphan rule wants it
//! next to the client's type), and it does nothing but call [`Hooks::exec`] and [`Hooks::post`]
//! here: every generated client, wherever it was generated, shares this one type, so one
//! [`Executor`] (`cobo-oauth`'s signing executor) serves them all.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use progenitor_client::Error;

use crate::operation::Operation;

/// The future an [`Executor`] returns.
pub type ExecFuture<'a> =
    Pin<Box<dyn Future<Output = Result<reqwest::Response, ExecError>> + Send + 'a>>;

/// Runs every request of a generated client.
pub trait Executor: Send + Sync + fmt::Debug {
    /// Sends `request` with `client` and returns the response, or why there is none.
    /// `operation` is the generated client's entry for the request's operation.
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation: Operation,
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

/// The `inner` value of every generated client: the executor its requests go through.
#[derive(Clone, Debug)]
pub struct Hooks {
    executor: Arc<dyn Executor>,
}

impl Hooks {
    /// Requests go through `executor`.
    pub fn new(executor: Arc<dyn Executor>) -> Self {
        Self { executor }
    }

    /// Requests are sent as they are: unsigned and unchecked. For tests of generated code only;
    /// Cobo rejects unsigned requests.
    pub fn unsigned() -> Self {
        Self::new(Arc::new(Unsigned))
    }

    /// The generated `exec` hook: runs `request` through the executor. A rejection travels to
    /// [`Self::post`] inside a placeholder response (progenitor's hook can return no other error).
    pub async fn exec(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
        operation: Operation,
    ) -> reqwest::Result<reqwest::Response> {
        match self.executor.execute(client, request, operation).await {
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

    /// The generated `post` hook: turns a rejected exchange into
    /// `progenitor_client::Error::Custom` before any code reads the placeholder as data. (The
    /// error type is progenitor's hook signature.)
    #[allow(clippy::result_large_err)]
    pub fn post<E>(result: &reqwest::Result<reqwest::Response>) -> Result<(), Error<E>> {
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

/// Sends requests unchanged.
#[derive(Debug)]
struct Unsigned;

impl Executor for Unsigned {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        _operation: Operation,
    ) -> ExecFuture<'a> {
        Box::pin(async move { client.execute(request).await.map_err(ExecError::Transport) })
    }
}

/// Carried by the placeholder response that stands for a rejected exchange, so that
/// [`Hooks::post`] can turn it into an error before any code reads it as data.
///
/// Why a placeholder: progenitor's `exec` hook must return `reqwest::Result<Response>`, and a
/// `reqwest::Error` cannot be made outside reqwest, so a refusal of the executor (a bad
/// signature, a signing failure) can only travel as a response that `post` recognizes. The
/// typed error itself reaches `cobo-oauth`'s `CoboClient::call` through the call's own record.
#[derive(Clone)]
struct Rejection(Arc<dyn StdError + Send + Sync>);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Refuses;

    #[derive(Debug)]
    struct Refusal;

    impl fmt::Display for Refusal {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the response signature is invalid")
        }
    }

    impl StdError for Refusal {}

    impl Executor for Refuses {
        fn execute<'a>(
            &'a self,
            _client: &'a reqwest::Client,
            _request: reqwest::Request,
            _operation: Operation,
        ) -> ExecFuture<'a> {
            Box::pin(async { Err(ExecError::Rejected(Arc::new(Refusal))) })
        }
    }

    #[tokio::test]
    async fn a_rejection_reaches_post_as_a_custom_error_and_never_as_data() {
        let hooks = Hooks::new(Arc::new(Refuses));
        let request = reqwest::Request::new(
            reqwest::Method::GET,
            "http://127.0.0.1:9/wallets"
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
        );
        let result = hooks
            .exec(&reqwest::Client::new(), request, Operation::unlisted("x"))
            .await;
        match Hooks::post::<()>(&result) {
            Err(Error::Custom(message)) => {
                assert_eq!(message, "the response signature is invalid")
            }
            other => panic!("{other:?}"),
        }
        let plain = Ok(reqwest::Response::from(http::Response::new(
            Vec::<u8>::new(),
        )));
        assert!(Hooks::post::<()>(&plain).is_ok());
    }
}
