//! `cobo-oauth tokens`: the token store of an app serving many organizations.

use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;
use cobo_oauth::tokens::StoredToken;
use cobo_oauth::tokens::orgs::{ApprovalResult, DirectoryStore, OrgStore, OrgTokens};

use crate::args::Global;
use crate::retrying_store::RetryingStore;
use crate::run::{CliError, StdinOnce, client, print_json};

/// How long `tokens grant` retries a failed save by default, in seconds.
pub(crate) const DEFAULT_SAVE_RETRY_SECS: u64 = 5;

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
    ///
    /// If the new pair cannot be saved, the save is retried for --save-retry seconds (a store
    /// that refuses it for good, such as a Redis permission denied, is not retried); if it
    /// still fails, the pair is printed on standard output as the store would hold it (both
    /// tokens: keep it, it is in no store) and the exit code is 1. With Redis, the refresh
    /// lease this command took is then left to run out (its time to live), not given back, so
    /// that meanwhile no other process refreshes the pair this grant replaced.
    Grant {
        #[command(flatten)]
        app: AppStore,
        /// The organization's ID.
        #[arg(long)]
        org_id: String,
        /// How long to keep retrying a save that failed (a directory that cannot be written, a
        /// store that cannot be reached), in seconds, before printing the pair and exiting 1.
        #[arg(long, value_name = "SECS", default_value_t = DEFAULT_SAVE_RETRY_SECS)]
        save_retry: u64,
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
        TokensCommand::Grant {
            app,
            org_id,
            save_retry,
        } => {
            let client = client(global, &mut StdinOnce::default())?;
            let (tokens, store) = org_tokens(
                client,
                app.client_id,
                &app.store,
                Duration::from_secs(save_retry),
            )
            .await?;
            let installed = tokens.on_install(&org_id, ApprovalResult::Installed).await;
            if let Err(error) = installed {
                if let Some(unsaved) = unsaved_pair(&store, &org_id, &error) {
                    return Err(unsaved);
                }
                return Err(match error {
                    cobo_oauth::tokens::orgs::InstallError::Grant(error) => {
                        CliError::Request(error)
                    }
                    other => CliError::Usage(other.to_string()),
                });
            }
            let status = tokens.status(&org_id).await?;
            print_json(&serde_json::json!({
                "org_id": status.org_id,
                "version": status.version,
                "expires_at_ms": status.expires_at_ms,
            }))
        }
    }
}

/// The tokens of the app `client_id` in the store `spec` (a directory or a Redis URL), renewed
/// and saved as `tokens grant` does (a failed save retried for `save_retry`), and the store
/// (which keeps a pair it could not save: [`unsaved_pair`]).
pub(crate) async fn org_tokens(
    client: cobo_oauth::CoboClient,
    client_id: String,
    spec: &str,
    save_retry: Duration,
) -> Result<(OrgTokens, Arc<RetryingStore>), CliError> {
    let store = Arc::new(RetryingStore::new(
        open(spec, &client_id).await?,
        save_retry,
    ));
    let tokens = OrgTokens::builder(client, client_id)
        .store(Arc::clone(&store) as Arc<dyn OrgStore>)
        .build();
    Ok((tokens, store))
}

/// When Cobo issued `org_id` a pair that `store` could not save: the pair printed on standard
/// output (so that it is not lost) and the error to exit with, naming `error`.
pub(crate) fn unsaved_pair(
    store: &RetryingStore,
    org_id: &str,
    error: &dyn std::fmt::Display,
) -> Option<CliError> {
    let pair = store.unsaved(org_id)?;
    Some(CliError::Other(match print_pair(&pair) {
        Ok(()) => format!(
            "the new pair could not be saved ({error}); it is printed on standard output: keep it (it is in no store), put it into the store once it works again"
        ),
        Err(printing) => {
            format!("the new pair could not be saved ({error}), nor printed ({printing})")
        }
    }))
}

/// Prints a pair as a store holds it (both tokens, its version, expiry and owner).
fn print_pair(pair: &StoredToken) -> Result<(), CliError> {
    let json = pair.to_json();
    let value = serde_json::from_str(&json).map_err(|e| CliError::Other(e.to_string()))?;
    print_json(&value)
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
