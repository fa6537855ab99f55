//! Which body bytes are signed: a `multipart/form-data` request signs an empty BODY.
//!
//! Cobo's official Python SDK (`cobo-waas2` 1.46.0, `ApiClient.call_api`) signs
//! `json.dumps(body) if body else ""`, and a multipart request (`upload_payment_file`, the one
//! multipart operation of the spec) carries its file in the form fields, not in `body`: its
//! string to sign ends in `||` (empty PARAMS and BODY) while the wire body is the form
//! (`tests/vectors/cobo-python-sdk-multipart-vectors.json`, made by that SDK). Every other
//! request signs its body bytes as sent. The file is then not covered by the signature; TLS
//! protects it on the way.

/// The media type whose requests sign an empty BODY.
pub const MULTIPART_FORM_DATA: &str = "multipart/form-data";

/// Whether a request with this `Content-Type` signs an empty BODY, as the Python SDK signs it:
/// true for `multipart/form-data` (any parameters, any case).
pub fn signs_empty_body(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|value| {
        value
            .split(';')
            .next()
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(MULTIPART_FORM_DATA))
    })
}

#[cfg(test)]
mod tests {
    use super::signs_empty_body;

    #[test]
    fn only_a_multipart_form_signs_an_empty_body() {
        assert!(signs_empty_body(Some("multipart/form-data; boundary=x")));
        assert!(signs_empty_body(Some("Multipart/Form-Data")));
        assert!(!signs_empty_body(Some("application/json")));
        assert!(!signs_empty_body(Some("multipart/mixed; boundary=x")));
        assert!(!signs_empty_body(None));
    }
}
