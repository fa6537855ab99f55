//! [`FileStore`]: the pair in a JSON file, replaced atomically.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::store::{StoreError, StoreFuture, StoredToken, TokenStore};

/// Keeps the pair in a JSON file with permissions 0600, for one process (processes sharing a
/// token pair need a store with a lease, such as `RedisStore`). A save refuses a pair that is not
/// newer than the one in the file, then writes a temporary file in the same
/// directory, fsyncs it, renames it over the old one and fsyncs the directory, so a crash leaves
/// either the old or the new pair, never a torn file. A corrupt or unreadable file is an error,
/// never treated as empty.
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
        super::store::check_newer(stored.map(|t| t.version), token.version)?;
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
        let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary).map_err(|e| self.io(e))?;
        file.write_all(json.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| self.io(e))?;
        drop(file);
        std::fs::rename(&temporary, &self.path).map_err(|e| self.io(e))?;
        if let Ok(directory) = std::fs::File::open(dir) {
            let _ = directory.sync_all();
        }
        Ok(())
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
