//! Quickstart: get an Org Access Token, refresh it, and see rotation at work.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! With no configuration it starts the embedded mock Cobo server and runs against it, offline.
//! With `COBO_API_SECRET`, `COBO_ENV` (or `COBO_BASE_URL` and `COBO_RESPONSE_PUBKEY`),
//! `COBO_CLIENT_ID` and `COBO_ORG_ID` set, it runs the same steps against Cobo.

use cobo_oauth::signing::{Ed25519Signer, Signer as _};
use cobo_oauth::{CoboClient, Error, ExposeSecret as _};
use cobo_oauth_mock::{MockConfig, MockServer};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let configured = std::env::var_os("COBO_API_SECRET").is_some();
    // Kept alive for the whole run when used.
    let mock;
    let (client, client_id, org_id) = if configured {
        let client = CoboClient::from_env()?;
        let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
        println!("Using Cobo {}", client.env());
        (client, var("COBO_CLIENT_ID")?, var("COBO_ORG_ID")?)
    } else {
        mock = MockServer::start(MockConfig::default()).await?;
        let signer = Ed25519Signer::generate();
        mock.register_api_key(signer.api_key().as_str());
        println!("No COBO_API_SECRET set: running against the embedded mock Cobo server");
        println!("  base URL      {}", mock.base_url());
        println!("  response key  {}", mock.response_key_hex());
        println!("  API key       {} (a fresh ed25519 key)", signer.api_key());
        let client = CoboClient::builder()
            .env(mock.env())
            .signer(std::sync::Arc::new(signer))
            .build()?;
        (
            client,
            "quickstart-app".to_owned(),
            "quickstart-org".to_owned(),
        )
    };

    println!("\n1. GET /oauth/token (signed with CoboAuth, response signature verified)");
    let token = client.get_token(&client_id, &org_id).await?;
    show(&token);

    println!("\n2. POST /oauth/token with the refresh token");
    let old_refresh = token
        .refresh_token
        .clone()
        .ok_or("the token response has no refresh token")?;
    let refreshed = client.refresh_token(&client_id, &old_refresh).await?;
    show(&refreshed);
    let rotated = refreshed.refresh_token.as_ref().map(|t| t.expose_secret())
        != Some(old_refresh.expose_secret());
    println!("   new refresh token issued: {rotated}");

    println!("\n3. The old refresh token is now rejected");
    match client.refresh_token(&client_id, &old_refresh).await {
        Err(Error::OAuth {
            status,
            error,
            description,
            ..
        }) => {
            println!("   rejected as expected: HTTP {status} {error}: {description}");
            Ok(())
        }
        Ok(_) => Err("the old refresh token was accepted again".into()),
        Err(other) => Err(other.into()),
    }
}

fn show(token: &cobo_oauth::tokens::Token) {
    // Tokens are secrets: show that they are there, not what they are.
    let prefix = |t: &Option<cobo_oauth::SecretString>| {
        t.as_ref()
            .map(|t| format!("<{} chars>", t.expose_secret().len()))
            .unwrap_or_else(|| "<none>".to_owned())
    };
    println!(
        "   access token {}  refresh token {}  type {}  expires in {} s",
        prefix(&token.access_token),
        prefix(&token.refresh_token),
        token.token_type.as_deref().unwrap_or("?"),
        token.expires_in.unwrap_or_default()
    );
}
