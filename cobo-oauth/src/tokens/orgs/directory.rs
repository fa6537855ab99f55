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
/// symlink. An id whose name would be a Windows device (`con`, `nul`, `com1`, ...: Windows
/// takes `con.json` for the console) has its first letter written `%XX` too (`%63on.json`); a
/// pair saved under the plain name by an earlier version is still loaded and listed, and
/// removed once a newer pair is saved. An empty `org_id`, or one too long for a file name, is refused
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

    /// The file an earlier version wrote `org_id`'s pair to, when it is not [`Self::path_of`]:
    /// the plain name of an id that names a Windows device (never on Windows, where that
    /// name opens the device and no such file can exist).
    fn legacy_path_of(&self, org_id: &str) -> Option<PathBuf> {
        let plain = percent_encode(org_id);
        (!cfg!(windows) && is_windows_device(&plain))
            .then(|| self.dir.join(format!("{plain}.json")))
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
            // An id saved under its plain name and again under its escaped one is listed once.
            if let (true, Some(org)) = (is_file, unescape(stem))
                && !orgs.contains(&org)
            {
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
            legacy: self.legacy_path_of(org_id),
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
    /// Where an earlier version kept this organization's pair, if elsewhere: read while `file`
    /// has none, removed once `file` has a newer one.
    legacy: Option<PathBuf>,
}

impl TokenStore for OrgFile {
    fn load(&self) -> StoreFuture<'_, Option<crate::tokens::StoredToken>> {
        Box::pin(async move {
            match (self.file.load().await?, &self.legacy) {
                (None, Some(legacy)) => FileStore::new(legacy).load().await,
                (stored, _) => Ok(stored),
            }
        })
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
            self.file.save(token).await?;
            if let Some(legacy) = self.legacy.clone() {
                // The pair is saved: the older one under the old name is of no use any more.
                // Failing to remove it only leaves it unread (`file` comes first).
                let _ = tokio::task::spawn_blocking(move || std::fs::remove_file(legacy)).await;
            }
            Ok(())
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

/// `org_id` with [`kept`] bytes as they are and every other byte `%XX` (so no `/`, no `.`, no
/// hidden or temporary name of a [`FileStore`], no upper-case letter): its file name, unless
/// that is a Windows device (see [`escape`]).
fn percent_encode(org_id: &str) -> String {
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

/// Whether Windows takes a file whose name starts with `stem` and a `.` for a device (`con.json`
/// is the console): `con`, `prn`, `aux`, `nul`, `com0`-`com9`, `lpt0`-`lpt9`, in any case.
fn is_windows_device(stem: &str) -> bool {
    let stem = stem.to_ascii_lowercase();
    matches!(stem.as_str(), "con" | "prn" | "aux" | "nul")
        || matches!(stem.as_bytes(), [b'c', b'o', b'm', digit] | [b'l', b'p', b't', digit] if digit.is_ascii_digit())
}

/// `org_id` as a file name: [`percent_encode`]d, and when that is a Windows device its first
/// letter written `%XX` too (`con` → `%63on`). Only those ids have names other than their
/// [`percent_encode`]ing, which [`unescape`] also reads.
fn escape(org_id: &str) -> String {
    let name = percent_encode(org_id);
    let mut chars = name.chars();
    match chars.next() {
        // A device name is ASCII: its first char is its first byte.
        Some(first) if is_windows_device(&name) => {
            format!("%{:02X}{}", u32::from(first), chars.as_str())
        }
        _ => name,
    }
}

/// The organization of a file name written by [`escape`], or by [`percent_encode`] (an earlier
/// version's name for an id that names a Windows device); `None` for any other name.
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
    let canonical = escape(&org) == name || percent_encode(&org) == name;
    (canonical && !org.is_empty()).then_some(org)
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

    /// Whether Windows opens a device for `file_name`: the part before the first `.`, trailing
    /// spaces ignored, is one of its reserved names, in any case.
    fn opens_a_windows_device(file_name: &str) -> bool {
        let base = file_name.split('.').next().unwrap_or_default();
        let base = base.trim_end_matches(' ').to_ascii_uppercase();
        let numbered = (0..=9).flat_map(|n| [format!("COM{n}"), format!("LPT{n}")]);
        ["CON", "PRN", "AUX", "NUL"]
            .map(str::to_owned)
            .into_iter()
            .chain(numbered)
            .any(|device| device == base)
    }

    #[test]
    fn no_org_id_gets_a_windows_device_name_and_each_round_trips() {
        for org in [
            "con", "prn", "aux", "nul", "com0", "com1", "com9", "lpt1", "lpt9", "CON", "Nul",
            "cOm1", "LPT3", "con.json", "nul.txt", "aux ", "prn.",
        ] {
            let name = escape(org);
            let file = format!("{name}.json");
            assert!(!opens_a_windows_device(&file), "{org:?} -> {file}");
            assert_eq!(unescape(&name).as_deref(), Some(org), "{file}");
        }
        assert_eq!(escape("con"), "%63on");
        assert!(opens_a_windows_device("con.json") && opens_a_windows_device("COM1.json"));
        // Only the ids whose name was a device get another one: every other file stays.
        for org in [
            "console",
            "com10",
            "lpt",
            "nul-1",
            "com1_",
            "0f3c-uuid_1",
            "a b",
            "CON",
        ] {
            assert_eq!(escape(org), percent_encode(org), "{org:?}");
        }
    }

    #[cfg(not(windows))]
    #[tokio::test]
    async fn a_pair_saved_under_an_earlier_name_is_still_loaded_and_listed() {
        let dir = tempfile::tempdir().unwrap();
        let pair = |version: u64| {
            let json = format!(
                r#"{{"access_token":"a{version}","refresh_token":"r{version}","expires_at_ms":0,"version":{version}}}"#
            );
            crate::tokens::StoredToken::from_json(json.as_bytes()).unwrap()
        };
        // Written by the earlier escaping: `con` as con.json, `0f3c-org` as it still is.
        for name in ["con.json", "0f3c-org.json"] {
            std::fs::write(dir.path().join(name), &*pair(1).to_json()).unwrap();
        }
        let store = DirectoryStore::new(dir.path());
        let listed = || async {
            let mut orgs = store.list().await.unwrap();
            orgs.sort();
            orgs
        };
        let version = |org: &'static str| {
            let store = store.clone();
            async move { store.org(org).load().await.unwrap().map(|t| t.version) }
        };
        assert_eq!(listed().await, ["0f3c-org", "con"]);
        assert_eq!(version("con").await, Some(1));
        assert_eq!(version("0f3c-org").await, Some(1));

        store.org("con").save(&pair(2)).await.unwrap();
        assert!(dir.path().join("%63on.json").is_file());
        assert!(
            !dir.path().join("con.json").exists(),
            "the older pair is removed"
        );
        assert_eq!(version("con").await, Some(2));

        // Both names present (the removal failed): the new one is read, the id listed once.
        std::fs::write(dir.path().join("con.json"), &*pair(1).to_json()).unwrap();
        assert_eq!(listed().await, ["0f3c-org", "con"]);
        assert_eq!(version("con").await, Some(2));
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
