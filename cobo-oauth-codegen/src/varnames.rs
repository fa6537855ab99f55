//! Enum variants named by `x-enum-varnames`, their values kept as their wire form.
//!
//! typify 0.8 names a variant after its value and has no setting for another name, so an enum
//! whose values are not identifiers (`>`, `>=`, `<`...) cannot be generated as it is. The
//! normalization step (rule `enum-non-identifier-values`) names the variants in
//! `x-enum-varnames`; here the generator hands typify those names as the values ([`prepare`]),
//! then gives each variant of the Rust enum its value back ([`restore`]): a
//! `#[serde(rename = ">")]` on the variant, and the value in place of the name in the enum's
//! `Display` and `FromStr`. The normalized spec itself (what the mock and a reader see) keeps
//! the values.
//!
//! [`restore`] finds each enum by the Rust name typify gives it (the component's name, or the
//! inline enum's `title`, as typify sanitizes them). An enum it does not find there, or whose
//! variants are not the names it handed typify, fails generation
//! ([`CodegenError::VariantNames`]) rather than send `Gt` on the wire where Cobo expects `>`.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Group, Literal, TokenStream, TokenTree};
use quote::ToTokens;
use serde_json::Value;

use crate::error::CodegenError;
use crate::normalize::{VARNAMES, naming::pascal};

/// For each Rust enum (by type name): its variants' names and their wire values.
#[derive(Clone, Debug, Default)]
pub struct VariantNames {
    /// Each enum's variants' names and wire values, by the Rust type name typify should give it.
    enums: BTreeMap<String, Vec<(String, String)>>,
    /// Type names two enums with different variants would share (typify cannot give both the
    /// name, so [`restore`] could not tell them apart).
    clashing: BTreeSet<String>,
}

/// The spec typify sees: every enum with [`VARNAMES`] has the names as its values (and its
/// `default`); with what [`restore`] needs to put the values back.
pub fn prepare(spec: &Value) -> (Value, VariantNames) {
    let mut prepared = spec.clone();
    let mut names = VariantNames::default();
    visit(&mut prepared, &mut Vec::new(), &mut names);
    (prepared, names)
}

