//! [`UnionTypes`]: the types of one discriminated `oneOf` of a spec, without any operation.
//!
//! For a crate that needs a spec's models but no client, e.g. `cobo-oauth-events` (the data of
//! Cobo's webhook events: `WebhookEventData`, a `oneOf` of 25 shapes chosen by `data_type`).
//! The output is one Rust file holding
//! - `pub mod types`: what typify makes of every shape the `oneOf` names (its discriminator's
//!   `mapping`, or its `$ref`s), the extra schemas asked for, and everything they reference,
//!   after the same normalization as a client (so the same rules repair the same defects). No
//!   struct builders: the types are for reading.
//! - an enum named by [`UnionTypes::enum_name`] with one variant per discriminator value
//!   (boxed: the shapes differ a lot in size) and `Unknown { tag, data }` keeping the JSON of a
//!   value the spec does not list, written back by `Serialize` as the data it holds, with
//!   `KNOWN` (the values), `tag()`, and `parse(tag, json)`
//!   which reads a known value's shape with `serde_path_to_error` (so its error says where
//!   reading stopped) and keeps any other as `Unknown`.
//!
//! The generated file uses the crates `serde`, `serde_json` and `serde_path_to_error`, the
//! runtime's `OpenEnum` (every use of an enum, at [`UnionTypes::runtime`]'s path), and whatever
//! typify's types use (`chrono`, `uuid`, `regress` for some specs).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use proc_macro2::TokenStream;
use progenitor::{GenerationSettings, InterfaceStyle, TagStyle};
use quote::quote;
use serde_json::{Value, json};

use crate::error::CodegenError;
use crate::generate::{DEFAULT_DEADLINE, HEADER};
use crate::locate::generate_checked;
use crate::normalize::naming::pascal;
use crate::normalize::{Normalized, normalize, pointer, subset};
use crate::settings::{DEFAULT_RUNTIME, RuntimePath, with_runtime_crate};
use crate::spec;
use crate::varnames::{self, VariantNames};

/// Generates the types of one discriminated `oneOf` of a spec and an open enum over its shapes.
#[derive(Clone, Debug)]
pub struct UnionTypes {
    spec: PathBuf,
    union: String,
    enum_name: String,
    extra: Vec<String>,
    runtime: String,
    deadline: Duration,
}

/// What [`UnionTypes::generate`] produced.
#[derive(Clone, Debug)]
pub struct GeneratedUnion {
    /// The discriminator's property, e.g. `data_type`.
    pub property: String,
    /// Each discriminator value and the schema it names, in the spec's order.
    pub variants: Vec<(String, String)>,
    /// What normalization did to the schemas.
    pub normalized: Normalized,
    /// The formatted Rust file.
    pub code: String,
}

impl UnionTypes {
    /// The types of `#/components/schemas/<union>` of the spec at `spec` (YAML or JSON).
    pub fn new(spec: impl Into<PathBuf>, union: &str) -> Self {
        Self {
            spec: spec.into(),
            union: union.to_owned(),
            enum_name: pascal(union),
            extra: Vec::new(),
            runtime: DEFAULT_RUNTIME.to_owned(),
            deadline: DEFAULT_DEADLINE,
        }
    }

    /// What `cobo-oauth-events` is generated with, from Cobo's official spec at `spec`: the
    /// webhook event data (`WebhookEventData`, chosen by `data_type`) as the enum `EventData`,
    /// and `Transaction` (the body of a transaction-approval callback).
    pub fn webhook_event_data(spec: impl Into<PathBuf>) -> Self {
        Self::new(spec, "WebhookEventData")
            .enum_name("EventData")
            .schema("Transaction")
    }

    /// The name of the generated enum, a Rust identifier (else [`Self::generate`] fails with
    /// [`CodegenError::Settings`]). Default: the `oneOf`'s schema name as typify names a type.
    pub fn enum_name(mut self, name: &str) -> Self {
        self.enum_name = name.to_owned();
        self
    }

    /// Generates `#/components/schemas/<schema>` (and what it references) too.
    pub fn schema(mut self, schema: &str) -> Self {
        self.extra.push(schema.to_owned());
        self
    }

