//! Generates the client from `openapi/normalized.json` at build time, with `cobo-oauth-codegen`:
//! the code path `cargo xtask codegen` runs, so the committed copy in `generated/client.rs` is
//! exactly what this produces.

fn main() -> Result<(), cobo_oauth_codegen::CodegenError> {
    cobo_oauth_codegen::Codegen::new("openapi/normalized.json")
        .runtime("::cobo_oauth_runtime")
        .build()
}
