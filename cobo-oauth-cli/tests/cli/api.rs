//! `cobo-oauth api METHOD PATH` against the embedded mock: checked against Cobo's official spec
//! before anything is sent, signed (the mock checks every signature), with an organization's
//! Bearer token from a directory store (renewed and saved), the answer verified and printed.

#![allow(clippy::unwrap_used, missing_docs)]

use cobo_oauth_mock::{Answer, Fault, MockConfig, MockServer};
use serde_json::json;

const SECRET: &str = "a84fa52a55b98b9bcfd79fb55e019b002b4bb23a6654708cfe7dd1d46c55e950";
const WALLET_ID: &str = "f47ac10b-58cc-4372-a567-0e02b2c3d479";

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
        .env_remove("COBO_CLIENT_ID")
        .output()
        .await
        .unwrap()
}

fn stdout_json(output: &std::process::Output) -> serde_json::Value {
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The mock, accepting the CLI's key, answering `GET /wallets` and `GET /wallets/{wallet_id}`
/// (both need the Bearer token, as Cobo's spec says), and a directory store holding org-1's
/// pair (granted by `tokens grant`).
async fn mock_and_store() -> (MockServer, tempfile::TempDir, String) {
    use cobo_oauth::signing::Signer as _;
    let signer = cobo_oauth::signing::Ed25519Signer::from_hex(SECRET).unwrap();
    let server = MockServer::start(MockConfig::accepting(signer.api_key().as_str()))
        .await
        .unwrap();
    let wallet = json!({"wallet_id": WALLET_ID, "wallet_type": "Custodial", "name": "Treasury"});
    server.answer(
        "GET",
        "/wallets",
        Answer::ok(
            json!({"data": [wallet], "pagination": {"before": "", "after": "", "total_count": 1}}),
        ),
    );
    server.answer("GET", "/wallets/{wallet_id}", Answer::ok(wallet));
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("orgs").to_str().unwrap().to_owned();
    let granted = cli(
        &server,
        &[
            "tokens",
            "grant",
            "--client-id",
            "app",
            "--org-id",
            "org-1",
            "--store",
            &store,
        ],
    )
    .await;
    assert!(granted.status.success(), "{granted:?}");
    (server, dir, store)
}

fn org_args(store: &str) -> [&str; 6] {
    ["--client-id", "app", "--org-id", "org-1", "--store", store]
}

#[tokio::test]
async fn a_call_with_the_orgs_bearer_token_prints_the_verified_answer() {
    let (server, _dir, store) = mock_and_store().await;
    let mut args = vec![
        "api",
        "GET",
        "/wallets",
        "-q",
        "limit=2",
        "--param",
        "wallet_type=Custodial",
    ];
    args.extend(org_args(&store));
    let answer = stdout_json(&cli(&server, &args).await);
    assert_eq!(answer["data"][0]["name"], "Treasury");
    let sent = server.requests().pop().unwrap();
    assert_eq!(sent.path, "/v2/wallets");
    assert_eq!(sent.query, "limit=2&wallet_type=Custodial");
    assert!(sent.authorization.unwrap().starts_with("Bearer "));

    // A concrete path with a leading /v2 finds its operation.
    let path = format!("/v2/wallets/{WALLET_ID}");
    let mut args = vec!["api", "get", path.as_str()];
    args.extend(org_args(&store));
    assert_eq!(
        stdout_json(&cli(&server, &args).await)["wallet_id"],
        WALLET_ID
    );
}

#[tokio::test]
async fn an_expired_token_is_renewed_and_the_new_pair_saved() {
    let (server, _dir, store) = mock_and_store().await;
    server.expire_access_tokens();
    let mut args = vec!["api", "GET", "/wallets"];
    args.extend(org_args(&store));
    assert_eq!(
        stdout_json(&cli(&server, &args).await)["data"][0]["name"],
        "Treasury"
    );
    assert_eq!(server.max_refresh_token_presentations(), 1);
    let listed = stdout_json(
        &cli(
            &server,
            &["tokens", "list", "--client-id", "app", "--store", &store],
        )
        .await,
    );
    assert_eq!(listed[0]["version"], 2, "{listed}");
}

#[tokio::test]
async fn a_body_is_checked_then_sent_as_json() {
    let (server, _dir, _store) = mock_and_store().await;
    server.answer(
        "POST",
        "/transactions/transfer",
        Answer {
            status: 201,
            bearer: cobo_oauth_mock::Bearer::NotRequired,
            ..Answer::ok(
                json!({"request_id": "r-1", "transaction_id": "t-1", "status": "Submitted"}),
            )
        },
    );
    let body = json!({
        "request_id": "r-1",
        "request_type": "Transfer",
        "source": {"source_type": "Asset", "wallet_id": WALLET_ID},
        "token_id": "ETH",
        "destination": {"destination_type": "Address"}
    });
    // Without --store: signed with the API key alone (an organization's own key).
    let output = cli(
        &server,
        &[
            "api",
            "POST",
            "/transactions/transfer",
            "--body",
            &body.to_string(),
        ],
    )
    .await;
    assert_eq!(stdout_json(&output)["transaction_id"], "t-1");
    let sent = server.requests().pop().unwrap();
    assert!(sent.authorization.is_none());
    let sent: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(sent, body);
}

#[tokio::test]
async fn what_the_spec_does_not_hold_is_refused_with_the_valid_ones_before_sending() {
    let (server, _dir, store) = mock_and_store().await;
    let before = server.requests().len();
    let cases: [(&[&str], &[&str]); 6] = [
        (
            &["api", "GET", "/walets"],
            &["no operation of the spec at /walets"],
        ),
        (
            &["api", "GET", "/wallets/x/nothing/at/all"],
            &["valid paths under /wallets", "GET /wallets/{wallet_id}"],
        ),
        (&["api", "PATCH", "/wallets"], &["valid: ", "GET /wallets"]),
        (
            &["api", "GET", "/wallets", "-q", "limt=2"],
            &["\"limt\"", "valid: ", "limit", "after"],
        ),
        (
            &["api", "GET", "/wallets", "-q", "limit=two"],
            &["limit must be an integer"],
        ),
        (
            &[
                "api",
                "POST",
                "/transactions/transfer",
                "--body",
                r#"{"request_idd": 1}"#,
            ],
            &["no property \"request_idd\"", "destination"],
        ),
    ];
    for (args, expected) in cases {
        let output = cli(&server, args).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        for text in expected {
            assert!(
                stderr(&output).contains(text),
                "{args:?}: {}",
                stderr(&output)
            );
        }
    }
    // An operation that takes a token, with --store but no organization.
    let output = cli(&server, &["api", "GET", "/wallets", "--store", &store]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--org-id"), "{}", stderr(&output));
    assert_eq!(server.requests().len(), before, "nothing was sent");
}

#[tokio::test]
async fn cobos_errors_and_a_tampered_answer_exit_1_typed() {
    let (server, _dir, store) = mock_and_store().await;
    // No Bearer token: Cobo's 401 with error 2024.
    let output = cli(&server, &["api", "GET", "/wallets"]).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(stderr(&output).contains("code 2024"), "{}", stderr(&output));
    assert!(output.stdout.is_empty());

    server.inject(Fault::TamperBody, 1);
    let mut args = vec!["api", "GET", "/wallets"];
    args.extend(org_args(&store));
    let output = cli(&server, &args).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(stderr(&output).contains("signature"), "{}", stderr(&output));
    assert!(
        output.stdout.is_empty(),
        "a rejected answer is never printed"
    );
}

#[tokio::test]
async fn list_and_describe_show_the_specs_operations() {
    let (server, _dir, _store) = mock_and_store().await;
    let listed = stdout_json(&cli(&server, &["api", "--list"]).await);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 270);
    assert!(listed.iter().any(|op| op["operation_id"] == "list_wallets"
        && op["method"] == "GET"
        && op["path"] == "/wallets"
        && op["bearer"] == true));

    let described = stdout_json(&cli(&server, &["api", "--describe", "/wallets"]).await);
    let list = described
        .as_array()
        .unwrap()
        .iter()
        .find(|op| op["method"] == "GET")
        .unwrap();
    let query: Vec<&str> = list["query_parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        query.contains(&"limit") && query.contains(&"after"),
        "{query:?}"
    );
    let create = described
        .as_array()
        .unwrap()
        .iter()
        .find(|op| op["method"] == "POST")
        .unwrap();
    assert_eq!(create["operation_id"], "create_wallet");
    assert_eq!(create["body"]["media_type"], "application/json");

    let concrete = stdout_json(
        &cli(
            &server,
            &["api", "--describe", &format!("/wallets/{WALLET_ID}")],
        )
        .await,
    );
    assert!(
        concrete
            .as_array()
            .unwrap()
            .iter()
            .any(|op| op["operation_id"] == "get_wallet_by_id")
    );
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| !r.path.ends_with("/oauth/token"))
            .count(),
        0
    );
}

