//! The official Python SDK's vectors (`tests/vectors/cobo-python-sdk-vectors.json`, see its
//! README), as typed values: a field a test needs that is missing from the file fails the load,
//! instead of reading as an empty string.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Deserialize)]
pub struct Vectors {
    /// The signing stages of single requests.
    pub sign_vectors: Vec<SignVector>,
    /// What the SDK's generated client put on the wire.
    pub pipeline_vectors: Vec<PipelineVector>,
    /// Response signatures, valid and not.
    pub response_verify_vectors: Vec<ResponseVerifyVector>,
    /// Whole responses and what the SDK made of them.
    pub response_handling_vectors: Vec<ResponseHandlingVector>,
}

/// The key type of a vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Curve {
    /// Ed25519 (Cobo's default API keys).
    Ed25519,
    /// ECDSA over secp256k1.
    Secp256k1,
}

/// One request signed at every stage.
#[derive(Debug, Deserialize)]
pub struct SignVector {
    /// Its name.
    pub id: String,
    /// The key type.
    pub curve: Curve,
    /// The API secret, hex.
    pub private_key_hex: String,
    /// The API key, hex.
    pub public_key_hex: String,
    /// HTTP method.
    pub method: String,
    /// Path, with `/v2`.
    pub path: String,
    /// The nonce.
    pub nonce: String,
    /// Query parameters in order (`None`: no query).
    pub params: Option<Vec<(String, String)>>,
    /// The body (`None`: no body).
    pub body: Option<String>,
    /// The string to sign.
    pub str_to_sign: String,
    /// Its bytes, hex.
    pub str_to_sign_hex: String,
    /// SHA-256 of the string to sign, when the vector gives it.
    pub sha256_once_hex: Option<String>,
    /// SHA-256(SHA-256(string to sign)), hex.
    pub digest_sha256d_hex: String,
    /// The ed25519 signature, hex.
    pub signature_hex: Option<String>,
    /// The deterministic (RFC 6979, low S) secp256k1 signature, DER hex.
    pub rfc6979_low_s_reference_der_hex: Option<String>,
    /// The `Biz-Api-*` headers the SDK sent.
    pub headers: Option<BTreeMap<String, String>>,
}

impl SignVector {
    /// The signature a deterministic signer must produce (the vector must give it).
    pub fn expected_signature(&self) -> &str {
        let expected = match self.curve {
            Curve::Ed25519 => &self.signature_hex,
            Curve::Secp256k1 => &self.rfc6979_low_s_reference_der_hex,
        };
        expected
            .as_deref()
            .unwrap_or_else(|| panic!("{}: the vector has no expected signature", self.id))
    }
}

/// A request of the SDK's generated client, as it went on the wire.
#[derive(Debug, Deserialize)]
pub struct PipelineVector {
    /// Its name.
    pub id: String,
    /// The API secret, hex.
    pub private_key_hex: String,
    /// The API key, hex.
    pub public_key_hex: String,
    /// The nonce.
    pub nonce: String,
    /// The arguments the SDK was called with.
    pub inputs: BTreeMap<String, serde_json::Value>,
    /// Method sent.
    pub wire_method: String,
    /// Path sent.
    pub wire_path: String,
    /// Query sent.
    pub wire_query: String,
    /// Path and query sent.
    pub wire_request_target: String,
    /// Body sent, hex.
    pub wire_body_hex: String,
    /// Headers sent, in order.
    pub wire_headers: Vec<(String, String)>,
    /// The string the SDK signed.
    pub str_to_sign: String,
    /// The SDK's signature, hex.
    pub signature_hex: String,
}

impl PipelineVector {
    /// A header the SDK sent (case-insensitive name).
    pub fn wire_header(&self, name: &str) -> &str {
        self.wire_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("{}: no {name} header on the wire", self.id))
    }

    /// A string argument the SDK was called with.
    pub fn input(&self, name: &str) -> &str {
        self.inputs
            .get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_else(|| panic!("{}: no string input {name}", self.id))
    }
}

