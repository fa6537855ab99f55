//! The commands.

use std::io::{BufRead as _, Write as _};
use std::path::Path;
use std::sync::Arc;

use cobo_oauth::signing::{Ed25519Signer, NonceSource, Signer as _, encode_query};
use cobo_oauth::tokens::{FileStore, Token, TokenStore as _};
use cobo_oauth::tokens::{StoredToken, TokenOwner};
use cobo_oauth::{
    CoboClient, CoboClientBuilder, ConfigError, ExposeSecret as _, SecretString, vars,
};
use cobo_oauth_mock::{MockConfig, MockServer};

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
        Command::Tokens(command) => crate::tokens::tokens(&cli.global, command).await,
        Command::Sign(args) => sign(&cli.global, &args),
        Command::Keygen => keygen(),
        Command::MockServer(args) => mock_server(&cli.global, args).await,
        Command::Webhook(command) => crate::webhook::run(&cli.global, command).await,
        Command::Api(args) => crate::api::run(&cli.global, args).await,
    }
}

/// Writes `value` to standard output; a failure to write (a closed pipe, a full disk) is an
/// error, never a panic or a silent success.
pub(crate) fn print_json(value: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Other(e.to_string()))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(|e| CliError::Other(format!("cannot write the result to standard output: {e}")))
}

/// The client the global options describe, read like the library reads its variables
/// ([`CoboClientBuilder::from_vars`]), so both accept the same values.
pub fn client(global: &Global, stdin: &mut StdinOnce) -> Result<CoboClient, CliError> {
    let response_pubkey = if global.no_verify_response {
        Some("off".to_owned())
    } else {
        global.response_pubkey.clone()
    };
    let builder = CoboClientBuilder::from_vars(|name| match name {
        vars::ENV => global.env.clone(),
        vars::BASE_URL => global.base_url.clone(),
        vars::RESPONSE_PUBKEY => response_pubkey.clone(),
        _ => None,
    })?;
    Ok(builder
        .api_secret(api_secret(global, stdin)?.expose_secret())
        .timeout(std::time::Duration::from_secs(global.timeout))
        .build()?)
}

/// Standard input, read at most once: for the one secret given as `-`.
#[derive(Debug, Default)]
pub struct StdinOnce {
    taken: Option<&'static str>,
}

impl StdinOnce {
    /// `value`, or, when it is `-`, the first line of standard input (for `option`).
    pub(crate) fn resolve(
        &mut self,
        value: String,
        option: &'static str,
    ) -> Result<SecretString, CliError> {
        if value != "-" {
            return Ok(SecretString::from(value));
        }
        if let Some(earlier) = self.taken {
            return Err(CliError::Usage(format!(
                "{earlier} already reads standard input; give {option} another way"
            )));
        }
        self.taken = Some(option);
        let mut line = zeroize::Zeroizing::new(String::new());
        std::io::stdin().lock().read_line(&mut line).map_err(|e| {
            CliError::Other(format!("cannot read {option} from standard input: {e}"))
        })?;
        let value = line.trim();
        if value.is_empty() {
            return Err(CliError::Usage(format!(
                "{option} is -, but standard input is empty"
            )));
        }
        Ok(SecretString::from(value.to_owned()))
    }
}

fn api_secret(global: &Global, stdin: &mut StdinOnce) -> Result<SecretString, CliError> {
    let secret = global
        .api_secret
        .clone()
        .ok_or(ConfigError::MissingApiSecret)?;
    stdin.resolve(secret, "--api-secret")
}

async fn token(global: &Global, command: TokenCommand) -> Result<(), CliError> {
    let mut stdin = StdinOnce::default();
    let client = client(global, &mut stdin)?;
    let (token, store, owner, stored) = match command {
        TokenCommand::Get {
            client_id,
            org_id,
            grant_type,
            store,
        } => {
            let stored = load(store.as_deref()).await?;
            let owner = TokenOwner::new(client_id, org_id);
            check_owner(stored.as_ref(), &owner)?;
            let token = client
                .get_token_with_grant(&owner.client_id, &owner.org_id, &grant_type)
                .await?;
            (token, store, Some(owner), stored)
        }
        TokenCommand::Refresh {
            client_id,
            org_id,
            refresh_token,
            store,
        } => {
            let stored = load(store.as_deref()).await?;
            if let Some(other) = stored.as_ref().and_then(|p| p.owner.as_ref())
                && other.client_id != client_id
            {
                return Err(CliError::Usage(format!(
                    "the --store file holds the pair of {other}, not of client {client_id:?}"
                )));
            }
            let named = org_id.map(|org_id| TokenOwner::new(client_id.clone(), org_id));
            if let Some(named) = &named {
                check_owner(stored.as_ref(), named)?;
            }
            let refresh_token = match (refresh_token, &stored) {
                (Some(token), stored) => {
                    check_given_refresh_token(stored.as_ref(), named.as_ref())?;
                    stdin.resolve(token, "--refresh-token")?
                }
                (None, Some(stored)) => stored.refresh_token.clone(),
                (None, None) => {
                    return Err(CliError::Usage(
                        "give --refresh-token (or COBO_REFRESH_TOKEN, or - for standard input), or a --store file that holds one".to_owned(),
                    ));
                }
            };
            let token = client.refresh_token(&client_id, &refresh_token).await?;
            // Cobo's answer names no organization: the pair is the file's owner's (a given
            // refresh token was refused above unless --org-id confirmed that owner), or, in a
            // new file, --org-id's.
            let owner = stored.as_ref().and_then(|s| s.owner.clone()).or(named);
            (token, store, owner, stored)
        }
    };
    // Cobo has issued (and, for a refresh, rotated) the pair: from here on it is printed
    // whatever else fails, so that a refresh token is never lost; the failure is the exit code.
    let saved = match &store {
        Some(path) => save(path, &token, owner, stored.as_ref()).await,
        None => Ok(()),
    };
    if token.refresh_token.is_some() || token.access_token.is_some() {
        print_json(&token.to_json_exposing_secrets())?;
    }
    saved?;
    if token.access_token.is_none() || token.refresh_token.is_none() {
        return Err(CliError::Other(
            "Cobo's signed answer carries no access token or no refresh token (what it carries is printed)".to_owned(),
        ));
    }
    Ok(())
}

