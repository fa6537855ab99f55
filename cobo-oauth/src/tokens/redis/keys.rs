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
pub(super) fn escape(part: &str) -> String {
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
}
