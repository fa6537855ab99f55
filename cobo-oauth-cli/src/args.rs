//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Cobo WaaS 2.0 OAuth: get and refresh Org Access Tokens, sign requests, run a local mock.
#[derive(Debug, Parser)]
#[command(name = "cobo-oauth", version)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options of every command.
#[derive(Debug, Args)]
pub struct Global {
    /// Cobo environment: dev, sandbox or prod.
    #[arg(long, global = true, env = "COBO_ENV")]
    pub env: Option<String>,
    /// A custom base URL (e.g. the mock server's), including the /v2 prefix.
    #[arg(long, global = true, env = "COBO_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// The ed25519 API secret (64 hex characters), or `-` to read it from standard input.
    /// Prefer COBO_API_SECRET or `-`: arguments are visible to other users of the machine.
    #[arg(
        long,
        global = true,
        env = "COBO_API_SECRET",
        hide_env_values = true,
        value_name = "HEX"
    )]
    pub api_secret: Option<String>,
    /// The response-signing public key of a custom base URL (hex), or `off` to turn response
    /// verification off (the same values as the library's COBO_RESPONSE_PUBKEY).
    #[arg(long, global = true, env = "COBO_RESPONSE_PUBKEY", value_name = "HEX")]
    pub response_pubkey: Option<String>,
    /// Do not verify response signatures (only for servers that do not sign).
    #[arg(long, global = true)]
    pub no_verify_response: bool,
    /// Total timeout of one request, in seconds.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Get or refresh an Org Access Token.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The token store of an app serving many organizations: list it, grant into it.
    #[command(subcommand)]
    Tokens(crate::tokens::TokensCommand),
    /// Print the CoboAuth string to sign, API key and signature of a request; sends nothing.
    Sign(SignArgs),
    /// Print a new API secret and its API key.
    Keygen,
    /// Run the embedded mock Cobo OAuth server until interrupted.
    MockServer(MockArgs),
    /// Call any operation of Cobo's official spec, checked against it: `api GET /wallets -q
    /// limit=10`, `api --list`, `api --describe /wallets/{wallet_id}`.
    Api(crate::api::ApiArgs),
    /// Send, verify or receive webhook events and callbacks (signed like Cobo's).
    #[command(subcommand)]
    Webhook(crate::webhook::WebhookCommand),
}

/// `token` commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// GET /oauth/token: an Org Access Token and a Refresh Token.
    Get {
        /// The app's client ID.
        #[arg(long)]
        client_id: String,
        /// The organization's ID.
        #[arg(long)]
        org_id: String,
        /// The grant type.
        #[arg(long, default_value = cobo_oauth::ORG_IMPLICIT)]
        grant_type: String,
        /// Save the new pair to this token file (as `FileStore` writes it: atomically, mode
        /// 0600) before printing anything.
        #[arg(long, value_name = "PATH")]
        store: Option<PathBuf>,
    },
    /// POST /oauth/token: a new token pair for a Refresh Token (which then stops working).
    Refresh {
        /// The app's client ID.
        #[arg(long)]
        client_id: String,
        /// The organization's ID. With --store: the file must hold this organization's pair
        /// (a new file records it as the pair's owner); required to refresh a refresh token
        /// given with --refresh-token, COBO_REFRESH_TOKEN or `-` into a file that already
        /// holds a pair, and then it must be the organization the file records (Cobo's answer
        /// does not say whose pair it is).
        #[arg(long)]
        org_id: Option<String>,
        /// The current Refresh Token, or `-` to read it from standard input (default: the one
        /// in the --store file). Prefer COBO_REFRESH_TOKEN, `-` or --store: arguments are
        /// visible to other users of the machine. With a --store file that already holds a
        /// pair, refused unless --org-id names that pair's organization.
        #[arg(long, env = "COBO_REFRESH_TOKEN", hide_env_values = true)]
        refresh_token: Option<String>,
        /// Save the new pair to this token file (atomically, mode 0600) before printing
        /// anything; without --refresh-token, refresh the pair it holds.
        #[arg(long, value_name = "PATH")]
        store: Option<PathBuf>,
    },
}

/// `sign` arguments.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// HTTP method.
    #[arg(long)]
    pub method: String,
    /// Path, including the /v2 prefix, e.g. /v2/oauth/token.
    #[arg(long)]
    pub path: String,
    /// A query parameter, KEY=VALUE; repeat for more, in order.
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// The raw body.
    #[arg(long, default_value = "")]
    pub body: String,
    /// The nonce (milliseconds).
    #[arg(long)]
    pub nonce: String,
}

fn parse_param(pair: &str) -> Result<(String, String), String> {
    pair.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {pair:?}"))
}

/// `mock-server` arguments.
#[derive(Debug, Args)]
pub struct MockArgs {
    /// The port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Access-token lifetime in seconds.
    #[arg(long, default_value_t = 43_199)]
    pub access_ttl: u64,
    /// Benchmark mode: answer every /v2/oauth/token request with the same signed token
    /// response, without checking requests or keeping state.
    #[arg(long)]
    pub fixed_token: bool,
    /// The response-signing seed, 64 hex characters (default: random), for a stable response
    /// key, or `-` to read it from standard input.
    #[arg(
        long,
        value_name = "HEX",
        env = "COBO_MOCK_RESPONSE_SEED",
        hide_env_values = true
    )]
    pub response_seed: Option<String>,
    /// An API key (hex) whose signed requests are accepted; repeat for more. The key of
    /// --api-secret / COBO_API_SECRET is accepted too.
    #[arg(long = "api-key", value_name = "HEX")]
    pub api_keys: Vec<String>,
    /// Accept a valid signature by any API key.
    #[arg(long)]
    pub accept_any_key: bool,
}
