//! The commands.

use std::sync::Arc;

use cobo_oauth::mock::{MockConfig, MockServer};
use cobo_oauth::signing::{Ed25519Signer, NonceSource, Signer as _, encode_query};
use cobo_oauth::{CoboClient, ConfigError, Env, ExposeSecret as _, SecretString};

use crate::args::{Cli, Command, Global, MockArgs, SignArgs, TokenCommand};

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Configuration: exit 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The request failed: exit 1.
    #[error(transparent)]
    Request(#[from] cobo_oauth::Error),
    /// A bad argument found after parsing: exit 2.
    #[error("{0}")]
    Usage(String),
    /// Anything else at run time: exit 1.
    #[error("{0}")]
    Other(String),
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) | Self::Usage(_) | Self::Request(cobo_oauth::Error::Config(_)) => 2,
            Self::Request(_) | Self::Other(_) => 1,
        }
    }
}

/// Runs a command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Token(command) => token(&cli.global, command).await,
        Command::Sign(args) => sign(&cli.global, &args),
        Command::Keygen => keygen(),
        Command::MockServer(args) => mock_server(&args).await,
    }
}

fn print_json(value: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Other(e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// The environment the global options describe.
fn env(global: &Global) -> Result<Env, ConfigError> {
    let named = global.env.clone();
    let Some(base_url) = &global.base_url else {
        let named = named.ok_or(ConfigError::MissingEnv)?;
        return if global.no_verify_response {
            Env::custom_unverified(named.base_url())
        } else {
            Ok(named)
        };
    };
    if global.no_verify_response {
        return Env::custom_unverified(base_url);
    }
    match (&global.response_pubkey, named) {
        (Some(key), _) => Env::custom(base_url, key),
        (None, Some(named)) => Env::custom_with(base_url, named.response_key()?),
        (None, None) => Err(ConfigError::MissingResponseKey),
    }
}

fn api_secret(global: &Global) -> Result<SecretString, ConfigError> {
    global
        .api_secret
        .clone()
        .map(SecretString::from)
        .ok_or(ConfigError::MissingApiSecret)
}

async fn token(global: &Global, command: TokenCommand) -> Result<(), CliError> {
    let client = CoboClient::builder()
        .env(env(global)?)
        .api_secret(api_secret(global)?.expose_secret())
        .timeout(std::time::Duration::from_secs(global.timeout))
        .build()?;
    let token = match command {
        TokenCommand::Get {
            client_id,
            org_id,
            grant_type,
        } => {
            client
                .get_token_with_grant(&client_id, &org_id, &grant_type)
                .await?
        }
        TokenCommand::Refresh {
            client_id,
            refresh_token,
        } => {
            client
                .refresh_token(&client_id, &SecretString::from(refresh_token))
                .await?
        }
    };
    print_json(&token.to_json_exposing_secrets())
}

fn sign(global: &Global, args: &SignArgs) -> Result<(), CliError> {
    let signer = Ed25519Signer::from_hex(api_secret(global)?.expose_secret())
        .map_err(ConfigError::InvalidApiSecret)?;
    let api_key = signer.api_key().as_str().to_owned();
    let auth =
        cobo_oauth::signing::CoboAuth::new(Arc::new(signer), Arc::new(NonceSource::default()));
    let params = encode_query(args.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let parts = auth
        .sign_parts(
            &args.method,
            &args.path,
            &args.nonce,
            &params,
            args.body.as_bytes(),
        )
        .map_err(|e| CliError::Other(e.to_string()))?;
    print_json(&serde_json::json!({
        "string_to_sign": parts.string_to_sign.to_string(),
        "api_key": api_key,
        "nonce": args.nonce,
        "signature": parts.signature.to_hex(),
    }))
}

fn keygen() -> Result<(), CliError> {
    let signer = Ed25519Signer::generate();
    print_json(&serde_json::json!({
        "api_secret": signer.secret_hex().as_str(),
        "api_key": signer.api_key().as_str(),
    }))
}

async fn mock_server(args: &MockArgs) -> Result<(), CliError> {
    let response_seed = match &args.response_seed {
        Some(seed) => {
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(seed.trim(), &mut bytes).map_err(|_| {
                CliError::Usage("--response-seed must be 64 hex characters".to_owned())
            })?;
            Some(bytes)
        }
        None => None,
    };
    let config = MockConfig {
        access_token_ttl: std::time::Duration::from_secs(args.access_ttl),
        fixed_token: args.fixed_token,
        record_requests: !args.fixed_token,
        response_seed,
        ..MockConfig::default()
    };
    let server = MockServer::start_on(
        std::net::SocketAddr::from(([127, 0, 0, 1], args.port)),
        config,
    )
    .await
    .map_err(|e| CliError::Other(format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
    println!(
        "{}",
        serde_json::json!({ "base_url": server.base_url(), "response_key": server.response_key_hex() })
    );
    eprintln!(
        "mock Cobo OAuth server on {}; use --base-url {} --response-pubkey {}; Ctrl-C stops it",
        server.addr(),
        server.base_url(),
        server.response_key_hex()
    );
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| CliError::Other(e.to_string()))?;
    Ok(())
}
