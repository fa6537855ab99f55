//! The real `cobo-oauth` binary against the embedded mock: results, failures and exit codes.

#![allow(clippy::unwrap_used, missing_docs)]

use cobo_oauth_mock::{Fault, MockConfig, MockServer};
use std::process::Output;

const SECRET: &str = "a84fa52a55b98b9bcfd79fb55e019b002b4bb23a6654708cfe7dd1d46c55e950";

/// The mock's configuration, accepting the key of [`SECRET`].
fn mock_config() -> MockConfig {
    use cobo_oauth::signing::Signer as _;
    let signer = cobo_oauth::signing::Ed25519Signer::from_hex(SECRET).unwrap();
    MockConfig::accepting(signer.api_key().as_str())
}

async fn cli(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_cobo-oauth"))
        .args(args)
        .env_remove("COBO_ENV")
        .env_remove("COBO_BASE_URL")
        .env_remove("COBO_API_SECRET")
        .env_remove("COBO_RESPONSE_PUBKEY")
        .output()
        .await
        .unwrap()
}

/// `token get` for app `a` and org `o`, after the global options `global`.
fn get_with<'a>(global: &[&'a str]) -> Vec<&'a str> {
    [
        global,
        &["token", "get", "--client-id", "a", "--org-id", "o"],
    ]
    .concat()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn against(server: &MockServer, args: &[&str]) -> Output {
    let base = server.base_url();
    let key = server.response_key_hex();
    let mut all = vec![
        "--base-url",
        base.as_str(),
        "--response-pubkey",
        key.as_str(),
        "--api-secret",
        SECRET,
    ];
    all.extend_from_slice(args);
    cli(&all).await
}

async fn refresh(server: &MockServer, refresh_token: &str) -> Output {
    against(
        server,
        &[
            "token",
            "refresh",
            "--client-id",
            "app",
            "--refresh-token",
            refresh_token,
        ],
    )
    .await
}

/// Asserts that the CLI exited with `code` and said `message` on stderr.
fn expect_exit(output: &Output, code: i32, message: &str) {
    let said = stderr(output);
    assert_eq!(output.status.code(), Some(code), "{said}");
    assert!(said.contains(message), "{said}");
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(output)))
}

#[tokio::test]
async fn get_refresh_and_rotation() {
    let server = MockServer::start(mock_config()).await.unwrap();
    let got = against(
        &server,
        &["token", "get", "--client-id", "app", "--org-id", "org"],
    )
    .await;
    assert_eq!(got.status.code(), Some(0), "{}", stderr(&got));
    let token = json(&got);
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 43199);
    let old_refresh = token["refresh_token"].as_str().unwrap().to_owned();
    assert!(server.access_token_valid(token["access_token"].as_str().unwrap()));

    let refreshed = refresh(&server, &old_refresh).await;
    assert_eq!(refreshed.status.code(), Some(0), "{}", stderr(&refreshed));
    assert_ne!(
        json(&refreshed)["refresh_token"].as_str().unwrap(),
        old_refresh
    );

    let again = refresh(&server, &old_refresh).await;
    assert_eq!(again.status.code(), Some(1));
    assert!(stdout(&again).is_empty());
    assert!(
        stderr(&again).contains("invalid_grant"),
        "{}",
        stderr(&again)
    );
    assert!(stderr(&again).contains("400"), "{}", stderr(&again));
}

#[tokio::test]
async fn configuration_errors_exit_2_without_echoing_secrets() {
    let server = MockServer::start(mock_config()).await.unwrap();
    let base = server.base_url();
    let bad_secret = "zz".repeat(32);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            get_with(&["--env", "dev", "--api-secret", &bad_secret]),
            "not hex",
        ),
        (
            get_with(&["--env", "dev", "--api-secret", "abcd"]),
            "64 hex characters",
        ),
        (get_with(&["--api-secret", SECRET]), "COBO_ENV"),
        (get_with(&["--env", "staging"]), "unknown environment"),
        (
            get_with(&[
                "--base-url",
                "ftp://nowhere",
                "--no-verify-response",
                "--api-secret",
                SECRET,
            ]),
            "invalid base URL",
        ),
        (
            get_with(&["--base-url", &base, "--api-secret", SECRET]),
            "COBO_RESPONSE_PUBKEY",
        ),
        (
            get_with(&[
                "--base-url",
                &base,
                "--response-pubkey",
                "xyz",
                "--api-secret",
                SECRET,
            ]),
            "response public key",
        ),
        (vec!["token", "get", "--client-id", "a"], "--org-id"),
        (
            vec![
                "sign",
                "--method",
                "GET",
                "--path",
                "/v2/x",
                "--nonce",
                "1",
                "--param",
                "novalue",
                "--api-secret",
                SECRET,
            ],
            "KEY=VALUE",
        ),
    ];
    for (args, expected) in cases {
        let output = cli(&args).await;
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(stdout(&output).is_empty(), "{args:?}");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            !stderr(&output).contains(&bad_secret) && !stderr(&output).contains(SECRET),
            "{args:?}"
        );
    }
    assert!(
        server.requests().is_empty(),
        "configuration errors send nothing"
    );
}

