#![doc = include_str!("../README.md")]

mod answers;
mod auth;
mod client;
mod faults;
mod installs;
mod jwks;
mod log;
mod pages;
mod reply;
mod serve;
mod tokens;
mod webhooks;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ed25519_dalek::SigningKey;

pub use answers::{Answer, Bearer, UnknownOperation};
pub use client::StartError;
pub use faults::Fault;
pub use jwks::IssueError;
pub use webhooks::{Attempt, CoboSender, Delivery, DeliveryKind, DeliveryOutcome, DeliveryPolicy};

use cobo_oauth::signing::{Clock, SystemClock};
use cobo_oauth::verify::ResponseVerifier;
use cobo_oauth::{Env, ResponseKey};

/// How the mock behaves.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Lifetime of access tokens (Cobo: 43,199 s).
    pub access_token_ttl: Duration,
    /// Lifetime of refresh tokens (Cobo: 30 days).
    pub refresh_token_ttl: Duration,
    /// How far a numeric nonce may be from the server's clock.
    pub nonce_window: Duration,
    /// The API keys (hex) whose signatures are accepted; more can be registered with
    /// [`MockServer::register_api_key`]. A request signed with any other key is refused (401),
    /// as Cobo refuses a key it does not know, unless `accept_any_key` is set.
    pub api_keys: Vec<String>,
    /// Accept a valid signature by any key (the signature itself is still checked).
    pub accept_any_key: bool,
    /// The largest request body read; a larger one is refused with 413.
    pub max_request_bytes: u64,
    /// How many requests [`MockServer::requests`] keeps (the oldest are dropped).
    pub max_recorded_requests: usize,
    /// How many bytes the requests [`MockServer::requests`] keeps may hold, bodies included
    /// (the oldest are dropped; a request larger on its own is kept without its body).
    pub max_recorded_bytes: u64,
    /// How many issued tokens of each kind are remembered (the oldest are forgotten, and then
    /// refused like expired ones).
    pub max_tokens: usize,
    /// The response-signing seed; random when `None`.
    pub response_seed: Option<[u8; 32]>,
    /// The server's clock.
    pub clock: Arc<dyn Clock>,
    /// Benchmark mode: answer every `/v2/oauth/token` request with the same signed token
    /// response, without checking the request or keeping tokens.
    pub fixed_token: bool,
    /// Keep every request for [`MockServer::requests`] (off for long benchmark runs).
    pub record_requests: bool,
}

impl MockConfig {
    /// The default configuration, accepting requests signed with `api_key_hex`.
    pub fn accepting(api_key_hex: &str) -> Self {
        Self {
            api_keys: vec![api_key_hex.to_ascii_lowercase()],
            ..Self::default()
        }
    }
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::from_secs(43_199),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            nonce_window: Duration::from_secs(300),
            api_keys: Vec::new(),
            accept_any_key: false,
            max_request_bytes: cobo_oauth::DEFAULT_MAX_RESPONSE_BYTES,
            max_recorded_requests: 10_000,
            max_recorded_bytes: 64 * 1024 * 1024,
            max_tokens: tokens::DEFAULT_MAX_TOKENS,
            response_seed: None,
            clock: Arc::new(SystemClock),
            fixed_token: false,
            record_requests: true,
        }
    }
}

/// A request the mock received, as received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Method.
    pub method: String,
    /// Path, as received.
    pub path: String,
    /// Query string, as received.
    pub query: String,
    /// Raw body, when [`Self::body_kept`].
    pub body: Vec<u8>,
    /// Whether `body` is the body received. It is not when the request was not authenticated
    /// (its CoboAuth headers missing, its API key unknown or its signature invalid: the mock
    /// never keeps an unauthenticated body) or when it alone exceeded
    /// [`MockConfig::max_recorded_bytes`]; `body` is then empty.
    pub body_kept: bool,
    /// `Biz-Api-Key`, if sent.
    pub api_key: Option<String>,
    /// `Biz-Api-Nonce`, if sent.
    pub nonce: Option<String>,
    /// `Authorization`, if sent.
    pub authorization: Option<String>,
    /// When it arrived, by the server's clock (ms).
    pub received_at_ms: u64,
}

/// The entry of `id` in `operations`.
fn find_operation(
    operations: &'static [cobo_oauth_runtime::Operation],
    id: &str,
) -> Result<&'static cobo_oauth_runtime::Operation, UnknownOperation> {
    cobo_oauth_runtime::Operation::find(operations, id)
        .ok_or_else(|| UnknownOperation(id.to_owned()))
}

/// Shared between the server task and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: MockConfig,
    pub response_key: SigningKey,
    pub state: Mutex<State>,
    /// The last content signed and its signature.
    pub last_signature: Mutex<Option<(String, String)>>,
    /// The JWKS and the keys of User Info Tokens.
    pub jwks: jwks::MockJwks,
    /// `/oauth/token` requests being handled.
    pub token_requests: installs::InFlight,
}

