//! A signer that awaits (a KMS, an HSM) signs every request without blocking the runtime.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use cobo_oauth::signing::{ApiKey, AsyncSigner, Digest, Ed25519Signer, SignFuture, Signer as _};
use cobo_oauth::{CoboClient, ExposeSecret as _};
use cobo_oauth_tests::{API_SECRET, mock_config};
use tokio::sync::{mpsc, oneshot};

/// Signs after a delay, like a KMS round trip.
#[derive(Debug)]
struct Delayed(Ed25519Signer);

impl AsyncSigner for Delayed {
    fn api_key(&self) -> &ApiKey {
        self.0.api_key()
    }

    fn sign<'a>(&'a self, digest: &'a Digest) -> SignFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.0.sign(digest)
        })
    }
}

/// Asks a "KMS" task for each signature and awaits its answer.
#[derive(Debug)]
struct Remote {
    api_key: ApiKey,
    kms: mpsc::Sender<(Digest, oneshot::Sender<cobo_oauth::signing::Signature>)>,
}

impl AsyncSigner for Remote {
    fn api_key(&self) -> &ApiKey {
        &self.api_key
    }

    fn sign<'a>(&'a self, digest: &'a Digest) -> SignFuture<'a> {
        Box::pin(async move {
            let (answer, signature) = oneshot::channel();
            self.kms
                .send((*digest, answer))
                .await
                .map_err(|_| cobo_oauth::signing::SignError::new("the KMS is gone"))?;
            signature
                .await
                .map_err(|_| cobo_oauth::signing::SignError::new("the KMS did not answer"))
        })
    }
}

#[tokio::test]
async fn a_signer_that_awaits_signs_every_request() {
    let server = cobo_oauth_mock::MockServer::start(mock_config())
        .await
        .unwrap();
    let client = CoboClient::builder()
        .env(server.env())
        .async_signer(Arc::new(Delayed(
            Ed25519Signer::from_hex(API_SECRET).unwrap(),
        )))
        .build()
        .unwrap();
    let token = client.get_token("app", "org").await.unwrap();
    let refreshed = client
        .refresh_token("app", token.refresh_token.as_ref().unwrap())
        .await
        .unwrap();
    assert!(server.access_token_valid(refreshed.access_token.unwrap().expose_secret()));
    assert_eq!(server.requests().len(), 2, "both signed, both accepted");
    assert_eq!(
        client.api_key().as_str(),
        Ed25519Signer::from_hex(API_SECRET)
            .unwrap()
            .api_key()
            .as_str()
    );
}

/// On a single-threaded runtime the KMS task can only answer if the signer yields while it
/// waits: a signer that blocked the thread would never get its signature. The scenario runs on
/// a thread of its own, so that a blocked runtime fails this test instead of hanging it.
#[test]
fn waiting_for_a_signature_leaves_the_runtime_free() {
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _ = done.send(runtime.block_on(five_calls_through_a_kms_task()));
    });
    let results = outcome
        .recv_timeout(Duration::from_secs(30))
        .expect("the runtime was never blocked: every signature arrived");
    assert_eq!(results, 5, "every call succeeded");
}

/// Five concurrent calls, each signed by a "KMS" task on the same runtime; how many succeeded.
async fn five_calls_through_a_kms_task() -> usize {
    let server = cobo_oauth_mock::MockServer::start(mock_config())
        .await
        .unwrap();
    let key = Ed25519Signer::from_hex(API_SECRET).unwrap();
    let (kms, mut requests) =
        mpsc::channel::<(Digest, oneshot::Sender<cobo_oauth::signing::Signature>)>(8);
    let api_key = key.api_key().clone();
    tokio::spawn(async move {
        while let Some((digest, answer)) = requests.recv().await {
            let _ = answer.send(key.sign(&digest).unwrap());
        }
    });
    let client = CoboClient::builder()
        .env(server.env())
        .async_signer(Arc::new(Remote { api_key, kms }))
        .build()
        .unwrap();
    let calls = (0..5).map(|n| {
        let client = client.clone();
        async move { client.get_token("app", &format!("org-{n}")).await }
    });
    futures::future::join_all(calls)
        .await
        .iter()
        .filter(|outcome| outcome.is_ok())
        .count()
}

/// Never answers.
#[derive(Debug)]
struct Hung(ApiKey);

impl AsyncSigner for Hung {
    fn api_key(&self) -> &ApiKey {
        &self.0
    }

    fn sign<'a>(&'a self, _digest: &'a Digest) -> SignFuture<'a> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(start_paused = true)]
async fn a_signer_that_never_answers_fails_the_attempt_instead_of_holding_it() {
    let server = cobo_oauth_mock::MockServer::start(mock_config())
        .await
        .unwrap();
    let key = Ed25519Signer::from_hex(API_SECRET)
        .unwrap()
        .api_key()
        .clone();
    let client = CoboClient::builder()
        .env(server.env())
        .async_signer(Arc::new(Hung(key)))
        .build()
        .unwrap();
    let error = client.get_token("app", "org").await.unwrap_err();
    assert!(
        matches!(&error, cobo_oauth::Error::Signing(_))
            && error.to_string().contains("did not answer"),
        "{error:?}"
    );
    assert!(server.requests().is_empty(), "nothing unsigned was sent");
}
