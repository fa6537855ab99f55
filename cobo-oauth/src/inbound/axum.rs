//! axum extractors (cargo feature `axum`): [`VerifiedWebhook`] and [`VerifiedCallback`] read the
//! raw body, verify its signature with the [`InboundVerifier`] of the router's state (through
//! [`FromRef`]) and parse it; a request that fails verification is answered 401 before the
//! handler runs. [`CallbackDecision`] is a response: `200 text/plain` `ok` or `deny`.
//!
//! The body is read whole, within axum's body limit (`DefaultBodyLimit`, 2 MB unless you set
//! another); a larger one gets axum's 413 before any verification.
//!
//! A correctly signed body that is not the envelope ([`WebhookEvent`], [`CallbackMessage`]) is
//! answered 400, with a message (also logged at `warn`) that names where parsing stopped but
//! never quotes the body. Cobo retries such an event and then drops it: for a shape this
//! version does not model, take the raw [`Verified`] body instead (its signature is checked
//! the same way) and parse it yourself.
//!
//! ```no_run
//! use axum::{Router, extract::State, http::StatusCode, routing::post};
//! use cobo_oauth::inbound::axum::{VerifiedCallback, VerifiedWebhook};
//! use cobo_oauth::inbound::{CallbackDecision, InboundVerifier, MemoryDeduplicator, Seen};
//! use std::sync::Arc;
//!
//! #[derive(Clone)]
//! struct App {
//!     verifier: InboundVerifier,
//!     seen: Arc<MemoryDeduplicator>,
//! }
//! impl axum::extract::FromRef<App> for InboundVerifier {
//!     fn from_ref(app: &App) -> Self {
//!         app.verifier.clone()
//!     }
//! }
//!
//! async fn webhook(State(app): State<App>, VerifiedWebhook(event): VerifiedWebhook) -> StatusCode {
//!     if app.seen.check_and_mark_now(&event.event_id) == Seen::First
//!         && handle(&event).is_err()
//!     {
//!         // Marked seen before handling: unmark it, or Cobo's retry would be a "duplicate".
//!         app.seen.forget_now(&event.event_id);
//!         return StatusCode::INTERNAL_SERVER_ERROR; // Cobo retries
//!     }
//!     StatusCode::OK
//! }
//!
//! /// Handles the event (quickly: Cobo waits 2 s).
//! fn handle(event: &cobo_oauth::inbound::WebhookEvent) -> Result<(), std::io::Error> {
//!     Ok(())
//! }
//!
//! async fn callback(VerifiedCallback(message): VerifiedCallback) -> CallbackDecision {
//!     if message.request_id.is_some() { CallbackDecision::Approve } else { CallbackDecision::Deny }
//! }
//!
//! # fn f() -> Result<(), cobo_oauth::ConfigError> {
//! let app = App {
//!     verifier: InboundVerifier::for_env(&cobo_oauth::Env::Prod)?,
//!     seen: Arc::new(MemoryDeduplicator::default()),
//! };
//! let router: Router = Router::new()
//!     .route("/cobo/webhook", post(webhook))
//!     .route("/cobo/callback", post(callback))
//!     .with_state(app);
//! # Ok(()) }
//! ```

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRef, FromRequest, Request};
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::{
    CallbackDecision, CallbackMessage, ContextError, EnvelopeError, InboundError, InboundVerifier,
    VerifiedBody, WebhookEvent, not_for_this_app,
};

/// Why an extractor refused a request.
#[derive(Debug, thiserror::Error)]
pub enum InboundRejection {
    /// The body could not be read (too large, connection lost): axum's own answer.
    #[error(transparent)]
    Body(#[from] BytesRejection),
    /// The signature does not hold: 401.
    #[error(transparent)]
    Unauthorized(#[from] InboundError),
    /// The signature holds but the body is not the envelope: 400 (its message never quotes
    /// the body).
    #[error(transparent)]
    BadEnvelope(#[from] EnvelopeError),
    /// The signature holds but the message is not meant for this app (another endpoint's
    /// event, an organization or wallet the app does not serve): 403; or the app's check could
    /// not tell: 503 ([`super::not_for_this_app`]).
    #[error(transparent)]
    NotForThisApp(#[from] ContextError),
}

impl IntoResponse for InboundRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Body(rejection) => rejection.into_response(),
            Self::Unauthorized(error) => {
                tracing::warn!(%error, "a request claiming to come from Cobo was refused");
                (StatusCode::UNAUTHORIZED, error.to_string()).into_response()
            }
            Self::BadEnvelope(error) => {
                tracing::warn!(%error, "a signed request from Cobo could not be parsed");
                (StatusCode::BAD_REQUEST, error.to_string()).into_response()
            }
            Self::NotForThisApp(error) => {
                tracing::warn!(%error, "a signed request from Cobo is not meant for this app");
                not_for_this_app(&error).into_response()
            }
        }
    }
}

/// The raw body of a request whose signature holds: the fallback for bodies that
/// [`VerifiedWebhook`] and [`VerifiedCallback`] cannot parse (a shape this version does not
/// model), to be parsed by the handler.
#[derive(Debug)]
pub struct Verified(pub VerifiedBody<Bytes>);

/// A webhook event whose signature holds.
#[derive(Debug)]
pub struct VerifiedWebhook(pub WebhookEvent);

/// A callback message whose signature holds.
#[derive(Debug)]
pub struct VerifiedCallback(pub CallbackMessage);

impl<S> FromRequest<S> for Verified
where
    S: Send + Sync,
    InboundVerifier: FromRef<S>,
{
    type Rejection = InboundRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = InboundVerifier::from_ref(state);
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state).await?;
        Ok(Self(verifier.verify(&headers, body)?))
    }
}

impl<S> FromRequest<S> for VerifiedWebhook
where
    S: Send + Sync,
    InboundVerifier: FromRef<S>,
{
    type Rejection = InboundRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = InboundVerifier::from_ref(state);
        let Verified(body) = Verified::from_request(request, state).await?;
        let event = body.webhook_event()?;
        verifier.admit_webhook(&event).await?;
        Ok(Self(event))
    }
}

impl<S> FromRequest<S> for VerifiedCallback
where
    S: Send + Sync,
    InboundVerifier: FromRef<S>,
{
    type Rejection = InboundRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = InboundVerifier::from_ref(state);
        let Verified(body) = Verified::from_request(request, state).await?;
        let message = body.callback_message()?;
        verifier.admit_callback(&message).await?;
        Ok(Self(message))
    }
}

impl IntoResponse for CallbackDecision {
    fn into_response(self) -> Response {
        self.to_response().into_response()
    }
}
