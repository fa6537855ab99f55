//! Tests against Cobo's official spec (skipped when the file is absent).

use std::collections::{BTreeMap, BTreeSet};

use progenitor::GenerationSettings;
use serde_json::{Value, json};

use super::{normalize, operations, subset};
use crate::locate::generate_checked;

/// Cobo's official spec, as committed in `openapi/`.
const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../openapi/cobo-waas2-openapi.yaml"
);

fn official() -> Option<Value> {
    Some(serde_yaml::from_str(&std::fs::read_to_string(SPEC).ok()?).unwrap())
}

fn settings() -> GenerationSettings {
    crate::settings::progenitor_settings(
        &crate::settings::RuntimePath::parse(crate::settings::DEFAULT_RUNTIME)
            .unwrap_or_else(|e| panic!("{e}")),
    )
}

#[test]
fn official_spec_rewrites_only_what_is_needed() {
    let Some(input) = official() else { return };
    let out = normalize(input.clone()).unwrap();
    assert!(out.skipped.is_empty());
    assert_eq!(operations::list(&out.spec).len(), 270);
    // Every use of an enum is open: none is left closed (and noted).
    assert!(out.notes.is_empty(), "{:?}", out.notes);
    let mut per_rule: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for c in &out.changes {
        per_rule
            .entry(c.rule)
            .or_default()
            .insert(c.operation.clone().unwrap_or_else(|| c.pointer.clone()));
    }
    let expect = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        per_rule["enum-non-identifier-values"],
        expect(&["/components/schemas/PolicyFieldOperator"])
    );
    assert_eq!(
        per_rule["unsupported-body-media-type"],
        expect(&["upload_payment_file"])
    );
    assert_eq!(
        per_rule["merge-error-schemas"],
        expect(&[
            "get_token",
            "refresh_token",
            "exchange_permission_token",
            "refresh_permission_token"
        ])
    );
    let secrets = &per_rule["secret-token-strings"];
    assert!(
        secrets
            .iter()
            .all(|p| p.ends_with("/access_token") || p.ends_with("/refresh_token")),
        "{secrets:?}"
    );
    assert_eq!(secrets.len(), 8, "{secrets:?}");
    // Required names without a property: the ones that break deserializing real payloads.
    let required = &per_rule["required-without-property"];
    for schema in [
        "WebhookEvent",
        "Transaction",
        "TransferParams",
        "TokenListing",
    ] {
        assert!(
            required.contains(&format!("/components/schemas/{schema}/required")),
            "{schema}: {required:?}"
        );
    }
    // Every allOf of plain objects is merged; TransactionDetails' two fee oneOfs intersect by
    // fee_type into named variants.
    let merged = &per_rule["merge-all-of"];
    for schema in [
        "TransactionDetails",
        "TransactionWebhookEventData",
        "MPCWalletInfo",
    ] {
        assert!(
            merged.contains(&format!("/components/schemas/{schema}")),
            "{schema}: {merged:?}"
        );
    }
    let schemas = &out.spec["components"]["schemas"];
    assert_eq!(
        schemas["TransactionDetails"]["properties"]["fee"],
        json!({"$ref": "#/components/schemas/TransactionDetailsFee"})
    );
    assert_eq!(
        schemas["TransactionDetailsFee"]["discriminator"]["mapping"]
            .as_object()
            .map(|m| m.keys().cloned().collect::<BTreeSet<_>>()),
        Some(expect(&[
            "EVM_EIP_1559",
            "EVM_Legacy",
            "FIL",
            "Fixed",
            "SOL",
            "UTXO"
        ]))
    );
    // The properties both fee models define: the actual fee and the limits asked for.
    let evm = &schemas["TransactionDetailsFeeEvmEip1559"]["properties"];
    for property in [
        "fee_used",
        "effective_gas_price",
        "max_fee_per_gas",
        "gas_limit",
    ] {
        assert!(evm.get(property).is_some(), "{property}: {evm}");
    }
    // No enum is used closed: every property, items, map value and parameter or body schema
    // that is (or refers to) an enum is now the runtime's OpenEnum of it.
    let opened = &per_rule["open-enums"];
    assert!(
        opened.contains("/components/schemas/Transaction"),
        "{opened:?}"
    );
    assert!(
        opened.contains("/components/parameters/optionalTransactionStatusParam"),
        "{opened:?}"
    );
    for location in super::schemas::list(&out.spec) {
        let schema = out.spec.pointer(&location.pointer).unwrap();
        let last = location.pointer.rsplit('/').nth(1).unwrap_or_default();
        let is_use = last == "properties"
            || ["items", "additionalProperties", "schema"]
                .iter()
                .any(|k| location.pointer.ends_with(&format!("/{k}")));
        let target = super::pointer::deref(&out.spec, schema).unwrap().0;
        assert!(
            !(is_use && target.get("enum").is_some()),
            "{} is a closed enum",
            location.pointer
        );
    }
    assert_eq!(per_rule.len(), 7);
    // Every operation not reported is byte-identical, as is every original component.
    let changed: BTreeSet<&str> = out.changes.iter().map(|c| c.pointer.as_str()).collect();
    let within = |p: &str| {
        changed
            .iter()
            .any(|c| *c == p || c.starts_with(&format!("{p}/")))
    };
    let touched: BTreeSet<&str> = out
        .changes
        .iter()
        .filter_map(|c| c.operation.as_deref())
        .collect();
    for op in operations::list(&input) {
        let same = serde_json::to_string(input.pointer(&op.pointer).unwrap()).unwrap()
            == serde_json::to_string(out.spec.pointer(&op.pointer).unwrap()).unwrap();
        assert_eq!(
            same,
            !touched.contains(op.operation_id.as_deref().unwrap()) && !within(&op.pointer),
            "{}",
            op.pointer
        );
    }
    for (kind, entries) in input["components"].as_object().unwrap() {
        for (name, v) in entries.as_object().unwrap() {
            let p = format!("/components/{kind}/{}", super::pointer::escape(name));
            if !within(&p) {
                assert_eq!(out.spec.pointer(&p), Some(v), "{p}");
            }
        }
    }
}

