//! `cobo-oauth tokens list|grant` against the embedded mock and a directory store.

#![allow(clippy::unwrap_used, missing_docs)]

use cobo_oauth_mock::{MockConfig, MockServer};

const SECRET: &str = "a84fa52a55b98b9bcfd79fb55e019b002b4bb23a6654708cfe7dd1d46c55e950";

async fn cli(server: &MockServer, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_cobo-oauth"))
        .args(["--base-url", &server.base_url()])
        .args(["--response-pubkey", &server.response_key_hex()])
        .args(args)
        .env("COBO_API_SECRET", SECRET)
        .env_remove("COBO_ENV")
        .env_remove("COBO_BASE_URL")
        .env_remove("COBO_RESPONSE_PUBKEY")
        .env_remove("COBO_TOKEN_STORE")
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn grant_into_a_directory_then_list_it_without_secrets() {
    use cobo_oauth::signing::Signer as _;
    let signer = cobo_oauth::signing::Ed25519Signer::from_hex(SECRET).unwrap();
    let server = MockServer::start(MockConfig::accepting(signer.api_key().as_str()))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("orgs");
    let store = store.to_str().unwrap();
    for org in ["org-b", "org-a"] {
        let output = cli(
            &server,
            &[
                "tokens",
                "grant",
                "--client-id",
                "app",
                "--org-id",
                org,
                "--store",
                store,
            ],
        )
        .await;
        assert!(output.status.success(), "{output:?}");
        let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(printed["org_id"], org);
        assert_eq!(printed["version"], 1);
    }
    let output = cli(
        &server,
        &["tokens", "list", "--client-id", "app", "--store", store],
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let orgs: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["org_id"].as_str().unwrap().to_owned(),
                o["expired"].clone(),
            )
        })
        .collect();
    assert_eq!(
        orgs,
        [
            ("org-a".to_owned(), serde_json::Value::Bool(false)),
            ("org-b".to_owned(), serde_json::Value::Bool(false))
        ]
    );
    // No token reaches the output.
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(!text.contains("access_token") && !text.contains("refresh_token"));
    for request in server.requests() {
        if let Some(bearer) = &request.authorization {
            assert!(!text.contains(bearer.as_str()));
        }
    }
    // A refused grant exits 1 and saves nothing.
    server.uninstall("app", "org-c");
    let output = cli(
        &server,
        &[
            "tokens",
            "grant",
            "--client-id",
            "app",
            "--org-id",
            "org-c",
            "--store",
            store,
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("re-authorization required"));
    assert!(!dir.path().join("orgs/org-c.json").exists());
}

/// A directory store whose directory cannot be created when the grant's pair is saved: `orgs`
/// is a symlink to a missing directory, so loading finds no pair (the grant goes ahead) and
/// saving fails (for root too), until the missing directory is made.
fn store_whose_save_fails(dir: &std::path::Path) -> (String, std::path::PathBuf) {
    let missing = dir.join("missing");
    let store = dir.join("orgs");
    std::os::unix::fs::symlink(&missing, &store).unwrap();
    (store.to_str().unwrap().to_owned(), missing)
}

fn grant_args<'a>(store: &'a str, save_retry: &'a str) -> [&'a str; 9] {
    [
        "tokens",
        "grant",
        "--client-id",
        "app",
        "--org-id",
        "org-x",
        "--store",
        store,
        save_retry,
    ]
}

#[tokio::test]
async fn a_grant_that_cannot_be_saved_is_printed_and_the_exit_is_1() {
    use cobo_oauth::signing::Signer as _;
    let signer = cobo_oauth::signing::Ed25519Signer::from_hex(SECRET).unwrap();
    let server = MockServer::start(MockConfig::accepting(signer.api_key().as_str()))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (store, missing) = store_whose_save_fails(dir.path());
    let output = cli(&server, &grant_args(&store, "--save-retry=1")).await;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("retrying for up to 1 s"), "{stderr}");
    assert!(stderr.contains("could not be saved"), "{stderr}");
    assert!(!missing.exists(), "nothing was saved");
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: the pair is printed; stderr: {stderr}"));
    assert_eq!(printed["client_id"], "app");
    assert_eq!(printed["org_id"], "org-x");
    assert_eq!(printed["version"], 1);
    let access_token = printed["access_token"].as_str().unwrap();
    let refresh_token = printed["refresh_token"].as_str().unwrap();
    assert!(server.access_token_valid(access_token));
    assert!(!stderr.contains(refresh_token) && !stderr.contains(access_token));
    // The printed refresh token is the one Cobo issued: it works.
    let refreshed = cli(
        &server,
        &[
            "token",
            "refresh",
            "--client-id",
            "app",
            "--refresh-token",
            refresh_token,
        ],
    )
    .await;
    assert_eq!(refreshed.status.code(), Some(0), "{refreshed:?}");
}

