//! The mock as the side that calls the app: it delivers webhook events and transaction-approval
//! callbacks, signed like Cobo's (`Biz-Resp-Signature` over `RAW_BODY|Biz-Timestamp` with the
//! response key), with Cobo's retries and duplicates, and records every attempt and answer.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ed25519_dalek::{Signer as _, SigningKey};

use cobo_oauth::inbound::CallbackDecision;
use cobo_oauth::signing::{Clock, Digest, SystemClock};

/// What is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKind {
    /// A webhook event: accepted by a 200 or 201.
    Webhook,
    /// A transaction-approval callback: a 200 or 201 with the plain text `ok` or `deny`.
    Callback,
}

/// How a delivery behaves. [`Self::webhook`] and [`Self::callback`] are Cobo's documented
/// behaviour, with short delays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Attempts in all (Cobo: 1 + 10 retries for events, 1 + 30 for callbacks).
    pub max_attempts: u32,
    /// The wait between two attempts (Cobo backs off over hours; the mock waits this).
    pub retry_delay: Duration,
    /// How long an attempt may take (Cobo: 2 s).
    pub timeout: Duration,
    /// Deliveries of the same body after an accepted one (Cobo may deliver an event twice).
    pub duplicates: u32,
    /// Send the underscore spelling (`BIZ_TIMESTAMP`, `BIZ_RESP_SIGNATURE`) instead of the
    /// hyphenated one.
    pub underscore_headers: bool,
    /// Change the body after signing it (a forged or corrupted request, which must be refused).
    pub tamper: bool,
}

impl DeliveryPolicy {
    /// A webhook event: 11 attempts, 50 ms apart, 2 s each, no duplicate.
    pub fn webhook() -> Self {
        Self {
            max_attempts: 11,
            retry_delay: Duration::from_millis(50),
            timeout: Duration::from_secs(2),
            duplicates: 0,
            underscore_headers: false,
            tamper: false,
        }
    }

    /// A callback: 31 attempts, 50 ms apart, 2 s each.
    pub fn callback() -> Self {
        Self {
            max_attempts: 31,
            ..Self::webhook()
        }
    }
}

/// One attempt and what the app answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The status, when the app answered.
    pub status: Option<u16>,
    /// The body of the answer (at most 1 KiB of it).
    pub answer: String,
    /// Why there is no answer (connection refused, timeout), when there is none.
    pub error: Option<String>,
    /// The `Biz-Timestamp` it was signed with.
    pub timestamp_ms: u64,
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// A webhook event answered 200 or 201.
    Accepted,
    /// A callback answered `ok` or `deny`.
    Answered(CallbackDecision),
    /// Every attempt failed.
    Failed,
}

/// One delivery: every attempt (the first, retries and duplicates) in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Webhook or callback.
    pub kind: DeliveryKind,
    /// Where it went.
    pub url: String,
    /// The body signed.
    pub body: String,
    /// The attempts.
    pub attempts: Vec<Attempt>,
    /// The outcome of the first delivery (before duplicates).
    pub outcome: DeliveryOutcome,
}

/// Signs and delivers what Cobo sends apps, with one key. [`super::MockServer::sender`] gives
/// one with the server's response key; [`Self::from_seed`] one for a known seed (the CLI's
/// `webhook send`). Clones share the record of deliveries.
#[derive(Clone)]
pub struct CoboSender {
    key: SigningKey,
    clock: Arc<dyn Clock>,
    /// The client (no redirects, as Cobo); why it could not be built, which every attempt then
    /// reports.
    http: Result<reqwest::Client, String>,
    deliveries: Arc<Mutex<VecDeque<Delivery>>>,
}

/// How many deliveries are kept.
const MAX_RECORDED_DELIVERIES: usize = 10_000;
/// How much of an answer is kept.
const MAX_RECORDED_ANSWER: usize = 1024;

impl fmt::Debug for CoboSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoboSender")
            .field("public_key", &self.public_key_hex())
            .finish_non_exhaustive()
    }
}

