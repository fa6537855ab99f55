//! `cargo xtask test`: makes sure the services the tests start are installed, then runs every
//! test of the workspace: with `cargo nextest run --workspace` (then the doctests with
//! `cargo test --workspace --doc`) when cargo-nextest is installed, otherwise with
//! `cargo test --workspace`. Nextest runs the tests of every binary in one pool, so the slowest
//! binary (the downstream crate's, which builds a crate of its own) no longer waits for the
//! others to finish first. Arguments given after `test` are passed to `cargo test --workspace`
//! and select it.
//!
//! The Redis store's tests start their own `redis-server` on loopback (plain, TLS, with a
//! replica, and a 3+3-node cluster that `redis-cli --cluster create` joins), so both binaries
//! must be on `PATH` (or named by `$REDIS_SERVER` and `$REDIS_CLI`). When one is missing and
//! `apt-get` is there, it is installed from Debian's or Ubuntu's packages (as root, or through `sudo`);
//! otherwise the task stops with the one command to run for the system.

use std::process::{Command, ExitCode, Stdio};

/// Why the tests could not be run.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// `redis-server` is missing and could not be installed here.
    #[error("redis-server is not installed and cannot be installed here: {0}")]
    NoRedis(String),
    /// A command could not be started.
    #[error("cannot run {command}: {reason}")]
    Spawn {
        /// The command.
        command: String,
        /// Why.
        reason: String,
    },
}

/// Ensures `redis-server`, then runs `cargo test --workspace` with `extra` arguments; its exit
/// code.
pub fn run(extra: &[String]) -> Result<ExitCode, TestError> {
    ensure_redis_server()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let runs: Vec<Vec<&str>> = if extra.is_empty() && has_nextest(&cargo) {
        vec![
            vec!["nextest", "run", "--workspace"],
            vec!["test", "--workspace", "--doc"],
        ]
    } else {
        vec![
            ["test", "--workspace"]
                .into_iter()
                .chain(extra.iter().map(String::as_str))
                .collect(),
        ]
    };
    for args in runs {
        let status = Command::new(&cargo)
            .args(&args)
            .status()
            .map_err(|e| spawn_error(&cargo, &e))?;
        if !status.success() {
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether `cargo nextest` is installed.
fn has_nextest(cargo: &str) -> bool {
    Command::new(cargo)
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn spawn_error(command: &str, error: &std::io::Error) -> TestError {
    TestError::Spawn {
        command: command.to_owned(),
        reason: error.to_string(),
    }
}

/// Whether `program --version` runs.
fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn ensure_redis_server() -> Result<(), TestError> {
    let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned());
    // redis-cli comes with redis-server (Debian's redis-tools, a dependency; Homebrew's redis).
    let cli = std::env::var("REDIS_CLI").unwrap_or_else(|_| "redis-cli".to_owned());
    let installed = || runs(&binary) && runs(&cli);
    if installed() {
        return Ok(());
    }
    if !runs("apt-get") {
        return Err(TestError::NoRedis(
            "install it with your package manager (macOS: `brew install redis`; Fedora: `sudo dnf install redis`), then run `cargo xtask test` again".to_owned(),
        ));
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
    let prefix: &[&str] = if root {
        &[]
    } else if runs("sudo") {
        &["sudo"]
    } else {
        return Err(TestError::NoRedis(
            "run `sudo apt-get install redis-server` as an administrator, then `cargo xtask test` again".to_owned(),
        ));
    };
    eprintln!(
        "redis-server is missing: installing it with apt-get (the Redis store's tests start their own)"
    );
    for args in [
        &["apt-get", "update", "-qq"][..],
        &[
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "redis-server",
        ][..],
    ] {
        let command: Vec<&str> = prefix.iter().chain(args).copied().collect();
        let status = Command::new(command[0])
            .args(&command[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| spawn_error(command[0], &e))?;
        if !status.success() {
            return Err(TestError::NoRedis(format!(
                "`{}` failed; install redis-server by hand",
                command.join(" ")
            )));
        }
    }
    // The package starts a system-wide instance on port 6379; the tests do not use it.
    if runs("systemctl") {
        let stop: Vec<&str> = prefix
            .iter()
            .chain(&["systemctl", "stop", "redis-server"])
            .copied()
            .collect();
        let _ = Command::new(stop[0])
            .args(&stop[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    if installed() {
        Ok(())
    } else {
        Err(TestError::NoRedis(
            "apt-get installed it but it does not run".to_owned(),
        ))
    }
}
