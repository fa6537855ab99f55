//! The executor behind every generated operation: sign, send, verify.
//!
//! It runs inside the `exec` hook of any client `cobo-oauth-codegen` generated (this crate's,
//! or one generated in the user's crate), through the shared
//! [`Hooks`](cobo_oauth_runtime::Hooks). A failure that is not a transport error (signing, an
//! invalid response signature) reaches the generated method as
//! `progenitor_client::Error::Custom(message)`. A call made inside
//! [`CoboClient::call`](crate::CoboClient::call) gets a [`CallRecord`] of its own, scoped to that
//! call's future (a tokio task-local set only while the call's future is polled): the executor
//! writes what it observed there (status, signed or not, the start of an error body, the typed
//! rejection), and the call turns it into the typed [`Error`]. Outside a call nothing is
//! recorded.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use cobo_oauth_runtime::{ExecError, ExecFuture, Executor, Operation};
use tokio::task::futures::TaskLocalFuture;
use tracing::Instrument as _;

use crate::bearer::BearerSource;
use crate::error::Error;
use crate::retry::RetryPolicy;
use crate::signing::CoboAuth;
use crate::verify::{ResponseVerifier, Verdict};
use secrecy::ExposeSecret as _;

/// What one call observed, for turning progenitor's errors into typed ones.
#[derive(Debug, Default)]
pub(crate) struct CallRecord {
    /// This executor ran for the call (false: the operation went through another executor).
    pub sent: bool,
    /// Status of the last response received.
    pub status: Option<u16>,
    /// The last response was an unsigned non-2xx (a gateway's).
    pub unsigned_error: bool,
    /// The first bytes of the last response body.
    pub body_start: String,
    /// The typed error behind an `Error::Custom`.
    pub rejection: Option<Error>,
    /// The last response's `Retry-After` (seconds), if it had one.
    pub retry_after: Option<std::time::Duration>,
}

/// What the caller of one call asks of the executor, beyond its policy.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CallOptions {
    /// A 429 ends the call at once instead of being retried: set by callers that pause on a
    /// rate limit themselves (the token managers, whose grants must not hold a renewal permit
    /// through the executor's backoff).
    pub rate_limit_ends_call: bool,
}

/// One call's options and record, shared by the call and the executor runs inside it.
#[derive(Debug, Default)]
struct CallSlot {
    options: CallOptions,
    record: Mutex<CallRecord>,
}

/// A call's [`CallSlot`].
type RecordSlot = Arc<CallSlot>;

// Why a task-local, and the only one in the crate: the executor must hand what it saw (status,
// signed or not, the typed rejection) to the `CoboClient::call` awaiting the generated method,
// and progenitor's hook API leaves no other channel. The method's return types are fixed:
// `ResponseValue` carries status, headers and body but no extensions, and an error from the
// `exec` hook reaches the method only as `reqwest::Error` (opaque: no typed cause can be
// attached, nor read back) or `Error::Custom(String)`. `call` takes the operation's future,
// already built from a client, so no per-call client state can be slipped in either. What is
// left is state scoped to that one future: a tokio task-local set only while it is polled, so
// two calls polled together in one task (`join!`) each keep their own record.
tokio::task_local! {
    /// The record of the [`CoboClient::call`](crate::CoboClient::call) being polled.
    static CALL_RECORD: RecordSlot;
}

/// Runs `call` with `options` and a record of its own, and finishes its output with what the
/// executor recorded while it ran.
pub(crate) fn recorded_then<F, M, O>(call: F, options: CallOptions, finish: M) -> Recorded<F, M>
where
    F: Future,
    M: FnOnce(F::Output, CallRecord) -> O,
{
    let slot = Arc::new(CallSlot {
        options,
        record: Mutex::default(),
    });
    Recorded {
        call: CALL_RECORD.scope(Arc::clone(&slot), call),
        slot,
        finish: Some(finish),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`recorded_then`]. A named future rather than an `async` block: it holds
    /// the call's future once, where an `async` wrapper would keep a second copy of it (the
    /// captured future next to the one being awaited), and with 64 calls in flight those copies
    /// of a generated operation's future (about 1.8 KiB each) cost cache misses.
    pub(crate) struct Recorded<F: Future, M> {
        #[pin]
        call: TaskLocalFuture<RecordSlot, F>,
        slot: RecordSlot,
        finish: Option<M>,
    }
}

