//! The Redis keys of one `(client_id, org_id)`.

/// The keys of one `(client_id, org_id)` under a prefix. All share one hash tag
/// (`{client_id:org_id}`), so on a Redis Cluster they live in one slot and a script may use
/// them together.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    /// A hash: `version`, `expires_at_ms`, `format`, `payload`.
    pub pair: String,
    /// A hash: refresh sends recorded per version, dropped when a newer pair is saved.
    pub sends: String,
    /// A string: the lease holder's id, with a time to live.
    pub lease: String,
}

/// `part` with every character that could end a hash tag or split a key part escaped, so two
/// different ids never share keys.
fn escape(part: &str) -> String {
    url::form_urlencoded::byte_serialize(part.as_bytes()).collect()
}

impl Keys {
    /// The keys of `(client_id, org_id)` under `prefix`.
    pub fn new(prefix: &str, client_id: &str, org_id: &str) -> Self {
        let base = format!("{prefix}:{{{}:{}}}", escape(client_id), escape(org_id));
        Self {
            pair: format!("{base}:pair"),
            sends: format!("{base}:refresh-sends"),
            lease: format!("{base}:lease"),
        }
    }

    /// The `SCAN` pattern matching the pair key of every organization of `client_id` under
    /// `prefix`.
    pub fn pairs_pattern(prefix: &str, client_id: &str) -> String {
        format!("{}*}}:pair", glob_escape(&app_head(prefix, client_id)))
    }

    /// The organization whose pair key (of `client_id` under `prefix`) `key` is, if it is
    /// exactly one.
    pub fn org_of_pair(prefix: &str, client_id: &str, key: &str) -> Option<String> {
        let escaped = key
            .strip_prefix(&app_head(prefix, client_id))?
            .strip_suffix("}:pair")?;
        let query = format!("o={escaped}");
        let (_, org) = url::form_urlencoded::parse(query.as_bytes()).next()?;
        let org = org.into_owned();
        (!org.is_empty() && Self::new(prefix, client_id, &org).pair == key).then_some(org)
    }
}

/// The start of every key of `client_id` under `prefix`: `<prefix>:{<client_id>:`.
fn app_head(prefix: &str, client_id: &str) -> String {
    format!("{prefix}:{{{}:", escape(client_id))
}

/// `text` with the characters special to Redis's glob patterns escaped.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_escaped_and_share_a_hash_tag() {
        let keys = Keys::new("cobo-oauth", "app:1", "org}{x");
        assert_eq!(keys.pair, "cobo-oauth:{app%3A1:org%7D%7Bx}:pair");
        assert_eq!(keys.lease, "cobo-oauth:{app%3A1:org%7D%7Bx}:lease");
        assert_ne!(
            Keys::new("p", "a:b", "c").pair,
            Keys::new("p", "a", "b:c").pair
        );
    }

    #[test]
    fn the_keys_a_script_uses_together_hash_to_one_cluster_slot() {
        use redis::cluster_routing::Slot;
        // The save script uses the pair and the sends; the lease scripts the lease alone; the
        // guarded writes' WAIT follows the write's slot. All three in one slot, whatever the ids.
        for (client_id, org_id) in [
            ("app", "org"),
            ("app:1", "org}{x"),
            ("{", "}"),
            ("", ""),
            ("a}b", "{c{"),
        ] {
            for prefix in ["cobo-oauth", "p{x}"] {
                let keys = Keys::new(prefix, client_id, org_id);
                let slot = Slot::for_key(&keys.pair);
                assert_eq!(Slot::for_key(&keys.sends), slot, "{client_id} {org_id}");
                assert_eq!(Slot::for_key(&keys.lease), slot, "{client_id} {org_id}");
            }
        }
    }

    #[test]
    fn pair_keys_give_back_their_organization() {
        let keys = Keys::new("p*x", "app:1", "org }{ é");
        let org = Keys::org_of_pair("p*x", "app:1", &keys.pair);
        assert_eq!(org.as_deref(), Some("org }{ é"));
        assert_eq!(Keys::org_of_pair("p*x", "app:1", &keys.lease), None);
        assert_eq!(Keys::org_of_pair("p*x", "app:2", &keys.pair), None);
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
        assert_eq!(
            Keys::pairs_pattern("p*x", "app:1"),
            "p\\*x:{app%3A1:*}:pair"
        );
    }
}