#[tokio::test]
async fn a_multipart_operation_takes_files_sent_and_signed_as_the_python_sdk_does() {
    let (server, dir, store) = mock_and_store().await;
    server.answer(
        "POST",
        "/payments/files",
        Answer {
            status: 201,
            ..Answer::ok(json!({"file_id": "https://files.example/kyc", "expired_timestamp": 1}))
        },
    );
    let file = dir.path().join("kyc.pdf");
    std::fs::write(&file, b"%PDF-1.4 \x00\xff").unwrap();
    let file = file.to_str().unwrap();
    let mut args = vec![
        "api",
        "POST",
        "/payments/files",
        "--file",
        file,
        "--file-type",
        "application/pdf",
    ];
    args.extend(org_args(&store));
    let answer = stdout_json(&cli(&server, &args).await);
    assert_eq!(answer["file_id"], "https://files.example/kyc");
    // The mock verified the signature (an empty signed body) before keeping the form.
    let sent = server.requests().pop().unwrap();
    assert!(sent.body_kept);
    let body = String::from_utf8_lossy(&sent.body).into_owned();
    assert!(
        body.contains("name=\"file\"; filename=\"kyc.pdf\"\r\nContent-Type: application/pdf"),
        "{body}"
    );
    assert!(
        sent.body.windows(2).any(|w| w == b"\x00\xff"),
        "the file's bytes"
    );

    // A JSON body, an unknown field, or no file at all: refused before sending.
    let before = server.requests().len();
    for (extra, expected) in [
        (vec!["--body", "{}"], "give --file, not --body"),
        (
            vec!["--file", "photo=/dev/null"],
            "no field \"photo\"; valid: file",
        ),
        (vec![], "give --file for file"),
    ] {
        let mut args = vec!["api", "POST", "/payments/files"];
        args.extend(extra);
        let output = cli(&server, &args).await;
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        assert!(stderr(&output).contains(expected), "{}", stderr(&output));
    }
    assert_eq!(server.requests().len(), before);
}

