//! What the codegen tasks share: their error.

use std::path::PathBuf;

use cobo_oauth_codegen::CodegenError;

/// Why a codegen task failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Generation or import failed; the message names the file, or the operation and JSON
    /// pointer at fault.
    #[error(transparent)]
    Codegen(#[from] CodegenError),
    /// `--check` found stale files.
    #[error("generated files are out of date; run `cargo xtask codegen`:\n{}", .0.iter().map(|p| format!("  {}", p.display())).collect::<Vec<_>>().join("\n"))]
    Stale(Vec<PathBuf>),
    /// The standalone crate could not be written.
    #[error("{0}")]
    Standalone(String),
}
