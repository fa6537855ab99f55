//! All stages together: [`CoboAuth`] signs a request.

use std::fmt;
use std::sync::Arc;

use super::digest::Digest;
use super::form_body::signs_empty_body;
use super::headers::AuthHeaders;
use super::nonce::NonceSource;
use super::query::{encodes_to_itself, reencode_query};
use super::signer::{ApiKey, AsyncSigner, SignError, Signature, Signer};
use super::string_to_sign::StringToSign;

/// Every stage of signing one request, as plain values.
#[derive(Debug, Clone)]
pub struct SignedParts {
    /// Stage 1: `METHOD|PATH|NONCE|PARAMS|BODY`.
    pub string_to_sign: StringToSign,
    /// Stage 2: `SHA-256(SHA-256(string_to_sign))`.
    pub digest: Digest,
    /// Stage 3: the signer's signature over the digest.
    pub signature: Signature,
    /// Stage 4: the headers to send.
    pub headers: AuthHeaders,
}

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignRequestError {
    /// The body is a stream, whose bytes are not known before it is sent.
    #[error("cannot sign a streaming request body; send the body as bytes")]
    StreamingBody,
    /// The signer failed.
    #[error(transparent)]
    Signer(#[from] SignError),
}

/// How long an [`AsyncSigner`] may take to sign one request before the attempt fails: a signer
/// that hangs must not hold a request (or a fleet's refresh lease) forever.
pub const ASYNC_SIGN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Where signatures come from: a key in this process, or one that answers asynchronously.
#[derive(Clone, Debug)]
pub(crate) enum Keys {
    /// A key in this process.
    Local(Arc<dyn Signer>),
    /// A key that answers asynchronously (a KMS, an HSM).
    Remote(Arc<dyn AsyncSigner>),
}

/// CoboAuth: a [`Signer`] (or an [`AsyncSigner`]) and its [`NonceSource`].
#[derive(Clone)]
pub struct CoboAuth {
    keys: Keys,
    nonces: Arc<NonceSource>,
}

impl CoboAuth {
    /// Signs with `signer`, taking nonces from `nonces`.
    pub fn new(signer: Arc<dyn Signer>, nonces: Arc<NonceSource>) -> Self {
        Self::with_keys(Keys::Local(signer), nonces)
    }

    /// Signs with an asynchronous `signer` (a KMS, an HSM), taking nonces from `nonces`.
    pub fn new_async(signer: Arc<dyn AsyncSigner>, nonces: Arc<NonceSource>) -> Self {
        Self::with_keys(Keys::Remote(signer), nonces)
    }

    /// Signs with `keys`, taking nonces from `nonces`.
    pub(crate) fn with_keys(keys: Keys, nonces: Arc<NonceSource>) -> Self {
        Self { keys, nonces }
    }

    /// The API key requests are signed with.
    pub fn api_key(&self) -> &ApiKey {
        match &self.keys {
            Keys::Local(signer) => signer.api_key(),
            Keys::Remote(signer) => signer.api_key(),
        }
    }

    /// Signs the given parts with a fixed nonce. Pure: no clock, no I/O. With an
    /// [`AsyncSigner`], use [`Self::sign_parts_async`].
    pub fn sign_parts(
        &self,
        method: &str,
        path: &str,
        nonce: &str,
        params: &str,
        body: &[u8],
    ) -> Result<SignedParts, SignError> {
        let Keys::Local(signer) = &self.keys else {
            return Err(SignError::new(
                "this signer is asynchronous: use CoboAuth::sign_parts_async",
            ));
        };
        let string_to_sign = StringToSign::new(method, path, nonce, params, body);
        let digest = Digest::sha256d(string_to_sign.as_bytes());
        let signature = signer.sign(&digest)?;
        Ok(self.parts(string_to_sign, digest, signature, nonce))
    }

    /// Like [`Self::sign_parts`], with either kind of signer: awaits an [`AsyncSigner`].
    pub async fn sign_parts_async(
        &self,
        method: &str,
        path: &str,
        nonce: &str,
        params: &str,
        body: &[u8],
    ) -> Result<SignedParts, SignError> {
        let string_to_sign = StringToSign::new(method, path, nonce, params, body);
        let digest = Digest::sha256d(string_to_sign.as_bytes());
        let signature = match &self.keys {
            Keys::Local(signer) => signer.sign(&digest)?,
            Keys::Remote(signer) => tokio::time::timeout(ASYNC_SIGN_TIMEOUT, signer.sign(&digest))
                .await
                .map_err(|_| {
                    SignError::new(format!(
                        "the signer did not answer within {} s",
                        ASYNC_SIGN_TIMEOUT.as_secs()
                    ))
                })??,
        };
        Ok(self.parts(string_to_sign, digest, signature, nonce))
    }

    /// The stages as values, once signed.
    fn parts(
        &self,
        string_to_sign: StringToSign,
        digest: Digest,
        signature: Signature,
        nonce: &str,
    ) -> SignedParts {
        let headers = AuthHeaders {
            api_key: self.api_key().clone(),
            nonce: nonce.to_owned(),
            signature: signature.clone(),
        };
        SignedParts {
            string_to_sign,
            digest,
            signature,
            headers,
        }
    }

    /// Signs a request as it will leave: re-encodes its query the way Cobo's Python SDK does,
    /// takes a fresh nonce, signs the path, query and body bytes that will be sent (an empty
    /// body for `multipart/form-data`, as that SDK signs it: [`signs_empty_body`]; awaiting an
    /// [`AsyncSigner`]), and sets the three headers. Every attempt of a request is signed again.
    pub async fn sign_request(
        &self,
        request: &mut reqwest::Request,
    ) -> Result<SignedParts, SignRequestError> {
        if let Some(query) = request.url().query()
            && !encodes_to_itself(query)
        {
            let query = reencode_query(query);
            request.url_mut().set_query(query.as_deref());
        }
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok());
        let body: &[u8] = match request.body() {
            _ if signs_empty_body(content_type) => &[],
            None => &[],
            Some(body) => body.as_bytes().ok_or(SignRequestError::StreamingBody)?,
        };
        let nonce = self.nonces.next().to_string();
        let parts = self
            .sign_parts_async(
                request.method().as_str(),
                request.url().path(),
                &nonce,
                request.url().query().unwrap_or(""),
                body,
            )
            .await?;
        parts.headers.apply(request.headers_mut());
        Ok(parts)
    }
}

impl fmt::Debug for CoboAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoboAuth")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}
