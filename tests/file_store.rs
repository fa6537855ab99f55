//! The file store: atomic replacement, 0600, a corrupt file is an error, and a process killed in
//! the middle of saving leaves the old or the new pair, never a torn file.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use cobo_oauth::tokens::{FileStore, TokenStore};
use cobo_oauth::tokens::{StoreError, StoredToken};
use cobo_oauth::{ExposeSecret as _, SecretString};

fn pair(n: u64) -> StoredToken {
    // Large enough that a write is not a single page.
    StoredToken {
        access_token: SecretString::from(format!("access-{n}-{}", "a".repeat(20_000))),
        refresh_token: SecretString::from(format!("refresh-{n}-{}", "r".repeat(20_000))),
        expires_at_ms: n,
        version: n,
        owner: None,
    }
}

#[tokio::test]
async fn round_trips_with_0600_and_reports_a_corrupt_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let store = FileStore::new(&path);
    assert!(
        store.load().await.unwrap().is_none(),
        "no file yet: no token"
    );
    store.save(&pair(1)).await.unwrap();
    store.save(&pair(2)).await.unwrap();
    let loaded = store.load().await.unwrap().unwrap();
    assert_eq!(loaded.expires_at_ms, 2);
    assert!(
        loaded
            .refresh_token
            .expose_secret()
            .starts_with("refresh-2-")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    std::fs::write(&path, b"{\"access_token\": \"x\"").unwrap();
    let error = store.load().await.unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    assert!(!error.to_string().contains("refresh-"), "{error}");
    store.save(&pair(3)).await.unwrap();
    assert_eq!(
        store.load().await.unwrap().unwrap().version,
        3,
        "a corrupt file does not block saving the new pair"
    );
}

#[tokio::test]
async fn an_older_pair_never_replaces_a_newer_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("tokens.json"));
    store.save(&pair(5)).await.unwrap();
    for older in [5, 4] {
        let error = store.save(&pair(older)).await.unwrap_err();
        assert!(
            matches!(error, StoreError::Conflict { stored: 5, attempted } if attempted == older),
            "{error:?}"
        );
    }
    let kept = store.load().await.unwrap().unwrap();
    assert!(kept.refresh_token.expose_secret().starts_with("refresh-5-"));
}

/// The temporary name earlier versions wrote through: `.tokens.json.<pid>.tmp`.
#[cfg(unix)]
fn old_temporary(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join(format!(".tokens.json.{}.tmp", std::process::id()))
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn a_0644_file_at_the_old_temporary_name_does_not_make_the_pair_readable() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let decoy = old_temporary(dir.path());
    std::fs::write(&decoy, "decoy").unwrap();
    std::fs::set_permissions(&decoy, std::fs::Permissions::from_mode(0o644)).unwrap();
    let path = dir.path().join("tokens.json");
    FileStore::new(&path).save(&pair(1)).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(std::fs::read_to_string(&decoy).unwrap(), "decoy");
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlink_at_the_old_temporary_name_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let precious = elsewhere.path().join("precious");
    std::fs::write(&precious, "precious").unwrap();
    std::os::unix::fs::symlink(&precious, old_temporary(dir.path())).unwrap();
    let path = dir.path().join("tokens.json");
    let store = FileStore::new(&path);
    store.save(&pair(1)).await.unwrap();
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "precious");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(store.load().await.unwrap().unwrap().version, 1);
}

#[cfg(unix)]
#[tokio::test]
async fn a_stale_temporary_file_from_a_killed_save_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join(".tokens.json.0123456789abcdef.tmp");
    let fresh = dir.path().join(".tokens.json.fedcba9876543210.tmp");
    std::fs::write(&stale, "a pair").unwrap();
    std::fs::write(&fresh, "a save in progress").unwrap();
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3_600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
    FileStore::new(dir.path().join("tokens.json"))
        .save(&pair(1))
        .await
        .unwrap();
    assert!(!stale.exists(), "left by a killed save: removed");
    assert!(fresh.exists(), "possibly in progress: kept");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 2, "tokens.json and the recent temporary file");
}

/// The name the test harness knows [`writer_child`] by: its module path without the binary's
/// crate name (`file_store::writer_child`).
fn writer_child_test_name() -> String {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    format!("{module}::writer_child")
}

/// Not a test on its own: the writer process of `a_kill_during_a_save_never_tears_the_file`.
#[tokio::test]
async fn writer_child() {
    let Ok(path) = std::env::var("FILE_STORE_WRITER") else {
        return;
    };
    let store = FileStore::new(path);
    let newest = store.load().await.unwrap().map_or(0, |t| t.version);
    for n in newest + 1.. {
        store.save(&pair(n)).await.unwrap();
    }
}

#[tokio::test]
async fn a_kill_during_a_save_never_tears_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    FileStore::new(&path).save(&pair(0)).await.unwrap();
    let mut newest = 0;
    for round in 0..8u64 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", &writer_child_test_name(), "--nocapture"])
            .env("FILE_STORE_WRITER", &path)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(60 + round * 17)).await;
        child.kill().unwrap(); // SIGKILL: no cleanup runs
        child.wait().unwrap();
        let loaded = FileStore::new(&path).load().await.unwrap().unwrap();
        let n = loaded.expires_at_ms;
        assert!(
            loaded
                .access_token
                .expose_secret()
                .starts_with(&format!("access-{n}-")),
            "round {round}: torn"
        );
        assert_eq!(
            loaded.refresh_token.expose_secret(),
            pair(n).refresh_token.expose_secret(),
            "round {round}"
        );
        newest = newest.max(n);
    }
    assert!(newest > 0, "the writer saved while it was being killed");
}
