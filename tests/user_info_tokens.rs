//! User Info Tokens (the JWT Cobo Portal hands an app's page), verified against the mock's JWKS:
//! a valid token is accepted; expired, wrong `aud`, wrong `iss`, unknown `kid`, `alg: none` and
//! an HS256 token keyed with the public key are refused, each with its own error; the JWKS is
//! fetched once for 1,000 verifications, once for many concurrent ones, and a dropped caller
//! leaves nothing stuck.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use cobo_oauth::inbound::{JwksCache, UserInfoError, UserInfoVerifier};
use cobo_oauth_mock::{Fault, MockServer};
use cobo_oauth_tests::mock_config;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const APP: &str = "app-client-id";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn verifier(mock: &MockServer, cache: JwksCache) -> UserInfoVerifier {
    UserInfoVerifier::new(cache, mock.user_info_issuer(), APP)
}

fn token(mock: &MockServer, claims: serde_json::Value) -> String {
    mock.issue_user_info_token(APP, Duration::from_secs(300), claims)
        .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The mock's current signing key, as published: its `kid` and raw public key.
async fn published_key(mock: &MockServer) -> (String, Vec<u8>) {
    let jwks: serde_json::Value = reqwest::get(mock.jwks_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = jwks["keys"].as_array().unwrap().last().unwrap().clone();
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(key["x"].as_str().unwrap())
        .unwrap();
    (key["kid"].as_str().unwrap().to_owned(), x)
}

#[tokio::test]
async fn a_valid_token_is_accepted_with_typed_claims() {
    let mock = MockServer::start(mock_config()).await.unwrap();
    let verifier = verifier(&mock, JwksCache::new(mock.jwks_url()));
    let claims = verifier
        .verify(&token(
            &mock,
            json!({"sub": "user-1", "org_id": "org-9", "email": "a@b.c"}),
        ))
        .await
        .unwrap();
    assert_eq!(claims.sub.as_deref(), Some("user-1"));
    assert_eq!(claims.extra_str("org_id"), Some("org-9"));
    assert!(claims.aud.contains(APP));
    assert_eq!(claims.iss, mock.user_info_issuer());
    assert!(claims.exp > now());
    // Whitespace around the token (a header value, a form field) is trimmed once, for the
    // header read and the decode alike.
    let padded = format!(" {}\n", token(&mock, json!({"sub": "user-2"})));
    let claims = verifier.verify(&padded).await.unwrap();
    assert_eq!(claims.sub.as_deref(), Some("user-2"));
}

#[tokio::test]
async fn every_bad_token_is_refused_with_its_own_error() {
    let mock = MockServer::start(mock_config()).await.unwrap();
    let cache =
        JwksCache::with_intervals(mock.jwks_url(), Duration::ZERO, Duration::from_secs(3600));
    let verifier = verifier(&mock, cache.clone());
    let t = now();
    let (kid, public_key) = published_key(&mock).await;
    let before = mock.jwks_requests();

    let expired = token(
        &mock,
        json!({"iat": t - 900, "nbf": t - 900, "exp": t - 120}),
    );
    let wrong_aud = mock
        .issue_user_info_token("another-app", Duration::from_secs(300), json!({}))
        .unwrap();
    let wrong_iss = token(&mock, json!({"iss": "https://evil.example/v2"}));
    let not_yet = token(&mock, json!({"nbf": t + 600}));
    // Another key that claims a kid the JWKS does not have.
    let mut seed = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    seed.extend_from_slice(&[42; 32]);
    let mut ghost = Header::new(Algorithm::EdDSA);
    ghost.kid = Some("ghost".into());
    let claims = json!({"iss": mock.user_info_issuer(), "aud": APP, "exp": t + 300});
    let unknown_kid =
        jsonwebtoken::encode(&ghost, &claims, &EncodingKey::from_ed_der(&seed)).unwrap();
    // alg: none, with a kid the JWKS has.
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "kid": kid}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    // HS256 "signed" with the published public key as the HMAC secret.
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(kid.clone());
    let hs256 = jsonwebtoken::encode(
        &hs,
        &claims,
        &EncodingKey::from_secret(&public_key).unwrap(),
    )
    .unwrap();
    // A valid token with one signature byte changed.
    let valid = token(&mock, json!({}));
    let at = valid.rfind('.').unwrap() + 1;
    let first = if &valid[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{first}{}", &valid[..at], &valid[at + 1..]);

    // ES256 claimed for the Ed25519 key of the JWKS (the signature bytes do not matter).
    let es256_on_ed25519 = format!(
        "{}.{}.{}",
        b64(json!({"alg": "ES256", "kid": kid}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(&[1; 64])
    );

    let cases = [
        ("expired", expired),
        ("wrong aud", wrong_aud),
        ("wrong iss", wrong_iss),
        ("not yet valid", not_yet),
        ("unknown kid", unknown_kid.clone()),
        ("alg none", none),
        ("hs256 with the public key", hs256.clone()),
        ("bad signature", forged),
        ("not a jwt", "a.b".to_owned()),
        ("es256 on an ed25519 key", es256_on_ed25519),
    ];
    let mut errors = Vec::new();
    for (name, token) in &cases {
        let error = verifier.verify(token).await.unwrap_err();
        assert!(
            !error.to_string().contains(token.as_str()),
            "{name}: the token leaked"
        );
        errors.push((name, error));
    }
    let expect = |name: &str| errors.iter().find(|(n, _)| **n == name).unwrap().1.clone();
    assert_eq!(expect("expired"), UserInfoError::Expired);
    assert_eq!(expect("wrong aud"), UserInfoError::WrongAudience);
    assert_eq!(expect("wrong iss"), UserInfoError::WrongIssuer);
    assert_eq!(expect("not yet valid"), UserInfoError::NotYetValid);
    assert_eq!(
        expect("unknown kid"),
        UserInfoError::UnknownKid {
            kid: "ghost".into()
        }
    );
    assert_eq!(expect("alg none"), UserInfoError::Unsigned);
    assert_eq!(
        expect("hs256 with the public key"),
        UserInfoError::AlgorithmNotAllowed {
            alg: "HS256".into()
        }
    );
    assert_eq!(expect("bad signature"), UserInfoError::BadSignature);
    assert!(matches!(
        expect("not a jwt"),
        UserInfoError::Malformed { .. }
    ));
    for (i, (a, x)) in errors.iter().enumerate() {
        for (b, y) in &errors[i + 1..] {
            assert_ne!(
                std::mem::discriminant(x),
                std::mem::discriminant(y),
                "{a} vs {b}"
            );
        }
    }
    // The unknown kid caused exactly one more fetch than the known ones (the first fetch
    // loaded the set; "ghost" made it fetch once more, and found nothing).
    assert_eq!(mock.jwks_requests() - before, 2);
    assert_eq!(cache.fetches(), 2);

    // HS256 stays refused even when a caller lists it.
    let lenient = verifier
        .clone()
        .algorithms(&[Algorithm::HS256, Algorithm::EdDSA]);
    assert_eq!(
        lenient.verify(&hs256).await.unwrap_err(),
        UserInfoError::AlgorithmNotAllowed {
            alg: "HS256".into()
        }
    );
    // A small leeway: expired 10 s ago is still accepted (default leeway 30 s).
    let just_expired = token(
        &mock,
        json!({"iat": t - 300, "nbf": t - 300, "exp": t - 10}),
    );
    assert!(verifier.verify(&just_expired).await.is_ok());
}

#[tokio::test]
async fn a_new_kid_is_found_with_one_refresh_and_unknown_kids_are_rate_limited() {
    let mock = MockServer::start(mock_config()).await.unwrap();
    let cache = JwksCache::new(mock.jwks_url()); // 30 s between fetches for unknown kids
    let verifier = verifier(&mock, cache.clone());
    verifier.verify(&token(&mock, json!({}))).await.unwrap();
    assert_eq!(mock.jwks_requests(), 1);
    // Cobo rotates its key right after that first fetch: the first token with the new kid
    // fetches the set once more, and is accepted (the first fetch does not count against the
    // unknown-kid rate limit).
    let kid = mock.rotate_user_info_key();
    let rotated = token(&mock, json!({"sub": "after rotation"}));
    let header = jsonwebtoken::decode_header(&rotated).unwrap();
    assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
    let claims = verifier.verify(&rotated).await.unwrap();
    assert_eq!(claims.sub.as_deref(), Some("after rotation"));
    assert_eq!(mock.jwks_requests(), 2, "one refresh for the new kid {kid}");
    // Another unknown kid within the interval of that unknown-kid fetch does not fetch: it is
    // refused from the set held.
    let again = mock.rotate_user_info_key();
    assert_eq!(
        verifier.verify(&token(&mock, json!({}))).await.unwrap_err(),
        UserInfoError::UnknownKid { kid: again }
    );
    assert_eq!(mock.jwks_requests(), 2, "rate-limited");
    // The keys held still answer at once.
    verifier.verify(&rotated).await.unwrap();
    assert_eq!(mock.jwks_requests(), 2);
    assert_eq!(cache.fetches(), 2);
}

#[tokio::test]
async fn a_known_kid_is_answered_at_once_from_an_old_set_while_it_is_fetched_again() {
    let mock = MockServer::start(mock_config()).await.unwrap();
    let max_age = Duration::from_millis(200);
    let cache = JwksCache::with_intervals(mock.jwks_url(), Duration::from_secs(30), max_age);
    let verifier = verifier(&mock, cache.clone());
    let token = token(&mock, json!({}));
    verifier.verify(&token).await.unwrap();
    assert_eq!(mock.jwks_requests(), 1);
    tokio::time::sleep(max_age + Duration::from_millis(50)).await;
    // The set is old, and the JWKS is slow to answer: the known kid does not wait for it.
    mock.inject(Fault::DelayAnswer(Duration::from_secs(3)), 1);
    for _ in 0..20 {
        tokio::time::timeout(Duration::from_millis(500), verifier.verify(&token))
            .await
            .expect("a known kid does not wait for the refresh")
            .unwrap();
    }
    // One refresh, in the background, however many verifications saw the old set.
    tokio::time::timeout(Duration::from_secs(2), async {
        while mock.jwks_requests() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the refresh started");
    assert_eq!(cache.fetches(), 2);
    assert_eq!(mock.jwks_requests(), 2);
}

#[tokio::test]
async fn a_failed_background_refresh_is_not_retried_within_the_interval() {
    let mock = MockServer::start(mock_config()).await.unwrap();
    let max_age = Duration::from_millis(100);
    let cache = JwksCache::with_intervals(mock.jwks_url(), Duration::from_secs(30), max_age);
    let verifier = verifier(&mock, cache.clone());
    let token = token(&mock, json!({}));
    verifier.verify(&token).await.unwrap();
    tokio::time::sleep(max_age + Duration::from_millis(50)).await;
    mock.inject(
        Fault::Status {
            status: 503,
            body: String::new(),
            headers: Vec::new(),
        },
        100,
    );
    for _ in 0..10 {
        // The old set keeps answering; the JWKS that fails is asked once.
        verifier.verify(&token).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cache.fetches(), 2);
}

#[tokio::test]
async fn the_jwks_is_fetched_once_for_1000_verifications() {
    let mock = MockServer::start(mock_config()).await.unwrap();
    let verifier = verifier(&mock, JwksCache::new(mock.jwks_url()));
    let token = token(&mock, json!({"sub": "u"}));
    for _ in 0..1000 {
        verifier.verify(&token).await.unwrap();
    }
    assert_eq!(mock.jwks_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_verifications_share_one_fetch() {
    let mock = MockServer::start(mock_config()).await.unwrap();
    mock.inject(Fault::Delay(Duration::from_millis(100)), 1);
    let verifier = verifier(&mock, JwksCache::new(mock.jwks_url()));
    let token = token(&mock, json!({}));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let verifier = verifier.clone();
            let token = token.clone();
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(mock.jwks_requests(), 1);
}

#[tokio::test]
async fn a_caller_dropped_during_the_fetch_leaves_nothing_stuck() {
    let mock = MockServer::start(mock_config()).await.unwrap();
    mock.inject(Fault::Delay(Duration::from_millis(300)), 1);
    let cache = JwksCache::new(mock.jwks_url());
    let verifier = verifier(&mock, cache.clone());
    let token = token(&mock, json!({}));
    let dropped = tokio::time::timeout(Duration::from_millis(50), verifier.verify(&token)).await;
    assert!(
        dropped.is_err(),
        "the first caller gave up while the fetch ran"
    );
    // The fetch it started goes on in its own task; the next caller waits for it and uses it.
    let claims = tokio::time::timeout(Duration::from_secs(5), verifier.verify(&token))
        .await
        .expect("not stuck");
    assert!(claims.is_ok());
    assert_eq!(cache.fetches(), 1);
    assert_eq!(mock.jwks_requests(), 1);
}

#[tokio::test]
async fn an_unreachable_jwks_is_a_typed_error_and_is_not_hammered() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/v2/oauth/authorize/jwks.json",
        listener.local_addr().unwrap()
    );
    drop(listener);
    let mock = MockServer::start(mock_config()).await.unwrap();
    let cache = JwksCache::new(url);
    let verifier = UserInfoVerifier::new(cache.clone(), mock.user_info_issuer(), APP);
    let token = token(&mock, json!({}));
    for _ in 0..5 {
        assert!(matches!(
            verifier.verify(&token).await,
            Err(UserInfoError::Jwks(
                cobo_oauth::inbound::JwksError::Fetch { .. }
            ))
        ));
    }
    assert_eq!(
        cache.fetches(),
        1,
        "a failed fetch is not retried within the interval"
    );
}