impl<F, M, O> Future for Recorded<F, M>
where
    F: Future,
    M: FnOnce(F::Output, CallRecord) -> O,
{
    type Output = O;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<O> {
        let this = self.project();
        let output = std::task::ready!(this.call.poll(cx));
        let record = std::mem::take(
            &mut *this
                .slot
                .record
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        match this.finish.take() {
            Some(finish) => Poll::Ready(finish(output, record)),
            // Polled again after it returned `Ready`, which futures must not be.
            None => panic!("`Recorded` polled after completion"),
        }
    }
}

/// Signs every request with CoboAuth, verifies every response, retries transient failures.
#[derive(Debug)]
pub(crate) struct SigningExecutor {
    pub auth: CoboAuth,
    pub verifier: Option<ResponseVerifier>,
    pub retry: RetryPolicy,
    /// Org Access Tokens for the operations that accept them.
    pub bearer: Option<Arc<dyn BearerSource>>,
    /// The operations sent with the Bearer token, when not those the spec marks.
    pub oauth2_operations: Option<Arc<[String]>>,
    /// The largest response body read.
    pub max_response_bytes: u64,
}

impl SigningExecutor {
    /// Writes into the record of the call being polled, if any.
    fn record(&self, update: impl FnOnce(&mut CallRecord)) {
        let _outside_a_call = CALL_RECORD.try_with(|slot| {
            update(&mut slot.record.lock().unwrap_or_else(PoisonError::into_inner));
        });
    }

    /// The options of the call being polled (the defaults outside a call).
    fn options(&self) -> CallOptions {
        CALL_RECORD
            .try_with(|slot| slot.options)
            .unwrap_or_default()
    }

    /// Whether `operation` is sent with the Bearer token.
    fn takes_bearer(&self, operation: &Operation) -> bool {
        match &self.oauth2_operations {
            Some(listed) => listed.iter().any(|id| id == operation.id),
            None => operation.accepts_oauth2,
        }
    }

    fn reject(&self, error: Error) -> ExecError {
        let message: Arc<dyn std::error::Error + Send + Sync> =
            Arc::new(Rejected(error.to_string()));
        self.record(|call| call.rejection = Some(error));
        ExecError::Rejected(message)
    }

    /// Adds `Authorization: Bearer` for operations that take an Org Access Token, and sends the
    /// request once more with a new token when Cobo says the token expired (error 1000).
    async fn run_with_bearer(
        &self,
        client: &reqwest::Client,
        mut request: reqwest::Request,
        bearer: &dyn BearerSource,
        operation: &'static str,
    ) -> Result<reqwest::Response, ExecError> {
        let mut renewed = false;
        loop {
            let token = bearer.token().await.map_err(|e| self.reject(e))?;
            let mut value =
                http::HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(
                    |_| {
                        self.reject(Error::InvalidRequest(
                            "the access token is not a valid header value".to_owned(),
                        ))
                    },
                )?;
            value.set_sensitive(true);
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, value);
            let spare = if renewed { None } else { request.try_clone() };
            let (response, verdict) = self.run(client, request, operation).await?;
            match spare {
                // Only Cobo's own (signed) word renews a token: an unsigned body proves nothing.
                Some(next) if response.status().as_u16() == 500 && verdict == Verdict::Verified => {
                    let mut response = response;
                    let body = self.read_body(&mut response).await?;
                    if !crate::bearer::is_token_expired(response.status().as_u16(), &body) {
                        return Ok(rebuild(response, body));
                    }
                    tracing::info!(
                        "Cobo says the access token expired (error 1000); renewing it and resending once"
                    );
                    bearer.expired(&token);
                    request = next;
                    renewed = true;
                }
                _ => return Ok(response),
            }
        }
    }

    /// Sends `request` (of `operation`), and again (signed again) while the failure is transient
    /// and the policy allows it. The last response, and whether Cobo signed it.
    async fn run(
        &self,
        client: &reqwest::Client,
        mut request: reqwest::Request,
        operation: &'static str,
    ) -> Result<(reqwest::Response, Verdict), ExecError> {
        let started = tokio::time::Instant::now();
        let idempotent = RetryPolicy::idempotent(request.method());
        let retries_rate_limits = !self.options().rate_limit_ends_call;
        let mut attempt = 1;
        loop {
            let spare = (attempt < self.retry.max_attempts)
                .then(|| request.try_clone())
                .flatten();
            // The outcome of a failed attempt is gone before the wait: the future keeps no
            // response across the sleep.
            let (wait, next) = {
                let outcome = self.attempt(client, request).await;
                let wait = match &outcome {
                    Err(ExecError::Transport(error)) if error.is_connect() || idempotent => {
                        Some(self.retry.delay(attempt, None))
                    }
                    Ok((response, _))
                        if idempotent
                            && RetryPolicy::transient_status(response.status())
                            && (retries_rate_limits
                                || response.status() != http::StatusCode::TOO_MANY_REQUESTS) =>
                    {
                        Some(self.retry.delay(attempt, Some(response.headers())))
                    }
                    _ => None,
                };
                match (wait, spare) {
                    (Some(wait), Some(next)) if started.elapsed() + wait <= self.retry.deadline => {
                        (wait, next)
                    }
                    _ => {
                        tracing::Span::current().record("attempts", attempt);
                        crate::metrics::request_finished(operation, &outcome, started);
                        return outcome;
                    }
                }
            };
            tracing::info!(
                attempt,
                wait_ms = wait.as_millis() as u64,
                "transient failure, retrying"
            );
            tokio::time::sleep(wait).await;
            request = next;
            attempt += 1;
        }
    }

    /// Reads the body, refusing one larger than `max_response_bytes`: by its `Content-Length`
    /// before reading, and while reading (a body may come without one, or lie).
    async fn read_body(&self, response: &mut reqwest::Response) -> Result<bytes::Bytes, ExecError> {
        let limit = self.max_response_bytes;
        let too_large = |status: http::StatusCode| Error::ResponseTooLarge {
            status: status.as_u16(),
            limit,
        };
        let status = response.status();
        if response
            .content_length()
            .is_some_and(|length| length > limit)
        {
            return Err(self.reject(too_large(status)));
        }
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(ExecError::Transport)? {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(self.reject(too_large(status)));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    /// One attempt: sign, send, read, verify.
    async fn attempt(
        &self,
        client: &reqwest::Client,
        mut request: reqwest::Request,
    ) -> Result<(reqwest::Response, Verdict), ExecError> {
        self.auth
            .sign_request(&mut request)
            .await
            .map_err(|e| self.reject(Error::Signing(e)))?;
        let started = Instant::now();
        let mut response = client
            .execute(request)
            .await
            .map_err(ExecError::Transport)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(self.reject(Error::Redirect {
                status: status.as_u16(),
                target_host: redirect_host(&response),
            }));
        }
        let body = self.read_body(&mut response).await?;
        let span = tracing::Span::current();
        span.record("status", status.as_u16());
        span.record("latency_ms", started.elapsed().as_millis() as u64);

        let verdict = match &self.verifier {
            Some(verifier) => verifier
                .check(status.as_u16(), response.headers(), &body)
                .map_err(|e| {
                    tracing::warn!(error = %e, "response rejected");
                    self.reject(Error::ResponseSignature(e))
                })?,
            None => Verdict::Verified,
        };
        self.record(|call| {
            call.status = Some(status.as_u16());
            call.unsigned_error = verdict == Verdict::UnsignedError;
            // Kept for mapping errors only: a success body may hold tokens, and its
            // `Retry-After` means nothing.
            if status.is_success() {
                call.retry_after = None;
                call.body_start = String::new();
            } else {
                call.retry_after = RetryPolicy::retry_after(response.headers());
                call.body_start =
                    String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
            }
        });
        tracing::debug!(status = status.as_u16(), "response received");

        Ok((rebuild(response, body), verdict))
    }
}

/// The host a redirect points to (never its path or query), resolved against the request URL.
fn redirect_host(response: &reqwest::Response) -> Option<String> {
    let location = response
        .headers()
        .get(http::header::LOCATION)?
        .to_str()
        .ok()?;
    let target = response.url().join(location).ok()?;
    target.host_str().map(str::to_owned)
}

/// `response` again, with its `body` already read: the same status, version, headers (moved,
/// not copied) and URL.
fn rebuild(mut response: reqwest::Response, body: bytes::Bytes) -> reqwest::Response {
    use reqwest::ResponseBuilderExt as _;
    // Setting only the URL cannot fail; were it to, the response would only lose its URL.
    let mut rebuilt = http::Response::builder()
        .url(response.url().clone())
        .body(())
        .unwrap_or_default()
        .map(|()| body);
    *rebuilt.status_mut() = response.status();
    *rebuilt.version_mut() = response.version();
    *rebuilt.headers_mut() = std::mem::take(response.headers_mut());
    reqwest::Response::from(rebuilt)
}

impl Executor for SigningExecutor {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation: Operation,
    ) -> ExecFuture<'a> {
        let span = tracing::info_span!(
            "cobo.request",
            operation = operation.id,
            method = %request.method(),
            path = request.url().path(),
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
            attempts = tracing::field::Empty,
        );
        // A fresh record for each operation: a call whose future makes several keeps what the
        // last one observed, never an earlier one's rejection.
        self.record(|call| {
            *call = CallRecord {
                sent: true,
                ..CallRecord::default()
            }
        });
        // Two futures, not one that branches: an operation without the Bearer token (most of
        // them) does not carry the state of the token's renewal around.
        match &self.bearer {
            Some(bearer) if self.takes_bearer(&operation) => Box::pin(
                self.run_with_bearer(client, request, bearer.as_ref(), operation.id)
                    .instrument(span),
            ),
            _ => Box::pin(
                async move {
                    self.run(client, request, operation.id)
                        .await
                        .map(|(response, _)| response)
                }
                .instrument(span),
            ),
        }
    }
}

