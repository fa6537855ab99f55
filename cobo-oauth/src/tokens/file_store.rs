//! [`FileStore`]: the pair in a JSON file, replaced atomically.

use std::io::Write as _;

use rand::RngCore as _;
use std::path::{Path, PathBuf};

use super::store::{StoreError, StoreFuture, StoredToken, TokenStore};

/// Keeps the pair in a JSON file with permissions 0600, for one process (processes sharing a
/// token pair need a store with a lease, such as `RedisStore`). A save refuses a pair that is not
/// newer than the one in the file, then writes a new temporary file in the same directory (a
/// random name, created exclusively with mode 0600, never through a symlink), fsyncs it, renames
/// it over the old one and fsyncs the directory, so a crash leaves either the old or the new
/// pair, never a torn file. Temporary files left by a process killed mid-save are removed by a
/// later save once they are ten minutes old. A corrupt or unreadable file is an error, never
/// treated as empty.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// A store at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, error: std::io::Error) -> StoreError {
        StoreError::Io {
            path: self.path.display().to_string(),
            reason: error.to_string(),
        }
    }

    fn load_blocking(&self) -> Result<Option<StoredToken>, StoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(self.io(error)),
        };
        StoredToken::from_json(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                path: self.path.display().to_string(),
                reason: e.to_string(),
            })
    }

    fn save_blocking(&self, token: &StoredToken) -> Result<(), StoreError> {
        // A corrupt file does not block a save: the new pair is what must not be lost.
        let stored = match self.load_blocking() {
            Err(StoreError::Corrupt { .. }) => None,
            other => other?,
        };
        StoreError::check_newer(stored.map(|t| t.version), token.version)?;
        let json = token.to_json();
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = self
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("tokens");
        let mut suffix = [0_u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut suffix);
        let temporary = dir.join(format!(".{name}.{}.tmp", hex::encode(suffix)));
        let mut file = create_private(&temporary).map_err(|e| self.io(e))?;
        let written = file
            .write_all(json.as_bytes())
            .and_then(|()| file.sync_all());
        drop(file);
        if let Err(error) = written.and_then(|()| std::fs::rename(&temporary, &self.path)) {
            let _ = std::fs::remove_file(&temporary);
            return Err(self.io(error));
        }
        if let Ok(directory) = std::fs::File::open(dir) {
            let _ = directory.sync_all();
        }
        remove_stale_temporaries(dir, name);
        Ok(())
    }
}

/// Creates `path` for writing: a new file (never an existing file, never through a symlink) with
/// mode 0600 from its first byte.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    // `create_new` is O_CREAT | O_EXCL: it fails on any existing entry, a symlink included.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// How old a temporary file of this store must be before a save removes it: older than any save
/// in progress, so it was left by a process killed mid-save.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(600);

/// Removes temporary files of the store `name` in `dir` left by killed processes (they hold a
/// token pair, readable only by the owner, but no longer needed).
fn remove_stale_temporaries(dir: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let stale = file_name.starts_with(&prefix)
            && file_name.ends_with(".tmp")
            && entry.metadata().is_ok_and(|meta| {
                meta.file_type().is_file()
                    && meta
                        .modified()
                        .ok()
                        .and_then(|at| at.elapsed().ok())
                        .is_some_and(|age| age > STALE_AFTER)
            });
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl TokenStore for FileStore {
    fn load(&self) -> StoreFuture<'_, Option<StoredToken>> {
        let store = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || store.load_blocking())
                .await
                .map_err(|e| StoreError::Io {
                    path: String::new(),
                    reason: e.to_string(),
                })?
        })
    }

    fn save<'a>(&'a self, token: &'a StoredToken) -> StoreFuture<'a, ()> {
        let store = self.clone();
        let token = token.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || store.save_blocking(&token))
                .await
                .map_err(|e| StoreError::Io {
                    path: String::new(),
                    reason: e.to_string(),
                })?
        })
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::create_private;

    #[test]
    fn a_temporary_file_is_new_and_private_from_its_first_byte() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join(".tokens.json.0123.tmp");
        let file = create_private(&path).unwrap_or_else(|e| panic!("{e}"));
        let mode = file
            .metadata()
            .unwrap_or_else(|e| panic!("{e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn an_existing_file_or_symlink_at_the_name_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let existing = dir.path().join("existing");
        std::fs::write(&existing, "decoy").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            create_private(&existing).map(|_| ()).unwrap_err().kind(),
            std::io::ErrorKind::AlreadyExists
        );
        let target = dir.path().join("precious");
        std::fs::write(&target, "precious").unwrap_or_else(|e| panic!("{e}"));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            create_private(&link).is_err(),
            "a symlink is never followed"
        );
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(create_private(&dangling).is_err());
        assert!(
            !dir.path().join("nowhere").exists(),
            "nothing created through it"
        );
        assert_eq!(
            std::fs::read_to_string(&target).unwrap_or_default(),
            "precious"
        );
        assert_eq!(
            std::fs::read_to_string(&existing).unwrap_or_default(),
            "decoy"
        );
    }
}
