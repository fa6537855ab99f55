//! `cargo xtask`: the workspace's own tasks.
//!
//! - `cargo xtask codegen`: validate and normalize `openapi/cobo-oauth.yaml`, generate the client
//!   exactly as `cobo-oauth-gen/build.rs` does, generate `cobo-oauth-events`' types of webhook
//!   event data from the official spec, and write the committed outputs.
//! - `cargo xtask codegen --check`: fail, naming the stale files, when the committed outputs are
//!   not what the spec produces.
//! - `cargo xtask codegen --spec PATH --out DIR`: generate a standalone client crate from another
//!   spec into DIR.
//! - `cargo xtask add-endpoint GET /wallets` (or `--operation-id ID`, `--tag TAG`, repeatable):
//!   copy operations and the components they reference from Cobo's official spec
//!   (`openapi/cobo-waas2-openapi.yaml`, or `--from PATH`) into `openapi/cobo-oauth.yaml` (or
//!   `--into PATH`, any spec file, created when missing).
//! - `cargo xtask test`: install what the tests need when it is missing (`redis-server`), then
//!   run every test (`cargo nextest run --workspace` and the doctests when cargo-nextest is
//!   installed, otherwise `cargo test --workspace`).

mod add_endpoint;
mod codegen;
mod paths;
mod standalone;
mod task;
mod test_services;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cobo_oauth_codegen::Select;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Workspace tasks for cobo-oauth")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate the client from the spec (see README.md, "Adding an endpoint").
    Codegen {
        /// Check that the committed outputs are current; write nothing.
        #[arg(long, conflicts_with = "out")]
        check: bool,
        /// The spec to read (YAML or JSON). Default: openapi/cobo-oauth.yaml.
        #[arg(long, value_name = "PATH")]
        spec: Option<PathBuf>,
        /// Write a standalone client crate to DIR instead of updating cobo-oauth-gen.
        #[arg(long, value_name = "DIR", requires = "spec")]
        out: Option<PathBuf>,
    },
    /// Copy operations and the components they reference from Cobo's official spec into
    /// openapi/cobo-oauth.yaml (or --into); then run `cargo xtask codegen`.
    #[command(group(clap::ArgGroup::new("selection").required(true).multiple(true)
        .args(["method", "operation_id", "tag"])))]
    AddEndpoint {
        /// HTTP method, e.g. GET (with PATH).
        #[arg(requires = "path")]
        method: Option<String>,
        /// Path as in the spec, e.g. /wallets.
        path: Option<String>,
        /// An operationId to copy, e.g. list_wallets (repeatable).
        #[arg(long = "operation-id", value_name = "ID")]
        operation_id: Vec<String>,
        /// Copy every operation with this tag, e.g. Wallets (repeatable).
        #[arg(long, value_name = "TAG")]
        tag: Vec<String>,
        /// The spec to copy from. Default: openapi/cobo-waas2-openapi.yaml.
        #[arg(long, value_name = "PATH")]
        from: Option<PathBuf>,
        /// The spec to copy into, created when missing. Default: openapi/cobo-oauth.yaml.
        #[arg(long, value_name = "PATH")]
        into: Option<PathBuf>,
    },
    /// Install what the tests need when it is missing (redis-server), then run every test:
    /// `cargo nextest run --workspace` and the doctests when cargo-nextest is installed,
    /// otherwise (or when arguments are given) `cargo test --workspace`.
    Test {
        /// Passed on to `cargo test --workspace` (which they select), e.g. `-- --nocapture`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<ExitCode, Box<dyn std::error::Error>> = match cli.command {
        Command::Codegen { check, spec, out } => {
            codegen::run(codegen::Options { check, spec, out }).map_err(Into::into)
        }
        Command::AddEndpoint {
            method,
            path,
            operation_id,
            tag,
            from,
            into,
        } => {
            let route = method
                .zip(path)
                .map(|(method, path)| Select::Route { method, path });
            let selection: Vec<Select> = route
                .into_iter()
                .chain(operation_id.into_iter().map(Select::OperationId))
                .chain(tag.into_iter().map(Select::Tag))
                .collect();
            let from = from.unwrap_or_else(paths::official_spec);
            let into = into.unwrap_or_else(paths::spec);
            add_endpoint::run(&selection, &from, &into)
                .map(|()| ExitCode::SUCCESS)
                .map_err(Into::into)
        }
        Command::Test { args } => test_services::run(&args).map_err(Into::into),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