    /// Where the generated types find the runtime's `OpenEnum` (every use of an enum is one,
    /// rule `open-enums`). Default [`DEFAULT_RUNTIME`] (`::cobo_oauth::runtime`), right for a
    /// crate that depends on `cobo-oauth`; `::cobo_oauth_runtime` for one that depends on
    /// `cobo-oauth-runtime` alone.
    pub fn runtime(mut self, path: impl Into<String>) -> Self {
        self.runtime = path.into();
        self
    }

    /// How long typify may take. Default [`DEFAULT_DEADLINE`].
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Reads, cuts the spec down to the shapes, normalizes and generates.
    pub fn generate(&self) -> Result<GeneratedUnion, CodegenError> {
        let runtime = RuntimePath::parse(&self.runtime)?;
        let spec = spec::load_spec(&self.spec)?;
        let (property, variants) = self.variants(&spec)?;
        let roots: Vec<Value> = variants
            .iter()
            .map(|(_, schema)| schema)
            .chain(&self.extra)
            .map(|schema| json!({ "$ref": format!("#/components/schemas/{schema}") }))
            .collect();
        let roots = Value::Array(roots);
        let refs: BTreeSet<String> = subset::closure(&spec, &roots);
        if let Some(missing) = refs.iter().find(|p| spec.pointer(p).is_none()) {
            return Err(self.invalid(format!("#{missing} is referenced but not defined")));
        }
        let normalized = normalize(subset::subset(&spec, json!({}), &refs))?;
        let (prepared, names) = varnames::prepare(&normalized.spec);
        let parsed: openapiv3::OpenAPI =
            serde_json::from_value(prepared).map_err(|e| CodegenError::Format(e.to_string()))?;
        let types = types_module(parsed, runtime, names, self.deadline)?;
        let enum_tokens = self.enum_tokens(&property, &variants)?;
        let tokens = quote! {
            #types
            #enum_tokens
        };
        let file: syn::File =
            syn::parse2(tokens).map_err(|e| CodegenError::Format(e.to_string()))?;
        Ok(GeneratedUnion {
            property,
            variants,
            normalized,
            code: format!("{HEADER}{}", prettyplease::unparse(&file)),
        })
    }

    fn invalid(&self, message: String) -> CodegenError {
        CodegenError::Settings(format!(
            "{}: #/components/schemas/{}: {message}",
            self.spec.display(),
            self.union
        ))
    }

    /// The discriminator's property and its values with their schemas: the `mapping`, or
    /// (as OpenAPI defines it without one) each `$ref` of the `oneOf` under its schema name.
    fn variants(&self, spec: &Value) -> Result<(String, Vec<(String, String)>), CodegenError> {
        let union = spec
            .pointer(&pointer::join("/components/schemas", &self.union))
            .ok_or_else(|| self.invalid("no such schema".into()))?;
        let property = union
            .pointer("/discriminator/propertyName")
            .and_then(Value::as_str)
            .ok_or_else(|| self.invalid("no discriminator.propertyName".into()))?;
        let schema_name = |reference: &str| {
            reference
                .strip_prefix("#/components/schemas/")
                .map(str::to_owned)
                .ok_or_else(|| self.invalid(format!("{reference} is not a schema of this spec")))
        };
        let variants = match union
            .pointer("/discriminator/mapping")
            .and_then(Value::as_object)
        {
            Some(mapping) => mapping
                .iter()
                .map(|(tag, target)| {
                    let target = target
                        .as_str()
                        .ok_or_else(|| self.invalid(format!("mapping {tag} is not a $ref")))?;
                    Ok((tag.clone(), schema_name(target)?))
                })
                .collect::<Result<Vec<_>, CodegenError>>()?,
            None => union
                .get("oneOf")
                .and_then(Value::as_array)
                .ok_or_else(|| self.invalid("not a oneOf".into()))?
                .iter()
                .map(|branch| {
                    let target = pointer::as_ref(branch)
                        .ok_or_else(|| self.invalid("a oneOf branch is not a $ref".into()))?;
                    let name = schema_name(target)?;
                    Ok((name.clone(), name))
                })
                .collect::<Result<Vec<_>, CodegenError>>()?,
        };
        if variants.is_empty() {
            return Err(self.invalid("the discriminator names no schema".into()));
        }
        let mut idents = BTreeSet::new();
        for (tag, _) in &variants {
            let ident = pascal(tag);
            if ident.is_empty() || ident == "Unknown" || !idents.insert(ident.clone()) {
                return Err(self.invalid(format!(
                    "the discriminator value {tag:?} gives the variant name {ident:?}, empty or taken"
                )));
            }
        }
        Ok((property.to_owned(), variants))
    }

