//! Generates this crate's Cobo client from its own spec, with `cobo-oauth-codegen`: the same
//! validation, normalization and settings as `cobo-oauth-gen`. A spec problem fails the build
//! with the operation and JSON pointer at fault.

fn main() -> Result<(), cobo_oauth_codegen::CodegenError> {
    cobo_oauth_codegen::generate("openapi/wallets.yaml")
}