/// A response signature and the SDK's verdict.
#[derive(Debug, Deserialize)]
pub struct ResponseVerifyVector {
    /// Its name.
    pub id: String,
    /// The response body.
    pub body: String,
    /// `Biz-Timestamp`.
    pub biz_timestamp: String,
    /// `body|timestamp`.
    pub content: String,
    /// SHA-256(SHA-256(content)), hex.
    pub content_sha256d_hex: String,
    /// `Biz-Resp-Signature`.
    pub biz_resp_signature: String,
    /// The server's public key, hex.
    pub public_key_hex: String,
    /// `true`/`false`, or `None` when the SDK raised instead (a malformed signature).
    #[serde(rename = "SignHelper_verify_result")]
    pub verify_result: Option<bool>,
}

/// A whole response and what the SDK made of it.
#[derive(Debug, Deserialize)]
pub struct ResponseHandlingVector {
    /// Its name.
    pub id: String,
    /// HTTP status.
    pub http_status: u16,
    /// The body.
    pub body: String,
    /// The headers.
    pub response_headers: BTreeMap<String, String>,
    /// The key the SDK verified with, hex.
    pub resp_pubkey_used: String,
    /// What the SDK did.
    pub outcome: Outcome,
}

/// What the SDK did with a response.
#[derive(Debug, Deserialize)]
pub struct Outcome {
    /// `ok` or `exception`.
    pub result: String,
    /// The exception's reason.
    pub reason: Option<String>,
    /// The exception's status.
    pub status: Option<u16>,
    /// The data returned.
    pub data: serde_json::Value,
}

/// Loads the vectors; panics, naming the field, when one a test needs is missing.
pub fn load() -> Vectors {
    parse(include_str!("../vectors/cobo-python-sdk-vectors.json"))
        .unwrap_or_else(|error| panic!("tests/vectors/cobo-python-sdk-vectors.json: {error}"))
}

/// Parses a vector file.
pub fn parse(json: &str) -> Result<Vectors, serde_json::Error> {
    serde_json::from_str(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_loads_and_a_missing_field_fails() {
        let vectors = load();
        assert_eq!(vectors.sign_vectors.len(), 15);
        let mut json: serde_json::Value =
            serde_json::from_str(include_str!("../vectors/cobo-python-sdk-vectors.json")).unwrap();
        json["sign_vectors"][0]
            .as_object_mut()
            .unwrap()
            .remove("str_to_sign");
        let error = parse(&json.to_string()).unwrap_err().to_string();
        assert!(error.contains("str_to_sign"), "{error}");
    }
}

/// `tests/vectors/cobo-python-sdk-inbound-vectors.json`: webhook and callback signatures as the
/// official Python SDK verifies them.
#[derive(Debug, Deserialize)]
pub struct InboundVectors {
    /// Library versions of the run.
    pub libs: BTreeMap<String, String>,
    /// The cases.
    pub vectors: Vec<InboundVector>,
}

/// What the SDK made of one call.
#[derive(Debug, Deserialize)]
pub struct SdkOutcome {
    /// What the function returned, when it returned.
    pub result: Option<bool>,
    /// The exception it raised instead.
    pub error: Option<String>,
}

/// One webhook or callback request.
#[derive(Debug, Deserialize)]
pub struct InboundVector {
    /// Its name.
    pub id: String,
    /// `webhook` or `callback`.
    pub kind: String,
    /// The key the receiver verifies with.
    pub receiver_public_key_hex: String,
    /// The headers, in order, with their spelling.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: String,
    /// `valid`, `bad_signature`, `malformed_signature` or `missing_header`.
    pub expected: String,
    /// The status the SDK's FastAPI demo answered.
    pub demo_status: u16,
    /// `SignHelper.verify`.
    pub sdk_verify: SdkOutcome,
    /// `server_demo.verify_signature`.
    pub demo_verify_signature: SdkOutcome,
}

/// Loads the inbound vectors.
pub fn load_inbound() -> InboundVectors {
    serde_json::from_str(include_str!(
        "../vectors/cobo-python-sdk-inbound-vectors.json"
    ))
    .unwrap_or_else(|e| panic!("tests/vectors/cobo-python-sdk-inbound-vectors.json: {e}"))
}
