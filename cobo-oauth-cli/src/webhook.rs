//! `cobo-oauth webhook`: send signed webhook events and callbacks as the mock Cobo would, verify
//! a captured request, and listen for events and print the verified ones.

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use cobo_oauth::inbound::{CallbackDecision, InboundError, InboundVerifier, VerifiedBody};
use cobo_oauth::verify::ResponseVerifier;
use cobo_oauth::{ConfigError, Env};
use cobo_oauth_mock::{CoboSender, DeliveryKind, DeliveryOutcome, DeliveryPolicy};

use crate::args::Global;
use crate::run::{CliError, StdinOnce, print_json, response_seed};

/// `webhook` commands.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Deliver an event (or a callback) to URL, signed with the mock's response key, with
    /// Cobo's retries; prints every attempt and the app's answers. Exits 1 if no attempt was
    /// accepted.
    Send(SendArgs),
    /// Verify a captured request (headers, a blank line, the raw body; `-` reads standard
    /// input) with Cobo's key of --env, or --response-pubkey; says why it fails.
    Verify(VerifyArgs),
    /// Listen on 127.0.0.1:PORT and print every verified event as one JSON line; refuse the
    /// others with 401 (the reason goes to standard error).
    Listen(ListenArgs),
}

/// What is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// A webhook event.
    Webhook,
    /// A transaction-approval callback.
    Callback,
}

/// `webhook send` arguments.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Where to send it.
    #[arg(long)]
    pub url: String,
    /// A JSON file with the body, sent byte for byte (`-`: standard input).
    #[arg(long, value_name = "FILE")]
    pub event: PathBuf,
    /// Webhook event or callback.
    #[arg(long, value_enum, default_value_t = Kind::Webhook)]
    pub kind: Kind,
    /// The mock's response-signing seed (64 hex characters, as `mock-server --response-seed`),
    /// or `-` for standard input. Without it, a random key signs and its public key is printed.
    #[arg(
        long,
        value_name = "HEX",
        env = "COBO_MOCK_RESPONSE_SEED",
        hide_env_values = true
    )]
    pub response_seed: Option<String>,
    /// Attempts in all (default: Cobo's, 11 for events and 31 for callbacks).
    #[arg(long)]
    pub max_attempts: Option<u32>,
    /// Milliseconds between attempts.
    #[arg(long, default_value_t = 500)]
    pub retry_delay_ms: u64,
    /// Deliver it this many more times after it was accepted (Cobo's duplicates).
    #[arg(long, default_value_t = 0)]
    pub duplicates: u32,
    /// Use the header spelling of Cobo's docs, BIZ_TIMESTAMP / BIZ_RESP_SIGNATURE.
    #[arg(long)]
    pub underscore_headers: bool,
    /// Change the body after signing it (the receiver must refuse it).
    #[arg(long)]
    pub tamper: bool,
}

/// `webhook verify` arguments.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The captured request: an optional request line, header lines, a blank line, the body.
    #[arg(long, value_name = "FILE")]
    pub request: PathBuf,
    /// Refuse a timestamp further than this from now (off by default: Cobo documents none).
    #[arg(long, value_name = "SECS")]
    pub max_age: Option<u64>,
}

/// `webhook listen` arguments.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// The port on 127.0.0.1 (0: any free port; the address is printed on standard error).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// The answer to callbacks.
    #[arg(long, value_enum, default_value_t = Answer::Ok)]
    pub callback_answer: Answer,
}

/// A callback answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Answer {
    /// Approve.
    Ok,
    /// Deny.
    Deny,
}

/// Runs a `webhook` command.
pub async fn run(global: &Global, command: WebhookCommand) -> Result<(), CliError> {
    match command {
        WebhookCommand::Send(args) => send(args).await,
        WebhookCommand::Verify(args) => verify(global, &args),
        WebhookCommand::Listen(args) => listen(global, args).await,
    }
}