/// The message of a rejected exchange, as the generated method reports it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Rejected(String);

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::{CallOptions, CallRecord, recorded_then};
    use crate::Env;
    use crate::signing::Ed25519Signer;

    /// What the executor recorded for one `get_token` call to `server` (verification off: what
    /// is kept of a body does not depend on its signature).
    async fn record_of(server: &MockServer) -> CallRecord {
        record_with(server, CallOptions::default()).await
    }

    /// As [`record_of`], for a call made with `options`.
    async fn record_with(server: &MockServer, options: CallOptions) -> CallRecord {
        let client = crate::CoboClient::builder()
            .env(Env::custom_unverified(&server.uri()).unwrap_or_else(|e| panic!("{e}")))
            .signer(Arc::new(Ed25519Signer::generate()))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let call = client
            .raw()
            .get_token()
            .client_id("app")
            .org_id("org")
            .grant_type("org_implicit")
            .send();
        recorded_then(call, options, |_, record| record).await
    }

    #[tokio::test]
    async fn a_429_ends_a_call_whose_caller_pauses_on_rate_limits_itself() {
        let server = MockServer::start().await;
        let pausing = CallOptions {
            rate_limit_ends_call: true,
        };
        for (options, sent) in [(CallOptions::default(), 3), (pausing, 1)] {
            server.reset().await;
            Mock::given(method("GET"))
                .respond_with(ResponseTemplate::new(429))
                .mount(&server)
                .await;
            let record = record_with(&server, options).await;
            assert_eq!(record.status, Some(429));
            let received = server.received_requests().await.unwrap_or_default();
            assert_eq!(received.len(), sent, "{options:?}");
        }
    }

    #[tokio::test]
    async fn the_body_of_a_success_is_not_kept_but_an_errors_start_is() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(
                r#"{"access_token":"busy-secret","token_type":"Bearer","expires_in":60}"#,
                "application/json",
            ))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(500).set_body_raw(
                r#"{"error_code":2000,"error_message":"busy","error_id":"e"}"#,
                "application/json",
            ))
            .mount(&server)
            .await;

        let success = record_of(&server).await;
        assert_eq!(success.status, Some(200));
        assert!(success.sent);
        assert!(success.body_start.is_empty(), "a token answer is not kept");

        let failure = record_of(&server).await;
        assert_eq!(failure.status, Some(500));
        assert!(failure.body_start.contains("busy"), "{failure:?}");
    }

    #[test]
    fn a_call_holds_the_operations_future_once() {
        let client = crate::CoboClient::builder()
            .env(
                crate::Env::custom_unverified("http://127.0.0.1:9/v2")
                    .unwrap_or_else(|e| panic!("{e}")),
            )
            .signer(Arc::new(Ed25519Signer::generate()))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let operation = || {
            client
                .raw()
                .get_token()
                .client_id("app")
                .org_id("org")
                .grant_type("org_implicit")
                .send()
        };
        let alone = std::mem::size_of_val(&operation());
        let call = std::mem::size_of_val(&client.call(operation()));
        let get_token = std::mem::size_of_val(&client.get_token("app", "org"));
        // With 64 calls in flight every extra copy is cache lost; an `async` wrapper holds
        // the operation's future two or three times.
        assert!(
            call < alone + 256,
            "call: {call} bytes for an operation of {alone}"
        );
        assert!(
            get_token < alone + 512,
            "get_token: {get_token} bytes for an operation of {alone}"
        );
    }
}
