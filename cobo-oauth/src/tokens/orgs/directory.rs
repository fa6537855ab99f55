//! [`DirectoryStore`]: one [`FileStore`] per organization in a directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::store::OrgStore;
use crate::error::Error;
use crate::tokens::file_store::FileStore;
use crate::tokens::store::{StoreError, StoreFuture, TokenStore};

/// Keeps each organization's pair in its own file of a directory, `<org_id>.json` (characters
/// other than lower-case ASCII letters, digits, `-` and `_` written `%XX`, upper-case letters
/// included: no id can name another path, and no two ids share a file on a case-insensitive
/// file system), each written by a [`FileStore`]: mode 0600, atomically, never through a
/// symlink. An empty `org_id`, or one too long for a file name, is refused
/// ([`Error::InvalidRequest`](crate::Error::InvalidRequest)) before anything is sent. For one
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

    fn check_org_id(&self, org_id: &str) -> Result<(), Error> {
        if org_id.is_empty() {
            return Err(Error::InvalidRequest("the org_id is empty".to_owned()));
        }
        let length = escape(org_id).len();
        if length > MAX_ESCAPED_LEN {
            return Err(Error::InvalidRequest(format!(
                "the org_id is too long for a file name of the directory store ({length} bytes escaped, at most {MAX_ESCAPED_LEN})"
            )));
        }
        Ok(())
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

/// The longest escaped `org_id`: a file name has at most 255 bytes, and the [`FileStore`]'s
/// temporary file is named `.<escaped>.json.<16 hex>.tmp` (27 bytes more).
const MAX_ESCAPED_LEN: usize = 255 - 27;

/// Whether `byte` is written as it is in a file name: lower-case ASCII letters, digits, `-`
/// and `_` (upper-case letters are escaped: "ABC" and "abc" are one file where case is ignored).
fn kept(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'_'
}

/// `org_id` as a file name: [`kept`] bytes as they are, every other byte `%XX` (so no `/`, no
/// `.`, no hidden or temporary name of a [`FileStore`], no upper-case letter).
fn escape(org_id: &str) -> String {
    let mut name = String::with_capacity(org_id.len());
    for byte in org_id.bytes() {
        if kept(byte) {
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
        } else if kept(first) {
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

    #[test]
    fn ids_that_differ_in_case_get_names_that_differ_ignoring_case() {
        let (upper, lower) = (escape("ABC-org"), escape("abc-org"));
        assert_ne!(upper.to_ascii_lowercase(), lower.to_ascii_lowercase());
        assert_eq!(unescape(&upper).as_deref(), Some("ABC-org"));
        assert_eq!(unescape("ABC"), None, "not a name this store writes");
        let uuid = "6F1C3B9E-0D4B-4A57-9A0E-3F1D2C4B5A69";
        assert_ne!(
            escape(uuid).to_ascii_lowercase(),
            escape(&uuid.to_ascii_lowercase())
        );
    }

    #[test]
    fn an_empty_or_too_long_org_id_is_refused() {
        let store = DirectoryStore::new("/nonexistent");
        assert!(
            store
                .check_org_id("6f1c3b9e-0d4b-4a57-9a0e-3f1d2c4b5a69")
                .is_ok()
        );
        assert!(store.check_org_id(&"a".repeat(MAX_ESCAPED_LEN)).is_ok());
        for refused in [
            String::new(),
            "a".repeat(MAX_ESCAPED_LEN + 1),
            "/".repeat(80),
        ] {
            assert!(
                matches!(store.check_org_id(&refused), Err(Error::InvalidRequest(_))),
                "{refused:?}"
            );
        }
    }
}