/// The mutable state.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub tokens: tokens::Tokens,
    pub nonces: auth::SeenNonces,
    pub faults: faults::FaultQueue,
    pub requests: log::RequestLog,
    pub api_keys: Vec<String>,
    pub answers: answers::Answers,
    pub uninstalled: installs::Uninstalled,
}

/// A running mock server. Stops when dropped.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    sender: CoboSender,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl MockServer {
    /// Starts on a free loopback port.
    pub async fn start(config: MockConfig) -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts on `addr`.
    pub async fn start_on(addr: SocketAddr, config: MockConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let response_key = match config.response_seed {
            Some(seed) => SigningKey::from_bytes(&seed),
            None => SigningKey::generate(&mut rand::rngs::OsRng),
        };
        let jwks = jwks::MockJwks::new(response_key.to_bytes());
        let state = State {
            api_keys: config
                .api_keys
                .iter()
                .map(|key| key.to_ascii_lowercase())
                .collect(),
            tokens: tokens::Tokens::bounded(config.max_tokens),
            ..State::default()
        };
        let shared = Arc::new(Shared {
            config,
            response_key,
            state: Mutex::new(state),
            last_signature: Mutex::new(None),
            jwks,
            token_requests: installs::InFlight::default(),
        });
        let sender = CoboSender::new(
            shared.response_key.clone(),
            Arc::clone(&shared.config.clock),
        );
        let (shutdown, stopped) = tokio::sync::oneshot::channel();
        tokio::spawn(serve::run(listener, Arc::clone(&shared), stopped));
        Ok(Self {
            addr,
            shared,
            sender,
            _shutdown: shutdown,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, with Cobo's `/v2` prefix.
    pub fn base_url(&self) -> String {
        format!("http://{}/v2", self.addr)
    }

    /// The public key it signs responses with, hex.
    pub fn response_key_hex(&self) -> String {
        hex::encode(self.shared.response_key.verifying_key().as_bytes())
    }

    /// A custom [`Env`] pointing at this server, verifying its responses.
    pub fn env(&self) -> Env {
        let base_url = url::Url::parse(&self.base_url())
            .unwrap_or_else(|_| unreachable!("a socket address URL parses"));
        Env::Custom {
            base_url,
            response_key: ResponseKey::Verify(ResponseVerifier::new(
                self.shared.response_key.verifying_key(),
            )),
        }
    }

    /// Accepts requests signed with `api_key_hex` from now on.
    pub fn register_api_key(&self, api_key_hex: &str) {
        self.state().api_keys.push(api_key_hex.to_ascii_lowercase());
    }

    /// Answers `method` `path` (an API path without `/v2`, such as `/wallets/{wallet_id}`:
    /// `{name}` matches any one segment) with `answer`, after checking the request's CoboAuth
    /// signature and, when the answer says so, its Bearer token. A later registration for the
    /// same request wins. Requests to paths nobody registered get 404 with Cobo's
    /// `ErrorResponse` (`error_code` 2021), and show up in [`Self::requests`] like every request.
    pub fn answer(&self, method: &str, path: &str, answer: Answer) {
        self.state()
            .answers
            .register(method, path, answers::Responder::Fixed(answer));
    }

    /// Answers the operation `id` of a generated client's `OPERATIONS` table (e.g.
    /// `my_api::OPERATIONS`, `"list_wallets"`) with `answer`, at the operation's method and
    /// path. See [`Self::answer`].
    ///
    /// The mock plays Cobo for a Portal App, whose app key alone does not open an operation:
    /// one whose spec accepts the `OAuth2` scheme requires the Bearer token as `answer.bearer`
    /// says ([`Answer::ok`]: required; [`Bearer::NotRequired`] models an organization's own
    /// API key, which Cobo accepts instead), and one whose spec does not never requires it.
    pub fn answer_operation(
        &self,
        operations: &'static [cobo_oauth_runtime::Operation],
        id: &str,
        answer: Answer,
    ) -> Result<(), UnknownOperation> {
        let operation = find_operation(operations, id)?;
        let bearer = if operation.accepts_oauth2 {
            answer.bearer
        } else {
            Bearer::NotRequired
        };
        self.answer(
            operation.method,
            operation.path,
            Answer { bearer, ..answer },
        );
        Ok(())
    }

    /// Answers the list operation `id` of a generated client's `OPERATIONS` table with `items`,
    /// a page at a time as Cobo pages: `{data, pagination: {before, after, total_count}}` with
    /// the request's `limit` items (default 10, 1 to 500) after its `after` cursor, and an
    /// empty `after` on the last page. A `limit` out of range or a cursor this mock did not
    /// issue is Cobo's 400 with `error_code` 2006; `before` is not followed. The Bearer token
    /// is required when the operation's spec accepts the `OAuth2` scheme (see
    /// [`Self::answer_operation`]). To fail one page, [`Self::inject`] a fault before the
    /// client asks for it.
    pub fn answer_pages(
        &self,
        operations: &'static [cobo_oauth_runtime::Operation],
        id: &str,
        items: Vec<serde_json::Value>,
    ) -> Result<(), UnknownOperation> {
        let operation = find_operation(operations, id)?;
        let bearer = if operation.accepts_oauth2 {
            Bearer::Required
        } else {
            Bearer::NotRequired
        };
        self.state().answers.register(
            operation.method,
            operation.path,
            answers::Responder::Pages(pages::PagedList { items }, bearer),
        );
        Ok(())
    }

    /// Applies `fault` to the next `times` requests (after they are recorded).
    pub fn inject(&self, fault: Fault, times: usize) {
        self.state().faults.push(fault, times);
    }

    /// Forgets the faults still waiting ([`Self::inject`]): the next requests are handled
    /// normally, e.g. at the end of a burst of faults.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// The requests received so far: the newest [`MockConfig::max_recorded_requests`], holding
    /// at most [`MockConfig::max_recorded_bytes`]; a body only when the request was
    /// authenticated ([`RecordedRequest::body_kept`]).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.iter().cloned().collect()
    }

    /// How often each refresh token was presented to `POST /oauth/token`, valid or not. A client
    /// that never presents a refresh token twice has every count at 1.
    pub fn refresh_token_presentations(&self) -> std::collections::HashMap<String, usize> {
        self.state().tokens.presentations().clone()
    }

    /// How many refreshes of `org_id`'s pairs for app `client_id` succeeded (each rotated the
    /// pair; grants are not counted).
    pub fn refreshes_of(&self, client_id: &str, org_id: &str) -> usize {
        self.state().tokens.refreshes(client_id, org_id)
    }

    /// The most often any refresh token was presented (0 before any refresh).
    pub fn max_refresh_token_presentations(&self) -> usize {
        self.state()
            .tokens
            .presentations()
            .values()
            .copied()
            .max()
            .unwrap_or(0)
    }

    /// Makes every access token issued so far expire now: requests that carry one get Cobo's
    /// signed HTTP 500 with `error_code` 1000.
    pub fn expire_access_tokens(&self) {
        let now = self.shared.config.clock.now_millis();
        self.state().tokens.expire_access_tokens(now);
    }

    /// Whether `access_token` is currently valid.
    pub fn access_token_valid(&self, access_token: &str) -> bool {
        let now = self.shared.config.clock.now_millis();
        self.state().tokens.access_valid(access_token, now)
    }

    /// Delivers webhook events and callbacks signed with this server's response key (what
    /// [`Self::env`] verifies), and records them ([`CoboSender::deliveries`]).
    pub fn sender(&self) -> &CoboSender {
        &self.sender
    }

    /// The URL of its JWKS (`<base_url>/oauth/authorize/jwks.json`, as Cobo's).
    pub fn jwks_url(&self) -> String {
        cobo_oauth::inbound::jwks_url(&self.env())
    }

    /// The `iss` of the User Info Tokens it issues: its base URL.
    pub fn user_info_issuer(&self) -> String {
        self.base_url()
    }

    /// A User Info Token for `audience` (your app's client ID) living `ttl`, signed with the
    /// newest key of its JWKS (EdDSA). `claims` (a JSON object) are added, and override the
    /// defaults: `iss` ([`Self::user_info_issuer`]), `aud`, `iat`, `nbf` and `exp`.
    pub fn issue_user_info_token(
        &self,
        audience: &str,
        ttl: Duration,
        claims: serde_json::Value,
    ) -> Result<String, IssueError> {
        let now = self.shared.config.clock.now_millis() / 1000;
        let mut all = serde_json::json!({
            "iss": self.user_info_issuer(),
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl.as_secs(),
        });
        if let (Some(all), serde_json::Value::Object(claims)) = (all.as_object_mut(), claims) {
            all.extend(claims);
        }
        self.shared.jwks.sign(&all)
    }

    /// Adds a key to the JWKS, which signs User Info Tokens from now on (the old keys stay
    /// published); its `kid`.
    pub fn rotate_user_info_key(&self) -> String {
        self.shared.jwks.rotate()
    }

    /// How often the JWKS was fetched.
    pub fn jwks_requests(&self) -> usize {
        self.shared.jwks.requests()
    }

    /// Simulates `org_id` uninstalling the app `client_id`: its access and refresh tokens stop
    /// working, and new grants for it are refused (HTTP 400 `unauthorized_client`) until
    /// [`Self::install`].
    pub fn uninstall(&self, client_id: &str, org_id: &str) {
        let mut state = self.state();
        state.uninstalled.insert(client_id, org_id);
        state.tokens.revoke_org(client_id, org_id);
    }

    /// Simulates `org_id` installing the app `client_id` again: grants work again.
    pub fn install(&self, client_id: &str, org_id: &str) {
        self.state().uninstalled.remove(client_id, org_id);
    }

    /// The most `/oauth/token` requests the mock was handling at any one moment.
    pub fn max_concurrent_token_requests(&self) -> usize {
        self.shared.token_requests.max()
    }

    /// Forgets the most `/oauth/token` requests seen in flight so far (it counts again from the
    /// requests in flight now): to measure one phase of a test only.
    pub fn reset_max_concurrent_token_requests(&self) {
        self.shared.token_requests.reset_max();
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
