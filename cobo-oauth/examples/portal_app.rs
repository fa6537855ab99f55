//! A Cobo Portal App serving many organizations: copy this to start yours.
//!
//! ```sh
//! cargo run --example portal_app             # offline demo against the embedded mock, then exits
//! cargo run --example portal_app -- --serve  # keeps serving on http://127.0.0.1:3000
//! ```
//!
//! Routes:
//! - `POST /cobo/install?approval_result=<1|2>&org_id=<uuid>`: Cobo's install callback. `1`: the
//!   organization installed the app; `2`: it changed the app's permissions or wallet scopes.
//!   Either asks Cobo for a new Org Access Token for that organization and saves it.
//! - `GET /orgs/{org_id}/wallets`: a Cobo operation on behalf of that organization, sent with its
//!   Bearer token (CoboAuth-signed, the answer verified).
//! - `GET /orgs`: each organization's expiry, last renewal and last error (no secrets).
//!
//! Cobo documents no signature on the install callback, so anyone who reaches the route can call
//! it. It is only a hint: the grant it triggers is what proves the installation (Cobo answers it,
//! signed, only for an organization that installed the app). Rate-limit the route in production.
//!
//! Offline, the app talks to the embedded mock Cobo server (which answers `GET /wallets` for
//! this demo), and the demo plays Cobo calling the install callback for two organizations. Against
//! Cobo, build the client with `CoboClient::from_env()` (`COBO_ENV`, `COBO_API_SECRET`) and keep
//! the pairs in a `DirectoryStore` (one process) or a `RedisOrgStore` (a fleet).

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use cobo_oauth::mock::{Answer, MockConfig, MockServer};
use cobo_oauth::signing::{Ed25519Signer, Signer as _};
use cobo_oauth::tokens::{InstallError, OrgTokens};
use cobo_oauth::{CoboClient, Error, ExposeSecret as _};
use serde::Deserialize;

/// The app's client ID (the demo's; yours is in Cobo Portal).
const CLIENT_ID: &str = "portal-app-demo";

/// What every handler shares.
#[derive(Clone)]
struct App {
    client: CoboClient,
    tokens: OrgTokens,
    http: reqwest::Client,
}

/// The install callback's query.
#[derive(Deserialize)]
struct Install {
    approval_result: String,
    org_id: String,
}

/// `POST /cobo/install?approval_result=..&org_id=..`
async fn install(State(app): State<App>, Query(query): Query<Install>) -> (StatusCode, String) {
    match app
        .tokens
        .on_install(&query.org_id, query.approval_result.as_str())
        .await
    {
        Ok(()) => (StatusCode::OK, "ok".to_owned()),
        Err(error @ (InstallError::UnknownApprovalResult(_) | InstallError::MissingOrgId)) => {
            (StatusCode::BAD_REQUEST, error.to_string())
        }
        // Cobo refused the grant: the organization has not installed the app (a forged or
        // stale callback).
        Err(InstallError::Grant(error @ Error::ReauthorizationRequired { .. })) => {
            (StatusCode::FORBIDDEN, error.to_string())
        }
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
    }
}

/// `GET /orgs`
async fn orgs(State(app): State<App>) -> Result<Json<serde_json::Value>, (StatusCode, String)> {
    let statuses = app.tokens.statuses().await.map_err(unavailable)?;
    Ok(Json(serde_json::json!(
        statuses
            .into_iter()
            .map(|s| serde_json::json!({
                "org_id": s.org_id,
                "expires_at_ms": s.expires_at_ms,
                "last_renewal_ms": s.last_renewal_ms,
                "last_error": s.last_error,
                "uninstalled": s.uninstalled,
            }))
            .collect::<Vec<_>>()
    )))
}

/// `GET /orgs/{org_id}/wallets`
async fn wallets(
    State(app): State<App>,
    Path(org_id): Path<String>,
) -> Result<Json<serde_json::Value>, (StatusCode, String)> {
    list_wallets(&app, &org_id)
        .await
        .map(Json)
        .map_err(unavailable)
}

