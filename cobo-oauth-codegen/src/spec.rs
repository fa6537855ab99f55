//! Reading and writing specs: YAML or JSON in, the same document as `serde_json::Value`.

use std::path::Path;

use serde_json::Value;

use crate::error::CodegenError;

/// Reads a file.
pub fn read_file(path: &Path) -> Result<String, CodegenError> {
    std::fs::read_to_string(path).map_err(|cause| CodegenError::Io {
        path: path.to_owned(),
        cause,
    })
}

/// Writes a file, creating its directory: into a temporary file beside it, then renamed over
/// it, so a reader (or an interrupted run) never sees half a file.
pub fn write_file(path: &Path, contents: &str) -> Result<(), CodegenError> {
    let io = |cause| CodegenError::Io {
        path: path.to_owned(),
        cause,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("spec");
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&temporary, contents)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            io(e)
        })
}

/// Loads a YAML or JSON spec (JSON is YAML) as a JSON value, keeping the order of its keys.
pub fn load_spec(path: &Path) -> Result<Value, CodegenError> {
    let text = read_file(path)?;
    let parsed = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        serde_yaml::from_str(&text).map_err(|e| e.to_string())
    };
    parsed.map_err(|reason| CodegenError::Spec {
        path: path.to_owned(),
        reason,
    })
}

/// Writes `spec` as YAML to `path`, keeping the comment lines that start the file there.
pub(crate) fn save_yaml(path: &Path, spec: &Value) -> Result<(), CodegenError> {
    let header: String = std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .take_while(|line| line.starts_with('#'))
        .map(|line| format!("{line}\n"))
        .collect();
    let yaml = serde_yaml::to_string(spec).map_err(|e| CodegenError::Spec {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    write_file(path, &format!("{header}{yaml}"))
}
