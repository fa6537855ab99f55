//! `cargo xtask` as a new user runs it, on a copy of the workspace: `--check` catches a stale
//! spec, `add-endpoint` + `codegen` give the client a new method, `--out` writes a crate.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Copies what xtask reads and writes into a temporary workspace.
fn copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "openapi/cobo-oauth.yaml",
        "openapi/cobo-waas2-openapi.yaml",
        "cobo-oauth-gen/Cargo.toml",
        "cobo-oauth-gen/openapi/normalized.json",
        "cobo-oauth-gen/generated/client.rs",
        "cobo-oauth-events/generated/events.rs",
    ] {
        let to = dir.path().join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(workspace().join(file), to).unwrap();
    }
    dir
}

fn xtask(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("XTASK_WORKSPACE_ROOT", root)
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn check_fails_on_a_stale_spec_and_passes_after_codegen() {
    let root = copy();
    let check = xtask(root.path(), &["codegen", "--check"]);
    assert!(check.status.success(), "{}", stderr(&check));

    let spec = root.path().join("openapi/cobo-oauth.yaml");
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(text.contains("summary: Get Org Access Token"));
    std::fs::write(
        &spec,
        text.replace(
            "summary: Get Org Access Token",
            "summary: Get an Org Access Token",
        ),
    )
    .unwrap();

    let stale = xtask(root.path(), &["codegen", "--check"]);
    assert_eq!(stale.status.code(), Some(1));
    assert!(
        stderr(&stale).contains("cobo-oauth-gen/openapi/normalized.json"),
        "{}",
        stderr(&stale)
    );

    assert!(xtask(root.path(), &["codegen"]).status.success());
    let check = xtask(root.path(), &["codegen", "--check"]);
    assert!(check.status.success(), "{}", stderr(&check));
}

#[test]
fn adding_get_wallets_gives_the_client_a_new_method() {
    let root = copy();
    let added = xtask(root.path(), &["add-endpoint", "GET", "/wallets"]);
    assert!(added.status.success(), "{}", stderr(&added));
    let spec = std::fs::read_to_string(root.path().join("openapi/cobo-oauth.yaml")).unwrap();
    assert!(
        spec.starts_with("# Cobo WaaS 2.0"),
        "the header comment is kept"
    );
    assert!(spec.contains("operationId: list_wallets"));

    let generated = xtask(root.path(), &["codegen"]);
    assert!(generated.status.success(), "{}", stderr(&generated));
    let code =
        std::fs::read_to_string(root.path().join("cobo-oauth-gen/generated/client.rs")).unwrap();
    assert!(code.contains("pub fn list_wallets(&self)"));
    // GET /wallets accepts an Org Access Token: the client will send the bearer with it.
    let row = |id: &str| {
        let table = code.split("pub const OPERATIONS").nth(1).unwrap();
        let row = table.split(&format!("id: \"{id}\"")).nth(1).unwrap();
        row.split('}').next().unwrap().to_owned()
    };
    assert!(
        row("list_wallets").contains("accepts_oauth2: true"),
        "{}",
        row("list_wallets")
    );
    assert!(
        row("get_token").contains("accepts_oauth2: false"),
        "{}",
        row("get_token")
    );
    assert!(
        code.contains("pub fn get_token(&self)") && code.contains("pub fn refresh_token(&self)")
    );

    // Importing it again changes nothing; an unknown one is named.
    let again = xtask(root.path(), &["add-endpoint", "GET", "/wallets"]);
    assert!(
        again.status.success() && stderr(&again).contains("already there: GET /wallets"),
        "{}",
        stderr(&again)
    );
    let unchanged = std::fs::read_to_string(root.path().join("openapi/cobo-oauth.yaml")).unwrap();
    assert_eq!(unchanged, spec);
    let missing = xtask(root.path(), &["add-endpoint", "GET", "/no/such/path"]);
    assert!(
        !missing.status.success()
            && stderr(&missing)
                .contains("no operation of the source spec matches GET /no/such/path"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn add_endpoint_copies_by_operation_id_and_tag_into_any_spec_file() {
    let root = copy();
    let mine = root.path().join("mine/cobo.yaml");
    let added = xtask(
        root.path(),
        &[
            "add-endpoint",
            "--operation-id",
            "get_wallet_by_id",
            "--tag",
            "Developers",
            "--into",
            mine.to_str().unwrap(),
        ],
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let spec = read_yaml(&mine);
    let ids: Vec<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op.get("operationId").and_then(|id| id.as_str()))
        .collect();
    assert!(ids.contains(&"get_wallet_by_id"), "{ids:?}");
    assert!(
        ids.len() > 1,
        "the Developers tag brings its operations: {ids:?}"
    );
    assert!(spec.pointer("/components/securitySchemes/OAuth2").is_some());
    // The new file generates a client of its own.
    let out = root.path().join("mine-client");
    let written = xtask(
        root.path(),
        &[
            "codegen",
            "--spec",
            mine.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(written.status.success(), "{}", stderr(&written));
    let code = std::fs::read_to_string(out.join("src/generated.rs")).unwrap();
    assert!(code.contains("pub fn get_wallet_by_id(&self)"));

    let none = xtask(
        root.path(),
        &["add-endpoint", "--into", mine.to_str().unwrap()],
    );
    assert!(!none.status.success(), "a selection is required");
}

fn read_yaml(path: &Path) -> serde_json::Value {
    cobo_oauth_codegen::load_spec(path).unwrap()
}

#[test]
fn out_writes_a_standalone_crate() {
    let root = copy();
    let out = root.path().join("standalone");
    let spec = root.path().join("openapi/cobo-oauth.yaml");
    let written = xtask(
        root.path(),
        &[
            "codegen",
            "--spec",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(written.status.success(), "{}", stderr(&written));
    let manifest = std::fs::read_to_string(out.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("progenitor-client") && manifest.contains("[workspace]"),
        "{manifest}"
    );
    // The runtime by absolute path, so the crate builds wherever DIR is.
    let runtime = root.path().join("cobo-oauth-runtime");
    assert!(
        manifest.contains(&format!("path = \"{}\"", runtime.display())),
        "{manifest}"
    );
    let lib = std::fs::read_to_string(out.join("src/generated.rs")).unwrap();
    assert!(lib.contains("pub fn get_token(&self)"));
    // The glue is generated and refers to the shared hooks: no copied hand-written file.
    assert!(
        lib.contains("impl progenitor_client::ClientHooks<::cobo_oauth_runtime::Hooks> for Client")
    );
    assert!(!out.join("src/hooks.rs").exists());
}

#[test]
fn a_spec_that_is_not_openapi_is_a_clear_error() {
    let root = copy();
    let bad = root.path().join("bad.yaml");
    let out = root.path().join("x");
    let generate = || {
        xtask(
            root.path(),
            &[
                "codegen",
                "--spec",
                bad.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        )
    };
    std::fs::write(&bad, "openapi: 2.0\npaths: {}\n").unwrap();
    let output = generate();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("expected 3.0.x"),
        "{}",
        stderr(&output)
    );
    std::fs::write(&bad, ": : not yaml [").unwrap();
    let output = generate();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("not a YAML or JSON document"),
        "{}",
        stderr(&output)
    );
}
