//! [`Operation`]: what a generated client knows of one of its operations.

/// One operation of a generated client, as its spec describes it. The generator writes a
/// `pub const OPERATIONS: &[Operation]` into every client, sorted by `id`; the glue passes the
/// entry of each request to the [`Executor`](crate::Executor), and the mock server can register
/// an answer by `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The `operationId`, e.g. `list_wallets`.
    pub id: &'static str,
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path template below the base URL, e.g. `/wallets/{wallet_id}`.
    pub path: &'static str,
    /// The spec accepts an Org Access Token for it (the `OAuth2` security scheme), sent as
    /// `Authorization: Bearer`.
    pub accepts_oauth2: bool,
}

impl Operation {
    /// An operation the table does not list (a request built by hand): no Bearer token.
    pub const fn unlisted(id: &'static str) -> Self {
        Self {
            id,
            method: "",
            path: "",
            accepts_oauth2: false,
        }
    }

    /// The entry of `id` in `operations` (a generated `OPERATIONS` table, sorted by `id`).
    pub fn find(operations: &'static [Operation], id: &str) -> Option<&'static Operation> {
        operations
            .binary_search_by(|operation| operation.id.cmp(id))
            .ok()
            .map(|index| &operations[index])
    }
}

#[cfg(test)]
mod tests {
    use super::Operation;

    const TABLE: &[Operation] = &[
        Operation {
            id: "get_token",
            method: "GET",
            path: "/oauth/token",
            accepts_oauth2: false,
        },
        Operation {
            id: "list_wallets",
            method: "GET",
            path: "/wallets",
            accepts_oauth2: true,
        },
    ];

    #[test]
    fn finds_an_operation_by_id_in_a_sorted_table() {
        assert_eq!(
            Operation::find(TABLE, "list_wallets").map(|o| o.path),
            Some("/wallets")
        );
        assert_eq!(
            Operation::find(TABLE, "get_token").map(|o| o.accepts_oauth2),
            Some(false)
        );
        assert!(Operation::find(TABLE, "create_wallet").is_none());
    }
}
