//! [`DirectoryStore`]: one [`FileStore`] per organization in a directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::store::OrgStore;
use crate::tokens::file_store::FileStore;
use crate::tokens::store::{StoreError, StoreFuture, TokenStore};

/// Keeps each organization's pair in its own file of a directory, `<org_id>.json` (characters
/// other than ASCII letters, digits, `-` and `_` written `%XX`, so no id can name another path),
/// each written by a [`FileStore`]: mode 0600, atomically, never through a symlink. For one
/// process; a fleet shares `RedisOrgStore` (feature `redis`).
///
/// The directory is created (mode 0700) at the first save.
#[derive(Debug, Clone)]
pub struct DirectoryStore {
    dir: PathBuf,
}

impl DirectoryStore {
    /// A store in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of `org_id`'s pair.
    pub fn path_of(&self, org_id: &str) -> PathBuf {
        self.dir.join(format!("{}.json", escape(org_id)))
    }

    fn list_blocking(&self) -> Result<Vec<String>, StoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                return Err(StoreError::Io {
                    path: self.dir.display().to_string(),
                    reason: error.to_string(),
                });
            }
        };
        let mut orgs = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if let (true, Some(org)) = (is_file, unescape(stem)) {
                orgs.push(org);
            }
        }
        Ok(orgs)
    }
}

impl OrgStore for DirectoryStore {
    fn org(&self, org_id: &str) -> Arc<dyn TokenStore> {
        Arc::new(OrgFile {
            dir: self.dir.clone(),
            file: FileStore::new(self.path_of(org_id)),
        })
    }

    fn list(&self) -> StoreFuture<'_, Vec<String>> {
        let store = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || store.list_blocking())
                .await
                .map_err(|e| StoreError::Io {
                    path: String::new(),
                    reason: e.to_string(),
                })?
        })
    }
}

/// One organization's file: a [`FileStore`] whose save first creates the directory (0700).
#[derive(Debug)]
struct OrgFile {
    dir: PathBuf,
    file: FileStore,
}

impl TokenStore for OrgFile {
    fn load(&self) -> StoreFuture<'_, Option<crate::tokens::StoredToken>> {
        self.file.load()
    }

    fn save<'a>(&'a self, token: &'a crate::tokens::StoredToken) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let dir = self.dir.clone();
            tokio::task::spawn_blocking(move || create_private_dir(&dir))
                .await
                .map_err(|e| e.to_string())
                .and_then(|created| created.map_err(|e| e.to_string()))
                .map_err(|reason| StoreError::Io {
                    path: self.dir.display().to_string(),
                    reason,
                })?;
            self.file.save(token).await
        })
    }

    fn location(&self) -> String {
        self.file.location()
    }
}

/// Creates `dir` and its parents if missing, the directory itself with mode 0700.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// `org_id` as a file name: ASCII letters, digits, `-` and `_` as they are, every other byte
/// `%XX` (so no `/`, no `.`, no hidden or temporary name of a [`FileStore`]).
fn escape(org_id: &str) -> String {
    let mut name = String::with_capacity(org_id.len());
    for byte in org_id.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    name
}

/// The organization of a file name written by [`escape`]; `None` for any other name.
fn unescape(name: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(name.len());
    let mut rest = name.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'%' {
            let hex = tail.get(..2)?;
            let mut byte = [0_u8; 1];
            hex::decode_to_slice(hex, &mut byte).ok()?;
            bytes.push(byte[0]);
            rest = &tail[2..];
        } else if first.is_ascii_alphanumeric() || first == b'-' || first == b'_' {
            bytes.push(first);
            rest = tail;
        } else {
            return None;
        }
    }
    let org = String::from_utf8(bytes).ok()?;
    (escape(&org) == name && !org.is_empty()).then_some(org)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_never_leave_the_directory() {
        for org in ["0f3c-uuid_1", "../etc/passwd", ".hidden", "a b/c%", "é"] {
            let name = escape(org);
            assert!(!name.contains('/') && !name.contains('.'), "{name}");
            assert_eq!(unescape(&name).as_deref(), Some(org));
        }
        assert_eq!(unescape(".tokens.json.0123.tmp"), None);
        assert_eq!(unescape("%2"), None);
        assert_eq!(unescape("%2e"), None, "only the canonical spelling");
        assert_eq!(unescape(""), None);
    }
}