/// Walks every object of the document (the `x-rust-type` parameters too).
fn visit(value: &mut Value, path: &mut Vec<String>, names: &mut VariantNames) {
    match value {
        Value::Object(map) => {
            if let Some((type_name, pairs)) = rename(map, path) {
                match names.enums.get(&type_name) {
                    Some(known) if *known != pairs => {
                        names.clashing.insert(type_name);
                    }
                    Some(_) => {}
                    None => {
                        names.enums.insert(type_name, pairs);
                    }
                }
            }
            for (key, child) in map.iter_mut() {
                path.push(key.clone());
                visit(child, path, names);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter_mut().enumerate() {
                path.push(index.to_string());
                visit(child, path, names);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Puts an enum's names in place of its values; its Rust type's name and the pairs.
fn rename(
    map: &mut serde_json::Map<String, Value>,
    path: &[String],
) -> Option<(String, Vec<(String, String)>)> {
    let varnames: Vec<String> = map
        .get(VARNAMES)?
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect::<Option<_>>()?;
    let type_name = match path {
        [components, schemas, name] if components == "components" && schemas == "schemas" => {
            pascal(name)
        }
        _ => pascal(map.get("title")?.as_str()?),
    };
    let values = map.get("enum")?.as_array()?;
    let wire: Vec<String> = values
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    if wire.len() != varnames.len() {
        return None;
    }
    let pairs: Vec<(String, String)> = varnames.into_iter().zip(wire).collect();
    let name_of = |v: &Value| {
        v.as_str()
            .and_then(|s| pairs.iter().find(|(_, wire)| wire == s))
            .map(|(name, _)| Value::String(name.clone()))
    };
    let renamed: Vec<Value> = values
        .iter()
        .map(|v| name_of(v).unwrap_or_else(|| v.clone()))
        .collect();
    map.insert("enum".into(), Value::Array(renamed));
    if let Some(default) = map.get("default").and_then(name_of) {
        map.insert("default".into(), default);
    }
    Some((type_name, pairs))
}

/// Gives the enums of the generated file their wire values back; fails naming each enum it did
/// not find as expected (no enum of that name, or not every variant named), whose variants
/// would otherwise go on the wire as their names.
pub fn restore(file: &mut syn::File, names: &VariantNames) -> Result<(), CodegenError> {
    if names.enums.is_empty() && names.clashing.is_empty() {
        return Ok(());
    }
    let mut found = BTreeMap::new();
    restore_items(&mut file.items, names, &mut found);
    let mut problems: Vec<String> = names
        .clashing
        .iter()
        .map(|name| format!("{name}: two enums with different {VARNAMES} would both be named so"))
        .collect();
    for (name, pairs) in &names.enums {
        let expected = pairs
            .iter()
            .map(|(variant, wire)| format!("{variant} ({wire:?})"))
            .collect::<Vec<_>>()
            .join(", ");
        match found.get(name) {
            None => problems.push(format!(
                "{name} with variants {expected}: typify generated no enum of that name"
            )),
            Some(sent) => {
                let absent: Vec<String> = pairs
                    .iter()
                    .filter(|(_, wire)| !sent.contains(wire))
                    .map(|(_, wire)| format!("{wire:?}"))
                    .collect();
                if !absent.is_empty() {
                    problems.push(format!(
                        "{name} with variants {expected}: no variant is sent as {}",
                        absent.join(", ")
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CodegenError::VariantNames(problems))
    }
}

/// Restores the enums among `items` (and in their modules); `found` gets, for each enum, what
/// its variants are sent as once restored.
fn restore_items(
    items: &mut [syn::Item],
    names: &VariantNames,
    found: &mut BTreeMap<String, BTreeSet<String>>,
) {
    for item in items {
        let pairs = match item {
            syn::Item::Mod(module) => {
                if let Some((_, inner)) = &mut module.content {
                    restore_items(inner, names, found);
                }
                continue;
            }
            syn::Item::Enum(e) => names.enums.get(&e.ident.to_string()),
            syn::Item::Impl(i) => match &*i.self_ty {
                syn::Type::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
                    names.enums.get(&p.path.segments[0].ident.to_string())
                }
                _ => None,
            },
            _ => None,
        };
        let Some(pairs) = pairs else { continue };
        let literals: BTreeMap<String, &str> = pairs
            .iter()
            .map(|(name, wire)| (Literal::string(name).to_string(), wire.as_str()))
            .collect();
        let replaced = replace_literals(item.to_token_stream(), &literals);
        if let Ok(parsed) = syn::parse2::<syn::Item>(replaced) {
            *item = parsed;
        }
        if let syn::Item::Enum(e) = item {
            for variant in &mut e.variants {
                let renamed = variant.attrs.iter().any(|a| {
                    a.path().is_ident("serde") && a.to_token_stream().to_string().contains("rename")
                });
                let wire = pairs
                    .iter()
                    .find(|(name, _)| variant.ident == name)
                    .map(|(_, wire)| wire);
                if let (false, Some(wire)) = (renamed, wire) {
                    variant
                        .attrs
                        .push(syn::parse_quote!(#[serde(rename = #wire)]));
                }
            }
            found.insert(
                e.ident.to_string(),
                e.variants.iter().map(sent_as).collect(),
            );
        }
    }
}

/// What serde sends a unit variant as: its `#[serde(rename = "...")]`, else its name.
fn sent_as(variant: &syn::Variant) -> String {
    let mut renamed = None;
    for attr in variant.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        // An attribute that does not parse as serde's leaves the name as it is.
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                renamed = Some(meta.value()?.parse::<syn::LitStr>()?.value());
            } else if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            }
            Ok(())
        });
    }
    renamed.unwrap_or_else(|| variant.ident.to_string())
}

/// `tokens` with each string literal that is a variant's name replaced by its wire value.
fn replace_literals(tokens: TokenStream, literals: &BTreeMap<String, &str>) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Group(group) => {
                let mut replaced = Group::new(
                    group.delimiter(),
                    replace_literals(group.stream(), literals),
                );
                replaced.set_span(group.span());
                TokenTree::Group(replaced)
            }
            TokenTree::Literal(literal) => match literals.get(&literal.to_string()) {
                Some(wire) => TokenTree::Literal(Literal::string(wire)),
                None => TokenTree::Literal(literal),
            },
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typify_sees_the_names_and_the_rust_enum_gets_the_values_back() {
        let spec = json!({"components": {"schemas": {
            "Op": {"type": "string", "enum": [">", ">=", null], "default": ">=",
                "x-enum-varnames": ["Gt", "Ge"]},
            "T": {"properties": {"o": {"x-rust-type": {"parameters": [
                {"title": "t-o", "enum": ["<"], "x-enum-varnames": ["Lt"]}]}}}}}}});
        let (prepared, names) = prepare(&spec);
        assert_eq!(
            prepared["components"]["schemas"]["Op"]["enum"],
            json!(["Gt", "Ge", null])
        );
        assert_eq!(
            prepared["components"]["schemas"]["Op"]["default"],
            json!("Ge")
        );
        assert_eq!(
            names.enums["Op"],
            [
                ("Gt".to_owned(), ">".to_owned()),
                ("Ge".to_owned(), ">=".to_owned())
            ]
        );
        assert_eq!(names.enums["TO"], [("Lt".to_owned(), "<".to_owned())]);

        // What typify generates from the prepared spec, in short.
        let mut file: syn::File = syn::parse_quote! {
            pub mod types {
                pub enum Op { Gt, #[serde(rename = "Ge")] Ge }
                impl ::std::fmt::Display for Op {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        match *self { Self::Gt => f.write_str("Gt"), Self::Ge => f.write_str("Ge") }
                    }
                }
                pub enum TO { Lt }
                pub struct Other { a: &'static str }
                impl Other { const A: &'static str = "Gt"; }
            }
        };
        restore(&mut file, &names).unwrap_or_else(|e| panic!("{e}"));
        let code = file.to_token_stream().to_string();
        assert!(
            code.contains(
                r#"pub enum Op { # [serde (rename = ">")] Gt , # [serde (rename = ">=")] Ge }"#
            ),
            "{code}"
        );
        assert!(
            code.contains(r#"Self :: Gt => f . write_str (">")"#),
            "{code}"
        );
        assert!(
            code.contains(r#"Self :: Ge => f . write_str (">=")"#),
            "{code}"
        );
        // Another type's literals are left alone.
        assert!(code.contains(r#"const A : & 'static str = "Gt""#), "{code}");
    }

    #[test]
    fn an_enum_typify_named_otherwise_fails_generation_naming_it() {
        let spec = json!({"components": {"schemas": {
            "Op": {"type": "string", "enum": [">", ">="], "x-enum-varnames": ["Gt", "Ge"]},
            "Cmp": {"type": "string", "enum": ["<", "="], "x-enum-varnames": ["Lt", "Eq"]}}}});
        let (_, names) = prepare(&spec);
        // typify named `Op` `Op2` (say, for a clash), and gave `Cmp` no `Eq`.
        let mut file: syn::File = syn::parse_quote! {
            pub mod types {
                pub enum Op2 { Gt, Ge }
                pub enum Cmp { Lt, Equal }
            }
        };
        match restore(&mut file, &names) {
            Err(CodegenError::VariantNames(problems)) => assert_eq!(
                problems,
                [
                    "Cmp with variants Lt (\"<\"), Eq (\"=\"): no variant is sent as \"=\"",
                    "Op with variants Gt (\">\"), Ge (\">=\"): typify generated no enum of that name",
                ]
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_variant_typify_renamed_counts_by_what_it_is_sent_as() {
        // The official spec names `Approved` `APPROVED`: typify's variant is `Approved`, with
        // the name handed to it as its serde rename, which gets the wire value back.
        let spec = json!({"components": {"schemas": {"Result": {"type": "string",
            "enum": ["Approved"], "x-enum-varnames": ["APPROVED"]}}}});
        let (_, names) = prepare(&spec);
        let mut file: syn::File = syn::parse_quote! {
            pub enum Result { #[serde(rename = "APPROVED", alias = "ok")] Approved }
        };
        restore(&mut file, &names).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            file.to_token_stream().to_string(),
            r#"pub enum Result { # [serde (rename = "Approved" , alias = "ok")] Approved }"#
        );
    }

    #[test]
    fn two_enums_with_one_rust_name_and_different_variants_fail_generation() {
        let spec = json!({"components": {"schemas": {
            "Op": {"type": "string", "enum": [">"], "x-enum-varnames": ["Gt"]},
            "T": {"properties": {"o": {"title": "op", "type": "string", "enum": ["<"],
                "x-enum-varnames": ["Lt"]}}}}}});
        let (_, names) = prepare(&spec);
        let mut file: syn::File = syn::parse_quote! { pub enum Op { Gt } };
        match restore(&mut file, &names) {
            Err(CodegenError::VariantNames(problems)) => {
                assert_eq!(
                    problems,
                    ["Op: two enums with different x-enum-varnames would both be named so"]
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
