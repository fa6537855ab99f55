//! Generates the client from `openapi/normalized.json` with progenitor, at build time.
//!
//! The settings and the code path live in `codegen/mod.rs`, which `cargo xtask codegen` shares, so
//! the committed copy in `generated/client.rs` is exactly what this produces.

#[path = "codegen/mod.rs"]
mod codegen;

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=codegen");
    println!("cargo:rerun-if-changed={}", codegen::NORMALIZED_SPEC);

    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let result = std::fs::read_to_string(codegen::NORMALIZED_SPEC)
        .map_err(|e| codegen::CodegenError::Read(format!("{}: {e}", codegen::NORMALIZED_SPEC)))
        .and_then(|json| codegen::parse_spec(&json))
        .and_then(|spec| codegen::generate(&spec))
        .and_then(|code| {
            std::fs::write(out_dir.join("client.rs"), code)
                .map_err(|e| codegen::CodegenError::Read(format!("writing OUT_DIR/client.rs: {e}")))
        });
    if let Err(error) = result {
        eprintln!("error: cobo-oauth-gen: {error}");
        eprintln!("hint: run `cargo xtask codegen` after changing the spec in openapi/");
        std::process::exit(1);
    }
}