#[tokio::test]
async fn a_path_the_url_would_rewrite_is_refused_before_sending() {
    let (server, _dir, store) = mock_and_store().await;
    let before = server.requests().len();
    // Each fits `GET /wallets/{wallet_id}` segment by segment, but the URL parser would send
    // another path (`/v2/`, `/v2/wallets`, ...), signed and with the Bearer token.
    for path in [
        "/wallets/..",
        "/wallets/.",
        "/wallets/%2e%2e",
        "/wallets/%2E%2E",
        "/wallets/.%2E",
        "/wallets/%2e",
        "/v2/wallets/..",
    ] {
        let mut args = vec!["api", "GET", path];
        args.extend(org_args(&store));
        let output = cli(&server, &args).await;
        assert_eq!(output.status.code(), Some(2), "{path}: {output:?}");
        assert!(
            stderr(&output).contains("`.` and `..` segments"),
            "{path}: {}",
            stderr(&output)
        );
    }
    for path in ["/wallets/x\\..", "/wallets/abc#x"] {
        let mut args = vec!["api", "GET", path];
        args.extend(org_args(&store));
        let output = cli(&server, &args).await;
        assert_eq!(output.status.code(), Some(2), "{path}: {output:?}");
        assert!(
            stderr(&output).contains("would not send as given"),
            "{path}: {}",
            stderr(&output)
        );
    }
    assert_eq!(server.requests().len(), before, "nothing was sent");
}

