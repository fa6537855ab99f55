//! [`FilePart`] and [`Form`]: a `multipart/form-data` body, encoded as urllib3 (under Cobo's
//! Python SDK) encodes it.

use bytes::Bytes;

use crate::error::Error;

/// A file to send as one part of a form: its bytes, file name and content type.
#[derive(Clone, PartialEq, Eq)]
pub struct FilePart {
    bytes: Bytes,
    file_name: String,
    content_type: String,
}

impl FilePart {
    /// The file `bytes`, named `file_name`, of media type `content_type` (e.g.
    /// `application/pdf`; `application/octet-stream` when unknown, as the Python SDK says when
    /// it cannot guess).
    pub fn new(
        bytes: impl Into<Bytes>,
        file_name: impl Into<String>,
        content_type: impl Into<String>,
    ) -> Self {
        Self {
            bytes: bytes.into(),
            file_name: file_name.into(),
            content_type: content_type.into(),
        }
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The file name sent.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The content type sent.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }
}

impl std::fmt::Debug for FilePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the bytes: a KYC document is nobody's log line.
        f.debug_struct("FilePart")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// A `multipart/form-data` body: file parts by field name, and the boundary between them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Form {
    boundary: String,
    parts: Vec<(String, FilePart)>,
}

impl Default for Form {
    fn default() -> Self {
        Self::new()
    }
}

impl Form {
    /// An empty form with a random boundary (32 hex digits, as urllib3 chooses).
    pub fn new() -> Self {
        Self {
            boundary: hex::encode(rand::random::<[u8; 16]>()),
            parts: Vec::new(),
        }
    }

    /// An empty form with this boundary: 1 to 70 characters of letters, digits and `'()+_,-./:=?`
    /// (RFC 2046; no space), for reproducible bodies.
    pub fn with_boundary(boundary: &str) -> Result<Self, Error> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "'()+_,-./:=?".contains(c);
        if boundary.is_empty() || boundary.len() > 70 || !boundary.chars().all(allowed) {
            return Err(Error::InvalidRequest(format!(
                "{boundary:?} is not a multipart boundary (1 to 70 letters, digits or '()+_,-./:=?)"
            )));
        }
        Ok(Self {
            boundary: boundary.to_owned(),
            parts: Vec::new(),
        })
    }

    /// The form with `part` added as the field `name`.
    pub fn file(mut self, name: impl Into<String>, part: FilePart) -> Self {
        self.parts.push((name.into(), part));
        self
    }

    /// The boundary.
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// The request's `Content-Type`: `multipart/form-data; boundary=<boundary>`.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The body: for each part `--<boundary>`, its `Content-Disposition` (the field name and
    /// file name quoted as the WHATWG HTML standard says: `"`, CR and LF percent-encoded) and
    /// `Content-Type`, a blank line and the bytes; then `--<boundary>--`. Lines end in CRLF. A
    /// content type that could break a header line (a CR or LF) is refused.
    pub fn encode(&self) -> Result<Bytes, Error> {
        let mut body = Vec::with_capacity(
            self.parts
                .iter()
                .map(|(_, part)| part.bytes.len() + 256)
                .sum(),
        );
        for (name, part) in &self.parts {
            if part.content_type.contains(['\r', '\n']) {
                return Err(Error::InvalidRequest(
                    "a part's content type contains a line break".to_owned(),
                ));
            }
            body.extend_from_slice(
                format!(
                    "--{}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                    self.boundary,
                    quoted(name),
                    quoted(&part.file_name),
                    part.content_type,
                )
                .as_bytes(),
            );
            body.extend_from_slice(&part.bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        Ok(body.into())
    }
}

/// A header parameter value as urllib3 quotes it (WHATWG): `\n`, `\r` and `"` percent-encoded.
fn quoted(value: &str) -> String {
    value
        .replace('\n', "%0A")
        .replace('\r', "%0D")
        .replace('"', "%22")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_is_framed_and_its_names_quoted() {
        let form = Form::with_boundary("b0")
            .unwrap_or_else(|e| panic!("{e}"))
            .file(
                "file",
                FilePart::new(&b"x\r\ny"[..], "a \"b\"\n.txt", "text/plain"),
            );
        let body = form.encode().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            &body[..],
            &b"--b0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a %22b%22%0A.txt\"\r\nContent-Type: text/plain\r\n\r\nx\r\ny\r\n--b0--\r\n"[..]
        );
        assert_eq!(form.content_type(), "multipart/form-data; boundary=b0");
    }

    #[test]
    fn bad_boundaries_and_content_types_are_refused_and_bytes_never_shown() {
        assert!(Form::with_boundary("").is_err());
        assert!(Form::with_boundary("a b").is_err());
        assert!(Form::with_boundary(&"a".repeat(71)).is_err());
        assert_eq!(Form::new().boundary().len(), 32);
        let part = FilePart::new(&b"secret bytes"[..], "f", "text/plain\r\nX-Evil: 1");
        assert!(Form::new().file("file", part.clone()).encode().is_err());
        assert!(!format!("{part:?}").contains("secret"));
    }
}
