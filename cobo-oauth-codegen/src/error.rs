//! [`CodegenError`]: why a client could not be generated or a spec not imported. Every message
//! names the file, or the operation and JSON pointer at fault.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::import::ImportError;
use crate::locate::GenerateError;
use crate::normalize::{NormalizeError, Skipped};

/// Why generation (or an import) failed.
///
/// `Debug` shows the same message as `Display`, so that a `build.rs` whose `main` returns
/// `Result<(), CodegenError>` fails with a readable message.
#[derive(thiserror::Error)]
pub enum CodegenError {
    /// A file could not be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause (in the message, so a build script's one line says it).
        cause: std::io::Error,
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
    /// Normalization removed operations it cannot rewrite into anything progenitor takes: a
    /// build fails rather than leave them out silently (see [`Codegen::allow_skipped`]).
    ///
    /// [`Codegen::allow_skipped`]: crate::Codegen::allow_skipped
    #[error("{} operation(s) cannot be generated:{}", .0.len(), .0.iter().map(|s| format!("\n  operation {} at {}: {}", s.operation, s.pointer, s.reason)).collect::<String>())]
    Skipped(Vec<Skipped>),
    /// Enums whose variants `x-enum-varnames` names were not generated as expected (typify
    /// named the type, or a variant, otherwise), so their variants would go on the wire as their
    /// names (`Gt` where Cobo expects `>`). One line per enum, naming it and its variants.
    #[error("{} enum(s) named by x-enum-varnames were not generated as expected, so their values would be sent as the variants' names:{}", .0.len(), .0.iter().map(|p| format!("\n  {p}")).collect::<String>())]
    VariantNames(Vec<String>),
    /// The generator itself failed (a thread could not start, or stopped without an answer).
    #[error("{0}")]
    Internal(String),
    /// `OUT_DIR` is not set: [`Codegen::build`](crate::Codegen::build) runs in a `build.rs`.
    #[error("OUT_DIR is not set: Codegen::build is for build.rs; use Codegen::generate elsewhere")]
    NoOutDir,
}

impl fmt::Debug for CodegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_message_a_build_script_prints() {
        let error = CodegenError::Skipped(vec![Skipped {
            operation: "upload".to_owned(),
            pointer: "/paths/~1files/post/responses".to_owned(),
            reason: "two success bodies".to_owned(),
        }]);
        let message = "1 operation(s) cannot be generated:\n  operation upload at /paths/~1files/post/responses: two success bodies";
        assert_eq!(error.to_string(), message);
        assert_eq!(format!("{error:?}"), message);
    }
}
