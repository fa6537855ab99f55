//! A spec with a shape no normalization rule handles fails this crate's own `build.rs` with
//! the operation and the JSON pointer at fault: the test builds a copy of the crate's build
//! script with `cargo`, next to a small broken spec.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::process::Command;

/// A spec whose one operation takes a cookie parameter, which progenitor cannot generate and no
/// rule rewrites (Cobo's spec has none).
const BROKEN: &str = r#"openapi: 3.0.3
info: {title: broken, version: "1"}
paths:
  /wallets/{wallet_id}:
    get:
      operationId: get_wallet_by_id
      parameters:
        - {name: wallet_id, in: path, required: true, schema: {type: string}}
        - {name: session, in: cookie, required: true, schema: {type: string}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: string}
"#;

#[test]
fn a_spec_no_rule_handles_fails_the_build_with_the_operation_and_pointer() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = here.parent().and_then(Path::parent).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let codegen = workspace.join("cobo-oauth-codegen");
    std::fs::write(
        dir.path().join("Cargo.toml"),
        format!(
            "[package]\nname = \"broken-spec\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
             [build-dependencies]\ncobo-oauth-codegen = {{ path = {:?} }}\n[workspace]\n",
            codegen.display().to_string()
        ),
    )
    .unwrap();
    // This crate's build script, as it is, reading the broken spec at its spec's path.
    std::fs::copy(here.join("build.rs"), dir.path().join("build.rs")).unwrap();
    std::fs::create_dir_all(dir.path().join("openapi")).unwrap();
    std::fs::write(dir.path().join("openapi/wallets.yaml"), BROKEN).unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), "").unwrap();
    // The same versions as the workspace, all in the local cache.
    std::fs::copy(workspace.join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();

    let mut cargo = Command::new(env!("CARGO"));
    // Not this test's cargo settings (its package, its jobserver): a build of its own.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if (name.starts_with("CARGO_") && name != "CARGO_HOME") || name.ends_with("MAKEFLAGS") {
            cargo.env_remove(name);
        }
    }
    let output = cargo
        .args(["build", "--offline", "--quiet"])
        .current_dir(dir.path())
        // Kept between runs, apart from the workspace's own target directory (which the
        // running `cargo test` holds).
        .env(
            "CARGO_TARGET_DIR",
            workspace.join("target/broken-spec-check"),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the build must fail:\n{stderr}");
    assert!(
        stderr.contains("failed to run custom build command for `broken-spec"),
        "{stderr}"
    );
    assert!(
        stderr.contains("operation get_wallet_by_id at /paths/~1wallets~1{wallet_id}/get")
            && stderr.contains("cookie parameters are not supported"),
        "{stderr}"
    );
}
