//! Where things are in the workspace.

use std::path::{Path, PathBuf};

/// The workspace root: the parent of this crate's directory, or `XTASK_WORKSPACE_ROOT` when set
/// (the xtask tests run it on a copy of the workspace).
pub fn workspace_root() -> PathBuf {
    std::env::var_os("XTASK_WORKSPACE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default()
        })
}

/// The spec users edit.
pub fn spec() -> PathBuf {
    workspace_root().join("openapi/cobo-oauth.yaml")
}

/// The generated crate.
pub fn gen_crate() -> PathBuf {
    workspace_root().join("cobo-oauth-gen")
}

/// The crate of typed webhook event data.
pub fn events_crate() -> PathBuf {
    workspace_root().join("cobo-oauth-events")
}

/// Cobo's official spec, where new endpoints come from.
pub fn official_spec() -> PathBuf {
    workspace_root().join("openapi/cobo-waas2-openapi.yaml")
}
