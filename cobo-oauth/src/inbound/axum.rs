//! axum extractors (cargo feature `axum`): [`VerifiedWebhook`] and [`VerifiedCallback`] read the
//! raw body, verify its signature with the [`InboundVerifier`] of the router's state (through
//! [`FromRef`]), parse it, and check it is meant for this app; the handler runs only when all
//! of that holds. [`CallbackDecision`] is a response: `200 text/plain` `ok` or `deny`.
//!
//! - A request that fails verification is answered 401.
//! - A signed message that is not meant for this app is answered 403
//!   ([`ContextError`]): a webhook event whose `url` is not one of the
//!   verifier's [`endpoints`](InboundVerifier::endpoints) (a signed API response or another
//!   endpoint's event, replayed), or a message about an organization or wallet the verifier's
//!   [`subjects`](InboundVerifier::subjects) check does not serve (an organization that set this
//!   app's URL as its endpoint without installing the app). 503 when that check cannot tell.
//!   Cobo retries any answer but 200/201 a bounded number of times (10 for events, 30 for
//!   callbacks), then stops.
//! - A correctly signed body that is not the envelope ([`WebhookEvent`], [`CallbackMessage`]) is
//!   answered 400, with a message (also logged at `warn`) that names where parsing stopped but
//!   never quotes the body. Cobo retries such an event and then drops it: for a shape this
//!   version does not model, take the raw [`Verified`] body instead (its signature is checked
//!   the same way, nothing else) and parse and check it yourself.
//!
//! The body is read whole, within axum's body limit (`DefaultBodyLimit`, 2 MB unless you set
//! another); a larger one gets axum's 413 before any verification.
//!
//! Handle each event once, and never lose one, with a [`ClaimRunner`](super::ClaimRunner):
//! claim the `event_id`, handle it, complete it. Run it in a task of its own: when the handling
//! outlasts Cobo's 2 s timeout, Cobo closes the connection and axum drops the handler's future,
//! which must not stop the handling halfway (should the process die instead, the claim lapses
//! with its lease and a retry handles the event).
//!
//! ```no_run
//! use axum::{Router, extract::State, http::StatusCode, routing::post};
//! use cobo_oauth::inbound::axum::{VerifiedCallback, VerifiedWebhook};
//! use cobo_oauth::inbound::{
//!     CallbackDecision, ClaimRunner, Endpoints, InboundVerifier, MemoryDeduplicator, Subject,
//!     WebhookEvent,
//! };
//! use std::sync::Arc;
//!
//! #[derive(Clone)]
//! struct App {
//!     verifier: InboundVerifier,
//!     claims: ClaimRunner,
//! }
//! impl axum::extract::FromRef<App> for InboundVerifier {
//!     fn from_ref(app: &App) -> Self {
//!         app.verifier.clone()
//!     }
//! }
//!
//! async fn webhook(State(app): State<App>, VerifiedWebhook(event): VerifiedWebhook) -> StatusCode {
//!     let handling = tokio::spawn(async move {
//!         app.claims.run(&event.event_id, handle(&event)).await
//!     });
//!     match handling.await {
//!         // 200 when handled now or before; 503 while another delivery handles it.
//!         Ok(Ok(outcome)) => outcome.status(),
//!         // The handler failed (its claim released), or the deduplicator could not answer.
//!         _ => StatusCode::INTERNAL_SERVER_ERROR, // Cobo retries
//!     }
//! }
//!
//! async fn handle(event: &WebhookEvent) -> Result<(), std::io::Error> {
//!     Ok(())
//! }
//!
//! async fn callback(VerifiedCallback(message): VerifiedCallback) -> CallbackDecision {
//!     if message.request_id.is_some() { CallbackDecision::Approve } else { CallbackDecision::Deny }
//! }
//!
//! /// Whether the message is about an organization that installed the app (a store lookup, in
//! /// a real app: implement `SubjectCheck` for it).
//! fn installed(subject: &Subject) -> bool {
//!     subject.org_id.as_deref() == Some("<an installed org>")
//! }
//!
//! # fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let app = App {
//!     verifier: InboundVerifier::for_env(&cobo_oauth::Env::Prod)?
//!         .endpoints(Endpoints::parse(["https://app.example/cobo/webhook"])?)
//!         .subjects(Arc::new(installed)),
//!     claims: ClaimRunner::new(Arc::new(MemoryDeduplicator::default())),
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
#[non_exhaustive]
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
