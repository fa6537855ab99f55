//! Reading and writing specs: YAML or JSON in, the same document as `serde_json::Value`.

use std::io::Write as _;
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
/// it, so a reader (or an interrupted run) never sees half a file. The temporary file has a
/// random name and is created exclusively, so nothing planted in the directory (a symlink at a
/// name guessed in advance) is written through.
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
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // The mode `std::fs::write` gives a new file (less the umask), not the temporary file's 0600:
    // generated sources and specs are not secrets.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut temporary = builder.tempfile_in(dir).map_err(io)?;
    // On an error, dropping `temporary` removes it.
    temporary.write_all(contents.as_bytes()).map_err(io)?;
    temporary.persist(path).map_err(|e| io(e.error))?;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_file_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("client.rs");
        write_file(&path, "old").unwrap_or_else(|e| panic!("{e}"));
        write_file(&path, "new").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_file(&path).unwrap_or_else(|e| panic!("{e}")), "new");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, ["client.rs"], "no temporary file is left");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_name_of_the_temporary_file_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("normalized.json");
        // The name the temporary file had, predictable from the process id.
        let planted = dir
            .path()
            .join(format!(".normalized.json.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap_or_else(|e| panic!("{e}"));
        write_file(&path, "{}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            read_file(&victim).unwrap_or_else(|e| panic!("{e}")),
            "keep me"
        );
        assert_eq!(read_file(&path).unwrap_or_else(|e| panic!("{e}")), "{}");
        assert!(!path.is_symlink());
    }

    #[cfg(unix)]
    #[test]
    fn a_written_file_is_readable_by_others_as_a_new_file_would_be() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (written, plain) = (dir.path().join("a.rs"), dir.path().join("b.rs"));
        write_file(&written, "x").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&plain, "x").unwrap_or_else(|e| panic!("{e}"));
        let mode = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(mode(&written), mode(&plain));
    }
}
