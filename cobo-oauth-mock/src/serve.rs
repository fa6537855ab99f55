//! The HTTP side: accept, record, inject faults, route, sign.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use ed25519_dalek::Signer as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use super::answers::Bearer;
use super::auth::{self, Received};
use super::faults::Fault;
use super::reply::Reply;
use super::tokens::RefreshRefused;
use super::{MockConfig, RecordedRequest, Shared, State};
use cobo_oauth::signing::{Digest, signs_empty_body};

/// Why a connection is closed without an answer.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
struct Dropped;

/// Serves until `stopped` fires.
pub(crate) async fn run(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(Arc::clone(&shared), request));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        }
    }
}

fn header<'a>(request: &'a http::request::Parts, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The parts of a request that CoboAuth signs. A `multipart/form-data` request signs an empty
/// body, as Cobo's Python SDK signs it (`cobo_oauth::signing::signs_empty_body`); any other
/// signs its body as received. Only a body that is a form is taken for one: a JSON body
/// labelled `multipart/form-data` signs its bytes like any other, so the label alone does not
/// let a request through unsigned.
fn received<'a>(parts: &'a http::request::Parts, body: &'a [u8]) -> Received<'a> {
    let signed_body = if is_form(header(parts, "content-type"), body) {
        &[]
    } else {
        body
    };
    Received {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        body: signed_body,
        api_key: header(parts, "biz-api-key"),
        nonce: header(parts, "biz-api-nonce"),
        signature: header(parts, "biz-api-signature"),
    }
}

/// Whether `body` is a `multipart/form-data` body of `content_type`: the type says so, names
/// its boundary, and the body starts with that boundary's delimiter.
fn is_form(content_type: Option<&str>, body: &[u8]) -> bool {
    if !signs_empty_body(content_type) {
        return false;
    }
    let boundary = content_type
        .into_iter()
        .flat_map(|t| t.split(';'))
        .find_map(|param| {
            let (name, value) = param.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("boundary")
                .then(|| value.trim().trim_matches('"'))
        });
    boundary.is_some_and(|boundary| {
        !boundary.is_empty() && body.starts_with(format!("--{boundary}").as_bytes())
    })
}

/// Whether `content_type` is JSON (`application/json`, any parameters, any case), as the
/// token endpoint's body must be.
fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|t| t.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The API keys whose signatures are accepted now.
fn known<'a>(config: &MockConfig, state: &'a State) -> auth::KnownKeys<'a> {
    if config.accept_any_key {
        auth::KnownKeys::Any
    } else {
        auth::KnownKeys::Only(&state.api_keys)
    }
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let limit = usize::try_from(shared.config.max_request_bytes).unwrap_or(usize::MAX);
    let Ok(body) = http_body_util::Limited::new(body, limit).collect().await else {
        let reply = Reply::cobo(413, 2006, "the request body is too large");
        return Ok(respond(&shared, reply, None));
    };
    let body = body.to_bytes();
    let _in_flight = parts
        .uri
        .path()
        .ends_with("/oauth/token")
        .then(|| shared.token_requests.enter());
    let (fault, authenticated) = {
        let config = &shared.config;
        let mut state = shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Authenticated before anything is kept: only a body signed by a known key is recorded.
        let authenticated = config
            .record_requests
            .then(|| auth::authenticate(&received(&parts, &body), known(config, &state)));
        if config.record_requests {
            let body_kept = matches!(authenticated, Some(Ok(_)));
            let request = RecordedRequest {
                method: parts.method.to_string(),
                path: parts.uri.path().to_owned(),
                query: parts.uri.query().unwrap_or("").to_owned(),
                body: if body_kept { body.to_vec() } else { Vec::new() },
                body_kept,
                api_key: header(&parts, "biz-api-key").map(str::to_owned),
                nonce: header(&parts, "biz-api-nonce").map(str::to_owned),
                authorization: header(&parts, "authorization").map(str::to_owned),
                received_at_ms: config.clock.now_millis(),
            };
            state.requests.push(
                request,
                config.max_recorded_requests,
                config.max_recorded_bytes,
            );
        }
        (state.faults.next(), authenticated)
    };
    if let Some(Fault::Delay(delay)) = &fault {
        tokio::time::sleep(*delay).await;
    }
    let reply = match &fault {
        Some(Fault::Status { status, body, .. }) => Reply {
            status: *status,
            body: body.clone(),
        },
        Some(Fault::MalformedJson) => Reply {
            status: 200,
            body: "{\"access_token\": ".to_owned(),
        },
        _ => route(&shared, &parts, &body, authenticated),
    };
    if fault == Some(Fault::DropConnection) {
        return Err(Dropped);
    }
    if let Some(Fault::DelayAnswer(delay)) = &fault {
        tokio::time::sleep(*delay).await;
    }
    let reply = match &fault {
        Some(Fault::OmitFields(fields)) => reply.without_fields(fields),
        _ => reply,
    };
    Ok(respond(&shared, reply, fault.as_ref()))
}

