//! progenitor's settings for a Cobo client, and the one setting a user may change: where the
//! generated code finds the shared runtime (`Hooks`, `Operation`, `SecretText`).

use proc_macro2::TokenStream;
use progenitor::{CrateVers, GenerationSettings, HooksMode, InterfaceStyle, TagStyle};
use quote::quote;

use crate::error::CodegenError;
use crate::normalize::open_enums::RUNTIME_CRATE;

/// The runtime path of a client generated in a crate that depends on `cobo-oauth` (the usual
/// case): `cobo_oauth::runtime` re-exports the `cobo-oauth-runtime` crate.
pub const DEFAULT_RUNTIME: &str = "::cobo_oauth::runtime";

/// The extension the normalization step puts on secret strings (`access_token`,
/// `refresh_token`); such strings are generated as the runtime's `SecretText`.
pub const SECRET_EXTENSION: &str = "x-cobo-secret";

/// The Rust path of the runtime crate (or a re-export of it), checked to be a path.
#[derive(Clone, Debug)]
pub struct RuntimePath(String);

impl RuntimePath {
    /// Parses `path`, e.g. `::cobo_oauth::runtime` or `::cobo_oauth_runtime`.
    /// It must start with a crate's name (the open enums' `x-rust-type` names the runtime
    /// crate by its path), not `crate`, `self` or `super`.
    pub fn parse(path: &str) -> Result<Self, CodegenError> {
        let parsed = syn::parse_str::<syn::Path>(path)
            .map_err(|e| CodegenError::Settings(format!("runtime path {path:?}: {e}")))?;
        match parsed.segments.first() {
            Some(first)
                if !matches!(first.ident.to_string().as_str(), "crate" | "self" | "super") =>
            {
                Ok(Self(path.to_owned()))
            }
            _ => Err(CodegenError::Settings(format!(
                "runtime path {path:?}: must start with a crate's name, e.g. ::cobo_oauth::runtime"
            ))),
        }
    }

    /// The path as `x-rust-type` renames a crate to (typify puts `::` before it).
    fn as_crate(&self) -> String {
        self.0.trim_start_matches("::").replace(' ', "")
    }

    /// `<runtime>::<item>` as tokens.
    pub fn item(&self, item: &str) -> TokenStream {
        let path: syn::Path = syn::parse_str(&self.0).unwrap_or_else(|_| syn::parse_quote!(self));
        let item = syn::Ident::new(item, proc_macro2::Span::call_site());
        quote!(#path::#item)
    }
}

/// progenitor's settings: builder-style methods, one `Client`, hooks that must be implemented
/// (`HooksMode::Expected`, so no request can leave without going through the runtime's
/// `Hooks`), strings marked [`SECRET_EXTENSION`] as the runtime's `SecretText`, and the
/// `x-rust-type`s naming `cobo-oauth-runtime` (the open enums) at the runtime's path.
pub fn progenitor_settings(runtime: &RuntimePath) -> GenerationSettings {
    let mut settings = GenerationSettings::new();
    with_runtime_crate(&mut settings, runtime);
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged)
        .with_inner_type(runtime.item("Hooks"))
        .with_hooks(HooksMode::Expected)
        .with_conversion(
            secret_string_schema(),
            runtime.item("SecretText").to_string().replace(' ', ""),
            std::iter::empty(),
        );
    settings
}

/// Maps the crate the open enums' `x-rust-type` names ([`RUNTIME_CRATE`]) to `runtime`.
/// Without it typify takes `x-rust-type` for a crate it may not use and falls back to an
/// untyped `serde_json::Value` for every enum use: every generation that normalizes (a
/// client, [`crate::UnionTypes`]) must call it.
pub fn with_runtime_crate(settings: &mut GenerationSettings, runtime: &RuntimePath) {
    settings.with_crate(RUNTIME_CRATE, CrateVers::Any, Some(&runtime.as_crate()));
}

/// The schema progenitor hands typify for a string marked with [`SECRET_EXTENSION`] (typify
/// compares schemas without their description and examples).
fn secret_string_schema() -> schemars::schema::SchemaObject {
    let mut extensions = schemars::Map::new();
    extensions.insert(SECRET_EXTENSION.to_owned(), serde_json::Value::Bool(true));
    schemars::schema::SchemaObject {
        instance_type: Some(schemars::schema::InstanceType::String.into()),
        extensions,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runtime_path_must_be_a_rust_path() {
        assert_eq!(
            RuntimePath::parse("::cobo_oauth::runtime")
                .map(|p| p.item("Hooks").to_string().replace(' ', ""))
                .unwrap_or_default(),
            "::cobo_oauth::runtime::Hooks"
        );
        assert!(matches!(
            RuntimePath::parse("cobo oauth"),
            Err(CodegenError::Settings(_))
        ));
        assert!(matches!(
            RuntimePath::parse("crate::runtime"),
            Err(CodegenError::Settings(_))
        ));
        assert_eq!(
            RuntimePath::parse("::cobo_oauth::runtime")
                .map(|p| p.as_crate())
                .unwrap_or_default(),
            "cobo_oauth::runtime"
        );
    }
}
