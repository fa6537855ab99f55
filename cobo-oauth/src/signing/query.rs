//! Query-string encoding exactly as Cobo's official Python SDK produces it.
//!
//! The Python SDK builds `PARAMS` with `urllib.parse.urlencode`: a space becomes `+`, the bytes
//! `A-Z a-z 0-9 _ . - ~` stay literal, and every other byte of the UTF-8 value is `%XX` with
//! upper-case hex. reqwest (through `serde_urlencoded`) leaves `*` literal and encodes `~`, so the
//! client re-encodes every query with [`reencode_query`] before it signs and sends it.

use std::fmt::Write as _;

/// Appends `input` to `out`, encoded as Python's `urllib.parse.quote_plus` encodes it.
pub fn encode_component(input: &str, out: &mut String) {
    for &byte in input.as_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => {
                // Writing to a String cannot fail.
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
}

/// Encodes `key=value` pairs, in the given order, joined with `&`.
///
/// ```
/// let query = cobo_oauth::signing::encode_query([("q", "a b*~")]);
/// assert_eq!(query, "q=a+b%2A~");
/// ```
pub fn encode_query<'a, I, K, V>(pairs: I) -> String
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str> + 'a,
    V: AsRef<str> + 'a,
{
    let mut out = String::new();
    for (key, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        encode_component(key.as_ref(), &mut out);
        out.push('=');
        encode_component(value.as_ref(), &mut out);
    }
    out
}

/// Decodes a form-encoded query (as reqwest writes it) and encodes it again the Python way,
/// keeping the order of the pairs. Returns `None` for an empty query.
pub fn reencode_query(query: &str) -> Option<String> {
    if query.is_empty() {
        return None;
    }
    if encodes_to_itself(query) {
        return Some(query.to_owned());
    }
    let encoded = encode_query(url::form_urlencoded::parse(query.as_bytes()));
    (!encoded.is_empty()).then_some(encoded)
}

/// Whether re-encoding `query` gives `query` back: every pair is `key=value` with one `=`, and
/// every other byte is one the Python encoding leaves literal (or `+`, a space both ways). The
/// usual query (identifiers, numbers) is, and skips decoding and encoding again.
pub(crate) fn encodes_to_itself(query: &str) -> bool {
    // The `=` seen in the current pair.
    let mut equals = 0;
    for &byte in query.as_bytes() {
        match byte {
            b'&' if equals == 1 => equals = 0,
            b'=' => equals += 1,
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' | b'+' => {}
            _ => return false,
        }
    }
    equals == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_unreserved_set_literal() {
        let mut out = String::new();
        encode_component("AZaz09_.-~ *!'()&=+/é", &mut out);
        assert_eq!(out, "AZaz09_.-~+%2A%21%27%28%29%26%3D%2B%2F%C3%A9");
    }

    #[test]
    fn reencodes_what_reqwest_writes() {
        let from_reqwest = "q=a+b*%7E&name=%E6%97%A5";
        assert_eq!(
            reencode_query(from_reqwest).as_deref(),
            Some("q=a+b%2A~&name=%E6%97%A5")
        );
        assert_eq!(reencode_query(""), None);
    }

    #[test]
    fn a_query_that_encodes_to_itself_is_recognized_as_such() {
        for query in [
            "a=1",
            "=",
            "client_id=Ab-9_.~&org_id=e39-86&grant_type=org_implicit",
            "q=a+b",
            "k=",
        ] {
            assert!(encodes_to_itself(query), "{query}");
            assert_eq!(reencode_query(query).as_deref(), Some(query));
        }
        for query in [
            "a", "a=b=c", "a=1&&b=2", "a=1&", "q=b*", "q=%7E", "q=a%20b", "a=1&b", "",
        ] {
            assert!(!encodes_to_itself(query), "{query}");
        }
    }

    proptest::proptest! {
        /// The shortcut never changes what is signed: a query it accepts is exactly what the
        /// decode-and-encode path produces.
        #[test]
        fn the_shortcut_agrees_with_decoding_and_encoding(query in "[a-zA-Z0-9_.~+=&*%-]{0,24}") {
            if encodes_to_itself(&query) {
                let slow = encode_query(url::form_urlencoded::parse(query.as_bytes()));
                proptest::prop_assert_eq!(slow, query);
            }
        }
    }

    #[test]
    fn keeps_pair_order_and_empty_values() {
        assert_eq!(
            encode_query([("b", "2"), ("a", ""), ("c", "3")]),
            "b=2&a=&c=3"
        );
    }
}
