//! `upload_payment_file`, imported into this crate's spec, sent with typed parts by
//! `CoboClient::upload_payment_file`: a `multipart/form-data` body, signed as Cobo's Python SDK
//! signs it (the mock checks that signature over what it received), with the Bearer token.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use cobo_downstream_example::{OPERATIONS, client, types};
use cobo_oauth::multipart::FilePart;
use cobo_oauth::tokens::TokenManager;
use cobo_oauth::{CoboClient, Error};
use cobo_oauth_mock::{Answer, MockConfig, MockServer};
use serde_json::json;

async fn mock_and_client(answer: Answer) -> (MockServer, CoboClient) {
    let (server, cobo) = MockServer::start_with_client(MockConfig::default())
        .await
        .unwrap();
    server
        .answer_operation(OPERATIONS, "upload_payment_file", answer)
        .unwrap();
    let tokens = TokenManager::builder(cobo.clone(), "app", "org-1").build();
    tokens.access_token().await.unwrap();
    (server, cobo.with_bearer(Arc::new(tokens)))
}

#[tokio::test]
async fn a_file_goes_as_a_signed_multipart_form_and_comes_back_typed() {
    let answer = Answer {
        status: 201,
        ..Answer::ok(
            json!({"file_id": "https://files.example/kyc", "expired_timestamp": 1_900_000_000_000_i64}),
        )
    };
    let (server, cobo) = mock_and_client(answer).await;
    let api = client(&cobo);
    let pdf = b"%PDF-1.4 \r\n\x00\xff a binary KYC document".to_vec();
    let kyc = FilePart::new(pdf.clone(), "kyc.pdf", "application/pdf");
    let uploaded: types::PaymentUploadedFile = cobo
        .upload_payment_file(&api, OPERATIONS, kyc)
        .await
        .unwrap();
    assert_eq!(uploaded.file_id, "https://files.example/kyc");

    // The mock authenticated it (a body is kept only then) with the SDK's empty signed BODY.
    let sent = server.requests().pop().unwrap();
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v2/payments/files")
    );
    assert!(sent.body_kept, "the mock refused the signature");
    assert!(sent.authorization.unwrap().starts_with("Bearer "));
    let boundary = std::str::from_utf8(&sent.body[2..34]).unwrap();
    let mut expected = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"kyc.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    expected.extend_from_slice(&pdf);
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(sent.body, expected);
}

#[tokio::test]
async fn an_error_answer_is_typed() {
    let answer = Answer {
        status: 400,
        ..Answer::ok(
            json!({"error_code": 2006, "error_message": "file too large", "error_id": "e-1"}),
        )
    };
    let (_server, cobo) = mock_and_client(answer).await;
    let api = client(&cobo);
    let file = FilePart::new(vec![0_u8; 16], "a.bin", "application/octet-stream");
    let error = cobo
        .upload_payment_file::<_, types::PaymentUploadedFile>(&api, OPERATIONS, file)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Api {
                status: 400,
                code: 2006,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_mock_refuses_a_multipart_request_signed_over_its_body() {
    let (server, cobo) = mock_and_client(Answer::ok(json!({}))).await;
    let form = cobo_oauth::multipart::Form::new()
        .file("file", FilePart::new(&b"abc"[..], "a.txt", "text/plain"));
    let body = form.encode().unwrap();
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    // Signed over the form's bytes, not as Cobo's SDK signs a multipart request.
    let parts = cobo
        .auth()
        .sign_parts("POST", "/v2/payments/files", &nonce, "", &body)
        .unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    parts.headers.apply(&mut headers);
    let answer = reqwest::Client::new()
        .post(format!("{}/payments/files", server.base_url()))
        .headers(headers)
        .header("content-type", form.content_type())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    assert!(!server.requests().pop().unwrap().body_kept);
}
