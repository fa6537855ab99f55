//! Stage 1: the string to sign, `METHOD|PATH|NONCE|PARAMS|BODY`.

use std::fmt;

/// The exact bytes CoboAuth signs: `METHOD|PATH|NONCE|PARAMS|BODY`, joined with `|` and nothing
/// escaped.
///
/// `Display` writes those bytes (a body that is not UTF-8 is shown lossily; [`Self::as_bytes`] is
/// always exact). It contains the request body, which may hold a refresh token, so never log it;
/// `Debug` shows only the method, the path, the nonce and the lengths.
#[derive(Clone, PartialEq, Eq)]
pub struct StringToSign {
    bytes: Vec<u8>,
    method_len: usize,
    path_len: usize,
    nonce_len: usize,
    params_len: usize,
}

impl StringToSign {
    /// Builds the string to sign from the parts of the request as it is sent.
    ///
    /// `method` is upper-cased; `path` includes the `/v2` prefix and stays percent-encoded as
    /// sent; `params` is the query string without `?`; `body` the raw body (empty when none).
    pub fn new(method: &str, path: &str, nonce: &str, params: &str, body: &[u8]) -> Self {
        let method = method.to_ascii_uppercase();
        let mut bytes = Vec::with_capacity(
            method.len() + path.len() + nonce.len() + params.len() + body.len() + 4,
        );
        for (index, part) in [
            method.as_bytes(),
            path.as_bytes(),
            nonce.as_bytes(),
            params.as_bytes(),
        ]
        .into_iter()
        .enumerate()
        {
            if index > 0 {
                bytes.push(b'|');
            }
            bytes.extend_from_slice(part);
        }
        bytes.push(b'|');
        bytes.extend_from_slice(body);
        Self {
            bytes,
            method_len: method.len(),
            path_len: path.len(),
            nonce_len: nonce.len(),
            params_len: params.len(),
        }
    }

    /// The exact bytes that are hashed and signed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn field(&self, start: usize, len: usize) -> &str {
        // Method, path, nonce and params were `&str`, so these slices are UTF-8.
        std::str::from_utf8(&self.bytes[start..start + len]).unwrap_or_default()
    }

    /// The upper-case method.
    pub fn method(&self) -> &str {
        self.field(0, self.method_len)
    }

    /// The path, with its `/v2` prefix.
    pub fn path(&self) -> &str {
        self.field(self.method_len + 1, self.path_len)
    }

    /// The nonce.
    pub fn nonce(&self) -> &str {
        self.field(self.method_len + self.path_len + 2, self.nonce_len)
    }

    /// The query string as sent.
    pub fn params(&self) -> &str {
        self.field(
            self.method_len + self.path_len + self.nonce_len + 3,
            self.params_len,
        )
    }

    /// The raw body.
    pub fn body(&self) -> &[u8] {
        &self.bytes[self.method_len + self.path_len + self.nonce_len + self.params_len + 4..]
    }
}

impl fmt::Display for StringToSign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.bytes))
    }
}

impl fmt::Debug for StringToSign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StringToSign")
            .field("method", &self.method())
            .field("path", &self.path())
            .field("nonce", &self.nonce())
            .field("params_len", &self.params_len)
            .field("body_len", &self.body().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_the_five_fields_with_bars() {
        let sts = StringToSign::new("post", "/v2/x", "1", "a=1", b"{\"x\": \"y\"}");
        assert_eq!(sts.to_string(), "POST|/v2/x|1|a=1|{\"x\": \"y\"}");
        assert_eq!(
            (sts.method(), sts.path(), sts.nonce(), sts.params()),
            ("POST", "/v2/x", "1", "a=1")
        );
        assert_eq!(sts.body(), b"{\"x\": \"y\"}");
    }

    #[test]
    fn debug_hides_params_and_body() {
        let sts = StringToSign::new(
            "POST",
            "/v2/oauth/token",
            "1",
            "",
            b"{\"refresh_token\":\"RT-secret\"}",
        );
        let debug = format!("{sts:?}");
        assert!(!debug.contains("RT-secret"), "{debug}");
        assert!(debug.contains("/v2/oauth/token"));
    }
}
