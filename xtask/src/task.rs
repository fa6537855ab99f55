//! What every task shares: its error, and reading and writing files and specs.

use std::path::{Path, PathBuf};

use crate::normalize;

/// Why the task failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The spec is not YAML or JSON.
    #[error("{path}: not a YAML or JSON document: {reason}")]
    Spec {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// The spec has a shape the normalization step cannot handle.
    #[error(transparent)]
    Normalize(#[from] normalize::NormalizeError),
    /// progenitor failed on the normalized spec.
    #[error("{0}")]
    Codegen(String),
    /// `--check` found stale files.
    #[error("generated files are out of date; run `cargo xtask codegen`:\n{}", .0.iter().map(|p| format!("  {}", p.display())).collect::<Vec<_>>().join("\n"))]
    Stale(Vec<PathBuf>),
    /// The standalone crate could not be written.
    #[error("{0}")]
    Standalone(String),
}

/// Reads a file.
pub fn read(path: &Path) -> Result<String, TaskError> {
    std::fs::read_to_string(path).map_err(|source| TaskError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes a file, creating its directory.
pub fn write(path: &Path, contents: &str) -> Result<(), TaskError> {
    let io = |source| TaskError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, contents).map_err(io)
}

/// Loads a YAML or JSON spec as JSON.
pub fn load_spec(path: &Path) -> Result<serde_json::Value, TaskError> {
    let text = read(path)?;
    serde_yaml::from_str(&text).map_err(|e| TaskError::Spec {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}