    /// The enum over the shapes, its `KNOWN` values, `tag()` and `parse`. A variant is named
    /// after its value and a shape's type after its schema as typify names them ("1inch" is
    /// `X1inch`, "a-b" `AB`); the enum's name must be an identifier as given.
    fn enum_tokens(
        &self,
        property: &str,
        variants: &[(String, String)],
    ) -> Result<TokenStream, CodegenError> {
        let name = syn::parse_str::<syn::Ident>(&self.enum_name).map_err(|_| {
            self.invalid(format!(
                "the enum name {:?} is not a Rust identifier",
                self.enum_name
            ))
        })?;
        let union = &self.union;
        let ident = |text: &str| {
            let derived = pascal(text);
            syn::parse_str::<syn::Ident>(&derived).map_err(|_| {
                self.invalid(format!(
                    "{text:?} gives {derived:?}, which is not a Rust identifier"
                ))
            })
        };
        let idents = variants
            .iter()
            .map(|(tag, _)| ident(tag))
            .collect::<Result<Vec<_>, _>>()?;
        let types = variants
            .iter()
            .map(|(_, schema)| ident(schema))
            .collect::<Result<Vec<_>, _>>()?;
        let tags: Vec<&str> = variants.iter().map(|(tag, _)| tag.as_str()).collect();
        let docs: Vec<String> = variants
            .iter()
            .map(|(tag, schema)| format!("`{property}` `{tag}`: `#/components/schemas/{schema}`."))
            .collect();
        let enum_doc = format!(
            "`#/components/schemas/{union}`, chosen by `{property}`: a variant per value the spec \
             lists, and [`{name}::Unknown`] for any other."
        );
        let unknown_doc = format!("A `{property}` the spec does not list: the data as received.");
        let tag_doc = format!("The `{property}` of the data.");
        Ok(quote! {
            #[doc = #enum_doc]
            #[derive(Clone, Debug)]
            #[non_exhaustive]
            pub enum #name {
                #(
                    #[doc = #docs]
                    #idents(::std::boxed::Box<types::#types>),
                )*
                #[doc = #unknown_doc]
                Unknown {
                    #[doc = #tag_doc]
                    tag: ::std::string::String,
                    /// The data, as received.
                    data: ::serde_json::Value,
                },
            }

            /// Writes the data of the variant: the shape's fields, or the unknown data as received.
            impl ::serde::Serialize for #name {
                fn serialize<S: ::serde::Serializer>(
                    &self,
                    serializer: S,
                ) -> ::std::result::Result<S::Ok, S::Error> {
                    match self {
                        #(Self::#idents(data) => ::serde::Serialize::serialize(data, serializer),)*
                        Self::Unknown { data, .. } => ::serde::Serialize::serialize(data, serializer),
                    }
                }
            }

            impl #name {
                /// Every value the spec lists, in its order.
                pub const KNOWN: &'static [&'static str] = &[#(#tags),*];

                #[doc = #tag_doc]
                pub fn tag(&self) -> &str {
                    match self {
                        #(Self::#idents(_) => #tags,)*
                        Self::Unknown { tag, .. } => tag,
                    }
                }

                /// Reads `data` as the shape `tag` names, or keeps it as `Unknown` when the
                /// spec lists no such value. The error says where reading stopped.
                pub fn parse(
                    tag: &str,
                    data: ::serde_json::Value,
                ) -> ::std::result::Result<Self, ::serde_path_to_error::Error<::serde_json::Error>> {
                    match tag {
                        #(#tags => ::serde_path_to_error::deserialize(data)
                            .map(|data| Self::#idents(::std::boxed::Box::new(data))),)*
                        _ => ::std::result::Result::Ok(Self::Unknown {
                            tag: ::std::borrow::ToOwned::to_owned(tag),
                            data,
                        }),
                    }
                }
            }
        })
    }
}