#[tokio::test]
async fn the_token_operations_are_left_to_the_token_commands() {
    let (server, _dir, _store) = mock_and_store().await;
    let before = server.requests().len();
    let refresh = json!({"client_id": "app", "grant_type": "refresh_token", "refresh_token": "r"});
    let refresh = refresh.to_string();
    let cases: [&[&str]; 4] = [
        &[
            "api",
            "GET",
            "/oauth/token",
            "-q",
            "client_id=app",
            "-q",
            "org_id=org-1",
            "-q",
            "grant_type=org_implicit",
        ],
        &["api", "POST", "/oauth/token", "--body", &refresh],
        &["api", "POST", "/v2/oauth/token", "--body", &refresh],
        &[
            "api",
            "POST",
            "/oauth/permission_token/refresh",
            "--body",
            "{}",
        ],
    ];
    for args in cases {
        let output = cli(&server, args).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        let said = stderr(&output);
        assert!(
            said.contains("cobo-oauth token get|refresh") && said.contains("tokens grant"),
            "{args:?}: {said}"
        );
    }
    assert_eq!(server.requests().len(), before, "nothing was sent");
}

/// A call answered "token expired" renews the pair, which Redis refuses to save: the library
/// does not send the call again with a pair it could not save, so the call's own error is said
/// (it was dropped before: only the store's failure was named), then the pair printed, exit 1.
/// (Were the call answered, its answer would be printed first; the library never sends a call
/// with an unsaved pair today.)
#[cfg(feature = "redis")]
#[tokio::test]
async fn a_renewed_pair_that_cannot_be_saved_is_printed_with_the_calls_outcome() {
    use cobo_oauth::signing::Signer as _;
    let signer = cobo_oauth::signing::Ed25519Signer::from_hex(SECRET).unwrap();
    let server = MockServer::start(MockConfig::accepting(signer.api_key().as_str()))
        .await
        .unwrap();
    server.answer(
        "GET",
        "/wallets/{wallet_id}",
        Answer::ok(json!({"wallet_id": WALLET_ID, "name": "Treasury"})),
    );
    let redis = super::tokens_store::Redis::start();
    let run = |url: String, args: Vec<String>| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_cobo-oauth"))
            .args(["--base-url", &server.base_url()])
            .args(["--response-pubkey", &server.response_key_hex()])
            .args(args)
            .args(["--client-id", "app", "--org-id", "org-1", "--store", &url])
            .env("COBO_API_SECRET", SECRET)
            .env("COBO_TOKEN_PLAINTEXT", "1")
            .env_remove("COBO_TOKEN_ENCRYPTION_KEY")
            .env_remove("COBO_ENV")
            .env_remove("COBO_BASE_URL")
            .env_remove("COBO_RESPONSE_PUBKEY")
            .env_remove("COBO_TOKEN_STORE")
            .env_remove("COBO_CLIENT_ID")
            .output()
    };
    // The pair, granted and saved by the default user.
    let granted = run(
        format!("redis://127.0.0.1:{}/0", redis.port),
        vec!["tokens".into(), "grant".into()],
    )
    .await
    .unwrap();
    assert!(granted.status.success(), "{granted:?}");
    // A user who may take the lease but only read pairs: the renewal's save is refused.
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
    server.expire_access_tokens();
    let path = format!("/wallets/{WALLET_ID}");
    let output = run(
        format!("redis://cli:pw@127.0.0.1:{}/0", redis.port),
        vec!["api".into(), "GET".into(), path],
    )
    .await
    .unwrap();
    let said = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(said.contains("could not be saved"), "{said}");
    assert!(said.contains("the call failed too"), "{said}");
    assert!(
        said.contains("error: token store") && said.contains("refused the request"),
        "the call's own error: {said}"
    );
    let printed: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&output.stdout)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    assert_eq!(printed.len(), 1, "{printed:?}");
    assert_eq!(printed[0]["org_id"], "org-1", "the pair");
    assert_eq!(printed[0]["version"], 2);
    assert!(server.access_token_valid(printed[0]["access_token"].as_str().unwrap()));
    // Sent once, with the token Cobo had expired (answered 1000), never with the unsaved pair.
    let sent = server
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/v2/wallets"))
        .count();
    assert_eq!(sent, 1);
}