/// Builds the response, signed like Cobo's unless a fault says otherwise.
fn respond(shared: &Shared, reply: Reply, fault: Option<&Fault>) -> Response<Full<Bytes>> {
    let timestamp = shared.config.clock.now_millis().to_string();
    let mut response = Response::builder()
        .status(reply.status)
        .header("content-type", "application/json");
    if let Some(Fault::Status { headers, .. }) = fault {
        for (name, value) in headers {
            response = response.header(name.as_str(), value.as_str());
        }
    }
    if fault != Some(&Fault::Unsigned) {
        let content = if fault == Some(&Fault::BadSignature) {
            format!("{}|{timestamp}tampered", reply.body)
        } else {
            format!("{}|{timestamp}", reply.body)
        };
        response = response
            .header("Biz-Timestamp", &timestamp)
            .header("Biz-Resp-Signature", sign_content(shared, content));
    }
    let body = if fault == Some(&Fault::TamperBody) {
        tampered(reply.body)
    } else {
        reply.body
    };
    response
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// `body` with its first digit changed, or a space added when it has none.
fn tampered(body: String) -> String {
    match body.find(|c: char| c.is_ascii_digit()) {
        Some(at) => {
            let digit = if &body[at..=at] == "9" { "1" } else { "9" };
            format!("{}{digit}{}", &body[..at], &body[at + 1..])
        }
        None => format!("{body} "),
    }
}

/// The body of benchmark mode.
const FIXED_TOKEN: &str = r#"{"access_token":"AnCEPEp5Q8qjAOA1Lb6kVd2OlkCyJnMTeMPdLbPOM8cz176Eb5y7EJoUjJJ0vkzz","token_type":"Bearer","scope":"","expires_in":43199,"refresh_token":"rK49jI0zt49gsttzscscik15Asmlpu1TdcxqguJJS8B9f6ilJEC0y3PbVqwsEAw5"}"#;

/// Signs `body|timestamp`, reusing the last signature when the content repeats (benchmark mode
/// answers the same body many times a millisecond: the server's cost should not dominate).
fn sign_content(shared: &Shared, content: String) -> String {
    let mut last = shared
        .last_signature
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match &*last {
        Some((signed, signature)) if *signed == content => signature.clone(),
        _ => {
            let signature = hex::encode(
                shared
                    .response_key
                    .sign(Digest::sha256d(content.as_bytes()).as_bytes())
                    .to_bytes(),
            );
            *last = Some((content, signature.clone()));
            signature
        }
    }
}

/// Answers a request; `authenticated` is [`auth::authenticate`]'s verdict when it was reached
/// already (to record the request), and is reached here otherwise.
fn route(
    shared: &Shared,
    parts: &http::request::Parts,
    body: &[u8],
    authenticated: Option<Result<String, Reply>>,
) -> Reply {
    let config = &shared.config;
    if config.fixed_token && parts.uri.path().ends_with("/oauth/token") {
        return Reply {
            status: 200,
            body: FIXED_TOKEN.to_owned(),
        };
    }
    if parts.method == http::Method::GET && parts.uri.path() == super::jwks::JWKS_PATH {
        return shared.jwks.answer();
    }
    let now = config.clock.now_millis();
    let mut state = shared
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let received = received(parts, body);
    let window = u64::try_from(config.nonce_window.as_millis()).unwrap_or(u64::MAX);
    let state = &mut *state;
    let authenticated =
        authenticated.unwrap_or_else(|| auth::authenticate(&received, known(config, state)));
    if let Err(reply) = authenticated
        .and_then(|key| auth::check_nonce(&key, &received, &mut state.nonces, now, window))
    {
        return reply;
    }
    let bearer = header(parts, "authorization").and_then(|v| v.strip_prefix("Bearer "));
    if let Some(bearer) = bearer
        && !state.tokens.access_valid(bearer, now)
    {
        return Reply::cobo(500, 1000, "the access token is invalid or has expired");
    }
    if parts.uri.path() != "/v2/oauth/token" {
        let path = parts.uri.path().strip_prefix("/v2").unwrap_or("");
        return match state.answers.find(parts.method.as_str(), path) {
            Some(answer) if answer.bearer() == Bearer::Required && bearer.is_none() => Reply::cobo(
                401,
                2024,
                "this operation needs Authorization: Bearer <Org Access Token>",
            ),
            Some(answer) => answer.reply(received.query),
            None => Reply::cobo(404, 2021, "no such path or method"),
        };
    }
    let access_ttl = u64::try_from(config.access_token_ttl.as_millis()).unwrap_or(u64::MAX);
    let refresh_ttl = u64::try_from(config.refresh_token_ttl.as_millis()).unwrap_or(u64::MAX);
    let token_reply = |pair: super::tokens::Pair| {
        Reply::ok(serde_json::json!({
            "access_token": pair.access_token,
            "token_type": "Bearer",
            "scope": "",
            "expires_in": config.access_token_ttl.as_secs(),
            "refresh_token": pair.refresh_token,
        }))
    };
    match parts.method.as_str() {
        "GET" => {
            let query: HashMap<String, String> =
                url::form_urlencoded::parse(received.query.as_bytes())
                    .into_owned()
                    .collect();
            let (Some(client_id), Some(org_id), Some(grant_type)) = (
                query.get("client_id"),
                query.get("org_id"),
                query.get("grant_type"),
            ) else {
                return Reply::oauth(
                    400,
                    "invalid_request",
                    "client_id, org_id and grant_type are required",
                );
            };
            if state.uninstalled.contains(client_id, org_id) {
                return Reply::oauth(
                    400,
                    "unauthorized_client",
                    "the app is not installed by this organization",
                );
            }
            if grant_type != "org_implicit" {
                return Reply::oauth(400, "invalid_grant", "grant_type must be org_implicit");
            }
            if client_id.is_empty() || org_id.is_empty() {
                return Reply::oauth(
                    400,
                    "invalid_request",
                    "client_id and org_id must not be empty",
                );
            }
            token_reply(
                state
                    .tokens
                    .issue(client_id, org_id, now, access_ttl, refresh_ttl),
            )
        }
        "POST" => {
            if !is_json(header(parts, "content-type")) {
                return Reply::oauth(
                    415,
                    "invalid_request",
                    "the token endpoint takes an application/json body",
                );
            }
            let Ok(request) = serde_json::from_slice::<serde_json::Value>(body) else {
                return Reply::oauth(400, "invalid_request", "the body is not JSON");
            };
            let field = |name: &str| {
                request
                    .get(name)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("")
            };
            if field("grant_type") != "refresh_token" {
                return Reply::oauth(400, "invalid_request", "grant_type must be refresh_token");
            }
            match state.tokens.rotate(
                field("client_id"),
                field("refresh_token"),
                now,
                access_ttl,
                refresh_ttl,
            ) {
                Ok(pair) => token_reply(pair),
                Err(RefreshRefused::Unknown) => Reply::oauth(
                    400,
                    "invalid_grant",
                    "the refresh token is invalid, expired or already used",
                ),
                Err(RefreshRefused::WrongClient) => Reply::oauth(
                    400,
                    "unauthorized_client",
                    "the refresh token was issued to another client",
                ),
            }
        }
        _ => Reply::cobo(405, 405, "method not allowed"),
    }
}

#[cfg(test)]
mod tests {
    use super::{is_form, is_json};

    #[test]
    fn only_a_body_that_is_a_form_is_taken_for_one() {
        let form_type = Some("multipart/form-data; boundary=abc");
        assert!(is_form(
            form_type,
            b"--abc\r\nContent-Disposition: form-data"
        ));
        assert!(is_form(
            Some("Multipart/Form-Data; charset=utf-8; boundary=\"abc\""),
            b"--abc--\r\n"
        ));
        // A JSON body under the form's label, a form without a boundary, another type.
        assert!(!is_form(form_type, br#"{"grant_type":"refresh_token"}"#));
        assert!(!is_form(Some("multipart/form-data"), b"--abc\r\n"));
        assert!(!is_form(Some("multipart/form-data; boundary="), b"--\r\n"));
        assert!(!is_form(Some("application/json"), b"--abc\r\n"));
        assert!(!is_form(None, b"--abc\r\n"));
    }

    #[test]
    fn the_token_endpoint_takes_json_only() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(!is_json(Some("multipart/form-data; boundary=abc")));
        assert!(!is_json(Some("application/x-www-form-urlencoded")));
        assert!(!is_json(None));
    }
}
