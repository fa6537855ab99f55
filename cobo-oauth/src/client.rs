//! [`CoboClient`]: the signed, verified client.

use std::future::Future;
use std::sync::Arc;

use cobo_oauth_gen::{Hooks, types};
use progenitor_client::ResponseValue;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::bearer::BearerSource;
use crate::config::{ClientConfig, CoboClientBuilder, Parts};
use crate::env::Env;
use crate::error::{ConfigError, Error};
use crate::executor::{RecordSlot, SigningExecutor};
use crate::signing::{ApiKey, CoboAuth, NonceSource};
use crate::tokens::token::Token;

/// The grant type of `GET /oauth/token`.
pub const ORG_IMPLICIT: &str = "org_implicit";
/// The grant type of `POST /oauth/token`.
pub const REFRESH_TOKEN: &str = "refresh_token";

/// A Cobo WaaS 2.0 client: every request is CoboAuth-signed, every response verified.
///
/// Cheap to clone; clones share the connection pool and the nonce source. `Debug` shows the
/// environment (credentials in its URL redacted) and the API key, nothing secret.
#[derive(Clone)]
pub struct CoboClient {
    env: Env,
    auth: CoboAuth,
    raw: cobo_oauth_gen::Client,
    /// The executor of `raw`, which [`Self::call`] clones with a record of its own.
    pub(crate) executor: Arc<SigningExecutor>,
    parts: Arc<Parts>,
}

impl CoboClientBuilder {
    /// Checks the configuration and builds the client. Sends nothing. Logs one `warn` for each
    /// unsafe setting: response verification turned off, or plain `http://` to a host that is
    /// not loopback.
    pub fn build(self) -> Result<CoboClient, ConfigError> {
        Ok(CoboClient::assemble(self.check()?))
    }
}

impl std::fmt::Debug for CoboClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the generated client: its base URL would show credentials.
        f.debug_struct("CoboClient")
            .field("env", &self.env)
            .field("auth", &self.auth)
            .field("bearer", &self.parts.bearer.is_some())
            .finish_non_exhaustive()
    }
}

impl CoboClient {
    /// A builder.
    pub fn builder() -> CoboClientBuilder {
        CoboClientBuilder::new()
    }

    /// A client configured from `COBO_ENV`, `COBO_BASE_URL`, `COBO_API_SECRET` and
    /// `COBO_RESPONSE_PUBKEY`.
    pub fn from_env() -> Result<Self, ConfigError> {
        CoboClientBuilder::from_env()?.build()
    }

    /// The client of a checked configuration.
    fn assemble(config: ClientConfig) -> Self {
        let ClientConfig {
            env,
            keys,
            clock,
            parts,
        } = config;
        let auth = CoboAuth::with_keys(keys, Arc::new(NonceSource::new(clock)));
        Self::with_auth(env, auth, parts)
    }

    fn with_auth(env: Env, auth: CoboAuth, parts: Parts) -> Self {
        let executor = SigningExecutor {
            auth: auth.clone(),
            verifier: parts.verifier.clone(),
            retry: parts.retry.clone(),
            bearer: parts.bearer.clone(),
            oauth2_operations: Arc::clone(&parts.oauth2_operations),
            max_response_bytes: parts.max_response_bytes,
            record: None,
        };
        let executor = Arc::new(executor);
        let raw = cobo_oauth_gen::Client::new_with_client(
            env.base_url(),
            parts.http.clone(),
            Hooks::new(Arc::clone(&executor) as Arc<dyn cobo_oauth_gen::Executor>),
        );
        Self {
            executor,
            env,
            auth,
            raw,
            parts: Arc::new(parts),
        }
    }

    /// The same client, sending `Authorization: Bearer <token from source>` with every operation
    /// that accepts the `OAuth2` scheme (see [`crate::bearer`]). Usually the source is a
    /// [`TokenManager`](crate::TokenManager) built on this client.
    pub fn with_bearer(&self, source: Arc<dyn BearerSource>) -> Self {
        let parts = Parts {
            bearer: Some(source),
            ..Parts::clone(&self.parts)
        };
        Self::with_auth(self.env.clone(), self.auth.clone(), parts)
    }

    /// The environment.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The API key requests are signed with.
    pub fn api_key(&self) -> &ApiKey {
        self.auth.api_key()
    }

    /// The CoboAuth signer, for signing by hand (see the `sign` CLI command).
    pub fn auth(&self) -> &CoboAuth {
        &self.auth
    }

    /// The generated client, with signing and verification in place: every operation in the
    /// spec, including ones added later, is reachable here. Its errors are progenitor's (a
    /// rejected response is `Error::Custom` with a message); make the call through
    /// [`Self::call`] to get this crate's typed [`Error`].
    pub fn raw(&self) -> &cobo_oauth_gen::Client {
        &self.raw
    }

    /// Gets an Org Access Token and a Refresh Token with grant type `org_implicit`.
    pub async fn get_token(&self, client_id: &str, org_id: &str) -> Result<Token, Error> {
        self.get_token_with_grant(client_id, org_id, ORG_IMPLICIT)
            .await
    }

    /// Gets an Org Access Token with another grant type.
    pub async fn get_token_with_grant(
        &self,
        client_id: &str,
        org_id: &str,
        grant_type: &str,
    ) -> Result<Token, Error> {
        let token = self
            .call(|api| async move {
                api.get_token()
                    .client_id(client_id)
                    .org_id(org_id)
                    .grant_type(grant_type)
                    .send()
                    .await
            })
            .await?;
        Ok(token.into())
    }

    /// Exchanges a Refresh Token for a new Org Access Token and a new Refresh Token. The old
    /// Refresh Token stops working: store the new one before using the new access token.
    pub async fn refresh_token(
        &self,
        client_id: &str,
        refresh_token: &SecretString,
    ) -> Result<Token, Error> {
        let body = types::RefreshTokenBody {
            client_id: Some(client_id.to_owned()),
            grant_type: Some(REFRESH_TOKEN.to_owned()),
            // A zeroizing copy: wiped when the generated request drops it after sending.
            refresh_token: Some(refresh_token.expose_secret().into()),
        };
        let token = self
            .call(|api| async move { api.refresh_token().body(body).send().await })
            .await?;
        Ok(token.into())
    }

    /// Makes one call of the generated client with this crate's typed [`Error`]: `operation`
    /// gets a generated client (signed, verified, retried, with the Bearer token, like
    /// [`Self::raw`]) whose executor records what this call observed, and the outcome is
    /// turned into this crate's types with that record. Any operation of the spec works here,
    /// including ones added later.
    ///
    /// ```no_run
    /// # async fn f(client: cobo_oauth::CoboClient) -> Result<(), cobo_oauth::Error> {
    /// let token = client
    ///     .call(|api| async move {
    ///         api.get_token().client_id("id").org_id("org").grant_type("org_implicit").send().await
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn call<T, E, F, Fut>(&self, operation: F) -> Result<T, Error>
    where
        F: FnOnce(cobo_oauth_gen::Client) -> Fut,
        Fut: Future<Output = Result<ResponseValue<T>, progenitor_client::Error<E>>>,
        E: Serialize,
    {
        let record = RecordSlot::default();
        let api = cobo_oauth_gen::Client::new_with_client(
            self.env.base_url(),
            self.parts.http.clone(),
            Hooks::new(Arc::new(self.executor.for_call(Arc::clone(&record)))),
        );
        let outcome = operation(api).await;
        let record = std::mem::take(
            &mut *record
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        outcome
            .map(ResponseValue::into_inner)
            .map_err(|error| crate::error_map::map_error(error, record))
    }
}