#[tokio::test]
async fn every_failure_path_exits_1_with_a_clear_message() {
    let cases: Vec<(Fault, &str)> = vec![
        (Fault::Unsigned, "response signature missing"),
        (Fault::BadSignature, "response signature invalid"),
        (Fault::MalformedJson, "invalid response body"),
        (
            Fault::Status {
                status: 500,
                body: r#"{"error_code":2000,"error_message":"try again","error_id":"e-42"}"#
                    .to_owned(),
                headers: vec![],
            },
            "code 2000: try again (error id e-42)",
        ),
        (Fault::DropConnection, "transport error"),
    ];
    for (fault, expected) in cases {
        let server = MockServer::start(mock_config()).await.unwrap();
        // GET is idempotent: the client retries transport failures, up to 3 attempts.
        server.inject(fault.clone(), 3);
        let output = against(
            &server,
            &["token", "get", "--client-id", "app", "--org-id", "org"],
        )
        .await;
        assert_eq!(
            output.status.code(),
            Some(1),
            "{fault:?}: {}",
            stderr(&output)
        );
        assert!(stdout(&output).is_empty(), "{fault:?}: {}", stdout(&output));
        assert!(
            stderr(&output).contains(expected),
            "{fault:?}: {}",
            stderr(&output)
        );
    }

    let server = MockServer::start(mock_config()).await.unwrap();
    server.inject(Fault::Delay(std::time::Duration::from_secs(3)), 3);
    let output = against(
        &server,
        &[
            "--timeout",
            "1",
            "token",
            "get",
            "--client-id",
            "app",
            "--org-id",
            "org",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("timed out"), "{}", stderr(&output));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{port}/v2");
    let output = cli(&get_with(&[
        "--base-url",
        &dead,
        "--no-verify-response",
        "--api-secret",
        SECRET,
    ]))
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("transport error"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn sign_matches_every_key_value_vector_of_the_python_sdk() {
    let vectors: serde_json::Value = serde_json::from_str(include_str!(
        "../../../tests/vectors/cobo-python-sdk-vectors.json"
    ))
    .unwrap();
    let mut checked = 0;
    for v in vectors["sign_vectors"].as_array().unwrap() {
        if v["curve"] != "ed25519" || v["params_is_pairs_list"] == true {
            continue;
        }
        let mut args: Vec<String> = [
            "--api-secret",
            v["private_key_hex"].as_str().unwrap(),
            "sign",
            "--method",
            v["method"].as_str().unwrap(),
            "--path",
            v["path"].as_str().unwrap(),
            "--nonce",
            v["nonce"].as_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for pair in v["params"].as_array().cloned().unwrap_or_default() {
            args.push("--param".to_owned());
            args.push(format!(
                "{}={}",
                pair[0].as_str().unwrap(),
                pair[1].as_str().unwrap()
            ));
        }
        if let Some(body) = v["body"].as_str() {
            args.push("--body".to_owned());
            args.push(body.to_owned());
        }
        let output = cli(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let printed = json(&output);
        assert_eq!(printed["string_to_sign"], v["str_to_sign"], "{}", v["id"]);
        assert_eq!(printed["api_key"], v["public_key_hex"], "{}", v["id"]);
        assert_eq!(printed["nonce"], v["nonce"], "{}", v["id"]);
        assert_eq!(printed["signature"], v["signature_hex"], "{}", v["id"]);
        checked += 1;
    }
    assert_eq!(checked, 13);
}

#[tokio::test]
async fn keygen_prints_a_working_key_pair() {
    let output = cli(&["keygen"]).await;
    assert_eq!(output.status.code(), Some(0));
    let pair = json(&output);
    let secret = pair["api_secret"].as_str().unwrap();
    let signed = cli(&[
        "--api-secret",
        secret,
        "sign",
        "--method",
        "GET",
        "--path",
        "/v2/x",
        "--nonce",
        "1",
    ])
    .await;
    assert_eq!(json(&signed)["api_key"], pair["api_key"]);
    assert_ne!(
        json(&cli(&["keygen"]).await)["api_secret"],
        pair["api_secret"]
    );
}

#[tokio::test]
async fn mock_server_command_serves_tokens() {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cobo-oauth"))
        .args(["mock-server", "--port", "0"])
        .env("COBO_API_SECRET", SECRET)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let info: serde_json::Value = serde_json::from_str(&first).unwrap();
    let output = cli(&[
        "--base-url",
        info["base_url"].as_str().unwrap(),
        "--response-pubkey",
        info["response_key"].as_str().unwrap(),
        "--api-secret",
        SECRET,
        "token",
        "get",
        "--client-id",
        "app",
        "--org-id",
        "org",
    ])
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        json(&output)["access_token"]
            .as_str()
            .is_some_and(|t| t.len() == 64)
    );
    child.kill().await.unwrap();
}

/// Runs the CLI with `envs` set and `input` on standard input, its standard output going to
/// `stdout_to` (captured when `None`).
async fn cli_with(
    args: &[&str],
    envs: &[(&str, &str)],
    input: &str,
    stdout_to: Option<std::fs::File>,
) -> Output {
    use tokio::io::AsyncWriteExt as _;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_cobo-oauth"));
    command
        .args(args)
        .env_remove("COBO_ENV")
        .env_remove("COBO_BASE_URL")
        .env_remove("COBO_API_SECRET")
        .env_remove("COBO_RESPONSE_PUBKEY")
        .env_remove("COBO_REFRESH_TOKEN")
        .envs(envs.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(match stdout_to {
            Some(file) => std::process::Stdio::from(file),
            None => std::process::Stdio::piped(),
        });
    let mut child = command.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    child.wait_with_output().await.unwrap()
}

/// The global options for `server`, without the API secret.
fn server_options(server: &MockServer) -> Vec<String> {
    vec![
        "--base-url".to_owned(),
        server.base_url(),
        "--response-pubkey".to_owned(),
        server.response_key_hex(),
    ]
}

fn strs(owned: &[String]) -> Vec<&str> {
    owned.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn secrets_come_from_the_environment_or_standard_input_never_argv() {
    let server = MockServer::start(mock_config()).await.unwrap();
    let mut args = server_options(&server);
    args.extend(["token", "get", "--client-id", "app", "--org-id", "org"].map(String::from));
    let from_env = cli_with(&strs(&args), &[("COBO_API_SECRET", SECRET)], "", None).await;
    assert_eq!(from_env.status.code(), Some(0), "{}", stderr(&from_env));

    let mut args = server_options(&server);
    args.extend(
        [
            "--api-secret",
            "-",
            "token",
            "get",
            "--client-id",
            "app",
            "--org-id",
            "org",
        ]
        .map(String::from),
    );
    let from_stdin = cli_with(&strs(&args), &[], &format!("{SECRET}\n"), None).await;
    assert_eq!(from_stdin.status.code(), Some(0), "{}", stderr(&from_stdin));
    let refresh_token = json(&from_stdin)["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut args = server_options(&server);
    args.extend(
        [
            "token",
            "refresh",
            "--client-id",
            "app",
            "--refresh-token",
            "-",
        ]
        .map(String::from),
    );
    let refreshed = cli_with(
        &strs(&args),
        &[("COBO_API_SECRET", SECRET)],
        &format!("{refresh_token}\n"),
        None,
    )
    .await;
    assert_eq!(refreshed.status.code(), Some(0), "{}", stderr(&refreshed));
    let by_env = cli_with(
        &strs(&args[..args.len() - 2]),
        &[
            ("COBO_API_SECRET", SECRET),
            (
                "COBO_REFRESH_TOKEN",
                json(&refreshed)["refresh_token"].as_str().unwrap(),
            ),
        ],
        "",
        None,
    )
    .await;
    assert_eq!(by_env.status.code(), Some(0), "{}", stderr(&by_env));

    let mut args = server_options(&server);
    args.extend(
        [
            "--api-secret",
            "-",
            "token",
            "refresh",
            "--client-id",
            "app",
            "--refresh-token",
            "-",
        ]
        .map(String::from),
    );
    let twice = cli_with(&strs(&args), &[], &format!("{SECRET}\n"), None).await;
    expect_exit(&twice, 2, "already reads standard input");
}

#[tokio::test]
async fn the_store_holds_the_new_pair_before_anything_is_printed() {
    let server = MockServer::start(mock_config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let env = [("COBO_API_SECRET", SECRET)];
    let store = path.to_str().unwrap();
    let mut args = server_options(&server);
    args.extend(
        [
            "token",
            "get",
            "--client-id",
            "app",
            "--org-id",
            "org",
            "--store",
            store,
        ]
        .map(String::from),
    );
    let got = cli_with(&strs(&args), &env, "", None).await;
    assert_eq!(got.status.code(), Some(0), "{}", stderr(&got));
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(saved["refresh_token"], json(&got)["refresh_token"]);
    assert_eq!(saved["org_id"], "org");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // Refresh the pair in the file, with standard output going nowhere: the pair is saved
    // first, and the failed write is an error, not a silent success.
    let mut args = server_options(&server);
    args.extend(["token", "refresh", "--client-id", "app", "--store", store].map(String::from));
    let full = std::fs::File::options()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let refreshed = cli_with(&strs(&args), &env, "", Some(full)).await;
    expect_exit(&refreshed, 1, "standard output");
    let after: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_ne!(
        after["refresh_token"], saved["refresh_token"],
        "the rotated pair was saved"
    );
    assert_eq!(after["version"], 2);
    assert!(server.access_token_valid(after["access_token"].as_str().unwrap()));
    assert!(!stderr(&refreshed).contains(after["refresh_token"].as_str().unwrap()));

    // Without --store, the same failure still exits non-zero.
    let mut args = server_options(&server);
    args.extend(["token", "get", "--client-id", "app", "--org-id", "org"].map(String::from));
    let full = std::fs::File::options()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let lost = cli_with(&strs(&args), &env, "", Some(full)).await;
    assert_eq!(lost.status.code(), Some(1), "{}", stderr(&lost));
}

#[tokio::test]
async fn a_signed_answer_without_tokens_exits_1() {
    let server = MockServer::start(mock_config()).await.unwrap();
    server.inject(
        Fault::Status {
            status: 200,
            body: "{}".to_owned(),
            headers: vec![],
        },
        1,
    );
    let output = against(
        &server,
        &["token", "get", "--client-id", "a", "--org-id", "o"],
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stdout(&output).is_empty());
    assert!(
        stderr(&output).contains("no access token"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn response_pubkey_off_is_accepted_like_the_library_accepts_it() {
    let server = MockServer::start(mock_config()).await.unwrap();
    let base = server.base_url();
    let output = cli(&get_with(&[
        "--base-url",
        &base,
        "--response-pubkey",
        "off",
        "--api-secret",
        SECRET,
    ]))
    .await;
    expect_exit(&output, 0, "verification is off");
}

#[tokio::test]
async fn a_mock_server_that_knows_no_key_refuses_to_start() {
    let output = cli(&["mock-server", "--port", "0"]).await;
    expect_exit(&output, 2, "--accept-any-key");
}

#[tokio::test]
async fn a_pair_that_cannot_be_saved_is_still_printed_and_the_exit_is_1() {
    let server = MockServer::start(mock_config()).await.unwrap();
    let issued = against(
        &server,
        &["token", "get", "--client-id", "app", "--org-id", "org"],
    )
    .await;
    let old = json(&issued)["refresh_token"].as_str().unwrap().to_owned();
    let output = against(
        &server,
        &[
            "token",
            "refresh",
            "--client-id",
            "app",
            "--refresh-token",
            &old,
            "--store",
            "/nonexistent-directory/tokens.json",
        ],
    )
    .await;
    expect_exit(&output, 1, "could not be saved");
    let printed = json(&output);
    let new = printed["refresh_token"].as_str().unwrap();
    assert_ne!(new, old);
    let again = refresh(&server, new).await;
    assert_eq!(
        again.status.code(),
        Some(0),
        "the printed refresh token works: {}",
        stderr(&again)
    );
}

#[tokio::test]
async fn a_signed_answer_without_an_access_token_still_prints_its_refresh_token() {
    let server = MockServer::start(mock_config()).await.unwrap();
    server.inject(Fault::OmitFields(vec!["access_token".to_owned()]), 1);
    let output = against(
        &server,
        &["token", "get", "--client-id", "app", "--org-id", "org"],
    )
    .await;
    expect_exit(&output, 1, "no access token");
    let refresh_token = json(&output)["refresh_token"].as_str().unwrap().to_owned();
    let refreshed = refresh(&server, &refresh_token).await;
    assert_eq!(refreshed.status.code(), Some(0), "{}", stderr(&refreshed));
}

#[tokio::test]
async fn a_store_file_of_another_organization_is_refused_before_anything_is_sent() {
    let server = MockServer::start(mock_config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("tokens.json");
    let store = store.to_str().unwrap();
    let first = against(
        &server,
        &[
            "token",
            "get",
            "--client-id",
            "app",
            "--org-id",
            "org-a",
            "--store",
            store,
        ],
    )
    .await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let before = std::fs::read(store).unwrap();
    let requests = server.requests().len();
    let other = against(
        &server,
        &[
            "token",
            "get",
            "--client-id",
            "app",
            "--org-id",
            "org-b",
            "--store",
            store,
        ],
    )
    .await;
    expect_exit(&other, 2, "org-a");
    assert_eq!(server.requests().len(), requests, "nothing was sent");
    assert_eq!(
        std::fs::read(store).unwrap(),
        before,
        "the file is untouched"
    );
}

#[tokio::test]
async fn a_refresh_token_given_for_a_store_file_must_be_its_organizations() {
    let server = MockServer::start(mock_config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.json");
    let store = path.to_str().unwrap();
    let run = |extra: &[&str], envs: Vec<(&'static str, String)>, input: String| {
        let mut args = server_options(&server);
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        async move {
            let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            cli_with(&strs(&args), &envs, &input, None).await
        }
    };
    let secret = || vec![("COBO_API_SECRET", SECRET.to_owned())];
    let got_a = run(
        &[
            "token",
            "get",
            "--client-id",
            "app",
            "--org-id",
            "org-a",
            "--store",
            store,
        ],
        secret(),
        String::new(),
    )
    .await;
    assert_eq!(got_a.status.code(), Some(0), "{}", stderr(&got_a));
    let got_b = run(
        &["token", "get", "--client-id", "app", "--org-id", "org-b"],
        secret(),
        String::new(),
    )
    .await;
    assert_eq!(got_b.status.code(), Some(0), "{}", stderr(&got_b));
    let token_b = json(&got_b)["refresh_token"].as_str().unwrap().to_owned();
    let before = std::fs::read(&path).unwrap();
    let requests = server.requests().len();

    // org-b's refresh token, given each way, never lands in org-a's file.
    let refresh = ["token", "refresh", "--client-id", "app", "--store", store];
    let on_argv = run(
        &[&refresh[..], &["--refresh-token", &token_b]].concat(),
        secret(),
        String::new(),
    )
    .await;
    expect_exit(&on_argv, 2, "--org-id \"org-a\"");
    let in_env = run(
        &refresh,
        vec![
            ("COBO_API_SECRET", SECRET.to_owned()),
            ("COBO_REFRESH_TOKEN", token_b.clone()),
        ],
        String::new(),
    )
    .await;
    expect_exit(&in_env, 2, "--org-id \"org-a\"");
    let on_stdin = run(
        &[&refresh[..], &["--refresh-token", "-"]].concat(),
        secret(),
        format!("{token_b}\n"),
    )
    .await;
    expect_exit(&on_stdin, 2, "--org-id \"org-a\"");
    let named_wrongly = run(
        &[
            &refresh[..],
            &["--org-id", "org-b", "--refresh-token", &token_b],
        ]
        .concat(),
        secret(),
        String::new(),
    )
    .await;
    expect_exit(&named_wrongly, 2, "org-a");
    for refused in [&on_argv, &in_env, &on_stdin, &named_wrongly] {
        assert!(!stderr(refused).contains(&token_b), "{}", stderr(refused));
    }
    assert_eq!(server.requests().len(), requests, "nothing was sent");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is untouched"
    );

    // Confirmed with --org-id, the file's own organization's refresh token is refreshed into it.
    let token_a = json(&got_a)["refresh_token"].as_str().unwrap().to_owned();
    let confirmed = run(
        &[&refresh[..], &["--org-id", "org-a"]].concat(),
        vec![
            ("COBO_API_SECRET", SECRET.to_owned()),
            ("COBO_REFRESH_TOKEN", token_a),
        ],
        String::new(),
    )
    .await;
    assert_eq!(confirmed.status.code(), Some(0), "{}", stderr(&confirmed));
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(saved["org_id"], "org-a");
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["refresh_token"], json(&confirmed)["refresh_token"]);

    // A new file takes a given refresh token, recorded under --org-id.
    let new_path = dir.path().join("b.json");
    let new_file = run(
        &[
            "token",
            "refresh",
            "--client-id",
            "app",
            "--org-id",
            "org-b",
            "--store",
            new_path.to_str().unwrap(),
            "--refresh-token",
            &token_b,
        ],
        secret(),
        String::new(),
    )
    .await;
    assert_eq!(new_file.status.code(), Some(0), "{}", stderr(&new_file));
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&new_path).unwrap()).unwrap();
    assert_eq!(saved["org_id"], "org-b");
    assert_eq!(saved["refresh_token"], json(&new_file)["refresh_token"]);
}