/// typify's types of every schema of `spec`, as `pub mod types { ... }`, on a thread of its own
/// with a large stack (typify recurses through nested schemas), given up after `deadline`; the
/// enums `names` names get their wire values back ([`crate::varnames`]).
fn types_module(
    spec: openapiv3::OpenAPI,
    runtime: RuntimePath,
    names: VariantNames,
    deadline: Duration,
) -> Result<TokenStream, CodegenError> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("cobo-oauth-codegen-types".to_owned())
        .stack_size(64 * 1024 * 1024)
        .spawn(move || {
            let _ = sender.send(types_text(&spec, &runtime, &names));
        })
        .map_err(|e| CodegenError::Internal(format!("cannot start the generator thread: {e}")))?;
    let text = match receiver.recv_timeout(deadline) {
        Ok(text) => text?,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            return Err(CodegenError::Deadline(deadline));
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            return Err(CodegenError::Internal(
                "the generator thread stopped without an answer".to_owned(),
            ));
        }
    };
    text.parse()
        .map_err(|e: proc_macro2::LexError| CodegenError::Format(e.to_string()))
}

/// progenitor's `types` module for `spec` as text (tokens cannot leave their thread).
/// The open enums' `x-rust-type` names the runtime crate: mapped as for a client.
fn types_text(
    spec: &openapiv3::OpenAPI,
    runtime: &RuntimePath,
    names: &VariantNames,
) -> Result<String, CodegenError> {
    let mut settings = GenerationSettings::new();
    with_runtime_crate(&mut settings, runtime);
    settings
        .with_interface(InterfaceStyle::Positional)
        .with_tag(TagStyle::Merged);
    let tokens = generate_checked(spec, &settings)?;
    let mut file: syn::File =
        syn::parse2(tokens).map_err(|e| CodegenError::Format(e.to_string()))?;
    varnames::restore(&mut file, names)?;
    file.items
        .into_iter()
        .find_map(|item| match item {
            syn::Item::Mod(mut module) if module.ident == "types" => {
                // progenitor's doc speaks of operations; there are none here.
                module.attrs.retain(|attr| !attr.path().is_ident("doc"));
                Some(
                    quote! {
                        /// The types of the shapes and of what they reference, from the spec's schemas.
                        #module
                    }
                    .to_string(),
                )
            }
            _ => None,
        })
        .ok_or_else(|| CodegenError::Internal("progenitor generated no `types` module".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    \
        Pet:\n      oneOf: [{$ref: '#/components/schemas/Cat'}, {$ref: '#/components/schemas/DogData'}]\n      \
        discriminator: {propertyName: kind}\n    \
        Cat: {type: object, required: [kind], properties: {kind: {type: string}, lives: {$ref: '#/components/schemas/Lives'}, \
              mood: {$ref: '#/components/schemas/Mood'}}}\n    \
        Mood: {type: string, enum: [calm, angry]}\n    \
        Lives: {type: integer}\n    \
        DogData: {type: object, required: [kind, id], properties: {kind: {type: string}}}\n    \
        Unused: {type: object, properties: {x: {type: string}}}\n";

    fn spec_file() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("pets.yaml");
        std::fs::write(&path, SPEC).unwrap_or_else(|e| panic!("{e}"));
        (dir, path)
    }

    #[test]
    fn a_discriminated_one_of_without_mapping_gives_a_variant_per_schema_and_only_what_they_use() {
        let (_dir, path) = spec_file();
        let generated = UnionTypes::new(&path, "Pet")
            .generate()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(generated.property, "kind");
        assert_eq!(
            generated.variants,
            [
                ("Cat".to_owned(), "Cat".to_owned()),
                ("DogData".to_owned(), "DogData".to_owned())
            ]
        );
        let code = generated.code.replace(char::is_whitespace, "");
        for expected in [
            "pubenumPet{",
            "Cat(::std::boxed::Box<types::Cat>)",
            "DogData(::std::boxed::Box<types::DogData>)",
            "Unknown{",
            "pubconstKNOWN:&'static[&'staticstr]=&[\"Cat\",\"DogData\"];",
            "pubstructLives(",
        ] {
            assert!(
                code.contains(expected),
                "no {expected} in {}",
                generated.code
            );
        }
        // Neither the union itself nor a schema no shape references is generated.
        assert!(!code.contains("pubstructUnused"), "{}", generated.code);
        assert_eq!(code.matches("pubenumPet").count(), 1, "{}", generated.code);
        // `required` naming no property is normalized (and reported) as for a client.
        assert!(
            generated
                .normalized
                .report()
                .contains("/components/schemas/DogData/required")
        );
    }

    #[test]
    fn every_use_of_an_enum_is_the_runtimes_open_enum_at_the_runtime_path() {
        let (_dir, path) = spec_file();
        for (runtime, open) in [
            (None, "::cobo_oauth::runtime::OpenEnum<Mood>"),
            (
                Some("::cobo_oauth_runtime"),
                "::cobo_oauth_runtime::OpenEnum<Mood>",
            ),
        ] {
            let union = UnionTypes::new(&path, "Pet");
            let union = match runtime {
                Some(runtime) => union.runtime(runtime),
                None => union,
            };
            let generated = union.generate().unwrap_or_else(|e| panic!("{e}"));
            let code = generated.code.replace(char::is_whitespace, "");
            assert!(
                code.contains(&format!("pubmood:::std::option::Option<{open}>")),
                "{}",
                generated.code
            );
            assert!(code.contains("pubenumMood{"), "{}", generated.code);
            assert!(!code.contains("mood:::std::option::Option<::serde_json::Value>"));
        }
        assert!(matches!(
            UnionTypes::new(&path, "Pet").runtime("crate::x").generate(),
            Err(CodegenError::Settings(_))
        ));
    }

    #[test]
    fn names_that_are_not_rust_identifiers_give_typifys_names_or_a_typed_error() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("swaps.yaml");
        std::fs::write(
            &path,
            "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    \
             swap-data:\n      oneOf: [{$ref: '#/components/schemas/1inch-swap'}, {$ref: '#/components/schemas/a-b'}]\n      \
             discriminator: {propertyName: venue, mapping: {1inch: '#/components/schemas/1inch-swap', a-b: '#/components/schemas/a-b'}}\n    \
             1inch-swap: {type: object, properties: {venue: {type: string}}}\n    \
             a-b: {type: object, properties: {venue: {type: string}}}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let generated = UnionTypes::new(&path, "swap-data")
            .generate()
            .unwrap_or_else(|e| panic!("{e}"));
        let code = generated.code.replace(char::is_whitespace, "");
        for expected in [
            "pubenumSwapData{",
            "X1inch(::std::boxed::Box<types::X1inchSwap>)",
            "AB(::std::boxed::Box<types::AB>)",
            "pubstructX1inchSwap{",
            "pubstructAB{",
            "Self::X1inch(_)=>\"1inch\"",
        ] {
            assert!(
                code.contains(expected),
                "no {expected} in {}",
                generated.code
            );
        }
        // The enum's name is the caller's: one that is not an identifier is refused by name.
        for name in ["1inch", "a-b", "type", ""] {
            match UnionTypes::new(&path, "swap-data")
                .enum_name(name)
                .generate()
            {
                Err(CodegenError::Settings(message)) => {
                    assert!(message.contains(&format!("{name:?}")), "{message}")
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn enums_whose_values_are_not_identifiers_get_named_variants_with_their_wire_values() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("rules.yaml");
        std::fs::write(
            &path,
            "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    \
             Rule:\n      oneOf: [{$ref: '#/components/schemas/Limit'}]\n      discriminator: {propertyName: kind}\n    \
             Limit: {type: object, properties: {kind: {type: string}, op: {$ref: '#/components/schemas/Op'}}}\n    \
             Op: {type: string, enum: ['>', '>=', '<']}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let generated = UnionTypes::new(&path, "Rule")
            .generate()
            .unwrap_or_else(|e| panic!("{e}"));
        let code = generated.code.replace(char::is_whitespace, "");
        for expected in [
            "pubenumOp{#[serde(rename=\">\")]Gt,#[serde(rename=\">=\")]Ge,#[serde(rename=\"<\")]Lt,}",
            "Self::Ge=>f.write_str(\">=\")",
            "pubop:::std::option::Option<::cobo_oauth::runtime::OpenEnum<Op>>",
        ] {
            assert!(
                code.contains(expected),
                "no {expected} in {}",
                generated.code
            );
        }
    }

    #[test]
    fn a_schema_that_is_not_a_discriminated_one_of_is_refused_by_name() {
        let (_dir, path) = spec_file();
        for union in ["Cat", "Missing"] {
            match UnionTypes::new(&path, union).generate() {
                Err(CodegenError::Settings(message)) => {
                    assert!(message.contains(union), "{message}")
                }
                other => panic!("{union}: {other:?}"),
            }
        }
    }
}
