//! `multipart/form-data` operations: `upload_payment_file` with typed parts.
//!
//! progenitor 0.15 generates no multipart bodies, so the normalization step makes the body of
//! Cobo's one multipart operation, `upload_payment_file` (`POST /payments/files`, a form with
//! one required `file`), a raw body. This module is the hand-written glue beside any generated
//! client that imports it (this crate's, or yours): the file as a typed [`FilePart`] (its
//! bytes, file name and content type), encoded as `multipart/form-data` ([`Form`], byte for
//! byte as the official Python SDK's urllib3 encodes it), sent through the client's hooks, so
//! signed, verified and with the Bearer token like every operation, and signed as that SDK
//! signs a multipart request: with an empty BODY in the string to sign
//! ([`signs_empty_body`](crate::signing::signs_empty_body)).
//!
//! ```no_run
//! use cobo_oauth::multipart::FilePart;
//! # use cobo_oauth::generated as my_api;   // stands in for a client that imports the operation
//! # async fn f(cobo: cobo_oauth::CoboClient) -> Result<(), cobo_oauth::Error> {
//! let api = my_api::Client::new_with_client(cobo.env().base_url(), cobo.http(), cobo.hooks());
//! let kyc = FilePart::new(std::fs::read("kyc.pdf").unwrap_or_default(), "kyc.pdf", "application/pdf");
//! // `serde_json::Value` here; your client's `types::PaymentUploadedFile` in a real one.
//! let uploaded: serde_json::Value = cobo.upload_payment_file(&api, my_api::OPERATIONS, kyc).await?;
//! # Ok(()) }
//! ```
//!
//! [`CoboClient::send_multipart`](crate::CoboClient::send_multipart) sends any [`Form`] to any
//! operation of a generated client whose path has no parameters. The answer is typed like
//! [`CoboClient::call`](crate::CoboClient::call)'s; a POST is retried only when the
//! connection was never made.

mod form;
mod send;

pub use form::{FilePart, Form};
pub use send::UPLOAD_PAYMENT_FILE;
