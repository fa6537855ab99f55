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