#[test]
fn oauth_operations_alone_normalize_and_generate() {
    let Some(input) = official() else { return };
    let tiny = subset::only_operations(&input, &["get_token", "refresh_token"]);
    assert_eq!(operations::list(&tiny).len(), 2);
    let out = normalize(tiny).unwrap();
    assert!(out.skipped.is_empty());
    let schemas = &out.spec["components"]["schemas"];
    for name in ["GetTokenErrorResponse", "RefreshTokenErrorResponse"] {
        assert_eq!(
            schemas[name]["oneOf"],
            json!([
            {"$ref": "#/components/schemas/OauthErrorResponse"},
            {"$ref": "#/components/schemas/ErrorResponse"}])
        );
    }
    let get = &out.spec["paths"]["/oauth/token"]["get"]["responses"];
    assert_eq!(
        get["4XX"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/GetTokenErrorResponse"
    );
    assert_eq!(
        get["5XX"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/GetTokenErrorResponse"
    );
    let spec: openapiv3::OpenAPI = serde_json::from_value(out.spec).unwrap();
    let code = generate_checked(&spec, &settings()).unwrap().to_string();
    assert!(code.contains("pub enum GetTokenErrorResponse"));
}

#[test]
fn the_whole_spec_generates_open_enums_named_operators_and_fee_variants() {
    let Some(input) = official() else { return };
    let out = normalize(input).unwrap();
    let (prepared, names) = crate::varnames::prepare(&out.spec);
    let spec: openapiv3::OpenAPI = serde_json::from_value(prepared).unwrap();
    let runtime = crate::settings::RuntimePath::parse(crate::settings::DEFAULT_RUNTIME).unwrap();
    let code = crate::generate::generate(&spec, &runtime, &names).unwrap();
    // Compared without whitespace: prettyplease breaks long lines.
    let code: String = code.split_whitespace().collect();
    for expected in [
        "pub status: ::cobo_oauth::runtime::OpenEnum<TransactionStatus>,",
        "pub type_: ::std::option::Option<::cobo_oauth::runtime::OpenEnum<TransactionType>",
        "pub enum PolicyFieldOperator { #[serde(rename = \">\")] Gt, #[serde(rename = \">=\")] Ge, \
         #[serde(rename = \"<\")] Lt, #[serde(rename = \"<=\")] Le, #[serde(rename = \"=\")] Eq, }",
        "Self::Ge => f.write_str(\">=\"),",
        "\">=\" => Ok(Self::Ge),",
        "pub enum TransactionDetailsFee { EvmEip1559(TransactionDetailsFeeEvmEip1559), \
         EvmLegacy(TransactionDetailsFeeEvmLegacy), Utxo(TransactionDetailsFeeUtxo), \
         Fixed(TransactionDetailsFeeFixed), Sol(TransactionDetailsFeeSol), Fil(TransactionDetailsFeeFil), }",
    ] {
        let expected: String = expected.split_whitespace().collect();
        assert!(code.contains(&expected), "missing: {expected}");
    }
    assert!(!code.contains("TransactionDetailsFeeVariant0"));
}
