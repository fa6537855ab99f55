//! [`Codegen`]: spec file → validate and normalize → generate → the client's code, for a
//! `build.rs` ([`Codegen::build`]) or a tool ([`Codegen::generate`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::CodegenError;
use crate::generate::{DEFAULT_DEADLINE, generate_with_deadline};
use crate::normalize::{Normalized, normalize};
use crate::settings::{DEFAULT_RUNTIME, RuntimePath};
use crate::spec;
use crate::varnames;

/// The file [`Codegen::build`] writes into `OUT_DIR`: include it with
/// `include!(concat!(env!("OUT_DIR"), "/client.rs"))`.
pub const OUT_FILE: &str = "client.rs";

/// The report of normalization, written next to [`OUT_FILE`] by [`Codegen::build`].
const REPORT_FILE: &str = "normalization-report.txt";

/// Generates a client from a spec with the settings `cobo-oauth-gen` uses.
#[derive(Clone, Debug)]
pub struct Codegen {
    spec: PathBuf,
    runtime: String,
    deadline: Duration,
    allow_skipped: bool,
}

/// What [`Codegen::generate`] produced.
#[derive(Clone, Debug)]
pub struct Generated {
    /// What normalization did (the rewritten spec, every change, every skipped operation).
    pub normalized: Normalized,
    /// The normalized spec as pretty JSON, with a final newline.
    pub normalized_json: String,
    /// The formatted client.
    pub code: String,
}

/// In a `build.rs`: generates the client of the spec at `spec` into `OUT_DIR/client.rs`, for
/// a crate that depends on `cobo-oauth`. A shortcut for `Codegen::new(spec).build()`.
pub fn generate(spec: impl AsRef<Path>) -> Result<(), CodegenError> {
    Codegen::new(spec.as_ref()).build()
}

impl Codegen {
    /// Generation of the spec at `spec` (YAML or JSON; relative to the crate in a `build.rs`).
    pub fn new(spec: impl Into<PathBuf>) -> Self {
        Self {
            spec: spec.into(),
            runtime: DEFAULT_RUNTIME.to_owned(),
            deadline: DEFAULT_DEADLINE,
            allow_skipped: false,
        }
    }

    /// Whether [`Self::build`] generates a client without the operations normalization had to
    /// remove (listed in `OUT_DIR/normalization-report.txt` and as cargo warnings). Default
    /// `false`: such a spec fails the build with [`CodegenError::Skipped`], naming each one.
    pub fn allow_skipped(mut self, allow: bool) -> Self {
        self.allow_skipped = allow;
        self
    }

    /// Where the generated code finds `Hooks`, `Operation` and `SecretText`. Default
    /// [`DEFAULT_RUNTIME`] (`::cobo_oauth::runtime`), right for a crate that depends on
    /// `cobo-oauth`; `::cobo_oauth_runtime` for one that depends on `cobo-oauth-runtime`
    /// alone.
    pub fn runtime(mut self, path: impl Into<String>) -> Self {
        self.runtime = path.into();
        self
    }

    /// How long progenitor may take. Default [`DEFAULT_DEADLINE`].
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Reads, normalizes and generates.
    pub fn generate(&self) -> Result<Generated, CodegenError> {
        let runtime = RuntimePath::parse(&self.runtime)?;
        let normalized = normalize(spec::load_spec(&self.spec)?)?;
        let normalized_json = format!(
            "{}\n",
            serde_json::to_string_pretty(&normalized.spec)
                .map_err(|e| CodegenError::Format(e.to_string()))?
        );
        let (prepared, names) = varnames::prepare(&normalized.spec);
        let parsed: openapiv3::OpenAPI =
            serde_json::from_value(prepared).map_err(|e| CodegenError::Format(e.to_string()))?;
        let code = generate_with_deadline(parsed, runtime, names, self.deadline)?;
        Ok(Generated {
            normalized,
            normalized_json,
            code,
        })
    }

    /// In a `build.rs`: tells cargo to run it again when the spec changes, generates (failing
    /// when normalization had to leave an operation out, unless [`Self::allow_skipped`]), and
    /// writes the client to `OUT_DIR/client.rs` (and the normalization report to
    /// `OUT_DIR/normalization-report.txt`).
    pub fn build(&self) -> Result<(), CodegenError> {
        println!("cargo:rerun-if-changed={}", self.spec.display());
        let out_dir = std::env::var_os("OUT_DIR")
            .map(PathBuf::from)
            .ok_or(CodegenError::NoOutDir)?;
        let generated = self.generate()?;
        let skipped = &generated.normalized.skipped;
        if !skipped.is_empty() && !self.allow_skipped {
            return Err(CodegenError::Skipped(skipped.clone()));
        }
        for operation in skipped {
            println!(
                "cargo:warning=operation {} at {} is left out: {}",
                operation.operation, operation.pointer, operation.reason
            );
        }
        spec::write_file(&out_dir.join(REPORT_FILE), &generated.normalized.report())?;
        spec::write_file(&out_dir.join(OUT_FILE), &generated.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_and_the_hooks_use_the_same_name_for_a_camel_case_operation() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let spec = dir.path().join("camel.yaml");
        std::fs::write(
            &spec,
            "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nsecurity: [{OAuth2: []}]\n\
             paths:\n  /wallets/{wallet_id}:\n    get:\n      operationId: getWalletById\n      \
             parameters: [{name: wallet_id, in: path, required: true, schema: {type: string}}]\n      \
             responses: {'200': {description: ok, content: {application/json: {schema: {type: string}}}}}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let generated = Codegen::new(&spec)
            .generate()
            .unwrap_or_else(|e| panic!("{e}"));
        // progenitor hands its hooks this name; the table must list the operation under it.
        assert!(
            generated
                .code
                .contains("operation_id: \"get_wallet_by_id\"")
        );
        assert!(generated.code.contains("id: \"get_wallet_by_id\""));
        assert!(!generated.code.contains("getWalletById"));
        assert!(
            generated
                .normalized
                .report()
                .contains("operationId getWalletById renamed")
        );
    }
}
