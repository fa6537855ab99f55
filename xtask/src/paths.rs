//! Where things are in the workspace.

use std::path::{Path, PathBuf};

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The spec users edit.
pub fn spec() -> PathBuf {
    workspace_root().join("openapi/cobo-oauth.yaml")
}

/// The generated crate.
pub fn gen_crate() -> PathBuf {
    workspace_root().join("cobo-oauth-gen")
}