/// Refuses a token file that holds another app's or organization's pair (it would be replaced).
fn check_owner(stored: Option<&StoredToken>, owner: &TokenOwner) -> Result<(), CliError> {
    match stored {
        Some(pair) if !pair.belongs_to(owner) => Err(CliError::Usage(format!(
            "the --store file holds the pair of {}, not of {owner}; use another file",
            pair.owner
                .as_ref()
                .map_or_else(String::new, ToString::to_string)
        ))),
        _ => Ok(()),
    }
}

/// Refuses a refresh token given on the command line, in `COBO_REFRESH_TOKEN` or on standard
/// input when the `--store` file already holds a pair, unless `--org-id` (`named`) confirms it
/// is the organization whose pair the file records: Cobo's answer does not say whose pair it
/// is, so another organization's refresh token would put its pair into this file.
fn check_given_refresh_token(
    stored: Option<&StoredToken>,
    named: Option<&TokenOwner>,
) -> Result<(), CliError> {
    let Some(stored) = stored else {
        return Ok(()); // A new file (or no --store): nothing to overwrite.
    };
    match (&stored.owner, named) {
        (Some(owner), Some(named)) if owner == named => Ok(()),
        (Some(owner), _) => Err(CliError::Usage(format!(
            "the --store file holds the pair of {owner}; a refresh token given with --refresh-token, COBO_REFRESH_TOKEN or - may be another organization's and would replace it: give --org-id {:?} if it is that organization's, leave it out to refresh the file's own pair, or use a new file",
            owner.org_id
        ))),
        (None, _) => Err(CliError::Usage(
            "the --store file holds a pair that records no organization; a refresh token given with --refresh-token, COBO_REFRESH_TOKEN or - could be another organization's and would replace it: leave it out to refresh the file's own pair, or use a new file".to_owned(),
        )),
    }
}

/// The pair in the token file at `path`, if a path is given and the file exists.
async fn load(path: Option<&Path>) -> Result<Option<StoredToken>, CliError> {
    match path {
        Some(path) => FileStore::new(path)
            .load()
            .await
            .map_err(|e| CliError::Other(e.to_string())),
        None => Ok(None),
    }
}

/// Saves the new pair to the token file at `path` (version one above the pair it replaces),
/// before anything is printed: the refresh token Cobo just rotated is then safe on disk.
async fn save(
    path: &Path,
    token: &Token,
    owner: Option<TokenOwner>,
    replaced: Option<&StoredToken>,
) -> Result<(), CliError> {
    let now = cobo_oauth::signing::Clock::now_millis(&cobo_oauth::signing::SystemClock);
    let version = replaced.map_or(0, |p| p.version) + 1;
    let Some(pair) = StoredToken::from_answer(token.clone(), version, owner, now) else {
        return Ok(()); // No refresh token: nothing to keep.
    };
    FileStore::new(path).save(&pair).await.map_err(|e| {
        CliError::Other(format!(
            "the new pair could not be saved ({e}); it is printed on standard output: keep it, Cobo has rotated the refresh token"
        ))
    })
}

fn sign(global: &Global, args: &SignArgs) -> Result<(), CliError> {
    let signer =
        Ed25519Signer::from_hex(api_secret(global, &mut StdinOnce::default())?.expose_secret())
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

/// `--response-seed`: 64 hex characters, or `-` for standard input.
pub(crate) fn response_seed(
    stdin: &mut StdinOnce,
    seed: Option<String>,
) -> Result<Option<[u8; 32]>, CliError> {
    let Some(seed) = seed else {
        return Ok(None);
    };
    let seed = stdin.resolve(seed, "--response-seed")?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(seed.expose_secret().trim(), &mut bytes)
        .map_err(|_| CliError::Usage("--response-seed must be 64 hex characters".to_owned()))?;
    Ok(Some(bytes))
}

async fn mock_server(global: &Global, args: MockArgs) -> Result<(), CliError> {
    let mut stdin = StdinOnce::default();
    let response_seed = response_seed(&mut stdin, args.response_seed)?;
    let mut api_keys = args.api_keys;
    if global.api_secret.is_some() {
        let signer = Ed25519Signer::from_hex(api_secret(global, &mut stdin)?.expose_secret())
            .map_err(ConfigError::InvalidApiSecret)?;
        api_keys.push(signer.api_key().as_str().to_owned());
    }
    if api_keys.is_empty() && !args.accept_any_key && !args.fixed_token {
        return Err(CliError::Usage(
            "the mock accepts no API key: give --api-secret (or COBO_API_SECRET), --api-key HEX, or --accept-any-key".to_owned(),
        ));
    }
    let config = MockConfig {
        access_token_ttl: std::time::Duration::from_secs(args.access_ttl),
        fixed_token: args.fixed_token,
        record_requests: !args.fixed_token,
        response_seed,
        api_keys,
        accept_any_key: args.accept_any_key,
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
