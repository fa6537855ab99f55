//! `cobo-oauth tokens`: the token store of an app serving many organizations.

use std::sync::Arc;

use clap::Subcommand;
use cobo_oauth::tokens::orgs::{ApprovalResult, DirectoryStore, OrgStore, OrgTokens};

use crate::args::Global;
use crate::run::{CliError, StdinOnce, client, print_json};

/// `tokens` commands: a store holding one pair per organization (a directory of token files, or
/// Redis).
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// List the organizations of a store, with each pair's version and expiry (no secrets).
    List {
        #[command(flatten)]
        app: AppStore,
    },
    /// Make an org_implicit grant for an organization and save it into a store (replacing its
    /// pair, as Cobo's install callback does); prints its version and expiry, never the tokens.
    Grant {
        #[command(flatten)]
        app: AppStore,
        /// The organization's ID.
        #[arg(long)]
        org_id: String,
    },
}

/// The app and the store every `tokens` command works on.
#[derive(Debug, clap::Args)]
pub struct AppStore {
    /// The app's client ID.
    #[arg(long)]
    client_id: String,
    /// The store: a directory (one 0600 file per organization), or a redis:// or rediss:// URL
    /// (then COBO_TOKEN_ENCRYPTION_KEY, or COBO_TOKEN_PLAINTEXT=1). Prefer COBO_TOKEN_STORE for
    /// a URL with a password.
    #[arg(
        long,
        env = "COBO_TOKEN_STORE",
        hide_env_values = true,
        value_name = "DIR|URL"
    )]
    store: String,
}

/// Runs a `tokens` command.
pub async fn tokens(global: &Global, command: TokensCommand) -> Result<(), CliError> {
    match command {
        TokensCommand::List { app } => {
            let store = open(&app.store, &app.client_id).await?;
            let mut orgs = store.list().await.map_err(store_error)?;
            orgs.sort();
            let now = cobo_oauth::signing::Clock::now_millis(&cobo_oauth::signing::SystemClock);
            let mut listed = Vec::with_capacity(orgs.len());
            for org_id in orgs {
                let pair = store.org(&org_id).load().await.map_err(store_error)?;
                listed.push(serde_json::json!({
                    "org_id": org_id,
                    "version": pair.as_ref().map(|p| p.version),
                    "expires_at_ms": pair.as_ref().map(|p| p.expires_at_ms),
                    "expired": pair.as_ref().is_none_or(|p| p.expires_at_ms <= now),
                }));
            }
            print_json(&serde_json::Value::Array(listed))
        }
        TokensCommand::Grant { app, org_id } => {
            let client = client(global, &mut StdinOnce::default())?;
            let store = open(&app.store, &app.client_id).await?;
            let tokens = OrgTokens::builder(client, app.client_id)
                .store(store)
                .build();
            tokens
                .on_install(&org_id, ApprovalResult::Installed)
                .await
                .map_err(|error| match error {
                    cobo_oauth::tokens::orgs::InstallError::Grant(error) => {
                        CliError::Request(error)
                    }
                    other => CliError::Usage(other.to_string()),
                })?;
            let status = tokens.status(&org_id).await?;
            print_json(&serde_json::json!({
                "org_id": status.org_id,
                "version": status.version,
                "expires_at_ms": status.expires_at_ms,
            }))
        }
    }
}

fn store_error(error: cobo_oauth::tokens::StoreError) -> CliError {
    CliError::Request(cobo_oauth::Error::Store(error))
}

/// The store `spec` names: a Redis URL, or a directory.
async fn open(spec: &str, client_id: &str) -> Result<Arc<dyn OrgStore>, CliError> {
    if spec.starts_with("redis://") || spec.starts_with("rediss://") {
        return redis(spec, client_id).await;
    }
    Ok(Arc::new(DirectoryStore::new(spec)))
}

#[cfg(feature = "redis")]
async fn redis(url: &str, client_id: &str) -> Result<Arc<dyn OrgStore>, CliError> {
    use cobo_oauth::tokens::redis::{EncryptionKey, RedisOrgStore, vars as redis_vars};
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let mut builder = RedisOrgStore::builder(url, client_id);
    if let Some(key) = var(redis_vars::ENCRYPTION_KEY).map(zeroize::Zeroizing::new) {
        builder = builder.encryption_key(EncryptionKey::from_hex(&key).map_err(store_error)?);
    } else if var(redis_vars::PLAINTEXT).as_deref() == Some("1") {
        builder = builder.plaintext();
    }
    let store = builder.connect_orgs().await.map_err(|error| match error {
        cobo_oauth::tokens::StoreError::Config { reason } => CliError::Usage(reason),
        other => store_error(other),
    })?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "redis"))]
async fn redis(_url: &str, _client_id: &str) -> Result<Arc<dyn OrgStore>, CliError> {
    Err(CliError::Usage(
        "this cobo-oauth was built without the redis feature".to_owned(),
    ))
}
