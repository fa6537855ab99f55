//! [`CoboClientBuilder`]: environment, credentials and timeouts.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::bearer::BearerSource;
use crate::env::{Env, ResponseKey};
use crate::error::ConfigError;
use crate::retry::RetryPolicy;
use crate::signing::{AsyncSigner, Clock, Ed25519Signer, Keys, Signer, SystemClock};
use crate::verify::ResponseVerifier;

/// The default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default total timeout of one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The default limit of a response body: 4 MiB. A token answer is about 200 bytes, and a page of
/// Cobo's largest list answers (at most 50 transactions of a few KiB each) a few hundred KiB, so
/// this leaves ten times the room of anything Cobo sends while bounding what a broken or hostile
/// server can make the client buffer.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;

/// The environment variables [`CoboClientBuilder::from_env`] reads.
pub mod vars {
    /// `dev`, `sandbox` or `prod`.
    pub const ENV: &str = "COBO_ENV";
    /// A custom base URL (for example a proxy or the embedded mock); overrides `COBO_ENV`'s URL.
    pub const BASE_URL: &str = "COBO_BASE_URL";
    /// The ed25519 API secret, 64 hex characters.
    pub const API_SECRET: &str = "COBO_API_SECRET";
    /// The response-signing public key, hex, of a custom base URL (or, with `COBO_ENV` alone,
    /// instead of that environment's key); `off` turns verification off.
    pub const RESPONSE_PUBKEY: &str = "COBO_RESPONSE_PUBKEY";
}

/// Builds a [`CoboClient`](crate::CoboClient).
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
    async_signer: Option<Arc<dyn AsyncSigner>>,
    clock: Option<Arc<dyn Clock>>,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    http_client: Option<reqwest::Client>,
    retry: Option<RetryPolicy>,
    oauth2_operations: Option<Vec<String>>,
    max_response_bytes: Option<u64>,
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
                    (Some(key), _) => parse_response_key(&key)?,
                    (None, Some(named)) => named.response_key()?,
                    (None, None) => return Err(ConfigError::MissingResponseKey),
                };
                Env::custom_with(&base_url, response_key)?
            }
            (None, Some(named)) => match var(vars::RESPONSE_PUBKEY) {
                // Another key (or `off`) for a named environment's URL.
                Some(key) => Env::custom_with(named.base_url(), parse_response_key(&key)?)?,
                None => named,
            },
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

    /// Signs with an [`AsyncSigner`] (a key in a KMS or an HSM): each request awaits its
    /// signature without blocking a runtime thread. Takes precedence over `api_secret`/`signer`.
    pub fn async_signer(mut self, signer: Arc<dyn AsyncSigner>) -> Self {
        self.async_signer = Some(signer);
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
    ///
    /// Its settings are yours to get right: the client this crate builds follows no redirects
    /// (a redirect would carry the signed headers, the Bearer token and a refresh token to
    /// another server) and has timeouts; build yours with
    /// `.redirect(reqwest::redirect::Policy::none())` and timeouts too. A redirect that reaches
    /// this crate is still refused ([`Error::Redirect`](crate::Error::Redirect)), but a client
    /// that follows redirects has already sent the request to the target by then.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// How transient failures are retried (default [`RetryPolicy::default`]: 3 attempts).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// The operations (by `operationId`) that are sent with `Authorization: Bearer` once the
    /// client has a bearer source, instead of those the spec marks. Default: each generated
    /// client's `OPERATIONS` table says, from the spec's `security`, which of its operations
    /// accept the `OAuth2` scheme.
    pub fn oauth2_operations<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        operations: I,
    ) -> Self {
        self.oauth2_operations = Some(operations.into_iter().map(Into::into).collect());
        self
    }

    /// The largest response body the client reads (default [`DEFAULT_MAX_RESPONSE_BYTES`]); a
    /// larger one is [`Error::ResponseTooLarge`](crate::Error::ResponseTooLarge).
    pub fn max_response_bytes(mut self, limit: u64) -> Self {
        self.max_response_bytes = Some(limit);
        self
    }

    /// The checked configuration a [`CoboClient`](crate::CoboClient) is built from (see
    /// `CoboClientBuilder::build`, next to the client). Logs one `warn` for each unsafe setting.
    pub(crate) fn check(self) -> Result<ClientConfig, ConfigError> {
        let env = self.env.ok_or(ConfigError::MissingEnv)?;
        let keys = match (self.async_signer, self.signer, self.api_secret) {
            (Some(signer), _, _) => Keys::Remote(signer),
            (None, Some(signer), _) => Keys::Local(signer),
            (None, None, Some(secret)) => Keys::Local(Arc::new(
                Ed25519Signer::from_hex(secret.expose_secret())
                    .map_err(ConfigError::InvalidApiSecret)?,
            )),
            (None, None, None) => return Err(ConfigError::MissingApiSecret),
        };
        let verifier = env.response_verifier()?;
        warn_if_unsafe(&env, verifier.is_some());
        let http = match self.http_client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
                .timeout(self.timeout.unwrap_or(DEFAULT_TIMEOUT))
                .user_agent(concat!("cobo-oauth-rust/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(ConfigError::HttpClient)?,
        };
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let parts = Parts {
            verifier,
            http,
            retry: self.retry.unwrap_or_default(),
            oauth2_operations: self.oauth2_operations.map(Into::into),
            bearer: None,
            max_response_bytes: self
                .max_response_bytes
                .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
        };
        Ok(ClientConfig {
            env,
            keys,
            clock,
            parts,
        })
    }
}

/// A checked configuration: everything a client is made of.
#[derive(Debug)]
pub(crate) struct ClientConfig {
    pub env: Env,
    pub keys: Keys,
    pub clock: Arc<dyn Clock>,
    pub parts: Parts,
}

/// What a client is assembled from, kept to assemble a variant ([`CoboClient::with_bearer`](crate::CoboClient::with_bearer)).
#[derive(Debug, Clone)]
pub(crate) struct Parts {
    pub verifier: Option<ResponseVerifier>,
    pub http: reqwest::Client,
    pub retry: RetryPolicy,
    /// The operations sent with the Bearer token, when not those the spec marks.
    pub oauth2_operations: Option<Arc<[String]>>,
    pub bearer: Option<Arc<dyn BearerSource>>,
    pub max_response_bytes: u64,
}

/// A response key as [`vars::RESPONSE_PUBKEY`] gives it: hex, or `off` (case-insensitive) to turn
/// verification off.
pub(crate) fn parse_response_key(value: &str) -> Result<ResponseKey, ConfigError> {
    if value.trim().eq_ignore_ascii_case("off") {
        return Ok(ResponseKey::Unverified);
    }
    ResponseVerifier::from_hex(value)
        .map(ResponseKey::Verify)
        .map_err(ConfigError::InvalidResponseKey)
}

/// Logs a `warn` for each unsafe setting of a client being built.
fn warn_if_unsafe(env: &Env, verified: bool) {
    if !verified {
        tracing::warn!(
            env = %env,
            "response verification is off: answers are trusted without Cobo's signature"
        );
    }
    if let Env::Custom { base_url, .. } = env
        && base_url.scheme() == "http"
        && !is_loopback(base_url)
    {
        tracing::warn!(
            env = %env,
            "plain http:// to a host that is not loopback: requests, tokens and answers cross the network unencrypted"
        );
    }
}

/// Whether `url`'s host is a loopback address or `localhost`.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}
