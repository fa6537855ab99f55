//! Bad input and bad answers: every one is a typed error, never a panic, never a secret.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use cobo_oauth::verify::VerifyError;
use cobo_oauth::{CoboClient, ConfigError, Env, Error, SecretString};
use cobo_oauth_tests::{API_SECRET, CoboDouble, TOKEN_BODY, signed};
use wiremock::ResponseTemplate;

async fn get(double: &CoboDouble) -> Result<cobo_oauth::tokens::Token, Error> {
    double.client().get_token("client", "org").await
}

#[tokio::test]
async fn oauth_4xx_is_typed_with_its_status() {
    let double = CoboDouble::start().await;
    double
        .answer(
            "POST",
            "/oauth/token",
            400,
            r#"{"error":"invalid_grant","error_description":"refresh token revoked"}"#,
        )
        .await;
    let error = double
        .client()
        .refresh_token("client", &SecretString::from("RT"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::OAuth { status: 400, error, description, retry_after: None } if error == "invalid_grant" && description == "refresh token revoked"),
        "{error:?}"
    );
}

#[tokio::test]
async fn cobo_5xx_error_response_is_typed() {
    let double = CoboDouble::start().await;
    double
        .answer(
            "GET",
            "/oauth/token",
            500,
            r#"{"error_code":1000,"error_message":"token expired","error_id":"abc"}"#,
        )
        .await;
    let error = get(&double).await.unwrap_err();
    assert!(
        matches!(&error, Error::Api { status: 500, code: 1000, message, error_id, retry_after: None } if message == "token expired" && error_id == "abc"),
        "{error:?}"
    );
}

#[tokio::test]
async fn unsigned_success_is_rejected_and_never_returned() {
    let double = CoboDouble::start().await;
    double
        .answer_raw(
            "GET",
            "/oauth/token",
            ResponseTemplate::new(200).set_body_string(TOKEN_BODY),
        )
        .await;
    let error = get(&double).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::ResponseSignature(VerifyError::Missing { status: 200 })
        ),
        "{error:?}"
    );
    assert!(!format!("{error} {error:?}").contains("AT-1"));
}

