//! Helpers shared by the integration tests: the shared vectors, and a wiremock stand-in for Cobo
//! that checks CoboAuth signatures the way the server does (from the bytes it received) and signs
//! its responses.

#![allow(clippy::unwrap_used, missing_docs)]

mod logs;
pub mod redis_acl;
mod redis_cluster;
mod redis_server;
mod test_pki;
pub mod vectors;

use std::sync::{Arc, Mutex};

use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest as _, Sha256};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub use logs::Logs;
pub use redis_cluster::{RedisCluster, calls};
pub use redis_server::{ClientCerts, RedisServer};
pub use test_pki::TestPki;

/// The official Python SDK's vectors (copied from the reference material; see tests/vectors).
pub fn vectors() -> vectors::Vectors {
    vectors::load()
}

/// The API secret of the vectors' ed25519 cases.
pub const API_SECRET: &str = "a84fa52a55b98b9bcfd79fb55e019b002b4bb23a6654708cfe7dd1d46c55e950";
/// The response-signing secret of the vectors' response cases (test key).
pub const SERVER_SECRET: &str = "e45a5fba42034c8d07d40d9d37a84c35943221b15e613a88fa567b5700df6ed4";

/// How many requests with `method` the mock server has received.
pub fn count_requests(server: &cobo_oauth_mock::MockServer, method: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.method == method)
        .count()
}

/// A token pair of `version` with tokens named after it, and no owner: for store tests.
pub fn numbered_pair(version: u64) -> cobo_oauth::tokens::StoredToken {
    cobo_oauth::tokens::StoredToken {
        access_token: cobo_oauth::SecretString::from(format!("access-token-{version}")),
        refresh_token: cobo_oauth::SecretString::from(format!("refresh-token-{version}")),
        expires_at_ms: 1_000 + version,
        version,
        owner: None,
    }
}

/// The API key (hex) of [`API_SECRET`].
pub fn api_key() -> String {
    use cobo_oauth::signing::Signer as _;
    cobo_oauth::signing::Ed25519Signer::from_hex(API_SECRET)
        .unwrap()
        .api_key()
        .as_str()
        .to_owned()
}

/// The mock server's default configuration, accepting requests signed with [`API_SECRET`].
pub fn mock_config() -> cobo_oauth_mock::MockConfig {
    cobo_oauth_mock::MockConfig::accepting(&api_key())
}

/// `SHA-256(SHA-256(bytes))`.
pub fn sha256d(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(bytes)).into()
}

fn key(secret_hex: &str) -> SigningKey {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(secret_hex, &mut seed).unwrap();
    SigningKey::from_bytes(&seed)
}

/// The string to sign, re-derived from a request as the server received it.
pub fn received_string_to_sign(request: &Request) -> Vec<u8> {
    let nonce = header(request, "biz-api-nonce").unwrap_or_default();
    let mut sts = format!(
        "{}|{}|{}|{}|",
        request.method.as_str(),
        request.url.path(),
        nonce,
        request.url.query().unwrap_or("")
    )
    .into_bytes();
    sts.extend_from_slice(&request.body);
    sts
}

/// A header as a string.
pub fn header(request: &Request, name: &str) -> Option<String> {
    request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Checks a request's CoboAuth signature against `api_key`, from the bytes received.
pub fn verify_request(request: &Request, api_key: &VerifyingKey) -> Result<(), String> {
    let key_header = header(request, "biz-api-key").ok_or("no Biz-Api-Key")?;
    if key_header != hex::encode(api_key.as_bytes()) {
        return Err(format!("unknown API key {key_header}"));
    }
    let signature_hex = header(request, "biz-api-signature").ok_or("no Biz-Api-Signature")?;
    let mut signature = [0u8; 64];
    hex::decode_to_slice(&signature_hex, &mut signature).map_err(|e| e.to_string())?;
    let digest = sha256d(&received_string_to_sign(request));
    api_key
        .verify(&digest, &ed25519_dalek::Signature::from_bytes(&signature))
        .map_err(|_| {
            format!(
                "bad signature over {:?}",
                String::from_utf8_lossy(&received_string_to_sign(request))
            )
        })
}

/// Signs a response body the way Cobo does.
pub fn sign_response(server: &SigningKey, body: &str, timestamp: &str) -> String {
    hex::encode(
        server
            .sign(&sha256d(format!("{body}|{timestamp}").as_bytes()))
            .to_bytes(),
    )
}

/// A signed JSON response.
pub fn signed(server: &SigningKey, status: u16, body: &str) -> ResponseTemplate {
    let timestamp = "1718587017123";
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/json")
        .insert_header("Biz-Timestamp", timestamp)
        .insert_header(
            "Biz-Resp-Signature",
            sign_response(server, body, timestamp).as_str(),
        )
        .set_body_string(body)
}

/// What the double saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Vec<u8>,
    pub nonce: u64,
    pub signature_ok: Result<(), String>,
}

