//! [`CodegenError`]: why a client could not be generated or a spec not imported. Every message
//! names the file, or the operation and JSON pointer at fault.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::import::ImportError;
use crate::locate::GenerateError;
use crate::normalize::NormalizeError;

/// Why generation (or an import) failed.
///
/// `Debug` shows the same message as `Display`, so that a `build.rs` whose `main` returns
/// `Result<(), CodegenError>` fails with a readable message.
#[derive(thiserror::Error)]
pub enum CodegenError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The spec is not a YAML or JSON document.
    #[error("{path}: not a YAML or JSON document: {reason}")]
    Spec {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// The spec has a shape no normalization rule handles, or is not OpenAPI 3.0. The message
    /// names the operation and the JSON pointer.
    #[error(transparent)]
    Normalize(#[from] NormalizeError),
    /// progenitor failed (or panicked) on the normalized spec. The message names the operation
    /// and the JSON pointer where one alone reproduces it.
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// progenitor did not finish in time (typify's merging of `allOf` with `oneOf` branches
    /// grows exponentially on some shapes).
    #[error("progenitor did not finish within {} s (typify's merging of allOf with oneOf branches grows exponentially on some shapes; see the normalization rules)", .0.as_secs())]
    Deadline(Duration),
    /// The generated tokens are not a Rust file.
    #[error("the generated code does not parse: {0}")]
    Format(String),
    /// A setting is not valid (e.g. the runtime path is not a Rust path).
    #[error("invalid setting: {0}")]
    Settings(String),
    /// Operations could not be imported.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// `OUT_DIR` is not set: [`Codegen::build`](crate::Codegen::build) runs in a `build.rs`.
    #[error("OUT_DIR is not set: Codegen::build is for build.rs; use Codegen::generate elsewhere")]
    NoOutDir,
}

impl fmt::Debug for CodegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