fn read_input(path: &Path, what: &str) -> Result<Vec<u8>, CliError> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
            .map_err(|e| CliError::Other(format!("cannot read {what} from standard input: {e}")))?;
        return Ok(bytes);
    }
    std::fs::read(path)
        .map_err(|e| CliError::Usage(format!("cannot read {what} {}: {e}", path.display())))
}

async fn send(args: SendArgs) -> Result<(), CliError> {
    let body = read_input(&args.event, "the event")?;
    if serde_json::from_slice::<serde_json::Value>(&body).is_err() {
        return Err(CliError::Usage(format!(
            "{} is not JSON (Cobo sends JSON bodies)",
            args.event.display()
        )));
    }
    let sender = match response_seed(&mut StdinOnce::default(), args.response_seed)? {
        Some(seed) => CoboSender::from_seed(seed),
        None => CoboSender::generate(),
    };
    eprintln!("signing with response key {}", sender.public_key_hex());
    let (kind, defaults) = match args.kind {
        Kind::Webhook => (DeliveryKind::Webhook, DeliveryPolicy::webhook()),
        Kind::Callback => (DeliveryKind::Callback, DeliveryPolicy::callback()),
    };
    let policy = DeliveryPolicy {
        max_attempts: args.max_attempts.unwrap_or(defaults.max_attempts),
        retry_delay: Duration::from_millis(args.retry_delay_ms),
        duplicates: args.duplicates,
        underscore_headers: args.underscore_headers,
        tamper: args.tamper,
        ..defaults
    };
    let delivery = sender.deliver(kind, &args.url, &body, &policy).await;
    let attempts: Vec<_> = delivery
        .attempts
        .iter()
        .map(|a| {
            serde_json::json!({
                "status": a.status,
                "answer": a.answer,
                "error": a.error,
                "timestamp_ms": a.timestamp_ms,
            })
        })
        .collect();
    let outcome = match delivery.outcome {
        DeliveryOutcome::Accepted => "accepted",
        DeliveryOutcome::Answered(CallbackDecision::Approve) => "ok",
        DeliveryOutcome::Answered(CallbackDecision::Deny) => "deny",
        DeliveryOutcome::Failed => "failed",
    };
    print_json(&serde_json::json!({
        "url": delivery.url,
        "response_key": sender.public_key_hex(),
        "outcome": outcome,
        "attempts": attempts,
    }))?;
    if delivery.outcome == DeliveryOutcome::Failed {
        return Err(CliError::Other(format!(
            "{} attempt(s), none accepted",
            delivery.attempts.len()
        )));
    }
    Ok(())
}

/// The verifier of the global options: `--response-pubkey`, else Cobo's key of `--env`.
fn verifier(global: &Global) -> Result<InboundVerifier, CliError> {
    if let Some(key) = &global.response_pubkey {
        let verifier = ResponseVerifier::from_hex(key).map_err(ConfigError::InvalidResponseKey)?;
        return Ok(InboundVerifier::new(verifier));
    }
    match &global.env {
        Some(env) => Ok(InboundVerifier::for_env(&Env::from_str(env)?)?),
        None => Err(CliError::Usage(
            "which key? give --env (dev, sandbox, prod) or --response-pubkey HEX".to_owned(),
        )),
    }
}

/// Headers and raw body of a captured request.
fn parse_request(raw: &[u8]) -> Result<(http::HeaderMap, Vec<u8>), CliError> {
    let Some((head, body)) = split_at_blank_line(raw) else {
        return Err(CliError::Usage(
            "the request has no blank line between its headers and its body".to_owned(),
        ));
    };
    let head = std::str::from_utf8(head)
        .map_err(|_| CliError::Usage("the request's headers are not UTF-8".to_owned()))?;
    let mut headers = http::HeaderMap::new();
    for (n, line) in head.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if n == 0 && line.contains(" HTTP/") {
            continue; // the request line
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| CliError::Usage(format!("header line {} has no ':'", n + 1)))?;
        let name = http::HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| CliError::Usage(format!("header line {} has a bad name", n + 1)))?;
        let value = http::HeaderValue::from_str(value.trim())
            .map_err(|_| CliError::Usage(format!("header line {} has a bad value", n + 1)))?;
        headers.append(name, value);
    }
    Ok((headers, body.to_vec()))
}