/// `GET /v2/wallets` for `org_id`, with its Bearer token; once more with a new token if Cobo
/// says the token expired (error 1000).
///
/// The generated client has only the token operations today; once `list_wallets` is generated
/// (`cargo xtask add-endpoint GET /wallets`), this whole function is
/// `app.client.for_org(&app.tokens, org_id)` and a call of `list_wallets`: the Bearer token,
/// the signing, the verification and the retry on error 1000 are then the client's. Here the
/// request is signed and verified by hand with the same pieces.
async fn list_wallets(app: &App, org_id: &str) -> Result<serde_json::Value, Error> {
    for attempt in 0..2 {
        let token = app.tokens.access_token(org_id).await?;
        let mut request = app
            .http
            .get(format!("{}/wallets", app.client.env().base_url()))
            .header("authorization", format!("Bearer {}", token.expose_secret()))
            .build()
            .map_err(|e| Error::InvalidRequest(e.to_string()))?;
        app.client.auth().sign_request(&mut request).await?;
        let response = app.http.execute(request).await.map_err(Error::Transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(Error::Transport)?;
        if let Some(verifier) = app.client.env().response_verifier()? {
            verifier.check(status, &headers, &body)?;
        }
        let json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| Error::InvalidBody {
                status,
                reason: e.to_string(),
            })?;
        let code = json.get("error_code").and_then(serde_json::Value::as_i64);
        match (status, code) {
            (200..=299, _) => return Ok(json),
            (500, Some(cobo_oauth::tokens::TOKEN_EXPIRED_CODE)) if attempt == 0 => {
                app.tokens.invalidate(org_id, &token);
            }
            _ => {
                return Err(Error::Api {
                    status,
                    code: code.unwrap_or_default(),
                    message: json["error_message"].as_str().unwrap_or("").to_owned(),
                    error_id: json["error_id"].as_str().unwrap_or("").to_owned(),
                });
            }
        }
    }
    unreachable!("the loop returns on its second attempt")
}

fn unavailable(error: Error) -> (StatusCode, String) {
    let status = if error.is_permanent() {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::BAD_GATEWAY
    };
    (status, error.to_string())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let serve = std::env::args().any(|arg| arg == "--serve");

    // Offline: the embedded mock plays Cobo, with a key made for this run.
    let signer = Ed25519Signer::generate();
    let cobo = MockServer::start(MockConfig::accepting(signer.api_key().as_str())).await?;
    cobo.answer(
        "GET",
        "/wallets",
        Answer::ok(serde_json::json!({ "data": [{ "wallet_id": "w-1", "name": "Main" }] })),
    );
    let client = CoboClient::builder()
        .env(cobo.env())
        .api_secret(signer.secret_hex().as_str())
        .build()?;

    // One value for every organization; renewed in the background, four at a time at most.
    let tokens = OrgTokens::builder(client.clone(), CLIENT_ID)
        // .store(Arc::new(cobo_oauth::tokens::DirectoryStore::new("/var/lib/my-app/cobo")))
        .refresh_margin(Duration::from_secs(300))
        .build();
    let refresher = tokens.spawn_refresher();

    let app = App {
        client,
        tokens,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?,
    };
    let router = Router::new()
        .route("/cobo/install", post(install))
        .route("/orgs", get(orgs))
        .route("/orgs/{org_id}/wallets", get(wallets))
        .with_state(app);
    let port = if serve { 3000 } else { 0 };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    println!("Portal App listening on {base}");

    // Cobo calls the install callback for two organizations; the app then works for each.
    let http = reqwest::Client::new();
    for org_id in [
        "6f1c3b9e-0d4b-4a57-9a0e-3f1d2c4b5a69",
        "0b7d2a31-5c1e-4f0a-8e6b-2d9c7f4a1e53",
    ] {
        let answer = http
            .post(format!(
                "{base}/cobo/install?approval_result=1&org_id={org_id}"
            ))
            .send()
            .await?;
        println!("POST /cobo/install for {org_id}: {}", answer.status());
        let wallets = http
            .get(format!("{base}/orgs/{org_id}/wallets"))
            .send()
            .await?;
        println!(
            "GET /orgs/{org_id}/wallets: {} {}",
            wallets.status(),
            wallets.text().await?
        );
    }
    let refused = http
        .post(format!("{base}/cobo/install?approval_result=7&org_id=x"))
        .send()
        .await?;
    println!(
        "POST /cobo/install?approval_result=7: {} {}",
        refused.status(),
        refused.text().await?
    );
    println!(
        "GET /orgs: {}",
        http.get(format!("{base}/orgs"))
            .send()
            .await?
            .text()
            .await?
    );
    let bearers: std::collections::HashSet<String> = cobo
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/wallets"))
        .filter_map(|r| r.authorization)
        .collect();
    println!(
        "the mock Cobo saw {} distinct Bearer tokens on the wallet requests: one per organization",
        bearers.len()
    );

    if serve {
        println!(
            "serving until Ctrl-C (try: curl -X POST '{base}/cobo/install?approval_result=1&org_id=my-org')"
        );
        server.await??;
    }
    // Renewals in flight are saved before the process exits.
    refresher.stop().await;
    Ok(())
}