#[tokio::test]
async fn badly_signed_success_is_rejected() {
    let double = CoboDouble::start().await;
    let other_key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    double
        .answer_raw("GET", "/oauth/token", signed(&other_key, 200, TOKEN_BODY))
        .await;
    let error = get(&double).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::ResponseSignature(VerifyError::Invalid { status: 200 })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn signed_non_json_success_is_an_invalid_body() {
    let double = CoboDouble::start().await;
    double
        .answer("GET", "/oauth/token", 200, "<html>surprise</html>")
        .await;
    let error = get(&double).await.unwrap_err();
    assert!(
        matches!(error, Error::InvalidBody { status: 200, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn unsigned_gateway_error_is_the_http_error_it_is() {
    let double = CoboDouble::start().await;
    double
        .answer_raw(
            "GET",
            "/oauth/token",
            ResponseTemplate::new(503).set_body_string("upstream down"),
        )
        .await;
    let error = get(&double).await.unwrap_err();
    assert!(
        matches!(&error, Error::Http { status: 503, body, retry_after: None } if body == "upstream down"),
        "{error:?}"
    );
}

#[tokio::test]
async fn dead_server_is_a_transport_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = CoboClient::builder()
        .env(Env::custom_unverified(&format!("http://127.0.0.1:{port}/v2")).unwrap())
        .api_secret(API_SECRET)
        .build()
        .unwrap();
    let error = client.get_token("client", "org").await.unwrap_err();
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
}

#[tokio::test]
async fn slow_server_is_a_timeout() {
    let double = CoboDouble::start().await;
    double
        .answer_raw(
            "GET",
            "/oauth/token",
            ResponseTemplate::new(200).set_delay(Duration::from_secs(5)),
        )
        .await;
    let client = CoboClient::builder()
        .env(Env::custom(&double.base_url(), &double.response_key_hex()).unwrap())
        .api_secret(API_SECRET)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let error = client.get_token("client", "org").await.unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
}

#[test]
fn malformed_secrets_are_typed_and_never_echoed() {
    let cases = [
        ("abc", "64 hex characters, got 3"),
        (&"zz".repeat(32), "not hex"),
        (&"0".repeat(66), "got 66"),
        ("", "got 0"),
    ];
    for (secret, expected) in cases {
        let error = CoboClient::builder()
            .env(Env::Dev)
            .api_secret(secret)
            .build()
            .unwrap_err();
        assert!(
            matches!(error, ConfigError::InvalidApiSecret(_)),
            "{error:?}"
        );
        let shown = format!("{error} {error:?}");
        assert!(shown.contains(expected), "{shown}");
        if secret.len() > 3 {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
    let error = CoboClient::builder().env(Env::Dev).build().unwrap_err();
    assert!(matches!(error, ConfigError::MissingApiSecret));
}

#[test]
fn bad_urls_and_keys_are_config_errors() {
    for url in ["not a url", "ftp://x/v2", "http://", "https://x/v2?q=1"] {
        assert!(
            matches!(
                Env::custom_unverified(url),
                Err(ConfigError::InvalidBaseUrl { .. })
            ),
            "{url}"
        );
    }
    assert!(matches!(
        Env::custom("http://localhost/v2", "00"),
        Err(ConfigError::InvalidResponseKey(_))
    ));
    assert!(
        matches!("staging".parse::<Env>(), Err(ConfigError::UnknownEnv(name)) if name == "staging")
    );
}

#[test]
fn from_env_reads_the_cobo_variables_and_never_falls_back() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    let built =
        |pairs| cobo_oauth::CoboClientBuilder::from_vars(vars(pairs)).and_then(|b| b.build());

    let client = built(&[("COBO_ENV", "sandbox"), ("COBO_API_SECRET", API_SECRET)]).unwrap();
    assert_eq!(client.env(), &Env::Sandbox);
    assert!(matches!(
        built(&[("COBO_ENV", "production-eu")]),
        Err(ConfigError::UnknownEnv(_))
    ));
    assert!(matches!(
        built(&[("COBO_API_SECRET", API_SECRET)]),
        Err(ConfigError::MissingEnv)
    ));
    assert!(matches!(
        built(&[
            ("COBO_BASE_URL", "http://127.0.0.1:1/v2"),
            ("COBO_API_SECRET", API_SECRET)
        ]),
        Err(ConfigError::MissingResponseKey)
    ));
    let custom = built(&[
        ("COBO_BASE_URL", "http://127.0.0.1:1/v2"),
        ("COBO_RESPONSE_PUBKEY", "off"),
        ("COBO_API_SECRET", API_SECRET),
    ])
    .unwrap();
    assert_eq!(custom.env().base_url(), "http://127.0.0.1:1/v2");
    assert_eq!(custom.env().response_verifier().unwrap(), None);
    assert!(matches!(
        built(&[("COBO_ENV", "dev")]),
        Err(ConfigError::MissingApiSecret)
    ));
}

/// A double whose token answer carries a signature that does not verify.
async fn double_answering_a_forged_signature() -> CoboDouble {
    let double = CoboDouble::start().await;
    let forged = "00".repeat(64);
    double
        .answer_raw(
            "GET",
            "/oauth/token",
            wiremock::ResponseTemplate::new(200)
                .insert_header("Biz-Timestamp", "1718587017123")
                .insert_header("Biz-Resp-Signature", forged.as_str())
                .set_body_string(TOKEN_BODY),
        )
        .await;
    double
}

/// An `org_implicit` grant request of `api`, a generated client.
fn grant(api: &cobo_oauth::generated::Client) -> cobo_oauth::generated::builder::GetToken<'_> {
    api.get_token()
        .client_id("app")
        .org_id("org")
        .grant_type("org_implicit")
}

#[tokio::test]
async fn any_generated_operation_made_through_call_gets_the_typed_error() {
    let double = double_answering_a_forged_signature().await;
    let client = double.client();
    let typed = client.call(grant(client.raw()).send()).await.unwrap_err();
    assert!(
        matches!(
            typed,
            cobo_oauth::Error::ResponseSignature(cobo_oauth::verify::VerifyError::Invalid {
                status: 200
            })
        ),
        "{typed:?}"
    );
    // The shared raw() client gives progenitor's error: the message only.
    let raw = grant(client.raw()).send().await.unwrap_err();
    assert!(
        matches!(&raw, progenitor_client::Error::Custom(message) if message.contains("signature")),
        "{raw:?}"
    );
}

#[tokio::test]
async fn a_call_sent_through_other_hooks_gets_a_clear_error_not_a_mistyped_one() {
    let double = CoboDouble::start().await;
    double
        .answer(
            "GET",
            "/oauth/token",
            500,
            r#"{"error_code":2000,"error_message":"busy","error_id":"e"}"#,
        )
        .await;
    let client = double.client();
    // A generated client whose requests bypass the CoboClient's executor: unsigned, unverified.
    let unsigned = cobo_oauth::generated::Client::new_with_client(
        &double.base_url(),
        reqwest::Client::new(),
        cobo_oauth::runtime::Hooks::unsigned(),
    );
    let error = client.call(grant(&unsigned).send()).await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidRequest(message) if message.contains("CoboClient::hooks()")),
        "{error:?}"
    );
}

#[tokio::test]
async fn calls_polled_together_in_one_task_each_keep_their_own_record() {
    let double = double_answering_a_forged_signature().await;
    // POST answers 500 with Cobo's signed error; GET answers a forged signature.
    double
        .answer(
            "POST",
            "/oauth/token",
            500,
            r#"{"error_code":2000,"error_message":"busy","error_id":"e"}"#,
        )
        .await;
    let client = double.client();
    let refresh_token = SecretString::from("RT");
    for _ in 0..20 {
        let (forged, busy) = tokio::join!(
            client.get_token("client", "org"),
            client.refresh_token("client", &refresh_token)
        );
        assert!(
            matches!(forged, Err(Error::ResponseSignature(_))),
            "{forged:?}"
        );
        assert!(
            matches!(
                busy,
                Err(Error::Api {
                    status: 500,
                    code: 2000,
                    ..
                })
            ),
            "{busy:?}"
        );
    }
}