impl CoboSender {
    /// A sender with the key of `seed` (32 bytes).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self::new(SigningKey::from_bytes(&seed), Arc::new(SystemClock))
    }

    /// A sender with a new random key (see [`Self::public_key_hex`]).
    pub fn generate() -> Self {
        Self::new(
            SigningKey::generate(&mut rand::rngs::OsRng),
            Arc::new(SystemClock),
        )
    }

    pub(crate) fn new(key: SigningKey, clock: Arc<dyn Clock>) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the HTTP client could not be built: {e}"));
        Self {
            key,
            clock,
            http,
            deliveries: Arc::new(Mutex::new(VecDeque::new())),
        }
    }

    /// The public key a receiver verifies with, hex.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().as_bytes())
    }

    /// The signature headers of `body` at `timestamp_ms`: `(Biz-Timestamp, Biz-Resp-Signature)`.
    pub fn sign(&self, body: &[u8], timestamp_ms: u64) -> (String, String) {
        let timestamp = timestamp_ms.to_string();
        let mut content = body.to_vec();
        content.push(b'|');
        content.extend_from_slice(timestamp.as_bytes());
        let signature = self.key.sign(Digest::sha256d(&content).as_bytes());
        (timestamp, hex::encode(signature.to_bytes()))
    }

    /// Delivers `body` to `url` as Cobo would, and records it.
    pub async fn deliver(
        &self,
        kind: DeliveryKind,
        url: &str,
        body: &[u8],
        policy: &DeliveryPolicy,
    ) -> Delivery {
        let mut attempts = Vec::new();
        let mut outcome = DeliveryOutcome::Failed;
        for n in 0..policy.max_attempts.max(1) {
            if n > 0 {
                tokio::time::sleep(policy.retry_delay).await;
            }
            let attempt = self.attempt(url, body, policy).await;
            let answered = judge(kind, &attempt);
            attempts.push(attempt);
            if let Some(answered) = answered {
                outcome = answered;
                break;
            }
        }
        if outcome != DeliveryOutcome::Failed {
            for _ in 0..policy.duplicates {
                attempts.push(self.attempt(url, body, policy).await);
            }
        }
        let delivery = Delivery {
            kind,
            url: url.to_owned(),
            body: String::from_utf8_lossy(body).into_owned(),
            attempts,
            outcome,
        };
        let mut deliveries = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
        if deliveries.len() >= MAX_RECORDED_DELIVERIES {
            deliveries.pop_front();
        }
        deliveries.push_back(delivery.clone());
        delivery
    }

    async fn attempt(&self, url: &str, body: &[u8], policy: &DeliveryPolicy) -> Attempt {
        let timestamp_ms = self.clock.now_millis();
        let (timestamp, signature) = self.sign(body, timestamp_ms);
        let (ts_name, sig_name) = if policy.underscore_headers {
            ("BIZ_TIMESTAMP", "BIZ_RESP_SIGNATURE")
        } else {
            ("Biz-Timestamp", "Biz-Resp-Signature")
        };
        let mut sent = body.to_vec();
        if policy.tamper {
            sent.push(b' ');
        }
        let failed = |error: String| Attempt {
            status: None,
            answer: String::new(),
            error: Some(error),
            timestamp_ms,
        };
        let http = match &self.http {
            Ok(http) => http,
            Err(error) => return failed(error.clone()),
        };
        let result = http
            .post(url)
            .timeout(policy.timeout)
            .header("content-type", "application/json")
            .header(ts_name, timestamp)
            .header(sig_name, signature)
            .body(sent)
            .send()
            .await;
        let mut response = match result {
            Ok(response) => response,
            Err(error) => return failed(error.without_url().to_string()),
        };
        let status = response.status().as_u16();
        // Read up to the cap only: an app answering without end is not buffered whole.
        let mut answer = Vec::new();
        let error = loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = MAX_RECORDED_ANSWER - answer.len();
                    answer.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if answer.len() == MAX_RECORDED_ANSWER {
                        break None;
                    }
                }
                Ok(None) => break None,
                Err(error) => break Some(error.without_url().to_string()),
            }
        };
        match error {
            None => Attempt {
                status: Some(status),
                answer: String::from_utf8_lossy(&answer).into_owned(),
                error: None,
                timestamp_ms,
            },
            Some(error) => Attempt {
                status: Some(status),
                answer: String::new(),
                error: Some(error),
                timestamp_ms,
            },
        }
    }

    /// Every delivery so far (the newest 10,000).
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// Whether an attempt ends the delivery, as Cobo judges it.
fn judge(kind: DeliveryKind, attempt: &Attempt) -> Option<DeliveryOutcome> {
    if !matches!(attempt.status, Some(200 | 201)) || attempt.error.is_some() {
        return None;
    }
    match kind {
        DeliveryKind::Webhook => Some(DeliveryOutcome::Accepted),
        DeliveryKind::Callback => {
            CallbackDecision::from_body(attempt.answer.as_bytes()).map(DeliveryOutcome::Answered)
        }
    }
}