/// A Cobo stand-in on wiremock.
pub struct CoboDouble {
    pub server: MockServer,
    pub response_key: SigningKey,
    pub api_key: VerifyingKey,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

/// Responds with a signed body after checking the request's signature; a bad signature gets
/// Cobo-shaped 401.
struct Checked {
    api_key: VerifyingKey,
    response_key: SigningKey,
    seen: Arc<Mutex<Vec<Seen>>>,
    status: u16,
    body: String,
}

impl Respond for Checked {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let signature_ok = verify_request(request, &self.api_key);
        self.seen.lock().unwrap().push(Seen {
            method: request.method.to_string(),
            path: request.url.path().to_owned(),
            query: request.url.query().unwrap_or("").to_owned(),
            body: request.body.clone(),
            nonce: header(request, "biz-api-nonce")
                .and_then(|n| n.parse().ok())
                .unwrap_or_default(),
            signature_ok: signature_ok.clone(),
        });
        match signature_ok {
            Ok(()) => signed(&self.response_key, self.status, &self.body),
            Err(_) => signed(
                &self.response_key,
                401,
                r#"{"error_code":2002,"error_message":"signature verification failed","error_id":"e1"}"#,
            ),
        }
    }
}

impl CoboDouble {
    /// Starts a double that accepts requests signed with the vectors' API secret.
    pub async fn start() -> Self {
        Self {
            server: MockServer::start().await,
            response_key: key(SERVER_SECRET),
            api_key: key(API_SECRET).verifying_key(),
            seen: Arc::default(),
        }
    }

    /// The base URL, with Cobo's `/v2` prefix.
    pub fn base_url(&self) -> String {
        format!("{}/v2", self.server.uri())
    }

    /// The response key, hex.
    pub fn response_key_hex(&self) -> String {
        hex::encode(self.response_key.verifying_key().as_bytes())
    }

    /// A client for this double, signing with the vectors' API secret.
    pub fn client(&self) -> cobo_oauth::CoboClient {
        cobo_oauth::CoboClient::builder()
            .env(cobo_oauth::Env::custom(&self.base_url(), &self.response_key_hex()).unwrap())
            .api_secret(API_SECRET)
            .build()
            .unwrap()
    }

    /// A mock of `METHOD /v2{route}` answering a signed `status` and `body` after checking the
    /// request's signature.
    fn checked(&self, verb: &str, route: &str, status: u16, body: &str) -> Mock {
        Mock::given(method(verb))
            .and(path(format!("/v2{route}")))
            .respond_with(Checked {
                api_key: self.api_key,
                response_key: self.response_key.clone(),
                seen: Arc::clone(&self.seen),
                status,
                body: body.to_owned(),
            })
    }

    /// Answers `METHOD /v2{route}` with a signed `status` and `body`, after checking the
    /// request's signature.
    pub async fn answer(&self, verb: &str, route: &str, status: u16, body: &str) {
        self.checked(verb, route, status, body)
            .mount(&self.server)
            .await;
    }

    /// Like [`Self::answer`], for the next `times` matching requests only, ahead of the others.
    pub async fn answer_times(&self, verb: &str, route: &str, status: u16, body: &str, times: u64) {
        self.checked(verb, route, status, body)
            .up_to_n_times(times)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// Answers with an arbitrary template (for unsigned and broken responses).
    pub async fn answer_raw(&self, verb: &str, route: &str, template: ResponseTemplate) {
        Mock::given(method(verb))
            .and(path(format!("/v2{route}")))
            .respond_with(template)
            .mount(&self.server)
            .await;
    }

    /// What the double has seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// The system clock shifted by an offset the test sets: jumps a client's or a manager's wall
/// clock while the mock server keeps the real time.
#[derive(Debug, Default)]
pub struct ShiftedClock(std::sync::atomic::AtomicI64);

impl ShiftedClock {
    /// Sets the offset from the system clock, in milliseconds (negative: behind it).
    pub fn set_offset_ms(&self, offset_ms: i64) {
        self.0.store(offset_ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl cobo_oauth::signing::Clock for ShiftedClock {
    fn now_millis(&self) -> u64 {
        let now = cobo_oauth::signing::SystemClock.now_millis();
        now.saturating_add_signed(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// A token response body.
pub const TOKEN_BODY: &str = r#"{"access_token":"AT-1","token_type":"Bearer","scope":"","expires_in":43199,"refresh_token":"RT-1"}"#;
