//! Rule: operations without an `operationId`, sharing one, or with one that is not the name
//! progenitor gives the operation.
//!
//! progenitor 0.15.1 rejects a missing or repeated id, and names each method, and the
//! `operation_id` its hooks receive, after the id in snake case (`getWalletById` →
//! `get_wallet_by_id`). The generated `OPERATIONS` table, the Bearer decision and the mock's
//! answers go by the id, so it is renamed to that name. A missing id becomes `{method}_{path}`
//! in snake case; a repeated one gets a numeric suffix (`_2`, `_3`, ...).

use std::collections::HashSet;

use serde_json::{Value, json};

use super::model::Change;
use super::naming::snake;
use super::operations;

/// Rule name reported in [`Change::rule`].
pub const RULE: &str = "operation-ids";

/// Applies the rule to every operation.
pub fn apply(spec: &mut Value, changes: &mut Vec<Change>) {
    let mut used: HashSet<String> = HashSet::new();
    for op in operations::list(spec) {
        let base = match &op.operation_id {
            Some(id) => snake(id),
            None => snake(&format!("{}_{}", op.method, op.path)),
        };
        let id = std::iter::once(base.clone())
            .chain((2..).map(|n| format!("{base}_{n}")))
            .find(|c| !used.contains(c))
            .unwrap_or(base.clone());
        used.insert(id.clone());
        if op.operation_id.as_ref() == Some(&id) {
            continue;
        }
        if let Some(o) = spec.pointer_mut(&op.pointer).and_then(Value::as_object_mut) {
            o.insert("operationId".into(), json!(id));
        }
        changes.push(Change {
            pointer: format!("{}/operationId", op.pointer),
            operation: Some(id.clone()),
            rule: RULE,
            detail: match &op.operation_id {
                None => format!("missing operationId set to {id}"),
                Some(old) if *old != base => format!(
                    "operationId {old} renamed {id}, the name progenitor gives its method and hooks"
                ),
                Some(old) => format!("duplicate operationId {old} renamed {id}"),
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_and_dedupes() {
        let mut spec = json!({"paths": {"/a/{id}": {
            "get": {"responses": {}}, "post": {"operationId": "x"}, "put": {"operationId": "x"}}}});
        let before = spec.clone();
        let mut changes = Vec::new();
        apply(&mut spec, &mut changes);
        let item = &spec["paths"]["/a/{id}"];
        assert_eq!(item["get"]["operationId"], "get_a_id");
        assert_eq!(item["put"]["operationId"], "x_2");
        assert_eq!(item["post"], before["paths"]["/a/{id}"]["post"]);
        assert_eq!(changes.len(), 2);
    }

    #[test]
    fn ids_become_the_names_progenitor_gives_them() {
        assert_eq!(snake("getWalletById"), "get_wallet_by_id");
        assert_eq!(snake("list-wallets"), "list_wallets");
        assert_eq!(snake("type"), "type_");
        assert_eq!(snake("2fa"), "_2fa");
        let mut spec = json!({"paths": {"/w": {
            "get": {"operationId": "getWalletById"}, "post": {"operationId": "get_wallet_by_id"}}}});
        let mut changes = Vec::new();
        apply(&mut spec, &mut changes);
        assert_eq!(
            spec["paths"]["/w"]["get"]["operationId"],
            "get_wallet_by_id"
        );
        assert_eq!(
            spec["paths"]["/w"]["post"]["operationId"],
            "get_wallet_by_id_2"
        );
        assert!(
            changes[0].detail.contains("the name progenitor gives"),
            "{}",
            changes[0].detail
        );
    }
}