#[tokio::test]
async fn a_file_that_is_not_regular_or_too_large_is_refused_before_it_is_read() {
    let (server, dir, _store) = mock_and_store().await;
    let before = server.requests().len();
    // Sparse: 20 MiB and one byte, nothing written to disk.
    let large = dir.path().join("large.bin");
    std::fs::File::create(&large)
        .unwrap()
        .set_len(20 * 1024 * 1024 + 1)
        .unwrap();
    let half = dir.path().join("half.bin");
    std::fs::File::create(&half)
        .unwrap()
        .set_len(10 * 1024 * 1024 + 1)
        .unwrap();
    let half = half.to_str().unwrap();
    let folder = dir.path().to_str().unwrap();
    let cases: [(Vec<&str>, &str); 4] = [
        // Without the check, read whole: memory runs out.
        (vec!["--file", "/dev/zero"], "not a regular file"),
        (vec!["--file", folder], "not a regular file"),
        (
            vec!["--file", large.to_str().unwrap()],
            "at most 20 MiB together",
        ),
        (
            vec!["--file", half, "--file", half],
            "at most 20 MiB together",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["api", "POST", "/payments/files"];
        args.extend(&extra);
        let output = cli(&server, &args).await;
        assert_eq!(output.status.code(), Some(2), "{extra:?}: {output:?}");
        assert!(
            stderr(&output).contains(expected),
            "{extra:?}: {}",
            stderr(&output)
        );
    }
    assert_eq!(server.requests().len(), before, "nothing was sent");
}

#[tokio::test]
async fn a_spec_with_a_recursive_schema_is_read_and_called() {
    let (server, dir, _store) = mock_and_store().await;
    server.answer(
        "POST",
        "/things",
        Answer {
            bearer: cobo_oauth_mock::Bearer::NotRequired,
            ..Answer::ok(json!({"name": "made"}))
        },
    );
    // `Thing` is all of itself and more: read without end, it overflowed the stack.
    let spec = dir.path().join("recursive.yaml");
    std::fs::write(
        &spec,
        r##"
openapi: 3.0.3
paths:
  /things:
    post:
      operationId: create_thing
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Thing'}
components:
  schemas:
    Thing:
      allOf:
        - $ref: '#/components/schemas/Thing'
        - type: object
          required: [name]
          properties: {name: {type: string}}
"##,
    )
    .unwrap();
    let spec = spec.to_str().unwrap();
    let call = |body: &'static str| {
        let server = &server;
        async move {
            cli(
                server,
                &["api", "--spec", spec, "POST", "/things", "--body", body],
            )
            .await
        }
    };
    assert_eq!(stdout_json(&call(r#"{"name": "x"}"#).await)["name"], "made");
    let refused = call(r#"{"nam": "x"}"#).await;
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        stderr(&refused).contains("valid: name"),
        "{}",
        stderr(&refused)
    );
}

#[tokio::test]
async fn a_body_of_another_type_than_the_schemas_is_refused() {
    let (server, _dir, _store) = mock_and_store().await;
    let before = server.requests().len();
    // An array skipped every property check, the required ones too, and was sent.
    for body in ["[]", r#"[{"request_id": "r"}]"#, "\"r\"", "7"] {
        let output = cli(
            &server,
            &["api", "POST", "/transactions/transfer", "--body", body],
        )
        .await;
        assert_eq!(output.status.code(), Some(2), "{body}: {output:?}");
        assert!(
            stderr(&output).contains("must be a JSON object, not "),
            "{body}: {}",
            stderr(&output)
        );
    }
    assert_eq!(server.requests().len(), before, "nothing was sent");
}
