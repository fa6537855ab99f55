//! [`CoboClientBuilder`]: environment, credentials and timeouts.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::client::{CoboClient, Parts};
use crate::env::{Env, ResponseKey};
use crate::error::ConfigError;
use crate::retry::RetryPolicy;
use crate::signing::{Clock, Ed25519Signer, Signer, SystemClock};
use crate::verify::ResponseVerifier;

/// The default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default total timeout of one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The environment variables [`CoboClientBuilder::from_env`] reads.
pub mod vars {
    /// `dev`, `sandbox` or `prod`.
    pub const ENV: &str = "COBO_ENV";
    /// A custom base URL (for example a proxy or the embedded mock); overrides `COBO_ENV`'s URL.
    pub const BASE_URL: &str = "COBO_BASE_URL";
    /// The ed25519 API secret, 64 hex characters.
    pub const API_SECRET: &str = "COBO_API_SECRET";
    /// The response-signing public key of a custom base URL, hex; `off` turns verification off.
    pub const RESPONSE_PUBKEY: &str = "COBO_RESPONSE_PUBKEY";
}

/// Builds a [`CoboClient`].
///
/// ```no_run
/// # fn main() -> Result<(), cobo_oauth::Error> {
/// use cobo_oauth::{CoboClient, Env};
/// let client = CoboClient::builder()
///     .env(Env::Dev)
///     .api_secret(std::env::var("COBO_API_SECRET").unwrap_or_default())
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct CoboClientBuilder {
    env: Option<Env>,
    api_secret: Option<SecretString>,
    signer: Option<Arc<dyn Signer>>,
    clock: Option<Arc<dyn Clock>>,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    http_client: Option<reqwest::Client>,
    retry: Option<RetryPolicy>,
    oauth2_operations: Option<Vec<String>>,
}

impl CoboClientBuilder {
    /// A builder with nothing set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder configured from `COBO_ENV`, `COBO_BASE_URL`, `COBO_API_SECRET` and
    /// `COBO_RESPONSE_PUBKEY` (see [`vars`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Like [`Self::from_env`], reading variables through `var` (for tests and other sources).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| var(name).filter(|value| !value.trim().is_empty());
        let named = var(vars::ENV).map(|name| name.parse::<Env>()).transpose()?;
        let env = match (var(vars::BASE_URL), named) {
            (Some(base_url), named) => {
                let response_key = match (var(vars::RESPONSE_PUBKEY), named) {
                    (Some(key), _) if key.trim().eq_ignore_ascii_case("off") => {
                        ResponseKey::Unverified
                    }
                    (Some(key), _) => ResponseKey::Verify(
                        ResponseVerifier::from_hex(&key)
                            .map_err(ConfigError::InvalidResponseKey)?,
                    ),
                    (None, Some(named)) => named.response_key()?,
                    (None, None) => return Err(ConfigError::MissingResponseKey),
                };
                Env::custom_with(&base_url, response_key)?
            }
            (None, Some(named)) => named,
            (None, None) => return Err(ConfigError::MissingEnv),
        };
        let mut builder = Self::new().env(env);
        if let Some(secret) = var(vars::API_SECRET) {
            builder = builder.api_secret(secret);
        }
        Ok(builder)
    }

    /// The environment (required).
    pub fn env(mut self, env: Env) -> Self {
        self.env = Some(env);
        self
    }

    /// The ed25519 API secret, 64 hex characters. Kept in a `SecretString`.
    pub fn api_secret(mut self, secret: impl Into<String>) -> Self {
        self.api_secret = Some(SecretString::from(secret.into()));
        self
    }

    /// Signs with `signer` instead of an API secret (a secp256k1 key, a KMS, an HSM...).
    pub fn signer(mut self, signer: Arc<dyn Signer>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// The clock nonces are read from (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The connect timeout (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The total timeout of one request (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends with this `reqwest::Client` (its own timeouts then apply).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// How transient failures are retried (default [`RetryPolicy::default`]: 3 attempts).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// The operations that are sent with `Authorization: Bearer` once the client has a bearer
    /// source. Default: the generated `cobo_oauth_gen::OAUTH2_OPERATIONS`, read from the spec.
    pub fn oauth2_operations<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        operations: I,
    ) -> Self {
        self.oauth2_operations = Some(operations.into_iter().map(Into::into).collect());
        self
    }

    /// Checks the configuration and builds the client. Sends nothing.
    pub fn build(self) -> Result<CoboClient, ConfigError> {
        let env = self.env.ok_or(ConfigError::MissingEnv)?;
        let signer: Arc<dyn Signer> = match (self.signer, self.api_secret) {
            (Some(signer), _) => signer,
            (None, Some(secret)) => Arc::new(
                Ed25519Signer::from_hex(secret.expose_secret())
                    .map_err(ConfigError::InvalidApiSecret)?,
            ),
            (None, None) => return Err(ConfigError::MissingApiSecret),
        };
        let verifier = env.response_verifier()?;
        let http = match self.http_client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
                .timeout(self.timeout.unwrap_or(DEFAULT_TIMEOUT))
                .user_agent(concat!("cobo-oauth-rust/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(ConfigError::HttpClient)?,
        };
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let oauth2_operations = self.oauth2_operations.unwrap_or_else(|| {
            cobo_oauth_gen::OAUTH2_OPERATIONS
                .iter()
                .map(|op| (*op).to_owned())
                .collect()
        });
        let parts = Parts {
            verifier,
            http,
            retry: self.retry.unwrap_or_default(),
            oauth2_operations: oauth2_operations.into(),
            bearer: None,
        };
        Ok(CoboClient::assemble(env, signer, clock, parts))
    }
}