#[tokio::test]
async fn a_failed_save_is_retried_and_the_grant_succeeds_once_the_store_works() {
    use cobo_oauth::signing::Signer as _;
    use tokio::io::AsyncBufReadExt as _;
    let signer = cobo_oauth::signing::Ed25519Signer::from_hex(SECRET).unwrap();
    let server = MockServer::start(MockConfig::accepting(signer.api_key().as_str()))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (store, missing) = store_whose_save_fails(dir.path());
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cobo-oauth"))
        .args(["--base-url", &server.base_url()])
        .args(["--response-pubkey", &server.response_key_hex()])
        .args(grant_args(&store, "--save-retry=60"))
        .env("COBO_API_SECRET", SECRET)
        .env_remove("COBO_ENV")
        .env_remove("COBO_BASE_URL")
        .env_remove("COBO_RESPONSE_PUBKEY")
        .env_remove("COBO_TOKEN_STORE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Once the command says the save failed and is being retried, the store is repaired.
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut said = String::new();
    while let Some(line) = stderr.next_line().await.unwrap() {
        said.push_str(&line);
        said.push('\n');
        if line.contains("retrying for up to 60 s") {
            break;
        }
    }
    assert!(said.contains("retrying"), "no retry announced: {said}");
    std::fs::create_dir(&missing).unwrap();
    let rest = tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            said.push_str(&line);
            said.push('\n');
        }
        said
    });
    let output = child.wait_with_output().await.unwrap();
    let said = rest.await.unwrap();
    assert_eq!(output.status.code(), Some(0), "{said}");
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["org_id"], "org-x");
    assert_eq!(printed["version"], 1);
    assert!(printed.get("refresh_token").is_none(), "no token printed");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(missing.join("org-x.json")).unwrap()).unwrap();
    assert_eq!(saved["org_id"], "org-x");
    assert!(server.access_token_valid(saved["access_token"].as_str().unwrap()));
}

/// A `redis-server` on a free loopback port, without persistence, killed when dropped.
#[cfg(feature = "redis")]
pub(crate) struct Redis {
    child: std::process::Child,
    pub(crate) port: u16,
    _dir: tempfile::TempDir,
}

#[cfg(feature = "redis")]
impl Redis {
    pub(crate) fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned());
        let child = std::process::Command::new(&binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {binary} ({e}): install redis-server or set REDIS_SERVER")
            });
        let redis = Self {
            child,
            port,
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while redis.try_command(&["PING"]).as_deref() != Some("+PONG") {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server is not up"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        redis
    }

    /// Sends one command as the default user; its one-line reply (`+OK`, `:12`, `-ERR …`).
    fn try_command(&self, args: &[&str]) -> Option<String> {
        use std::io::{BufRead as _, Write as _};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).ok()?;
        let mut reply = String::new();
        std::io::BufReader::new(stream).read_line(&mut reply).ok()?;
        Some(reply.trim_end().to_owned())
    }

    pub(crate) fn command(&self, args: &[&str]) -> String {
        self.try_command(args).unwrap()
    }
}

#[cfg(feature = "redis")]
impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_grant_redis_refuses_to_save_is_printed_and_its_lease_is_kept_until_its_ttl() {
    use cobo_oauth::signing::Signer as _;
    let signer = cobo_oauth::signing::Ed25519Signer::from_hex(SECRET).unwrap();
    let server = MockServer::start(MockConfig::accepting(signer.api_key().as_str()))
        .await
        .unwrap();
    let redis = Redis::start();
    // A user who may take the lease but only read pairs: the grant's save is refused (NOPERM).
    let acl = [
        "ACL",
        "SETUSER",
        "cli",
        "reset",
        "on",
        ">pw",
        "+@all",
        "%RW~*:lease",
        "%RW~*:refresh-sends",
        "%R~*:pair",
    ];
    assert_eq!(redis.command(&acl), "+OK");
    let url = format!("redis://cli:pw@127.0.0.1:{}/0", redis.port);
    let grant = [
        "tokens",
        "grant",
        "--client-id",
        "app",
        "--org-id",
        "org-r",
        "--store",
        url.as_str(),
    ];
    let grant = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_cobo-oauth"))
            .args(["--base-url", &server.base_url()])
            .args(["--response-pubkey", &server.response_key_hex()])
            .args(grant)
            .env("COBO_API_SECRET", SECRET)
            .env("COBO_TOKEN_PLAINTEXT", "1")
            .env_remove("COBO_TOKEN_ENCRYPTION_KEY")
            .env_remove("COBO_ENV")
            .env_remove("COBO_BASE_URL")
            .env_remove("COBO_RESPONSE_PUBKEY")
            .env_remove("COBO_TOKEN_STORE")
            .output()
    };
    let lease = "cobo-oauth:{app:org-r}:lease";
    let pair = "cobo-oauth:{app:org-r}:pair";

    let refused = grant().await.unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("could not be saved"), "{stderr}");
    let printed: serde_json::Value = serde_json::from_slice(&refused.stdout)
        .unwrap_or_else(|e| panic!("{e}: the pair is printed; stderr: {stderr}"));
    assert_eq!(printed["org_id"], "org-r");
    assert!(server.access_token_valid(printed["access_token"].as_str().unwrap()));
    assert_eq!(redis.command(&["EXISTS", pair]), ":0", "nothing was saved");
    // The command has exited, and the lease it took is still held: it runs out by its TTL.
    let ttl: i64 = redis.command(&["PTTL", lease])[1..].parse().unwrap();
    assert!(
        ttl > 0,
        "the lease is kept until its TTL, not given back: PTTL {ttl}"
    );

    // Once the lease ran out and the store takes writes, a grant saves and gives it back.
    assert_eq!(redis.command(&["DEL", lease]), ":1");
    assert_eq!(redis.command(&["ACL", "SETUSER", "cli", "allkeys"]), "+OK");
    let granted = grant().await.unwrap();
    assert_eq!(granted.status.code(), Some(0), "{granted:?}");
    assert_eq!(redis.command(&["EXISTS", pair]), ":1");
    assert_eq!(
        redis.command(&["EXISTS", lease]),
        ":0",
        "the lease is given back"
    );
}