/// The head and the body of a captured request: split at its first line that is empty once a
/// trailing `\r` is removed (header lines may end in LF or CRLF; the body is whatever follows,
/// blank lines of its own included).
fn split_at_blank_line(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut start = 0;
    while let Some(len) = raw[start..].iter().position(|&byte| byte == b'\n') {
        let line = &raw[start..start + len];
        if line.strip_suffix(b"\r").unwrap_or(line).is_empty() {
            return Some((&raw[..start], &raw[start + len + 1..]));
        }
        start += len + 1;
    }
    None
}

/// What a verified body is, for printing.
fn describe(body: &VerifiedBody<Vec<u8>>) -> serde_json::Value {
    if let Ok(event) = body.webhook_event() {
        return serde_json::json!({
            "verified": true,
            "timestamp_ms": body.timestamp_ms(),
            "kind": "webhook",
            "event_id": event.event_id,
            "type": event.event_type,
            "data_type": event.data.data_type,
            "event": serde_json::from_str::<serde_json::Value>(event.raw()).unwrap_or_default(),
        });
    }
    if let Ok(message) = body.callback_message() {
        return serde_json::json!({
            "verified": true,
            "timestamp_ms": body.timestamp_ms(),
            "kind": "callback",
            "transaction_id": message.transaction_id,
            "request_id": message.request_id,
            "status": message.status,
        });
    }
    serde_json::json!({
        "verified": true,
        "timestamp_ms": body.timestamp_ms(),
        "kind": "unknown (neither a webhook event nor a callback message)",
    })
}

fn verify(global: &Global, args: &VerifyArgs) -> Result<(), CliError> {
    let mut verifier = verifier(global)?;
    if let Some(secs) = args.max_age {
        verifier = verifier.max_age(Duration::from_secs(secs));
    }
    let raw = read_input(&args.request, "the request")?;
    let (headers, body) = parse_request(&raw)?;
    let verified = verifier
        .verify(&headers, body)
        .map_err(|e| CliError::Other(format!("not verified: {e}{}", hint(&e))))?;
    print_json(&describe(&verified))
}

fn hint(error: &InboundError) -> &'static str {
    match error {
        InboundError::MissingHeader { .. } => {
            " (behind nginx, headers with underscores are dropped unless `underscores_in_headers on;`)"
        }
        InboundError::BadSignature => {
            " (was the body changed, e.g. re-serialized or with a trailing newline, or is it another environment's key?)"
        }
        _ => "",
    }
}

async fn listen(global: &Global, args: ListenArgs) -> Result<(), CliError> {
    use axum::response::IntoResponse as _;
    let verifier = verifier(global)?;
    let answer = match args.callback_answer {
        Answer::Ok => CallbackDecision::Approve,
        Answer::Deny => CallbackDecision::Deny,
    };
    let handler = move |headers: http::HeaderMap, body: axum::body::Bytes| {
        let verifier = verifier.clone();
        async move {
            match verifier.verify(&headers, body.to_vec()) {
                Ok(verified) => {
                    let described = describe(&verified);
                    println!("{described}");
                    if described["kind"] == "callback" {
                        answer.into_response()
                    } else {
                        (http::StatusCode::OK, "").into_response()
                    }
                }
                Err(error) => {
                    eprintln!("refused: {error}{}", hint(&error));
                    (http::StatusCode::UNAUTHORIZED, error.to_string()).into_response()
                }
            }
        }
    };
    let router = axum::Router::new().fallback(axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| CliError::Other(format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Other(e.to_string()))?;
    eprintln!("listening on http://{addr}/ (any path); Ctrl-C stops it");
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| CliError::Other(e.to_string()))
}
